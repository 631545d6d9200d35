"""Per-spot values of one feature, for overlays: a gene (raw counts or log-normalised), a peak
(raw counts or augmented), a motif (raw or augmented deviation z-score), or a gene's activity
(summed accessibility of its body + promoter peaks, raw or augmented)."""

from __future__ import annotations

import numpy as np

from ..errors import FactVAEInputError
from ..keys import FEATURE_KINDS, LOGNORM_KEY, MOTIF_Z_KEY, MOTIF_Z_NAMES_KEY, MOTIF_Z_RAW_KEY

KINDS = FEATURE_KINDS  # the name of 0.1


def feature_names(mdata, kind: str) -> list[str]:
    """The names a user can pick for a kind of overlay.

    Parameters
    ----------
    mdata : MuData
        The data.
    kind : str
        One of `KINDS` (e.g. 'gene (normalised)', 'peak (augmented)', 'motif (raw)').

    Returns
    -------
    list of str
        Gene names (`rna.var_names`) for the gene and gene activity kinds, peak names
        (`atac.var_names`) for the peak kinds, and for the motif kinds the motifs of the
        computed deviations (`atac.uns['factvae_motif_z_names']`; empty before
        `motif_deviations`).

    Raises
    ------
    KeyError
        If `kind` is not one of `KINDS`.
    """
    what = KINDS[kind][0]
    if what in ("rna", "activity"):
        return list(map(str, mdata.mod["rna"].var_names))
    if what == "atac":
        return list(map(str, mdata.mod["atac"].var_names))
    return list(mdata.mod["atac"].uns.get(MOTIF_Z_NAMES_KEY, []))


def _column(X, j) -> np.ndarray:
    col = X[:, j]
    return np.asarray(col.toarray() if hasattr(col, "toarray") else col, np.float32).ravel()


def spot_values(mdata, kind: str, name: str) -> np.ndarray:
    """Values of feature `name` for every spot, for an overlay of the given kind (see KINDS).

    'gene (raw)' / 'peak (raw)': the counts; 'gene (normalised)':
    `rna.layers['factvae_lognorm']` when present, else log1p(1e4 x counts / total);
    'peak (augmented)': `augment_atac`; 'motif (raw)' / 'motif (augmented)': the deviation
    z-scores of `motif_deviations`; 'gene activity (raw)' / '(augmented)': `gene_activity`.

    Parameters
    ----------
    mdata : MuData
        The data (a trained result for the augmented kinds).
    kind : str
        One of `KINDS`.
    name : str
        A gene, peak or motif name (see `feature_names`).

    Returns
    -------
    numpy.ndarray
        One float32 value per spot.

    Raises
    ------
    FactVAEInputError
        If `kind` is unknown, `name` is not in the data, the motif deviations are not
        computed, or what an augmented kind or gene activity needs is missing.
    """
    if kind not in KINDS:
        raise FactVAEInputError(f"unknown overlay kind {kind!r}.", field="kind",
                                fix=f"use one of {list(KINDS)}.")
    what, source = KINDS[kind]
    if what == "motif":
        atac = mdata.mod["atac"]
        key = MOTIF_Z_RAW_KEY if source == "raw" else MOTIF_Z_KEY
        names = list(atac.uns.get(MOTIF_Z_NAMES_KEY, []))
        if key not in atac.obsm:
            raise FactVAEInputError("motif deviations have not been computed.",
                                    field=f"mod['atac'].obsm['{key}']",
                                    fix="compute motif activity first (factvae motifs).")
        if name not in names:
            raise FactVAEInputError(f"motif {name!r} not found.", field="motif",
                                    fix="pick a name from the list.")
        return np.asarray(atac.obsm[key][:, names.index(name)], np.float32)
    if what == "activity":
        from ..tl._augment import gene_activity

        return gene_activity(mdata, name, augmented=source == "augmented").iloc[:, 0].to_numpy(np.float32)
    mod = mdata.mod[what]
    if name not in mod.var_names:
        raise FactVAEInputError(f"{'gene' if what == 'rna' else 'peak'} {name!r} not in the data.",
                                field=f"mod['{what}'].var_names", fix="pick a name from the list.")
    j = int(mod.var_names.get_loc(name))
    if source == "raw":
        return _column(mod.X, j)
    if source == "normalised":
        if LOGNORM_KEY in mod.layers:
            return _column(mod.layers[LOGNORM_KEY], j)
        total = np.asarray(mod.X.sum(axis=1)).ravel()
        return np.log1p(_column(mod.X, j) / np.maximum(total, 1) * 1e4).astype(np.float32)
    from ..tl._augment import augment_atac

    return augment_atac(mdata, [name])[:, 0]
