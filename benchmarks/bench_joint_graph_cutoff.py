"""Should the joint graph of `find_domains` keep only spatial neighbours within 1.5 x the pitch
(the model's and the refinement's cutoff), or the k nearest whatever their distance (what it
does)? The same `factvae run` as benchmarks/compare_checkouts.py (800 simulated spots, 30 epochs,
--spatial-weight 0.3 --refine 1, one thread), once per cutoff and seed, ARI against the
simulated truth.

    python benchmarks/bench_joint_graph_cutoff.py [--seeds 0 1 2] [--epochs 30]

Writes benchmarks/results/joint_graph_cutoff.csv (one row per seed and cutoff) and prints the
mean +- sd per cutoff."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
# `factvae run` with the joint graph's spatial part built with the given cutoff
RUN = """
import functools, sys
import factvae.tl._graph as graph
cutoff = {cutoff!r}
graph.spatial_graph = functools.partial(graph.spatial_graph, cutoff=cutoff)
from factvae.cli import main
sys.exit(main({argv!r}))
"""


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=30)
    args = p.parse_args()
    import mudata as md
    import numpy as np
    import pandas as pd
    from sklearn.metrics import adjusted_rand_score

    env = {**os.environ, "PYTHONPATH": str(HERE.parent / "src")}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for seed in args.seeds:
            data = tmp / f"sim{seed}.h5mu"
            subprocess.run([sys.executable, "-m", "factvae.cli", "simulate", "--out", str(data),
                            "--n-spots", "800", "--n-genes", "400", "--n-peaks", "3000",
                            "--seed", str(seed)], env=env, check=True, capture_output=True)
            truth = md.read_h5mu(data).obs["domain"].astype(str)
            for cutoff in (None, 1.5):
                out = tmp / f"run{seed}_{cutoff}.h5mu"
                argv = ["run", "--mudata", str(data), "--out", str(out), "--epochs",
                        str(args.epochs), "--n-domains", "5", "--threads", "1", "--seed",
                        str(seed), "--device", "cpu", "--overwrite", "--spatial-weight", "0.3",
                        "--refine", "1"]
                subprocess.run([sys.executable, "-c", RUN.format(cutoff=cutoff, argv=argv)],
                               env=env, check=True, capture_output=True)
                labels = md.read_h5mu(out).obs["factvae_domain"].astype(str)
                rows.append({"seed": seed, "joint_graph_cutoff": "none" if cutoff is None
                             else cutoff, "ari_vs_truth": adjusted_rand_score(
                                 truth.loc[labels.index], labels)})
    table = pd.DataFrame(rows)
    out = HERE / "results" / "joint_graph_cutoff.csv"
    out.parent.mkdir(exist_ok=True)
    table.to_csv(out, index=False)
    for cutoff, g in table.groupby("joint_graph_cutoff", sort=False):
        v = g["ari_vs_truth"].to_numpy()
        print(f"cutoff {cutoff}: ARI {v.mean():.3f} +- {np.std(v, ddof=1):.3f} "
              f"({', '.join(f'{x:.3f}' for x in v)})")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
