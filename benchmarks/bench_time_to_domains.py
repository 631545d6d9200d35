"""Time to a domain map: the whole `factvae run` (load, preprocess, train, domains, write) on the
simulator, as a user runs it, for the new defaults (early stopping, bfloat16 decoder products
where the CPU has them) and the old ones (300 epochs, float32, every spot), side by side.

    python benchmarks/bench_time_to_domains.py --sizes 2000 10000 --threads 2 \\
        [--old-epochs 3]

Each run is a fresh `factvae run` process; its last line gives the time of each stage. The old
defaults are run for `--old-epochs` epochs and their training time scaled to 300 epochs
(marked extrapolated) unless `--old-epochs 300`. ARI: the domains (Leiden, the true number)
against the simulator's truth. Results: benchmarks/results/time_to_domains.csv.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "benchmarks" / "cache" / "time_to_domains"
N_GENES, N_PEAKS = 1_000, 25_000


def simulated(n: int) -> Path:
    import factvae

    path = CACHE / f"sim_{n}x{N_PEAKS}.h5mu"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        factvae.io.write_h5mu(factvae.simulate(n_spots=n, n_genes=N_GENES, n_peaks=N_PEAKS,
                                               seed=11), path, overwrite=True)
    return path


def run(path: Path, out: Path, threads: int, extra: list[str]) -> dict:
    cmd = [sys.executable, "-m", "factvae.cli", "run", "--mudata", str(path), "--n-domains", "5",
           "--threads", str(threads), "--out", str(out), "--overwrite", *extra]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    line = next(ln for ln in done.stderr.splitlines() if "factvae: done in" in ln)
    stages = {k: float(v) for k, v in re.findall(r"(\w+) ([\d.]+) s", line.split("(", 1)[1])}
    trained = re.search(r"trained (\d+) epochs in ([\d.]+) s", done.stderr)
    return {"wall_s": wall, **{f"{k}_s": v for k, v in stages.items()},
            "epochs": int(trained.group(1)), "stopped_early": "stopped early" in done.stderr}


def ari(out: Path) -> float:
    import mudata as md
    from sklearn.metrics import adjusted_rand_score

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = md.read_h5mu(out)
    return float(adjusted_rand_score(m.obs["domain"].astype(str), m.obs["factvae_domain"].astype(str)))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", type=int, nargs="+", default=[2_000, 10_000])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--old-epochs", type=int, default=3)
    args = p.parse_args()
    rows = []
    for n in args.sizes:
        path = simulated(n)
        out = CACHE / f"new_{n}.h5mu"
        r = run(path, out, args.threads, [])
        rows.append({"n_spots": n, "n_peaks": N_PEAKS, "defaults": "new", **r, "ARI": ari(out),
                     "extrapolated": False})
        print(rows[-1], flush=True)
        out = CACHE / f"old_{n}.h5mu"
        r = run(path, out, args.threads, ["--epochs", str(args.old_epochs), "--no-early-stop",
                                          "--precision", "float32"])
        scale = 300 / r["epochs"]
        row = {"n_spots": n, "n_peaks": N_PEAKS, "defaults": "old (300 epochs, float32)", **r,
               "extrapolated": scale != 1}
        if scale != 1:  # training time of 300 epochs; the other stages as measured
            row["train_s"] *= scale
            row["wall_s"] += row["train_s"] * (1 - 1 / scale)
            row["epochs"] = 300
            row["ARI"] = float("nan")
        else:
            row["ARI"] = ari(out)
        rows.append(row)
        print(rows[-1], flush=True)
    df = pd.DataFrame(rows)
    (ROOT / "benchmarks" / "results").mkdir(exist_ok=True)
    df.to_csv(ROOT / "benchmarks" / "results" / "time_to_domains.csv", index=False)
    pd.set_option("display.width", 200)
    print(df.round(2).to_string(index=False))


if __name__ == "__main__":
    main()
