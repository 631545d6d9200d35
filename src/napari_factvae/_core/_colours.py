"""Colours of spot categories and values as RGBA arrays, computed at once, so that recolouring
tens of thousands of spots is one assignment (see _domain_map)."""

from __future__ import annotations

import numpy as np
from matplotlib.colors import to_rgba_array


def category_colours(mdata, key: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(codes, RGBA per category, categories) of a categorical obs column."""
    cat = mdata.obs[key].astype("category")
    cats = [str(c) for c in cat.cat.categories]
    colours = [str(c) for c in mdata.uns.get(f"{key}_colors", [])]
    if len(colours) < len(cats):
        from factvae.pl._palettes import PALETTE

        if len(cats) <= len(PALETTE):  # what palette gives, without importing torch with it
            colours = PALETTE[:len(cats)]
        else:
            from factvae.pl._palettes import palette

            colours = palette(len(cats))
    return cat.cat.codes.to_numpy(), to_rgba_array(colours[:len(cats)]), cats


def value_colours(values: np.ndarray, limits: tuple[float, float], cmap: str = "viridis") -> np.ndarray:
    import matplotlib

    lo, hi = limits
    norm = np.clip((values - lo) / max(hi - lo, 1e-12), 0, 1)
    return matplotlib.colormaps[cmap](norm)
