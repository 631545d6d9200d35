"""Clustering benchmark on the shared reference datasets (K-means on FactVAE embeddings).

For each training seed, FactVAE is trained with the given configuration; K-means (k = number of
labels, n_init = 10) runs with seeds 0-4 on the joint embedding, on z_a and on z_r. A row per
(configuration, training seed, embedding) holds the mean ARI/NMI over the K-means seeds.

    python benchmarks/bench_clustering.py --dataset snare_cellline --seeds 0 1 2
    python benchmarks/bench_clustering.py --dataset e13_mix --configs default

Results: benchmarks/results/clustering_<dataset>.csv (appended) and a table on stdout.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

import factvae

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("FACTVAE_SHARED_DATA", ROOT.parent / "shared" / "data"))
LABELS = {"snare_cellline": ("cell_type", 4), "e13_mix": ("domain", 7), "misar_e15": ("domain", 5)}
CONFIGS = {
    "default": {},                                  # the package defaults
    "feature_dispersion": {"dispersion": "feature"},
    "paper_dispersion": {"dispersion": "paper"},
    "no_ssa": {"ssa": False, "dispersion": "feature"},  # ablation, beside feature_dispersion
    "teacher_eval": {"ssa_teacher_eval": True},
    "paper_teacher_eval": {"dispersion": "paper", "ssa_teacher_eval": True},
}


def kmeans_scores(X, y, k, seeds=range(5)):
    ari, nmi = [], []
    for s in seeds:
        pred = KMeans(k, n_init=10, random_state=s).fit_predict(X)
        ari.append(adjusted_rand_score(y, pred))
        nmi.append(normalized_mutual_info_score(y, pred))
    return float(np.mean(ari)), float(np.mean(nmi)), float(np.std(ari))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dataset", default="snare_cellline", choices=list(LABELS))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    p.add_argument("--epochs", type=int, default=300)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    warnings.filterwarnings("ignore")
    label, k = LABELS[args.dataset]
    base = factvae.load_paired(rna=DATA / args.dataset / "rna.h5ad",
                               atac=DATA / args.dataset / "atac.h5ad")
    y_all = base.mod["rna"].obs[label].astype(str)
    base = factvae.preprocess(base)
    factvae.add_gene_peak_prior(base)
    y = y_all.loc[base.obs_names].to_numpy()
    print(f"{args.dataset}: {base.n_obs} spots, {base.mod['rna'].n_vars} genes, "
          f"{base.mod['atac'].n_vars} peaks, prior {base.uns['factvae_prior']['n_pairs']} pairs",
          flush=True)
    out = ROOT / "benchmarks" / "results" / f"clustering_{args.dataset}.csv"
    rows = []
    for name in args.configs:
        for seed in args.seeds:
            m = base.copy()
            t0 = time.perf_counter()
            factvae.train(m, epochs=args.epochs, seed=seed, device="cpu",
                                  n_threads=args.threads, **CONFIGS[name])
            secs = time.perf_counter() - t0
            for emb, X in (("joint", m.obsm["X_factvae"]), ("z_a", m.mod["atac"].obsm["X_factvae"]),
                           ("z_r", m.mod["rna"].obsm["X_factvae"])):
                ari, nmi, ari_sd_km = kmeans_scores(X, y, k)
                rows.append({"dataset": args.dataset, "config": name, "train_seed": seed,
                             "embedding": emb, "ARI": ari, "NMI": nmi, "ARI_sd_kmeans": ari_sd_km,
                             "epochs": args.epochs, "train_seconds": secs,
                             "sec_per_epoch": secs / args.epochs})
                print(f"{name:>17} seed {seed} {emb:>5}: ARI {ari:.3f} NMI {nmi:.3f} "
                      f"({secs:.0f} s)", flush=True)
    df = pd.DataFrame(rows)
    df.to_csv(out, mode="a", header=not out.exists(), index=False)
    summary = df.groupby(["config", "embedding"]).agg(
        ARI=("ARI", "mean"), ARI_sd=("ARI", "std"), NMI=("NMI", "mean"),
        sec_per_epoch=("sec_per_epoch", "mean"), n_seeds=("ARI", "size")).reset_index()
    print(markdown(summary))


def markdown(df: pd.DataFrame) -> str:
    """A GitHub table (no extra dependency)."""
    def fmt(v):
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(df.columns) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
