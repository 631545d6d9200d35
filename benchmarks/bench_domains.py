"""Domain search speed: `find_domains(n_domains=k)` from an embedding, after imports, in a fresh
process per measurement, against another source tree (an older commit) in the same run.

The embedding is the RNA PCA (50 components) of the simulated tissue, which has the structure of
real data (domains, boundary mixing, noise); the simulator's truth scores the result.

    git worktree add /tmp/before <commit>
    python benchmarks/bench_domains.py --sizes 1500 10000 --baseline-src /tmp/before/src

Results: benchmarks/results/domains_speed.csv (appended) and one JSON line per run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "benchmarks" / "cache"


def embedding(n: int, seed: int = 0):
    path = CACHE / f"domains_embedding_{n}_{seed}.npz"
    if not path.exists():
        import scanpy as sc

        import factvae

        m = factvae.simulate(n_spots=n, n_genes=1000, n_peaks=2000, n_domains=6, seed=seed)
        rna = m.mod["rna"].copy()
        sc.pp.normalize_total(rna)
        sc.pp.log1p(rna)
        X = sc.pp.pca(rna.X, n_comps=50, random_state=0)
        CACHE.mkdir(parents=True, exist_ok=True)
        np.savez(path, X=X.astype(np.float32), y=m.obs["domain"].astype(str).to_numpy(),
                 xy=np.asarray(m.obsm["spatial"]))
    f = np.load(path, allow_pickle=True)
    return f["X"], f["y"], f["xy"]


def child(n: int, k: int, seed: int, out: str):
    import warnings

    import anndata as ad
    import mudata as md
    import pandas as pd
    from sklearn.metrics import adjusted_rand_score

    from factvae.tl._domains import find_domains

    warnings.filterwarnings("ignore")
    X, y, xy = embedding(n, seed)
    obs = pd.DataFrame(index=[f"s{i}" for i in range(n)])
    m = md.MuData({"rna": ad.AnnData(obs=obs), "atac": ad.AnnData(obs=obs.copy())})
    m.obsm["X_factvae"] = X
    m.obsm["spatial"] = xy
    t0 = time.perf_counter()
    rec = find_domains(m, n_domains=k, seed=seed)
    secs = time.perf_counter() - t0
    labels = m.obs["factvae_domain"].astype(str).to_numpy()
    np.save(out, labels)
    print("RESULT " + json.dumps({"n_spots": n, "k": k, "seconds": secs, "reached": rec["reached"],
                                  "resolution": rec["resolution"], "method": rec.get("method"),
                                  "ARI_truth": adjusted_rand_score(y, labels)}), flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", type=int, nargs="+", default=[1500, 10000])
    p.add_argument("--k", type=int, default=6)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--baseline-src", help="a source tree (its src/ folder) to time beside this one")
    p.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        n, k, seed, out = args.child
        return child(int(n), int(k), int(seed), out)
    from sklearn.metrics import adjusted_rand_score
    import pandas as pd

    rows = []
    for n in args.sizes:
        for seed in args.seeds:
            embedding(n, seed)  # made once, outside the timed processes
            labels = {}
            for name, src in (("current", None), ("baseline", args.baseline_src)):
                if name == "baseline" and not src:
                    continue
                env = dict(os.environ)
                if src:
                    env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
                out = str(CACHE / f"labels_{name}_{n}_{seed}.npy")
                proc = subprocess.run([sys.executable, __file__, "--child", str(n), str(args.k),
                                       str(seed), out], capture_output=True, text=True, env=env)
                line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
                if line is None:
                    print(proc.stderr[-2000:], file=sys.stderr)
                    continue
                rec = {"code": name, "seed": seed, **json.loads(line[7:])}
                labels[name] = np.load(out, allow_pickle=True)
                rows.append(rec)
                print(json.dumps(rec), flush=True)
            if len(labels) == 2:
                rows[-1]["ARI_vs_current"] = adjusted_rand_score(labels["current"], labels["baseline"])
                print(f"  ARI between the two: {rows[-1]['ARI_vs_current']:.3f}", flush=True)
    out = ROOT / "benchmarks" / "results" / "domains_speed.csv"
    pd.DataFrame(rows).to_csv(out, mode="a", header=not out.exists(), index=False)


if __name__ == "__main__":
    main()
