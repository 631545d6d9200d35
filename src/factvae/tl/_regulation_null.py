"""Nulls for gene-peak scores, each one a pair was never trained to beat.

- Matched background peaks (Signac's LinkPeaks recipe): for each candidate peak, peaks on OTHER
  chromosomes (they cannot be cis-regulatory for the gene) from the same bin of mean
  accessibility, GC content (when known) and width; the gene's correlation with them is the null
  of its correlation with the candidate: z = (r - mean) / sd, p = upper normal tail.
- Random gene-peak pairs outside the prior, for the paper's cosine: the prior's pairs were
  trained towards cosine 1, so they are neither in the null nor tested against it.
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def quantile_bins(values: np.ndarray, n_bins: int) -> np.ndarray:
    """Bin of each value by rank (ties broken by position), 0..n_bins-1, equal counts."""
    n = len(values)
    ranks = np.argsort(np.argsort(values, kind="stable"), kind="stable")
    return (ranks * n_bins // max(n, 1)).astype(np.int64)


def peak_bins(mean_access: np.ndarray, gc: np.ndarray | None = None,
              width: np.ndarray | None = None, n_bins: int = 10) -> np.ndarray:
    """One bin code per peak from quantile bins of log mean accessibility, GC and width."""
    code = quantile_bins(np.log1p(mean_access), n_bins)
    for extra in (gc, width):
        if extra is not None and np.ptp(extra) > 0:
            code = code * n_bins + quantile_bins(np.asarray(extra, float), n_bins)
    return code


def matched_background(bins: np.ndarray, chrom: np.ndarray, query: np.ndarray, n: int = 200,
                       seed: int = 0) -> tuple[np.ndarray, int]:
    """len(query) x n peak positions: for each query peak, peaks of its bin on other
    chromosomes, drawn with replacement. Where a bin has no peak elsewhere (one chromosome
    only), the whole bin is used; the second value counts those queries."""
    rng = np.random.default_rng(seed)
    out = np.empty((len(query), n), np.int64)
    fallback = 0
    qb, qc = bins[query], chrom[query]
    for b in np.unique(qb):
        members = np.flatnonzero(bins == b)
        for c in np.unique(qc[qb == b]):
            rows = np.flatnonzero((qb == b) & (qc == c))
            pool = members[chrom[members] != c]
            if pool.size == 0:
                pool, fallback = members, fallback + rows.size
            out[rows] = rng.choice(pool, (rows.size, n))
    return out, fallback


def z_from_background(score: np.ndarray, background: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """z and one-sided p of each score against its own row of background scores."""
    mean = background.mean(axis=1)
    sd = background.std(axis=1)
    z = (score - mean) / np.maximum(sd, 1e-12)
    return z, stats.norm.sf(z)


def random_pairs_outside(n_genes: int, n_peaks: int, excluded: set, n: int,
                         seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`n` random (gene, peak) position pairs none of which is in `excluded`."""
    rng = np.random.default_rng(seed)
    gi, pj = rng.integers(0, n_genes, n), rng.integers(0, n_peaks, n)
    if excluded:
        keep = np.fromiter(((g, p) not in excluded for g, p in zip(gi, pj)), bool, n)
        gi, pj = gi[keep], pj[keep]
    return gi, pj


def empirical_upper(score: np.ndarray, background: np.ndarray) -> np.ndarray:
    """P(background >= score) with the +1 correction, from a sorted background."""
    bg = np.sort(background)
    return (1 + bg.size - np.searchsorted(bg, score, side="left")) / (1 + bg.size)


def bh_qvalues(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values; NaN entries (untested pairs) stay NaN and do not
    count towards the number of tests."""
    p = np.asarray(p, float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    n = ok.size
    if n == 0:
        return out
    order = np.argsort(p[ok])
    ranked = p[ok][order] * n / np.arange(1, n + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out[ok[order]] = np.minimum(q, 1.0)
    return out
