"""How long training needs to be: the held-out ELBO and the domain ARI along one long run.

For each dataset and training seed, one run of `--epochs` epochs with the held-out spots of the
default early stopping (5 %) but no stopping (patience larger than the run): every epoch its
held-out loss, every `--every` epochs the domain ARI of the joint code (Leiden and K-means with
the true number of domains, as benchmarks 6). Training is deterministic for a seed and a
preview never changes it (tests/model/test_stopping.py), so the run an early-stopping rule would have
made is this run's prefix: `summary` applies the default rule (and others) to the curves and
reads the ARI at the stop, beside the paper-length run of the same seed (300 epochs, float32,
every spot: benchmarks/results/science_*.csv from bench_science.py, benchmarks 6).

    python benchmarks/bench_stopping.py curves --datasets e13_coherent misar_e15 e13_mix \\
        snare_cellline sim10k --seeds 0 1 2 --epochs 300 --every 5 [--threads 2]
    python benchmarks/bench_stopping.py summary

Results: benchmarks/results/stopping_curves*.csv (one row per epoch and run; `--out` names the
file, so two runs with --threads 1 can share the two cores) and stopping_summary.csv.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_science import preprocessed  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results"
CURVES = OUT / "stopping_curves.csv"


def dataset(name: str):
    import factvae

    if name == "sim10k":
        m = factvae.simulate(n_spots=10_000, n_genes=1_000, n_peaks=25_000, seed=11)
        m = factvae.preprocess(m)
        factvae.add_gene_peak_prior(m)
        m.obs["truth"] = m.obs["domain"].astype(str).to_numpy()
        return m
    return preprocessed(name, "scglue")


def ari_of(model, m, k) -> dict:
    from sklearn.metrics import adjusted_rand_score

    from factvae.tl._cluster import cluster

    coords = np.asarray(m.obsm["spatial"]) if "spatial" in m.obsm else None
    X = np.concatenate([model._codes("atac")[0], model._codes("rna")[0]], axis=1)
    y = m.obs["truth"].astype(str).to_numpy()
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for method in ("leiden", "kmeans"):
            labels, _ = cluster(X, method=method, n_domains=k, coords=coords, seed=0)
            out[f"ari_{method}"] = adjusted_rand_score(y, labels)
    return out


def cmd_curves(args) -> None:
    import torch

    import factvae

    warnings.filterwarnings("ignore")
    torch.set_num_threads(args.threads)
    CURVES = Path(args.out)
    done = (pd.read_csv(CURVES) if CURVES.exists()
            else pd.DataFrame(columns=["dataset", "seed", "precision"]))
    for name in args.datasets:
        m = dataset(name)
        k = m.obs["truth"].nunique()
        for seed in args.seeds:
            if ((done["dataset"] == name) & (done["seed"] == seed)
                    & (done["precision"] == args.precision)).any():
                continue
            params = {"spatial": False} if name == "snare_cellline" else {}
            model = factvae.FactVAE(m, device="cpu", n_threads=args.threads, epochs=args.epochs,
                                    seed=seed, early_stopping=True, patience=10 ** 6,
                                    min_epochs=0, precision=args.precision, **params)
            rows, t0 = [], time.perf_counter()
            for p in model.train_iter():
                if not p.epoch_done:
                    continue
                row = {"dataset": name, "seed": seed, "precision": args.precision,
                       "epoch": p.epoch,
                       "heldout": p.losses["heldout"], "joint": p.losses["joint"],
                       "seconds": time.perf_counter() - t0}
                if p.epoch % args.every == 0 or p.epoch == 1:
                    row.update(ari_of(model, m, k))
                rows.append(row)
            print(f"{name} seed {seed}: {time.perf_counter() - t0:.0f} s, final "
                  f"{rows[-1].get('ari_leiden', np.nan):.3f}", flush=True)
            done = pd.concat([done, pd.DataFrame(rows)], ignore_index=True)
            OUT.mkdir(parents=True, exist_ok=True)
            done.to_csv(CURVES, index=False)


def stop_epoch(heldout: np.ndarray, patience: int, min_delta: float, min_epochs: int) -> int:
    """The epoch FactVAE's StoppingRule stops at on this curve (the last epoch if never)."""
    from factvae.model._trainer import StoppingRule

    rule = StoppingRule(patience, min_delta, min_epochs)
    for epoch, loss in enumerate(heldout, start=1):
        if rule.update(epoch, loss):
            return epoch
    return len(heldout)


def reference_300(name: str, seed: int) -> dict:
    """The paper-length run of the same seed: 300 epochs, float32, every spot (benchmarks 6,
    `bench_science.py`; the training loop is the same code with early stopping off)."""
    path = OUT / f"science_{name}.csv"
    if not path.exists():
        return {}
    df = pd.read_csv(path)
    cfg = "paper" if name == "snare_cellline" else "spatial_bilateral"
    sel = df[(df["config"] == cfg) & (df["embedding"] == "joint") & (df["refine"] == 0)
             & (df["seed"] == seed) & (df["epochs"] == 300)]
    out = {f"ari_{m}_300": float(sel.loc[sel["method"] == m, "ARI"].iloc[0])
           for m in ("leiden", "kmeans") if (sel["method"] == m).any()}
    if len(sel) and "train_seconds" in sel:
        out["seconds_300"] = float(sel["train_seconds"].iloc[0])
    return out


def cmd_summary(args) -> None:
    from factvae.config import MIN_DELTA, MIN_EPOCHS, PATIENCE

    curves = pd.concat([pd.read_csv(f) for f in sorted(OUT.glob("stopping_curves*.csv"))],
                       ignore_index=True)
    rules = [(PATIENCE, MIN_DELTA, MIN_EPOCHS)] + [
        r for r in [(10, 1e-3, 20), (10, 3e-3, 20), (10, 5e-3, 20), (5, 5e-3, 20),
                    (10, 1e-2, 20), (5, 1e-2, 20), (20, 5e-3, 20)]
        if r != (PATIENCE, MIN_DELTA, MIN_EPOCHS)]
    rows = []
    for (name, seed, precision), c in curves.groupby(["dataset", "seed", "precision"]):
        c = c.sort_values("epoch")
        scored = c.dropna(subset=["ari_leiden"])
        last = scored.iloc[-1]
        for patience, delta, least in rules:
            e = stop_epoch(c["heldout"].to_numpy(), patience, delta, least)
            at = scored[scored["epoch"] >= e].iloc[0] if (scored["epoch"] >= e).any() else last
            rows.append({"dataset": name, "seed": seed, "precision": precision,
                         "rule": f"p{patience} d{delta:g} m{least}",
                         "default": (patience, delta, least) == (PATIENCE, MIN_DELTA, MIN_EPOCHS),
                         "stop_epoch": e, "scored_epoch": int(at["epoch"]),
                         "ari_leiden_stop": at["ari_leiden"], "ari_kmeans_stop": at["ari_kmeans"],
                         "ari_leiden_full": last["ari_leiden"], "ari_kmeans_full": last["ari_kmeans"],
                         "full_epochs": int(last["epoch"]),
                         "seconds_stop": float(c.loc[c["epoch"] == e, "seconds"].iloc[0]),
                         "seconds_full": float(c["seconds"].iloc[-1]),
                         "stopped": bool(e < len(c)), **reference_300(name, seed)})
    df = pd.DataFrame(rows)
    df.to_csv(OUT / "stopping_summary.csv", index=False)
    pd.set_option("display.width", 200)
    cols = ["stop_epoch", "ari_leiden_stop", "ari_leiden_300", "ari_kmeans_stop", "ari_kmeans_300"]
    cols = [c for c in cols if c in df]
    print(df.groupby(["precision", "rule", "dataset"])[cols].agg(["mean", "std"]).round(3))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("curves")
    c.add_argument("--datasets", nargs="+", default=["e13_coherent", "misar_e15", "e13_mix",
                                                     "snare_cellline", "sim10k"])
    c.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    c.add_argument("--epochs", type=int, default=300)
    c.add_argument("--every", type=int, default=5)
    c.add_argument("--threads", type=int, default=2)
    c.add_argument("--precision", default="bfloat16", choices=["float32", "bfloat16"])
    c.add_argument("--out", default=str(CURVES), help="curves file (runs already in it are "
                   "skipped; summary reads every stopping_curves*.csv)")
    sub.add_parser("summary")
    args = p.parse_args()
    {"curves": cmd_curves, "summary": cmd_summary}[args.cmd](args)


if __name__ == "__main__":
    main()
