"""The scores a gene-peak pair can get, each from what a trained FactVAE (or the counts) give.

- `paper`: cosine of the gene and peak feature embeddings (the paper; scGLUE's recipe).
- `correlation`: Pearson correlation across spots of the log denoised expression,
  z_r . g_i - lse_r, with the log augmented accessibility, z_a . w_j - lse_a (size factors left
  out). Both are linear in [z, lse], so the correlation of any pair is exact from the spots'
  second moments: a (d+1) x (d+1) matrix, never a spots x peaks one.
- `abc`: activity by contact (Fulco et al. 2019): the peak's mean augmented accessibility times a
  power-law contact with the TSS, as a share of the same over the gene's candidates.
- `contact_correlation`: the correlation weighted by contact, C(d) exp(5 r): distance is the
  prior every real screen shows (links fall with distance), the correlation is the evidence of
  the pair itself; a correlation 0.2 higher counts as much as a 2.7 times closer peak.
- `distance`: the power-law contact alone (closeness to the TSS), the baseline to beat.
- `raw_correlation`: correlation of log-normalised raw counts summed over metacells; it never
  sees the model, so it can test the prior's own pairs.

Every function takes spot rows (`spots`, a boolean mask or None for all), so a domain's own
activity and correlation come from the same code.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

# ABC's power law for K562 Hi-C (the ABC repository's defaults, Fulco et al. 2019): contact =
# exp(scale - gamma ln(d + 1)), distances below 5 kb counted as 5 kb (no Hi-C resolution there)
ABC_GAMMA = 1.024238616787792


ABC_SCALE = 5.9594510043736655


ABC_MIN_DISTANCE = 5_000


ABC_THRESHOLD = 0.02  # Fulco et al. call a link above this share


# exp(weight x r) in contact_correlation: measured on the simulator and the K562 screens
# (docs/benchmarks.md 3); 3-8 score alike there
CORRELATION_WEIGHT = 5.0


def contact(distance) -> np.ndarray:
    """Power-law contact frequency at a TSS distance in bp (ABC's form)."""
    d = np.maximum(np.abs(np.asarray(distance, np.float64)), ABC_MIN_DISTANCE)
    return np.exp(ABC_SCALE - ABC_GAMMA * np.log(d + 1))


def contact_correlation(distance, r) -> np.ndarray:
    """Contact times exp(CORRELATION_WEIGHT x correlation)."""
    return contact(distance) * np.exp(CORRELATION_WEIGHT * np.asarray(r, np.float64))


def unit_rows(X: np.ndarray) -> np.ndarray:
    return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)


def cosine(gene_emb: np.ndarray, peak_emb: np.ndarray, gpos, ppos) -> np.ndarray:
    """The paper's score for pairs (gpos[k], ppos[k])."""
    return np.einsum("ij,ij->i", unit_rows(gene_emb[gpos]), unit_rows(peak_emb[ppos]))


def _log_sum_exp(Z: np.ndarray, W: np.ndarray, block: int = 2048) -> np.ndarray:
    out = np.empty(len(Z))
    for s in range(0, len(Z), block):
        L = Z[s:s + block] @ W.T
        m = L.max(axis=1, keepdims=True)
        out[s:s + block] = (m + np.log(np.exp(L - m).sum(axis=1, keepdims=True))).ravel()
    return out


class DenoisedMoments:
    """Means and covariances of [z_r, lse_r] and [z_a, lse_a] over a set of spots, from which
    the correlation of any gene's log denoised expression with any peak's log augmented
    accessibility follows exactly (`correlation_with_peaks`)."""

    def __init__(self, z_rna, lse_rna, z_atac, lse_atac, spots=None):
        Yr = np.c_[np.asarray(z_rna, np.float64), lse_rna]
        Ya = np.c_[np.asarray(z_atac, np.float64), lse_atac]
        if spots is not None:
            Yr, Ya = Yr[spots], Ya[spots]
        self.n_spots = len(Yr)
        Yr = Yr - Yr.mean(0)
        Ya = Ya - Ya.mean(0)
        n = max(self.n_spots, 1)
        self.C_rr, self.C_aa, self.C_ra = Yr.T @ Yr / n, Ya.T @ Ya / n, Yr.T @ Ya / n

    @staticmethod
    def _vectors(emb: np.ndarray) -> np.ndarray:
        return np.c_[np.asarray(emb, np.float64), -np.ones(len(emb))]

    def peak_sd(self, peak_emb: np.ndarray) -> np.ndarray:
        B = self._vectors(peak_emb)
        return np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", B, self.C_aa, B), 0))

    def gene_sd(self, gene_emb: np.ndarray) -> np.ndarray:
        A = self._vectors(gene_emb)
        return np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", A, self.C_rr, A), 0))

    def correlation_with_peaks(self, gene_vec: np.ndarray, peak_emb: np.ndarray,
                               peak_sd: np.ndarray) -> np.ndarray:
        """Correlation of one gene (its embedding) with each row of `peak_emb`."""
        a = np.r_[np.asarray(gene_vec, np.float64), -1.0]
        sd_g = np.sqrt(max(a @ self.C_rr @ a, 0.0))
        u = self.C_ra.T @ a
        cov = peak_emb @ u[:-1] - u[-1]
        return np.where((peak_sd > 0) & (sd_g > 0), cov / np.maximum(peak_sd * sd_g, 1e-300), 0.0)


def denoised_moments(mdata, gene_emb, peak_emb, spots=None) -> DenoisedMoments:
    """The moments for the stored codes (`obsm['X_factvae']` of each modality)."""
    from ..keys import EMBEDDING_KEY, LSE_KEY

    rna, atac = mdata.mod["rna"], mdata.mod["atac"]
    z_r = np.asarray(rna.obsm[EMBEDDING_KEY], np.float64)
    z_a = np.asarray(atac.obsm[EMBEDDING_KEY], np.float64)
    genes_ok = np.isfinite(gene_emb).all(axis=1)
    lse_r = _log_sum_exp(z_r, np.asarray(gene_emb[genes_ok], np.float64))
    if LSE_KEY in atac.obs:
        lse_a = atac.obs[LSE_KEY].to_numpy(np.float64)
    else:
        lse_a = _log_sum_exp(z_a, np.asarray(peak_emb[np.isfinite(peak_emb).all(axis=1)],
                                             np.float64))
    return DenoisedMoments(z_r, lse_r, z_a, lse_a, spots)


def mean_augmented(mdata, peak_pos: np.ndarray, spots=None, chunk: int = 2048) -> np.ndarray:
    """Mean over `spots` of the normalised augmented accessibility exp(z_a . w_j - lse_a) of each
    peak in `peak_pos` (the share of a spot's accessibility; ABC's activity), chunk by chunk."""
    from ..keys import EMBEDDING_KEY, FEATURE_KEY, LSE_KEY

    atac = mdata.mod["atac"]
    z = np.asarray(atac.obsm[EMBEDDING_KEY], np.float64)
    lse = atac.obs[LSE_KEY].to_numpy(np.float64)
    if spots is not None:
        z, lse = z[spots], lse[spots]
    W = np.asarray(atac.varm[FEATURE_KEY], np.float64)
    out = np.empty(len(peak_pos))
    for s in range(0, len(peak_pos), chunk):
        p = peak_pos[s:s + chunk]
        out[s:s + chunk] = np.exp(z @ W[p].T - lse[:, None]).mean(axis=0)
    return out


def share_of_gene(value: np.ndarray, gene_codes: np.ndarray) -> np.ndarray:
    """Each pair's value as a share of the sum over its gene's candidates (ABC's normalisation)."""
    totals = np.bincount(gene_codes, weights=value)
    return np.where(totals[gene_codes] > 0, value / np.maximum(totals[gene_codes], 1e-300), 0.0)


def metacells(X_embed: np.ndarray, spots=None, size: int = 20, seed: int = 0) -> np.ndarray:
    """Metacell label of each spot (-1 outside `spots`): K-means in the embedding with about
    `size` spots per metacell (at least 10 metacells)."""
    from sklearn.cluster import KMeans

    rows = np.arange(len(X_embed)) if spots is None else np.flatnonzero(spots)
    k = int(np.clip(len(rows) // size, 10, 1000)) if len(rows) >= 20 else max(len(rows) // 2, 1)
    labels = np.full(len(X_embed), -1, np.int64)
    labels[rows] = KMeans(n_clusters=k, n_init=3, random_state=seed).fit_predict(X_embed[rows])
    return labels


def metacell_log_profiles(X: sp.spmatrix, labels: np.ndarray) -> np.ndarray:
    """metacells x features: log1p of counts summed per metacell, per 1e4 of the metacell's total."""
    keep = labels >= 0
    k = int(labels.max()) + 1
    A = sp.csr_matrix((np.ones(int(keep.sum())), (labels[keep], np.flatnonzero(keep))),
                      shape=(k, X.shape[0]))
    S = np.asarray((A @ sp.csr_matrix(X)).todense(), np.float64)
    return np.log1p(S / np.maximum(S.sum(axis=1, keepdims=True), 1) * 1e4)


def standardise_columns(M: np.ndarray) -> np.ndarray:
    """Columns centred and scaled to unit norm, so a dot product is a Pearson correlation."""
    M = M - M.mean(axis=0)
    return M / np.maximum(np.linalg.norm(M, axis=0), 1e-12)
