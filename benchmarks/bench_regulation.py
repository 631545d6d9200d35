"""Regulation inference on the simulator's planted links that the G2P prior does NOT cover
(distal links, held out of training): AUROC and average precision of the FactVAE score, beside
Spearman correlation of raw counts across spots and closeness to the TSS.

Also the planted domain-specific motifs: how many rank in the top 10 of their domain, raw versus
augmented deviations (true domains and FactVAE domains).

    python benchmarks/bench_regulation.py --seeds 0 1 2 --epochs 300

Results: benchmarks/results/regulation.csv, benchmarks/results/motifs.csv, tables on stdout.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import average_precision_score, roc_auc_score

import factvae

ROOT = Path(__file__).resolve().parents[1]


def spearman_rows(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Spearman correlation of matching columns of A and B (spots x pairs)."""
    ra = np.apply_along_axis(stats.rankdata, 0, A)
    rb = np.apply_along_axis(stats.rankdata, 0, B)
    ra -= ra.mean(0)
    rb -= rb.mean(0)
    den = np.sqrt((ra ** 2).sum(0) * (rb ** 2).sum(0))
    return np.where(den > 0, (ra * rb).sum(0) / np.maximum(den, 1e-12), 0.0)


def evaluate_links(m, seed):
    table = factvae.infer_regulation(m, window=150_000)
    links = m.uns["simulation"]["links"]
    held_out = set(zip(links.loc[~links["in_prior"], "gene"], links.loc[~links["in_prior"], "peak"]))
    cand = table[~table["in_prior"]].reset_index(drop=True)  # pairs the prior never saw
    y = np.array([(g, p) in held_out for g, p in zip(cand["gene"], cand["peak"])])
    rna, atac = m.mod["rna"], m.mod["atac"]
    gi = rna.var_names.get_indexer(cand["gene"])
    pj = atac.var_names.get_indexer(cand["peak"])
    rho = np.empty(len(cand))
    for s in range(0, len(cand), 2000):
        A = rna.X[:, gi[s:s + 2000]].toarray()
        B = atac.X[:, pj[s:s + 2000]].toarray()
        rho[s:s + 2000] = spearman_rows(A, B)
    rows = []
    for name, score in (("FactVAE cosine", cand["score"].to_numpy()),
                        ("Spearman (raw counts)", rho),
                        ("distance to TSS", -np.abs(cand["tss_distance"].to_numpy()))):
        rows.append({"seed": seed, "method": name, "AUROC": roc_auc_score(y, score),
                     "AP": average_precision_score(y, score), "n_candidates": len(cand),
                     "n_positive": int(y.sum()), "prevalence": float(y.mean())})
    return rows


def evaluate_motifs(m, seed):
    factvae.motif_deviations(m)
    truth = m.uns["simulation"]["domain_motifs"]
    rows = []
    for labels in ("domain", "factvae_domain"):
        if labels == "domain":
            m.obs["_eval"] = m.obs["domain"].astype(str)
        else:  # name each FactVAE domain after the true domain it overlaps most
            ct = pd.crosstab(m.obs["factvae_domain"].astype(str), m.obs["domain"].astype(str))
            m.obs["_eval"] = m.obs["factvae_domain"].astype(str).map(ct.idxmax(axis=1))
        table = factvae.motifs.domain_motifs(m, key="_eval", n_top=10)
        for source in ("raw", "augmented"):
            top = table[(table["source"] == source) & (table["rank"] <= 10)]
            hits = sum(((top["domain"] == d) & (top["motif"] == mo)).any()
                       for d, mo in zip(truth["domain"], truth["motif"]))
            rows.append({"seed": seed, "labels": labels, "source": source, "in_top10": hits,
                         "planted": len(truth),
                         "shared_top10": int(table.loc[(table["rank"] <= 10) & table["shared"]]
                                             .drop_duplicates(["domain", "motif"]).shape[0])})
    del m.obs["_eval"]
    return rows


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=300)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    warnings.filterwarnings("ignore")
    links, motifs = [], []
    for seed in args.seeds:
        m = factvae.simulate(seed=seed)
        m = factvae.preprocess(m)
        factvae.add_gene_peak_prior(m)
        factvae.train(m, epochs=args.epochs, seed=seed, device="cpu", n_threads=args.threads)
        factvae.find_domains(m, n_domains=m.obs["domain"].nunique())
        links += evaluate_links(m, seed)
        motifs += evaluate_motifs(m, seed)
        print(pd.DataFrame(links).tail(3).to_string(index=False), flush=True)
    out = ROOT / "benchmarks" / "results"
    pd.DataFrame(links).to_csv(out / "regulation.csv", index=False)
    pd.DataFrame(motifs).to_csv(out / "motifs.csv", index=False)
    print(pd.DataFrame(links).groupby("method")[["AUROC", "AP", "prevalence"]].agg(["mean", "std"]))
    print(pd.DataFrame(motifs).groupby(["labels", "source"])[["in_top10", "planted"]].mean())


if __name__ == "__main__":
    main()
