"""Gene-peak regulation from the FactVAE feature embeddings (the scGLUE recipe): candidate peaks
within a window around each gene's TSS, scored by the cosine similarity of gene and peak
embeddings, against a background of randomly paired genes and peaks (z-score, empirical p-value,
Benjamini-Hochberg q)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import FactVAEInputError
from .genome import peak_coordinates
from .keys import FEATURE_KEY, REGULATION_KEY
from .prior import PRIOR_PAIRS_KEY, gene_intervals


def _unit(X: np.ndarray) -> np.ndarray:
    return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)


def bh_qvalues(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values."""
    p = np.asarray(p, float)
    n = p.size
    if n == 0:
        return p
    order = np.argsort(p)
    ranked = p[order] * n / np.arange(1, n + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(n)
    out[order] = np.minimum(q, 1.0)
    return out


def background_scores(gene_emb: np.ndarray, peak_emb: np.ndarray, n: int = 100_000,
                      seed: int = 0) -> np.ndarray:
    """Cosine similarities of `n` random (gene, peak) pairs: the null distribution."""
    rng = np.random.default_rng(seed)
    gi = rng.integers(0, len(gene_emb), n)
    pj = rng.integers(0, len(peak_emb), n)
    return np.sort(np.einsum("ij,ij->i", _unit(gene_emb)[gi], _unit(peak_emb)[pj]))


def candidate_pairs(genes: pd.DataFrame, peaks: pd.DataFrame, window: int) -> pd.DataFrame:
    """Every (gene, peak) whose peak lies within `window` bp of the gene's TSS (interval distance,
    signed: negative upstream, positive downstream, 0 when the peak covers the TSS)."""
    rows = []
    pchrom = peaks["chrom"].astype(str).to_numpy()
    for chrom in np.intersect1d(genes["chrom"].astype(str).unique(), np.unique(pchrom)):
        pidx = np.flatnonzero(pchrom == chrom)
        order = np.argsort(peaks["start"].to_numpy()[pidx], kind="stable")
        pidx = pidx[order]
        ps, pe = peaks["start"].to_numpy()[pidx], peaks["end"].to_numpy()[pidx]
        max_w = int((pe - ps).max())
        g = genes[genes["chrom"].astype(str) == chrom]
        minus = g["strand"].astype(str).to_numpy() == "-"
        tss = np.where(minus, g["end"].to_numpy(), g["start"].to_numpy())
        for name, t, neg in zip(g.index, tss, minus):
            lo = np.searchsorted(ps, t - window - max_w)
            hi = np.searchsorted(ps, t + window, side="right")
            cand = np.arange(lo, hi)
            gap = np.where(pe[cand] < t, pe[cand] - t, np.where(ps[cand] > t, ps[cand] - t, 0))
            keep = np.abs(gap) <= window
            if keep.any():
                sign = -1 if neg else 1  # upstream is negative on either strand
                rows.append(pd.DataFrame({"gene": name, "peak_pos": pidx[cand[keep]],
                                          "tss_distance": sign * gap[keep]}))
    if not rows:
        return pd.DataFrame({"gene": [], "peak_pos": [], "tss_distance": []})
    return pd.concat(rows, ignore_index=True)


def infer_regulation(mdata, genes=None, *, window: int = 150_000, n_background: int = 100_000,
                     annotation=None, seed: int = 0, store: bool | None = None,
                     key_added: str = REGULATION_KEY) -> pd.DataFrame:
    """Score candidate peaks of `genes` (a name, a list, or None for every modelled gene).

    Returns a table sorted by gene then score: gene, peak, score (cosine), z, pval, qval,
    tss_distance, in_prior. With genes=None (or whenever `store` is True) it is also stored in
    `mdata.uns[key_added]` as {'params', 'table'} (default key 'factvae_regulation')."""
    if not window >= 0:  # a negative window finds nothing and says nothing
        raise FactVAEInputError(f"the window must be 0 or more bp, got {window}.", field="window",
                                fix="use e.g. 150000 (150 kb around the TSS).")
    if not n_background >= 2:  # the z-score divides by the spread of the background
        raise FactVAEInputError(f"the background needs at least 2 random pairs, got "
                                f"{n_background}.", field="n_background",
                                fix="use e.g. 100000 (the default).")
    rna, atac = mdata.mod["rna"], mdata.mod["atac"]
    for mod, name in ((rna, "rna"), (atac, "atac")):
        if FEATURE_KEY not in mod.varm:
            raise FactVAEInputError("is missing: no trained FactVAE feature embeddings.",
                                    field=f"mod['{name}'].varm['{FEATURE_KEY}']",
                                    fix="train first (factvae run / factvae.train).")
    gemb_all = np.asarray(rna.varm[FEATURE_KEY], np.float64)
    pemb_all = np.asarray(atac.varm[FEATURE_KEY], np.float64)
    modelled = np.isfinite(gemb_all).all(axis=1)
    peak_ok = np.isfinite(pemb_all).all(axis=1)
    all_genes = genes is None
    if all_genes:
        wanted = rna.var_names[modelled]
    else:
        wanted = pd.Index([genes] if isinstance(genes, str) else list(genes))
        missing = wanted.difference(rna.var_names)
        if len(missing):
            raise FactVAEInputError(f"gene(s) not in the data: {list(missing[:3])}.", field="gene",
                                    fix="use names from mdata.mod['rna'].var_names.")
        unmodelled = wanted[~modelled[rna.var_names.get_indexer(wanted)]]
        if len(unmodelled):
            raise FactVAEInputError(f"gene(s) not modelled (not highly variable): "
                                    f"{list(unmodelled[:3])}.", field="gene",
                                    fix="pick a highly variable gene, or preprocess with more "
                                        "n_top_genes.")
    coords = gene_intervals(mdata, annotation)
    coords = coords[coords.index.isin(wanted)]
    peaks = peak_coordinates(atac.var)
    cand = candidate_pairs(coords, peaks, window)
    cand = cand[peak_ok[cand["peak_pos"].to_numpy(int)]] if len(cand) else cand
    bg = background_scores(gemb_all[modelled], pemb_all[peak_ok], n_background, seed)
    if len(cand):
        gpos = rna.var_names.get_indexer(cand["gene"])
        ppos = cand["peak_pos"].to_numpy(int)
        score = np.einsum("ij,ij->i", _unit(gemb_all[gpos]), _unit(pemb_all[ppos]))
    else:
        ppos, score = np.zeros(0, int), np.zeros(0)
    z = (score - bg.mean()) / max(bg.std(), 1e-12)
    pval = (1 + bg.size - np.searchsorted(bg, score, side="left")) / (1 + bg.size)
    prior = mdata.uns.get(PRIOR_PAIRS_KEY)
    prior_set = set(zip(prior["gene"], prior["peak"])) if prior is not None else set()
    peak_names = atac.var_names[ppos].astype(str)
    table = pd.DataFrame({
        "gene": cand["gene"].astype(str).to_numpy() if len(cand) else [],
        "peak": peak_names, "score": score, "z": z, "pval": pval, "qval": bh_qvalues(pval),
        "tss_distance": cand["tss_distance"].to_numpy(np.int64) if len(cand) else [],
        "in_prior": [(g, p) in prior_set for g, p in zip(cand["gene"], peak_names)] if len(cand) else []})
    table = table.sort_values(["gene", "score"], ascending=[True, False], ignore_index=True)
    if store or (store is None and all_genes):
        mdata.uns[key_added] = {
            "params": {"window": int(window), "n_background": int(n_background), "seed": seed,
                       "all_genes": bool(all_genes), "background_mean": float(bg.mean()),
                       "background_sd": float(bg.std())},
            "table": table}
    return table
