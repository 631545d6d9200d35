"""Regulation inference against real and planted links, every score beside distance alone.

1. The simulator (links drawn with a probability falling with distance, effects that vary,
   spot-level enhancer activity reaching the gene): AUROC and AUPRC of each score over the
   candidate pairs OUTSIDE the gene-peak prior (the model never trained them), overall and by
   distance bin, beside distance alone and Spearman of raw counts across spots.
2. K562 CRISPRi-FlowFISH pairs (Fulco et al. 2019, ../shared/data/regulation_k562) scored on the
   real SNARE-seq cell lines: element-gene pairs of panel genes whose element centre lies 1-150 kb
   from the TSS; a method's score of a pair is the maximum over the peaks overlapping the element,
   an element without one gets the lowest score (the CRISPR_comparison convention). Reported on
   all pairs and on the pairs whose element overlaps a peak, with bootstrap intervals; beside
   distance alone and the published ABC predictions. Activity and correlation use all cells and
   the FactVAE domain holding most K562 cells (the domain a user would look at).
3. The planted domain motifs: how many rank in their domain's top 10, raw versus augmented.

    python benchmarks/bench_regulation.py --seeds 0 1 2 --epochs 300 [--threads 2]

Trained results are cached in benchmarks/cache/regulation/ (delete it to retrain). Results:
benchmarks/results/regulation_sim.csv, regulation_k562.csv, motifs.csv; tables on stdout.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import average_precision_score, roc_auc_score

import factvae
from factvae.tl._regulation import SCORES

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("FACTVAE_SHARED_DATA", ROOT.parent / "shared" / "data"))
CACHE = ROOT / "benchmarks" / "cache" / "regulation"
OUT = ROOT / "benchmarks" / "results"
BINS = [(0, 10_000), (10_000, 50_000), (50_000, 150_001)]


def trained(name: str, seed: int, epochs: int, threads: int):
    """The trained result of a dataset and seed, from the cache or trained now."""
    import mudata as md

    path = CACHE / f"{name}_s{seed}_e{epochs}.h5mu"
    if path.exists():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return md.read_h5mu(path)
    if name == "sim":
        m = factvae.simulate(seed=seed)
        k = m.obs["domain"].nunique()
    else:
        m = factvae.load_paired(rna=DATA / "snare_cellline" / "rna.h5ad",
                                atac=DATA / "snare_cellline" / "atac.h5ad")
        m.obs["truth"] = m.mod["rna"].obs["cell_type"].astype(str).to_numpy()
        k = 4
    m = factvae.preprocess(m)
    factvae.add_gene_peak_prior(m)
    t0 = time.perf_counter()
    factvae.train(m, epochs=epochs, seed=seed, device="cpu", n_threads=threads)
    print(f"trained {name} seed {seed}: {time.perf_counter() - t0:.0f} s", flush=True)
    factvae.find_domains(m, n_domains=k, seed=seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    factvae.io.write_h5mu(m, path, overwrite=True)
    return m


def spearman_columns(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Spearman correlation of matching columns of A and B (spots x pairs)."""
    ra = stats.rankdata(A, axis=0)
    rb = stats.rankdata(B, axis=0)
    ra -= ra.mean(0)
    rb -= rb.mean(0)
    den = np.sqrt((ra ** 2).sum(0) * (rb ** 2).sum(0))
    return np.where(den > 0, (ra * rb).sum(0) / np.maximum(den, 1e-12), 0.0)


def raw_spearman(m, genes, peaks) -> np.ndarray:
    rna, atac = m.mod["rna"], m.mod["atac"]
    gi, pj = rna.var_names.get_indexer(genes), atac.var_names.get_indexer(peaks)
    out = np.empty(len(gi))
    for s in range(0, len(gi), 2000):
        out[s:s + 2000] = spearman_columns(rna.X[:, gi[s:s + 2000]].toarray(),
                                           atac.X[:, pj[s:s + 2000]].toarray())
    return out


def metrics(y, score) -> dict:
    y = np.asarray(y, bool)
    if y.all() or not y.any():
        return {"AUROC": np.nan, "AUPRC": np.nan}
    return {"AUROC": roc_auc_score(y, score), "AUPRC": average_precision_score(y, score)}


def bootstrap(y, score, n=1000, seed=0) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    y, score = np.asarray(y, bool), np.asarray(score, float)
    vals = []
    for _ in range(n):
        i = rng.integers(0, len(y), len(y))
        if y[i].any() and not y[i].all():
            vals.append(average_precision_score(y[i], score[i]))
    return float(np.percentile(vals, 2.5)), float(np.percentile(vals, 97.5))


# --- 1. the simulator ------------------------------------------------------------------------
def evaluate_sim(m, seed) -> list[dict]:
    links = m.uns["simulation"]["links"]
    planted = set(zip(links["gene"], links["peak"]))
    tables = {s: factvae.infer_regulation(m, score=s, store=False) for s in SCORES}
    base = tables["distance"]
    keep = ~base["in_prior"].to_numpy()
    pairs = base.loc[keep, ["gene", "peak", "tss_distance"]].reset_index(drop=True)
    y = np.array([(g, p) in planted for g, p in zip(pairs["gene"], pairs["peak"])])
    cols = {}
    for s, t in tables.items():
        cols[s] = pairs.merge(t[["gene", "peak", "score"]], on=["gene", "peak"], how="left")[
            "score"].to_numpy()
    cols["spearman (raw counts)"] = raw_spearman(m, pairs["gene"], pairs["peak"])
    rows = []
    d = pairs["tss_distance"].abs().to_numpy()
    for name, score in cols.items():
        for lo, hi in [(0, 150_001)] + BINS:
            sel = (d >= lo) & (d < hi)
            rows.append({"seed": seed, "score": name, "bin": f"{lo // 1000}-{min(hi, 150_000) // 1000} kb",
                         **metrics(y[sel], score[sel]), "n_pairs": int(sel.sum()),
                         "n_positive": int(y[sel].sum())})
    # honest statistics: prior pairs among the q < 0.05 links of each score
    for s, t in tables.items():
        sig = t["qval"] < 0.05
        rows.append({"seed": seed, "score": s, "bin": "q<0.05", "n_pairs": int(sig.sum()),
                     "n_positive": int((sig & t["in_prior"]).sum())})
    return rows


# --- 2. K562 CRISPRi on SNARE-seq ------------------------------------------------------------
def k562_pairs(m) -> pd.DataFrame:
    crispr = pd.read_csv(DATA / "regulation_k562" / "EPCrisprBenchmark_Fulco2019_K562_GRCh38.tsv.gz",
                         sep="\t")
    centre = (crispr["chromStart"] + crispr["chromEnd"]) // 2
    crispr["distance"] = (centre - crispr["startTSS"]).abs()
    genes = set(m.mod["rna"].var_names[np.isfinite(m.mod["rna"].varm["factvae_feature"]).all(1)])
    keep = crispr["measuredGeneSymbol"].isin(genes) & crispr["distance"].between(1_000, 150_000)
    pairs = crispr[keep].reset_index(drop=True)
    pairs["y"] = pairs["Regulated"].astype(str).str.upper() == "TRUE"
    return pairs


def overlapping(pairs: pd.DataFrame, regions: pd.DataFrame) -> list[np.ndarray]:
    """For each element, the rows of `regions` (chrom, start, end) that overlap it."""
    out = []
    by_chrom = {c: g for c, g in regions.groupby("chrom")}
    for c, s, e in zip(pairs["chrom"], pairs["chromStart"], pairs["chromEnd"]):
        g = by_chrom.get(c)
        out.append(np.zeros(0, int) if g is None else
                   g.index.to_numpy()[(g["start"].to_numpy() < e) & (g["end"].to_numpy() > s)])
    return out


def element_scores(pairs, table, peaks) -> np.ndarray:
    """Max over overlapping peaks of the gene's score; -inf where no candidate overlaps."""
    t = table.set_index(["gene", "peak"])["score"]
    names = peaks.index.to_numpy()
    hits = overlapping(pairs, peaks.reset_index(drop=True))
    out = np.full(len(pairs), -np.inf)
    for i, (g, rows) in enumerate(zip(pairs["measuredGeneSymbol"], hits)):
        vals = [t.get((g, names[r]), np.nan) for r in rows]
        vals = [v for v in vals if np.isfinite(v)]
        if vals:
            out[i] = max(vals)
    return out


def abc_reference(pairs) -> np.ndarray:
    abc = pd.read_csv(DATA / "regulation_k562" / "ABC_K562_Fulco2019Genes_GRCh38.tsv.gz", sep="\t")
    out = np.zeros(len(pairs))
    for gene, idx in pairs.groupby("measuredGeneSymbol").groups.items():
        a = abc[abc["TargetGene"] == gene].rename(columns={"chr": "chrom"}).reset_index(drop=True)
        hits = overlapping(pairs.loc[idx], a[["chrom", "start", "end"]])
        out[idx] = [a["powerlaw.Score"].to_numpy()[h].max() if h.size else 0.0 for h in hits]
    return out


def evaluate_k562(m, seed) -> list[dict]:
    from factvae.pp._genome import peak_coordinates

    pairs = k562_pairs(m)
    peaks = peak_coordinates(m.mod["atac"].var)
    overlaps = np.array([h.size > 0 for h in overlapping(pairs, peaks.reset_index(drop=True))])
    ct = pd.crosstab(m.obs["factvae_domain"].astype(str), m.obs["truth"].astype(str))
    k562 = ct["K562"].idxmax()
    purity = ct.loc[k562, "K562"] / ct.loc[k562].sum()
    cols = {"distance alone (closeness)": -pairs["distance"].to_numpy(float),
            "ABC (published, K562 Hi-C-free powerlaw)": abc_reference(pairs)}
    for s in SCORES:
        genes = sorted(pairs["measuredGeneSymbol"].unique())
        cols[s] = element_scores(pairs, factvae.infer_regulation(m, genes, score=s), peaks)
        if s in factvae.regulation.SPOT_SCORES:
            t = factvae.infer_regulation(m, genes, score=s, domain=k562)
            cols[f"{s} (K562 domain)"] = element_scores(pairs, t, peaks)
    rows = []
    y = pairs["y"].to_numpy()
    for name, score in cols.items():
        score = np.where(np.isfinite(score), score, np.nanmin(score[np.isfinite(score)]) - 1
                         if np.isfinite(score).any() else 0)
        for subset, sel in (("all", np.ones(len(y), bool)), ("overlapping a peak", overlaps)):
            lo, hi = bootstrap(y[sel], score[sel], seed=seed)
            rows.append({"seed": seed, "score": name, "cases": subset, **metrics(y[sel], score[sel]),
                         "AUPRC_lo": lo, "AUPRC_hi": hi, "n_pairs": int(sel.sum()),
                         "n_positive": int(y[sel].sum()), "chance": float(y[sel].mean()),
                         "k562_domain": k562, "k562_domain_purity": float(purity)})
    return rows


# --- 3. motifs ---------------------------------------------------------------------------------
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
        table = factvae.motifs.domain_motifs(m, groupby="_eval", n_top=10)
        for source in ("raw", "augmented"):
            top = table[(table["source"] == source) & (table["rank"] <= 10)]
            hits = sum(((top["domain"] == d) & (top["motif"] == mo)).any()
                       for d, mo in zip(truth["domain"], truth["motif"]))
            rows.append({"seed": seed, "labels": labels, "source": source, "in_top10": hits,
                         "planted": len(truth)})
    del m.obs["_eval"]
    return rows


def honest_stats(m, name, seed) -> list[dict]:
    """Per score: pairs, prior pairs left untested, tested pairs, the smallest q, pairs at
    q < 0.05 and prior pairs among them (regulation_stats.csv)."""
    rows = []
    for score in SCORES:
        t = factvae.infer_regulation(m, score=score, store=False)
        q = t["qval"].dropna()
        sig = t["qval"] < 0.05
        rows.append({"dataset": name, "seed": seed, "score": score, "n_pairs": len(t),
                     "n_trained": int(t["trained"].sum()), "n_tested": len(q),
                     "min_qval": float(q.min()) if len(q) else np.nan,
                     "n_q_below_0.05": int(sig.sum()), "n_prior_q_below_0.05":
                     int((sig & t["in_prior"]).sum())})
    return rows


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=300)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--only", choices=["sim", "k562"], default=None)
    p.add_argument("--stats", action="store_true", help="only the q-value statistics of every "
                   "score on the (cached) models: regulation_stats.csv")
    args = p.parse_args()
    warnings.filterwarnings("ignore")
    if args.stats:
        rows = []
        for seed in args.seeds:
            rows += honest_stats(trained("sim", seed, args.epochs, args.threads), "sim", seed)
            rows += honest_stats(trained("snare", seed, args.epochs, args.threads),
                                 "snare_cellline", seed)
        OUT.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(rows).to_csv(OUT / "regulation_stats.csv", index=False)
        print(pd.DataFrame(rows).to_string(index=False))
        return
    sim, k562, motifs = [], [], []
    for seed in args.seeds:
        if args.only in (None, "sim"):
            m = trained("sim", seed, args.epochs, args.threads)
            sim += evaluate_sim(m, seed)
            motifs += evaluate_motifs(m, seed)
        if args.only in (None, "k562") and (DATA / "regulation_k562").is_dir():
            k562 += evaluate_k562(trained("snare", seed, args.epochs, args.threads), seed)
    OUT.mkdir(parents=True, exist_ok=True)
    pd.set_option("display.width", 200)
    if sim:
        df = pd.DataFrame(sim)
        df.to_csv(OUT / "regulation_sim.csv", index=False)
        auc = df[df["bin"] != "q<0.05"]
        print(auc.groupby(["bin", "score"])[["AUROC", "AUPRC"]].agg(["mean", "std"]).round(3))
        print(df[df["bin"] == "q<0.05"].groupby("score")[["n_pairs", "n_positive"]].mean())
        pd.DataFrame(motifs).to_csv(OUT / "motifs.csv", index=False)
        print(pd.DataFrame(motifs).groupby(["labels", "source"])[["in_top10", "planted"]].mean())
    if k562:
        df = pd.DataFrame(k562)
        df.to_csv(OUT / "regulation_k562.csv", index=False)
        print(df.groupby(["cases", "score"])[["AUROC", "AUPRC", "AUPRC_lo", "AUPRC_hi"]]
              .agg(["mean", "std"]).round(3))
        print(df.groupby("cases")[["n_pairs", "n_positive", "chance"]].first())


if __name__ == "__main__":
    main()
