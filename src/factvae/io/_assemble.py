"""Assembling the paired MuData: spots shared by RNA and ATAC, their coordinates and image."""

from __future__ import annotations

import warnings

import anndata as ad
import numpy as np

from ..errors import FactVAEDataWarning, FactVAEInputError
from ._read import MODALITIES
from ._spatial import first_library


def pair_spots(rna: ad.AnnData, atac: ad.AnnData, *, files: tuple[str | None, str | None] = (None, None)
               ) -> tuple[ad.AnnData, ad.AnnData]:
    """Keep the spots profiled in both modalities, in RNA's order.

    No shared spot is an error; a partial overlap is intersected with a warning that says how
    many were dropped.

    Parameters
    ----------
    rna, atac : AnnData
        The two modalities; spots are matched by `obs_names`.
    files : tuple of (str or None), default (None, None)
        The files they came from, named in the error.

    Returns
    -------
    tuple of AnnData
        (rna, atac): copies holding the shared spots only, in the same (RNA's) order.

    Raises
    ------
    FactVAEInputError
        If the modalities share no spot name.

    Warns
    -----
    FactVAEDataWarning
        When some spots are in one modality only (they are dropped).
    """
    shared = rna.obs_names.intersection(atac.obs_names, sort=False)
    if len(shared) == 0:
        raise FactVAEInputError(
            f"RNA ({rna.n_obs} spots, e.g. {list(rna.obs_names[:2])}) and ATAC ({atac.n_obs} "
            f"spots, e.g. {list(atac.obs_names[:2])}) share no spot name.",
            file=" / ".join(f for f in files if f) or None, field="obs_names",
            fix="both modalities must name the same spots the same way (strip suffixes such "
                "as '-ATAC' or '#GEX' so the barcodes match).")
    if len(shared) < rna.n_obs or len(shared) < atac.n_obs:
        warnings.warn(
            f"RNA has {rna.n_obs} spots and ATAC {atac.n_obs}; keeping the {len(shared)} in both "
            f"(dropped {rna.n_obs - len(shared)} RNA-only and {atac.n_obs - len(shared)} "
            "ATAC-only spots).", FactVAEDataWarning, stacklevel=3)
    order = rna.obs_names[rna.obs_names.isin(shared)]
    return rna[order].copy(), atac[order].copy()


def _spatial_from(mods: dict, extra_uns=None):
    """Coordinates from RNA, then ATAC; the image library from the global object first."""
    coords = None
    for m in MODALITIES:
        if coords is None and "spatial" in mods[m].obsm:
            coords = np.asarray(mods[m].obsm["spatial"])
    lib = first_library(extra_uns) if extra_uns is not None else None
    for m in MODALITIES:
        if lib is None:
            lib = first_library(mods[m].uns)
    return coords, lib


def _not_numbers(values, n: int = 2) -> list:
    bad = []
    for v in values:
        try:
            float(v)
        except (TypeError, ValueError):
            bad.append(v)
            if len(bad) == n:
                break
    return bad


def spot_coordinates(coords, spots) -> np.ndarray:
    """obsm['spatial'] as an N x 2 float array, checked: numbers, and finite for every spot.

    A NaN would otherwise surface later as a spot 'outside the image' or a library error.
    Columns beyond the first two are dropped.

    Parameters
    ----------
    coords : array_like
        Spot centres, N x 2 or more (x, y first).
    spots : sequence of str
        The spot names, to name the first spot without coordinates.

    Returns
    -------
    numpy.ndarray
        N x 2, float64.

    Raises
    ------
    FactVAEInputError
        If a value is not a number, the array is not N x 2 (or wider), or a spot has a NaN or
        infinite coordinate.
    """
    try:
        xy = np.asarray(coords, dtype=np.float64)
    except (TypeError, ValueError):
        raw = np.asarray(coords, dtype=object).ravel()
        raise FactVAEInputError(f"holds values that are not numbers (e.g. {_not_numbers(raw)}).",
                                field="obsm['spatial']",
                                fix="store spot centres (x, y) as numbers.") from None
    if xy.ndim != 2 or xy.shape[1] < 2:
        raise FactVAEInputError(f"must be an N x 2 array of (x, y), got shape {xy.shape}.",
                                field="obsm['spatial']", fix="store spot centres as (x, y).")
    xy = xy[:, :2]
    bad = ~np.isfinite(xy).all(axis=1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        first = spots[row] if len(spots) == len(xy) else row
        raise FactVAEInputError(f"{int(bad.sum())} of {len(xy)} spots have NaN or infinite "
                                f"coordinates (first: {first!r}).", field="obsm['spatial']",
                                fix="give every spot its (x, y), or remove the spots without one.")
    return xy


def assemble(rna: ad.AnnData, atac: ad.AnnData, *, coords=None, library=None, uns=None):
    """One MuData from two aligned modalities; spatial data stored once, at the top level.

    Any `uns['spatial']` of the modalities is removed (in place).

    Parameters
    ----------
    rna, atac : AnnData
        The two modalities, with the same spots in the same order.
    coords : array_like, optional
        Spot centres, checked by `spot_coordinates`.
    library : tuple of (str, dict), optional
        (library_id, entry) of `uns['spatial']`: the image and its scale factors.
    uns : dict, optional
        Entries copied into the MuData's `uns` (except 'spatial').

    Returns
    -------
    MuData
        Modalities 'rna' and 'atac'; `mdata.obsm['spatial']` from `coords` and
        `mdata.uns['spatial'] = {library_id: entry}` from `library` when given.

    Raises
    ------
    FactVAEInputError
        If `coords` are unusable (see `spot_coordinates`).
    """
    import mudata

    for m in (rna, atac):
        m.uns.pop("spatial", None)
    with mudata.set_options(pull_on_update=False):
        mdata = mudata.MuData({"rna": rna, "atac": atac})
    if coords is not None:
        mdata.obsm["spatial"] = spot_coordinates(coords, rna.obs_names)
    if library is not None:
        mdata.uns["spatial"] = {library[0]: library[1]}
    for k, v in (uns or {}).items():
        if k != "spatial":
            mdata.uns[k] = v
    return mdata
