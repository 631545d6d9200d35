"""Colours of a categorical obs column (the domains) as RGBA arrays, computed at once, so that
recolouring tens of thousands of spots is one assignment (see _map_paint)."""

from __future__ import annotations

import numpy as np
from matplotlib.colors import to_rgba_array

from factvae.keys import domain_colours


def category_colours(mdata, key: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(codes, RGBA per category, categories) of a categorical obs column."""
    cat = mdata.obs[key].astype("category")
    cats = [str(c) for c in cat.cat.categories]
    colours = domain_colours(mdata.uns, key, len(cats))  # the engine's pictures' fallback too
    return cat.cat.codes.to_numpy(), to_rgba_array(colours), cats

