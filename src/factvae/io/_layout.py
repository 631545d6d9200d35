"""Several tissue sections side by side in one display frame: each section's spots on its own
image, the sections in a grid (up to 3 per row, a gap between them), for a viewer that shows
all of them at once (the napari plugin: one image layer per section, one spots layer).

Each section keeps its own coordinates (`obsm['spatial']`, whose ranges overlap between
sections) and its own image (`uns['spatial'][<section>]`): `section_layout` places the spots of
each in its image's pixels (`tissue_view` of that section alone), scales a section whose spots
are drawn at another size than the first one's so that spots are one size everywhere, and
shifts each by its cell's offset. With one section it is `tissue_view`, unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from ..errors import FactVAEInputError
from ._spatial import TissueView, spot_pitch, tissue_view

MAX_COLUMNS = 3


@dataclass
class SectionPlacement:
    """One section in the display frame: display = zoom * (its image pixels) + offset.

    Parameters
    ----------
    name : str
        The section ('' for a dataset of one section).
    view : TissueView
        `tissue_view` of the section alone (its spots in its own image pixels).
    index : numpy.ndarray
        The positions of its spots in the dataset's spot order.
    offset : tuple of float
        (dy, dx) of its image's top-left corner in the display frame.
    zoom : float
        Display units per image pixel of this section (1.0 for the first section).
    extent : tuple of float
        (height, width) of the section in display units (its image, else its spots).
    """

    name: str
    view: TissueView
    index: np.ndarray
    offset: tuple[float, float]
    zoom: float
    extent: tuple[float, float]


@dataclass
class SectionLayout:
    """Every section of a dataset placed in one display frame (made by `section_layout`).

    Parameters
    ----------
    sections : list of SectionPlacement
        In the order of `factvae.tl.section_names`; one entry (name '') for one section.
    spots_xy : numpy.ndarray
        N x 2 spot centres (x, y) in the display frame, in the dataset's spot order.
    spot_diameter : float
        The diameter spots are drawn with, in display units (as `TissueView.drawn_diameter`).
    diameter_from_data : bool
        True when no section's scale factors gave a spot diameter (a guess from the pitch).
    """

    sections: list[SectionPlacement]
    spots_xy: np.ndarray
    spot_diameter: float
    diameter_from_data: bool = False

    @property
    def several(self) -> bool:
        """True for more than one section."""
        return len(self.sections) > 1


def section_view(mdata, name: str, mask: np.ndarray) -> SimpleNamespace:
    """An object `tissue_view` and `tissue_levels` read as the section `name` alone: the spots of
    `mask` and only that section's library of `uns['spatial']` (none when it has no entry)."""
    coords = np.asarray(mdata.obsm["spatial"])[mask]
    libraries = mdata.uns.get("spatial") if hasattr(mdata.uns, "get") else None
    entry = libraries.get(name) if hasattr(libraries, "get") else None
    return SimpleNamespace(obsm={"spatial": coords},
                           uns={"spatial": {name: entry}} if hasattr(entry, "get") else {})


def _bounds(view: TissueView, zoom: float) -> tuple[float, float, float, float]:
    """(y0, x0, y1, x1) of a section in zoomed pixels: its image (and any spot beyond it), or
    its spots with a spot's margin."""
    xy = view.spots_xy * zoom
    pad = view.drawn_diameter * zoom
    finite = xy[np.isfinite(xy).all(1)]
    if len(finite):
        y0, x0 = finite[:, 1].min() - pad, finite[:, 0].min() - pad
        y1, x1 = finite[:, 1].max() + pad, finite[:, 0].max() + pad
    else:
        y0 = x0 = 0.0
        y1 = x1 = pad
    if view.image is not None:
        h, w = view.image.shape[:2]
        y0, x0, y1, x1 = min(y0, 0.0), min(x0, 0.0), max(y1, h * zoom), max(x1, w * zoom)
    return float(y0), float(x0), float(y1), float(x1)


def section_layout(mdata, *, ncols: int | None = None, gap: float = 0.1,
                   batch_key: str | None = None) -> SectionLayout | None:
    """Every tissue section of `mdata` on its own image, the sections side by side in a grid.

    Parameters
    ----------
    mdata : MuData
        With spot centres in `obsm['spatial']` and, for several sections, each spot's section
        in an obs column (`factvae.tl.section_key`) and each section's image in
        `uns['spatial'][<section>]`.
    ncols : int, optional
        Sections per row; default: up to 3.
    gap : float, default 0.1
        The space between sections, as a fraction of the largest section's longer side.
    batch_key : str, optional
        The section column; default as `factvae.tl.section_key` (a default column that names
        spots rather than sections is taken as one section).

    Returns
    -------
    SectionLayout or None
        None when `mdata.obsm` has no 'spatial'. For one section: its `tissue_view` (offset
        (0, 0), zoom 1), and `spots_xy` is `tissue_view(mdata).spots_xy`.

    Raises
    ------
    FactVAEInputError
        If `batch_key` is given and is not a column of sections (`factvae.tl.section_key`).

    Notes
    -----
    A section's display position is `zoom * image pixel + offset`; its zoom makes its spots'
    pitch the first section's (1.0 when they agree within 2 %), so one spot size and one raster
    fit all sections.
    """
    from ..tl._sections import section_key

    if not hasattr(mdata.obsm, "get") or mdata.obsm.get("spatial") is None:
        return None
    key = None
    if hasattr(mdata, "obs"):
        try:
            key = section_key(mdata, batch_key)
        except FactVAEInputError:
            if batch_key is not None:
                raise
            # an obs['sample'] that names spots, not sections: shown as one section
    if key is None:
        view = tissue_view(mdata)
        part = SectionPlacement("", view, np.arange(len(view.spots_xy)), (0.0, 0.0), 1.0,
                                _extent(_bounds(view, 1.0)))
        return SectionLayout([part], view.spots_xy, view.drawn_diameter, view.diameter_from_data)
    import pandas as pd

    cat = pd.Categorical(mdata.obs[key])
    codes = np.asarray(cat.codes)
    views, indices = [], []
    for k, name in enumerate(cat.categories):
        mask = codes == k
        views.append(tissue_view(section_view(mdata, str(name), mask)))
        indices.append(np.flatnonzero(mask))
    zooms = _zooms(views)
    bounds = [_bounds(v, z) for v, z in zip(views, zooms)]
    n = len(views)
    ncols = max(1, min(int(ncols or MAX_COLUMNS), n))
    heights = np.array([b[2] - b[0] for b in bounds])
    widths = np.array([b[3] - b[1] for b in bounds])
    space = float(gap) * float(max(heights.max(), widths.max()))
    rows = [list(range(i, min(i + ncols, n))) for i in range(0, n, ncols)]
    col_w = [max(widths[r[c]] for r in rows if c < len(r)) for c in range(ncols)]
    row_h = [max(heights[i] for i in r) for r in rows]
    col_x = np.concatenate([[0.0], np.cumsum(np.array(col_w) + space)])[:ncols]
    row_y = np.concatenate([[0.0], np.cumsum(np.array(row_h) + space)])[:len(rows)]
    parts, spots = [], np.empty((len(codes), 2), np.float64)
    for i, (name, v, idx, z, b) in enumerate(zip(cat.categories, views, indices, zooms, bounds)):
        r, c = divmod(i, ncols)
        dy, dx = float(row_y[r] - b[0]), float(col_x[c] - b[1])
        spots[idx] = v.spots_xy * z + (dx, dy)
        parts.append(SectionPlacement(str(name), v, idx, (dy, dx), z, _extent(b)))
    guessed = all(v.diameter_from_data for v in views)
    return SectionLayout(parts, spots, float(views[0].drawn_diameter), guessed)


def _zooms(views: list[TissueView]) -> list[float]:
    """Per section, display units per image pixel: its spot pitch made the first section's
    (the drawn diameter where a section has too few spots for a pitch); 1.0 within 2 %."""
    def size(v):
        return spot_pitch(v.spots_xy) or v.drawn_diameter

    ref = size(views[0])
    zooms = []
    for v in views:
        z = ref / size(v) if size(v) > 0 and ref > 0 else 1.0
        zooms.append(1.0 if abs(z - 1.0) < 0.02 else float(z))
    return zooms


def _extent(b) -> tuple[float, float]:
    return float(b[2] - b[0]), float(b[3] - b[1])
