"""Preprocessing with the FactVAE authors' defaults (see docs/method.md):

- QC: drop features seen in fewer than `min_spots` spots, then spots with no counts left in
  either modality;
- RNA: 2,000 highly variable genes on raw counts (seurat_v3), log-normalised expression
  (`layers['factvae_lognorm']`), PCA (100 components) of the HVGs -> `rna.obsm['X_pca']`;
- ATAC: LSI over all peaks as scGLUE's `lsi()` (TF-IDF, L1 per spot, log1p(1e4 x), randomized
  SVD, U only; 100 components), each spot's vector standardised -> `atac.obsm['X_lsi']`;
- size factors: ln(total counts) per modality -> `obs['factvae_log_size']`.

Raw counts stay in `X` (sparse). Every parameter is recorded in `mdata.uns['factvae_preprocess']`.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from ..errors import FactVAEInputError
from ..keys import (
    LOG_SIZE_KEY,
    LOGNORM_KEY,
    N_GENES_KEY,
    N_PEAKS_KEY,
    PREPROCESS_KEY,
    TOTAL_COUNTS_KEY,
)

if TYPE_CHECKING:
    import anndata as ad




@dataclass
class PreprocessParams:
    """The parameters of `preprocess`, with the FactVAE authors' defaults.

    All of them are recorded in `mdata.uns['factvae_preprocess']`.

    Parameters
    ----------
    min_spots_per_gene : int, default 3
        Genes detected (non-zero) in fewer spots are removed.
    min_spots_per_peak : int, default 3
        Peaks detected in fewer spots are removed.
    n_top_genes : int, default 2000
        Highly variable genes to select (all genes when there are not more).
    hvg_flavor : str, default 'seurat_v3'
        scanpy's `highly_variable_genes` flavor, on raw counts.
    target_sum : float, default 1e4
        Counts per spot before log1p in the log-normalised expression.
    n_pcs : int, default 100
        PCA components of the highly variable genes (at most spots - 1 and genes - 1).
    n_lsi : int, default 100
        LSI components of the peaks (at most min(spots, peaks) - 1).
    lsi_recipe : str, default 'scglue'
        'scglue' or 'signac' (see `lsi`).
    seed : int, default 0
        Random state of the PCA and the LSI's SVD.
    """

    min_spots_per_gene: int = 3
    min_spots_per_peak: int = 3
    n_top_genes: int = 2000
    hvg_flavor: str = "seurat_v3"
    target_sum: float = 1e4
    n_pcs: int = 100
    n_lsi: int = 100
    lsi_recipe: str = "scglue"
    seed: int = 0


def _feature_mask(X: sp.csr_matrix, min_spots: int) -> np.ndarray:
    return np.asarray(X.getnnz(axis=0)).ravel() >= min_spots


def filter_spots_and_features(mdata, params: PreprocessParams):
    """QC filters; returns a new MuData (global obs/obsm/uns kept) and a dict of what was removed."""
    from ..io._assemble import assemble

    rna, atac = mdata.mod["rna"], mdata.mod["atac"]
    gene_ok = _feature_mask(rna.X, params.min_spots_per_gene)
    peak_ok = _feature_mask(atac.X, params.min_spots_per_peak)
    for name, ok, n_min in (("rna", gene_ok, params.min_spots_per_gene),
                            ("atac", peak_ok, params.min_spots_per_peak)):
        if not ok.any():
            raise FactVAEInputError(
                f"no feature is detected in at least {n_min} spots, so all "
                f"{ok.size} features would be removed.", field=f"{name}.X",
                fix=f"check that {name} holds counts for these spots, or lower "
                    f"min_spots_per_{'gene' if name == 'rna' else 'peak'}.")
    spot_ok = ((np.asarray(rna.X[:, gene_ok].sum(axis=1)).ravel() > 0)
               & (np.asarray(atac.X[:, peak_ok].sum(axis=1)).ravel() > 0))
    if not spot_ok.any():
        raise FactVAEInputError("every spot has zero counts in RNA or in ATAC after filtering.",
                                field="X", fix="check that the count matrices are not empty.")
    removed = {"spots": int((~spot_ok).sum()), "genes": int((~gene_ok).sum()),
               "peaks": int((~peak_ok).sum())}
    if not any(removed.values()):
        return mdata, removed
    if removed["spots"]:
        warnings.warn(f"Removed {removed['spots']} spots with no RNA or no ATAC counts.",
                      stacklevel=3)
    new_rna = rna[spot_ok][:, gene_ok].copy()
    new_atac = atac[spot_ok][:, peak_ok].copy()
    obsm = {k: np.asarray(v)[spot_ok] for k, v in mdata.obsm.items()
            if not hasattr(v, "columns") and k not in ("rna", "atac")}
    out = assemble(new_rna, new_atac, coords=obsm.pop("spatial", None),
                   library=None, uns=dict(mdata.uns))
    if "spatial" in mdata.uns:
        out.uns["spatial"] = mdata.uns["spatial"]
    for col in mdata.obs.columns:
        if ":" not in col:
            out.obs[col] = mdata.obs[col].iloc[np.flatnonzero(spot_ok)].values
    for k, v in obsm.items():
        out.obsm[k] = v
    return out, removed


LSI_RECIPES = ("scglue", "signac")


def tfidf(X: sp.spmatrix, log: bool = True) -> sp.csr_matrix:
    """TF-IDF of a peak count matrix (spots x peaks), sparse: (x / spot total) * (N / peak total);
    with `log`, then log1p after scaling by 1e4 (Signac's method 1)."""
    X = sp.csr_matrix(X, dtype=np.float64)
    row = np.asarray(X.sum(axis=1)).ravel()
    col = np.asarray(X.sum(axis=0)).ravel()
    idf = X.shape[0] / np.maximum(col, 1e-12)
    tf = sp.diags(1.0 / np.maximum(row, 1e-12)) @ X
    out = (tf @ sp.diags(idf)).tocsr()
    if log:
        out.data = np.log1p(out.data * 1e4)
    return out


def log_normalize(X, target_sum: float = 1e4) -> sp.csr_matrix:
    """log1p of counts scaled to `target_sum` per spot (scanpy's normalize_total), CSR float32;
    the input is not changed."""
    import anndata as ad
    import scanpy as sc

    with warnings.catch_warnings():  # a spot without counts stays all zeros: nothing to say
        warnings.filterwarnings("ignore", message="Some cells have zero counts")
        norm = sc.pp.normalize_total(ad.AnnData(X), target_sum=target_sum, inplace=False)["X"]
    norm = sp.csr_matrix(norm, dtype=np.float32)
    norm.data = np.log1p(norm.data)
    return norm


def _standardise_rows(Z: np.ndarray) -> np.ndarray:
    Z = Z - Z.mean(axis=1, keepdims=True)
    Z /= np.maximum(Z.std(axis=1, ddof=1, keepdims=True), 1e-12)
    return Z.astype(np.float32)


def lsi(X: sp.spmatrix, n_components: int = 100, seed: int = 0, recipe: str = "scglue"
        ) -> np.ndarray:
    """LSI of a peak count matrix, each spot's vector standardised (the ATAC encoder's input).

    recipe 'scglue' (default; what the FactVAE authors feed their encoder, scGLUE's `lsi()`):
    TF-IDF, each spot L1-normalised, log1p(x * 1e4), randomized SVD with 15 power iterations,
    the left singular vectors U only. 'signac': log TF-IDF, truncated SVD, U * S (this
    package before 2026-11; its first component carries ~45 % of each spot's input and tracks
    sequencing depth).

    Parameters
    ----------
    X : scipy.sparse matrix
        Peak counts, spots x peaks.
    n_components : int, default 100
        Components to keep (at most min(spots, peaks) - 1, at least 1).
    seed : int, default 0
        Random state of the SVD.
    recipe : str, default 'scglue'
        'scglue' or 'signac'.

    Returns
    -------
    numpy.ndarray
        spots x components, float32, each row standardised (mean 0, standard deviation 1).

    Raises
    ------
    FactVAEInputError
        If `recipe` is unknown.
    """
    from sklearn.utils.extmath import randomized_svd

    if recipe not in LSI_RECIPES:
        raise FactVAEInputError(f"unknown LSI recipe {recipe!r}.", field="lsi_recipe",
                                fix=f"use one of {LSI_RECIPES}.")
    n_components = max(1, min(n_components, min(X.shape) - 1))
    if recipe == "signac":
        U, S, _ = randomized_svd(tfidf(X), n_components, random_state=seed)
        return _standardise_rows(U * S)
    T = tfidf(X, log=False)
    row = np.asarray(T.sum(axis=1)).ravel()
    T = (sp.diags(1.0 / np.maximum(row, 1e-12)) @ T).tocsr()   # L1 per spot
    T.data = np.log1p(T.data * 1e4)
    U, _, _ = randomized_svd(T, n_components, n_iter=15, random_state=seed)
    return _standardise_rows(U)


def log_size(X: sp.spmatrix) -> np.ndarray:
    """sf = ln(total counts per spot)."""
    return np.log(np.maximum(np.asarray(X.sum(axis=1)).ravel(), 1.0)).astype(np.float32)


def select_hvg(rna: ad.AnnData, params: PreprocessParams) -> None:
    """Mark `var['highly_variable']` on raw counts; all genes when there are not more than asked."""
    import scanpy as sc

    if rna.n_vars <= params.n_top_genes:
        rna.var["highly_variable"] = True
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sc.pp.highly_variable_genes(rna, n_top_genes=params.n_top_genes, flavor=params.hvg_flavor,
                                    subset=False)


def check_trainable(mdata, *, file: str | None = None,
                    params: PreprocessParams | None = None) -> None:
    """Refuse, before any work, data that preprocessing would empty or training cannot use.

    Parameters
    ----------
    mdata : MuData
        Paired raw counts (`rna`, `atac`), as `load_paired` gives them.
    file : str, optional
        The file the data came from, named in the error.
    params : PreprocessParams, optional
        The QC thresholds that will be used (default: `PreprocessParams()`).

    Raises
    ------
    FactVAEInputError
        Fewer spots than the QC's minimum, a modality with fewer than 2 features, or one in
        which no feature is seen in enough spots (all zeros, or counts in another layer).
    """
    params = params or PreprocessParams()
    min_spots = max(params.min_spots_per_gene, params.min_spots_per_peak)
    src = file
    if mdata.n_obs < min_spots:
        raise FactVAEInputError(
            f"only {mdata.n_obs} spot(s) in both modalities; FactVAE needs at least {min_spots} "
            f"(a gene or peak is kept when seen in {min_spots} spots).", file=src, field="spots",
            fix="give the whole dataset (check that --rna and --atac, or the modalities of "
                "--mudata, name the same spots).")
    for name, kind in (("rna", "genes"), ("atac", "peaks")):
        mod = mdata.mod[name]
        if mod.n_vars < 2:
            raise FactVAEInputError(f"has only {mod.n_vars} {kind[:-1]}; FactVAE needs at least 2 "
                                    f"{kind}.", file=src, field=f"{name}.var_names",
                                    fix=f"give the full {name} matrix (all {kind}).")
        least = params.min_spots_per_gene if name == "rna" else params.min_spots_per_peak
        seen = np.asarray(mod.X.getnnz(axis=0)).ravel() >= least
        if not seen.any():
            empty = ("is all zeros" if mod.X.nnz == 0
                     else f"has no {kind[:-1]} seen in {least} spots")
            raise FactVAEInputError(
                f"{empty}, so preprocessing would remove every {kind[:-1]}.", file=src,
                field=f"{name}.X",
                fix=f"check that {name} holds the raw counts of these spots (if they are in a "
                    "layer, name it: --counts-layer LAYER, or load_paired(counts_layer=...)).")


def preprocess(mdata, params: PreprocessParams | None = None, **overrides):
    """Run QC, HVG, PCA, LSI and size factors; returns the (possibly new, filtered) MuData.

    QC drops features seen in fewer than `min_spots_per_gene` / `min_spots_per_peak` spots,
    then spots with no counts left in either modality; when anything is removed the result is
    a new MuData (global obs, obsm and uns kept), otherwise `mdata` itself, changed in place.
    Raw counts stay in `X`. The steps are those of the module (see docs/method.md).

    Parameters
    ----------
    mdata : MuData
        Modalities 'rna' and 'atac' with raw counts in `X` (as `load_paired` gives).
    params : PreprocessParams, optional
        Default: `PreprocessParams()`, the authors' defaults.
    **overrides
        Fields of `PreprocessParams` to change (set on `params` itself, when given).

    Returns
    -------
    MuData
        The preprocessed data (a new object when QC removed spots or features).

    Raises
    ------
    FactVAEInputError
        If no gene or no peak is detected in enough spots, every spot is left without counts,
        or the LSI recipe is unknown.
    TypeError
        For an override that is not a field of `PreprocessParams`.

    Warns
    -----
    UserWarning
        When spots are removed for having no RNA or no ATAC counts.

    Notes
    -----
    Sets `rna.var['highly_variable']`, `rna.layers['factvae_lognorm']` (log1p of counts
    scaled to `target_sum`), `rna.obsm['X_pca']`, `atac.obsm['X_lsi']`, in both modalities
    `obs['factvae_log_size']` (ln of total counts) and `obs['factvae_total_counts']`, and
    `rna.obs['factvae_n_genes']` / `atac.obs['factvae_n_peaks']` (features detected); and
    `mdata.uns['factvae_preprocess']`: every parameter, plus 'n_pcs_used', 'n_lsi_used',
    'n_hvg', 'removed_spots', 'removed_genes', 'removed_peaks', 'rna_density' and
    'atac_density'.
    """
    import scanpy as sc

    params = params or PreprocessParams()
    for k, v in overrides.items():
        if not hasattr(params, k):
            raise TypeError(f"unknown preprocessing parameter {k!r}")
        setattr(params, k, v)
    mdata, removed = filter_spots_and_features(mdata, params)
    rna, atac = mdata.mod["rna"], mdata.mod["atac"]

    select_hvg(rna, params)
    norm = log_normalize(rna.X, params.target_sum)
    rna.layers[LOGNORM_KEY] = norm
    hvg = rna.var["highly_variable"].to_numpy()
    n_pcs = max(1, min(params.n_pcs, rna.n_obs - 1, int(hvg.sum()) - 1))
    rna.obsm["X_pca"] = sc.pp.pca(norm[:, hvg], n_comps=n_pcs,
                                  random_state=params.seed).astype(np.float32)
    atac.obsm["X_lsi"] = lsi(atac.X, params.n_lsi, params.seed, params.lsi_recipe)
    rna.obs[LOG_SIZE_KEY] = log_size(rna.X)
    atac.obs[LOG_SIZE_KEY] = log_size(atac.X)
    rna.obs[TOTAL_COUNTS_KEY] = np.asarray(rna.X.sum(axis=1)).ravel()
    atac.obs[TOTAL_COUNTS_KEY] = np.asarray(atac.X.sum(axis=1)).ravel()
    rna.obs[N_GENES_KEY] = rna.X.getnnz(axis=1)
    atac.obs[N_PEAKS_KEY] = atac.X.getnnz(axis=1)

    mdata.uns[PREPROCESS_KEY] = {
        **asdict(params), "n_pcs_used": int(n_pcs), "n_lsi_used": int(atac.obsm["X_lsi"].shape[1]),
        "n_hvg": int(hvg.sum()), "removed_spots": removed["spots"],
        "removed_genes": removed["genes"], "removed_peaks": removed["peaks"],
        "rna_density": float(rna.X.nnz / max(rna.n_obs * rna.n_vars, 1)),
        "atac_density": float(atac.X.nnz / max(atac.n_obs * atac.n_vars, 1))}
    return mdata
