"""The semi-synthetic spatial sets (e13_mix, misar_e15): K-means on the FactVAE embeddings (as
for snare_cellline), and Leiden domains with the spatial neighbour graph joined at several
weights (0 = the paper's expression-only graph).

    python benchmarks/bench_spatial.py --dataset e13_mix --weights 0 0.2 0.4 0.6

Results: benchmarks/results/spatial_<dataset>.csv and a table on stdout.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import pandas as pd
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

import factvae
from bench_clustering import DATA, LABELS, kmeans_scores

ROOT = Path(__file__).resolve().parents[1]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dataset", default="e13_mix", choices=["e13_mix", "misar_e15"])
    p.add_argument("--weights", type=float, nargs="+", default=[0.0, 0.2, 0.4, 0.6, 0.8])
    p.add_argument("--epochs", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    warnings.filterwarnings("ignore")
    label, k = LABELS[args.dataset]
    m = factvae.load_paired(rna=DATA / args.dataset / "rna.h5ad", atac=DATA / args.dataset / "atac.h5ad")
    m = factvae.preprocess(m)
    factvae.add_gene_peak_prior(m)
    t0 = time.perf_counter()
    factvae.train(m, epochs=args.epochs, seed=args.seed, device="cpu", n_threads=args.threads)
    secs = time.perf_counter() - t0
    y = m.mod["rna"].obs[label].astype(str).to_numpy()
    rows = []
    for emb, X in (("joint", m.obsm["X_factvae"]), ("z_a", m.mod["atac"].obsm["X_factvae"]),
                   ("z_r", m.mod["rna"].obsm["X_factvae"])):
        ari, nmi, sd = kmeans_scores(X, y, k)
        rows.append({"dataset": args.dataset, "method": f"K-means on {emb}", "spatial_weight": "",
                     "ARI": ari, "NMI": nmi, "train_seconds": secs})
    for w in args.weights:
        rec = factvae.find_domains(m, n_domains=k, spatial_weight=w, seed=args.seed)
        pred = m.obs["factvae_domain"].astype(str).to_numpy()
        rows.append({"dataset": args.dataset, "method": "Leiden on joint", "spatial_weight": w,
                     "ARI": adjusted_rand_score(y, pred), "NMI": normalized_mutual_info_score(y, pred),
                     "reached": rec["reached"], "resolution": rec["resolution"]})
        print(rows[-1], flush=True)
    df = pd.DataFrame(rows)
    df.to_csv(ROOT / "benchmarks" / "results" / f"spatial_{args.dataset}.csv", index=False)
    print(df.to_string(index=False))


if __name__ == "__main__":
    main()
