"""Augmented ATAC, x_hat = exp(sf) * softmax(z_a W_peak^T), one column block at a time.

Computed from what `FactVAE.write_results` stored: z_a (`atac.obsm['X_factvae']`), the peak
embeddings (`atac.varm['factvae_feature']`), the per-spot log-sum-exp (`atac.obs['factvae_lse']`)
and the size factor (`atac.obs['factvae_log_size']`). The spots x peaks matrix never exists.
"""

from __future__ import annotations

import warnings
from typing import Iterator, Sequence

import numpy as np
import pandas as pd

from ..errors import FactVAEDataWarning, FactVAEInputError
from ..keys import EMBEDDING_KEY, FEATURE_KEY, LSE_KEY
from ..pp._preprocess import LOG_SIZE_KEY


def _parts(mdata):
    atac = mdata.mod["atac"]
    for where, key in (("obsm", EMBEDDING_KEY), ("varm", FEATURE_KEY), ("obs", LSE_KEY),
                       ("obs", LOG_SIZE_KEY)):
        if key not in getattr(atac, where):
            raise FactVAEInputError("is missing: no trained FactVAE results in this data.",
                                    field=f"mod['atac'].{where}['{key}']",
                                    fix="train first (factvae run / factvae train, or "
                                        "factvae.train(mdata)).")
    z = np.asarray(atac.obsm[EMBEDDING_KEY], np.float64)
    lse = atac.obs[LSE_KEY].to_numpy(np.float64)
    bad = ~(np.isfinite(z).all(axis=1) & np.isfinite(lse))
    if bad.any():  # (factvae domains refuses the same file: values would be NaN without a word)
        raise FactVAEInputError(f"{int(bad.sum())} spots have NaN or infinite embeddings (first: "
                                f"{atac.obs_names[np.flatnonzero(bad)[0]]!r}), so their augmented "
                                "accessibility cannot be computed.",
                                field=f"mod['atac'].obsm['{EMBEDDING_KEY}']",
                                fix="retrain the model (a diverged training gives NaN), or "
                                    "remove those spots.")
    return (z, np.asarray(atac.varm[FEATURE_KEY]), lse,
            atac.obs[LOG_SIZE_KEY].to_numpy(np.float64))


def _peak_positions(mdata, peaks) -> np.ndarray:
    names = mdata.mod["atac"].var_names
    if peaks is None:
        return np.arange(len(names))
    peaks = [peaks] if isinstance(peaks, (str, int, np.integer)) else list(peaks)
    if all(isinstance(p, (int, np.integer)) for p in peaks):
        pos = np.asarray(peaks, dtype=np.int64)
        bad = (pos < 0) | (pos >= len(names))
        if bad.any():
            raise FactVAEInputError(f"peak positions out of range: {pos[bad][:3].tolist()}.",
                                    field="peaks", fix=f"use 0..{len(names) - 1} or peak names.")
        return pos
    pos = names.get_indexer(pd.Index([str(p) for p in peaks]))
    if (pos < 0).any():
        missing = [p for p, i in zip(peaks, pos) if i < 0][:3]
        raise FactVAEInputError(f"{int((pos < 0).sum())} peaks not in the data, e.g. {missing}.",
                                field="peaks", fix="use names from mdata.mod['atac'].var_names.")
    return pos


def augment_atac(mdata, peaks: Sequence[str] | Sequence[int] | str | None = None,
                 *, dtype=np.float32) -> np.ndarray:
    """Augmented accessibility (spots x len(peaks)) for the requested peaks.

    The peaks are given by names or positions. For many peaks, prefer `iter_augmented_atac`,
    which never holds them all.

    x_hat = exp(sf) * softmax(z_a W_peak^T), computed from the trained results the module
    names (`atac.obsm['X_factvae']`, `atac.varm['factvae_feature']`, `atac.obs['factvae_lse']`,
    `atac.obs['factvae_log_size']`).

    Parameters
    ----------
    mdata : MuData
        A trained result.
    peaks : str or int or sequence of str or int, optional
        Peak names (from `atac.var_names`) or positions; default: every peak.
    dtype : numpy dtype, default numpy.float32
        The dtype of the result.

    Returns
    -------
    numpy.ndarray
        spots x len(peaks).

    Raises
    ------
    FactVAEInputError
        If there are no trained results, a spot's embedding is NaN or infinite, a peak is
        unknown or out of range, or a requested peak was not modelled (NaN embedding).
    """
    z, W, lse, log_size = _parts(mdata)
    pos = _peak_positions(mdata, peaks)
    emb = W[pos]
    if np.isnan(emb).any():
        raise FactVAEInputError("some requested peaks were not modelled (NaN embeddings).",
                                field="peaks", fix="request peaks that passed QC filtering.")
    return np.exp(z @ emb.T - lse[:, None] + log_size[:, None]).astype(dtype)


def iter_augmented_atac(mdata, peaks=None, *, chunk_size: int = 4096, dtype=np.float32
                        ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(peak positions, spots x chunk block) for all (or the given) peaks, chunk by chunk.

    Only one block is held at a time. Peaks that were not modelled (NaN embeddings) give NaN
    columns here, not an error.

    Parameters
    ----------
    mdata : MuData
        A trained result.
    peaks : str or int or sequence of str or int, optional
        Peak names or positions; default: every peak.
    chunk_size : int, default 4096
        Peaks per block.
    dtype : numpy dtype, default numpy.float32
        The dtype of each block.

    Yields
    ------
    positions : numpy.ndarray
        The positions (in `atac.var_names`) of the block's peaks.
    block : numpy.ndarray
        Their augmented accessibility, spots x len(positions).

    Raises
    ------
    FactVAEInputError
        If there are no trained results, a spot's embedding is NaN or infinite, or a peak is
        unknown or out of range.
    """
    z, W, lse, log_size = _parts(mdata)
    pos = _peak_positions(mdata, peaks)
    offset = (log_size - lse)[:, None]
    for s in range(0, len(pos), chunk_size):
        p = pos[s:s + chunk_size]
        yield p, np.exp(z @ W[p].T + offset).astype(dtype)


def gene_activity(mdata, genes: Sequence[str] | str, *, augmented: bool = True) -> pd.DataFrame:
    """Per spot, the summed accessibility of each gene's linked peaks.

    The linked peaks are those in the gene body + promoter (the G2P prior); the accessibility
    is augmented (default) or raw counts. Returns a spots x genes DataFrame.

    The links are those of `mdata.uns['factvae_g2p']` (`add_gene_peak_prior`).

    Parameters
    ----------
    mdata : MuData
        With the gene-peak prior; a trained result for `augmented`.
    genes : str or sequence of str
        Gene names from `rna.var_names`.
    augmented : bool, default True
        Sum augmented accessibility (`augment_atac`); False: raw ATAC counts.

    Returns
    -------
    pandas.DataFrame
        spots x genes (index: the spot names), float32.

    Raises
    ------
    FactVAEInputError
        If there is no gene-peak prior, a gene is not in the data, or (augmented) the
        trained results are missing.

    Warns
    -----
    FactVAEDataWarning
        For a gene without a linked peak (its activity is 0).
    """
    from ..pp._prior import PRIOR_PAIRS_KEY

    genes = [genes] if isinstance(genes, str) else list(genes)
    pairs = mdata.uns.get(PRIOR_PAIRS_KEY)
    if pairs is None:
        raise FactVAEInputError("no gene-peak prior to link genes to peaks.",
                                field=f"uns['{PRIOR_PAIRS_KEY}']",
                                fix="run factvae.add_gene_peak_prior(mdata) first.")
    atac = mdata.mod["atac"]
    # an unknown name (a typo, another naming scheme) would otherwise come back as zeros
    unknown = [g for g in genes if g not in mdata.mod["rna"].var_names]
    if unknown:
        raise FactVAEInputError(f"{len(unknown)} gene(s) not in the data: {unknown[:3]}.",
                                field="genes", fix="use names from mdata.mod['rna'].var_names.")
    out = {}
    for g in genes:
        peaks = pairs.loc[pairs["gene"] == g, "peak"].tolist()
        peaks = [p for p in peaks if p in atac.var_names]
        if not peaks:
            warnings.warn(f"gene {g} has no peak in its body or promoter (the gene-peak prior); "
                          "its activity is 0.", FactVAEDataWarning, stacklevel=2)
            out[g] = np.zeros(atac.n_obs, np.float32)
        elif augmented:
            out[g] = augment_atac(mdata, peaks).sum(axis=1)
        else:
            pos = atac.var_names.get_indexer(peaks)
            out[g] = np.asarray(atac.X[:, pos].sum(axis=1)).ravel().astype(np.float32)
    return pd.DataFrame(out, index=mdata.obs_names)
