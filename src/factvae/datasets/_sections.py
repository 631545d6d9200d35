"""A second tissue section made from a first: the same spots and biology with a technical
effect of the section's own (depth, gene- and peak-specific capture, the section mirrored on the
slide). What the several-sections benchmarks and tests are built from."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def _thin(X, keep: np.ndarray, rng) -> sp.csr_matrix:
    """Binomial thinning of integer counts, feature j kept with probability keep[j]."""
    X = sp.csr_matrix(X, dtype=np.float32, copy=True)
    p = keep[X.indices]
    X.data = rng.binomial(X.data.astype(np.int64), p).astype(np.float32)
    X.eliminate_zeros()
    return X


def technical_copy(mdata, *, depth: float = 0.5, feature_sd: float = 0.3, flip: bool = True,
                   prefix: str = "copy_", seed: int = 0):
    """A copy of a paired MuData as if it were another section of the same tissue.

    Each count is thinned binomially with probability min(1, depth x f_j), f_j a lognormal
    factor per gene and per peak (sd `feature_sd`, the section's own capture of each
    feature); with `flip` the section is mirrored left to right (coordinates and image).
    Spot names get `prefix`; features, obs columns (the truth) and the image stay.

    Parameters
    ----------
    mdata : MuData
        Raw counts in X of 'rna' and 'atac'.
    depth : float, default 0.5
        The copy's depth relative to the original.
    feature_sd : float, default 0.3
        The sd of the log capture factor of each feature.
    flip : bool, default True
        Mirror the section left to right.
    prefix : str, default ``'copy_'``
        Prepended to the spot names.
    seed : int, default 0
        Seeds the factors and the thinning.

    Returns
    -------
    MuData
        The copy; `uns['technical_copy']` records the parameters.
    """
    import mudata

    rng = np.random.default_rng(seed)
    mods = {}
    for name, mod in mdata.mod.items():
        a = mod.copy()
        factor = np.exp(rng.normal(0.0, feature_sd, a.n_vars))
        a.X = _thin(a.X, np.clip(depth * factor, 0.0, 1.0), rng)
        for key in list(a.layers):
            del a.layers[key]
        a.obs_names = [prefix + s for s in a.obs_names]
        mods[name] = a
    with mudata.set_options(pull_on_update=False):
        out = mudata.MuData(mods)
    for c in mdata.obs.columns:
        if ":" not in c:
            out.obs[c] = mdata.obs[c].to_numpy()
    if "spatial" in mdata.obsm:
        xy = np.asarray(mdata.obsm["spatial"], np.float64).copy()
        if flip:
            xy[:, 0] = xy[:, 0].max() + xy[:, 0].min() - xy[:, 0]
        out.obsm["spatial"] = xy
    if "spatial" in mdata.uns:
        libs = {}
        for lib, entry in mdata.uns["spatial"].items():
            entry = dict(entry)
            if flip and "images" in entry:
                entry["images"] = {k: np.ascontiguousarray(np.asarray(v)[:, ::-1])
                                   for k, v in entry["images"].items()}
            libs[prefix + str(lib)] = entry
        out.uns["spatial"] = libs
        if flip and "images" in next(iter(mdata.uns["spatial"].values()), {}):
            # the image's mirror axis is its own width: place the spots on it again
            entry = next(iter(mdata.uns["spatial"].values()))
            img = np.asarray(next(iter(entry["images"].values())))
            scale = float(entry.get("scalefactors", {}).get("tissue_hires_scalef", 1.0))
            xy = np.asarray(mdata.obsm["spatial"], np.float64).copy()
            xy[:, 0] = img.shape[1] / scale - xy[:, 0]
            out.obsm["spatial"] = xy
    out.uns["technical_copy"] = {"depth": depth, "feature_sd": feature_sd, "flip": flip,
                                 "seed": seed}
    return out
