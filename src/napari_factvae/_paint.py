"""Painting spot values and categories fast: colours are computed as one RGBA array and set at
once, so recolouring tens of thousands of spots stays well under a second."""

from __future__ import annotations

import numpy as np
from matplotlib.colors import to_rgba_array

from factvae.spatial import tissue_view


def category_colours(mdata, key: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(codes, RGBA per category, categories) of a categorical obs column."""
    cat = mdata.obs[key].astype("category")
    cats = [str(c) for c in cat.cat.categories]
    colours = list(mdata.uns.get(f"{key}_colors", []))
    if len(colours) < len(cats):
        from factvae.domains import _palette

        colours = _palette(len(cats))
    return cat.cat.codes.to_numpy(), to_rgba_array(colours[:len(cats)]), cats


def paint_categories(layer, mdata, key: str) -> None:
    """Colour the spots of `layer` by obs[key] and keep the column in the layer's features."""
    codes, rgba, _ = category_colours(mdata, key)
    features = layer.features
    features[key] = mdata.obs[key].astype(str).to_numpy()
    layer.features = features
    layer.face_color = rgba[codes]


def domain_raster(mdata, key: str) -> tuple[np.ndarray, dict] | None:
    """A label image in the tissue image's pixels: each pixel within reach of a spot takes that
    spot's domain (1-based; 0 = background), for the painted look. Returns (labels, colours)."""
    from scipy.spatial import cKDTree

    view = tissue_view(mdata)
    if view is None or view.image is None:
        return None
    h, w = view.image.shape[:2]
    xy = view.spots_xy
    tree = cKDTree(xy)
    pitch = float(np.median(tree.query(xy[: min(len(xy), 2000)], k=2)[0][:, 1]))
    yy, xx = np.mgrid[0:h, 0:w]
    dist, idx = tree.query(np.c_[xx.ravel() + 0.5, yy.ravel() + 0.5], distance_upper_bound=0.75 * pitch)
    codes, rgba, _ = category_colours(mdata, key)
    labels = np.zeros(h * w, np.int32)
    hit = np.isfinite(dist)
    labels[hit] = codes[idx[hit]] + 1
    colours = {0: np.zeros(4), None: np.zeros(4)}
    colours.update({i + 1: rgba[i] for i in range(len(rgba))})
    return labels.reshape(h, w), colours


def value_colours(values: np.ndarray, limits: tuple[float, float], cmap: str = "viridis") -> np.ndarray:
    import matplotlib

    lo, hi = limits
    norm = np.clip((values - lo) / max(hi - lo, 1e-12), 0, 1)
    return matplotlib.colormaps[cmap](norm)
