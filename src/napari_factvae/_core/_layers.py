"""Turn an engine object (MuData or AnnData with the scanpy spatial convention) into napari
layer-data tuples: the tissue image and the spots as Points in the image's pixel frame; several
tissue sections side by side, each on its own image, one spots layer for all."""

from __future__ import annotations

import numpy as np
import pandas as pd

from factvae.errors import FactVAEDataWarning, FactVAEInputError
from factvae.io._images import PyramidPending, tissue_levels
from factvae.io._layout import section_layout, section_view
from factvae.keys import LAYER_PENDING_IMAGE_KEY, LAYER_SECTION_KEY

from ._map_state import DOMAIN_KEYS, MAP_KEY, MUDATA_KEY, domain_key, new_state

PENDING_IMAGE_KEY = LAYER_PENDING_IMAGE_KEY  # spots metadata: a tissue pyramid being built
SECTION_KEY = LAYER_SECTION_KEY  # image / label layer metadata: the section(s) it shows


def spot_table(obj) -> pd.DataFrame:
    """Per-spot features for the Points layer: obs columns, plus QC of each modality."""
    table = obj.obs.copy()
    mods = getattr(obj, "mod", {})
    for name, mod in mods.items():
        for col in mod.obs.columns:
            if pd.api.types.is_numeric_dtype(mod.obs[col]) or isinstance(
                    mod.obs[col].dtype, pd.CategoricalDtype):
                table[f"{name}:{col}"] = mod.obs[col].reindex(table.index).to_numpy()
    table.index = table.index.astype(str)
    table = table.reset_index(names="spot")
    first = ["spot", *[k for k in DOMAIN_KEYS if k in table.columns][:1]]  # read first on hover
    return table[first + [c for c in table.columns if c not in first]]


def image_layer(levels, name: str) -> tuple:
    """(data, kwargs, 'image') for the tissue: a pyramid as a multiscale layer."""
    rgb = levels[0].ndim == 3 and levels[0].shape[-1] in (3, 4)
    kwargs = {"name": name, "rgb": rgb}
    if len(levels) > 1:
        kwargs["multiscale"] = True
        if not np.issubdtype(levels[0].dtype, np.uint8):  # not from the whole image
            small = np.asarray(levels[-1])
            kwargs["contrast_limits"] = [float(small.min()), float(small.max()) or 1.0]
    return (levels if len(levels) > 1 else levels[0], kwargs, "image")


def spot_layers(obj, *, name: str = "", build_pyramid: bool = True) -> list[tuple]:
    """[(image, kwargs, 'image')?, (points, kwargs, 'points')], or [] for non-spatial data.
    The points carry the MuData and the domain map's state (geometry: pitch, raster) in their
    metadata; `_qt._map_display.show` draws the map once they are in a viewer.

    Several tissue sections (`obs['sample']`, `factvae.io.section_layout`): one image layer per
    section ('tissue <section>', translated (and scaled) to its place in a grid), a small
    points layer naming them ('sections', text only) and ONE spots layer for all of them at
    their places in that grid, so the domain map, overlays and drawn regions cover every
    section at once."""
    layout = section_layout(obj)
    if layout is None:
        return []
    prefix = f"{name} " if name else ""
    layers, pending = [], []
    for part in layout.sections:
        tissue = f"{prefix}tissue {part.name}" if layout.several else f"{prefix}tissue"
        src = section_view(obj, part.name, part.index) if layout.several else obj
        placement = _placement(part) if layout.several else {}
        levels, wait = _levels(src, build_pyramid, part.name)
        if wait is not None:
            pending.append((wait, tissue, placement))
        if levels:
            data, kwargs, kind = image_layer(levels, tissue)
            layers.append((data, {**kwargs, **placement}, kind))
    if layout.several:
        layers.append(section_labels(layout, f"{prefix}sections"))
    features = spot_table(obj)
    # the size the engine's pictures draw too (the assay's, else the pitch: spots that touch)
    has_image = any(kind == "image" for *_, kind in layers) or bool(pending)
    state = new_state(layout.spots_xy, layout.spot_diameter, has_image)
    kwargs = {"name": f"{prefix}spots", "size": state.geometry.spot_size,
              "features": features, "border_width": 0, "opacity": 0.9,
              "metadata": {MUDATA_KEY: obj, MAP_KEY: state}}
    if pending and not layout.several:
        kwargs["metadata"][PENDING_IMAGE_KEY] = pending[0][:2]
    elif pending:  # several: `build_tissue_later` takes the list, each with its placement
        kwargs["metadata"][PENDING_IMAGE_KEY] = (pending, f"{prefix}tissue")
    key = domain_key(obj)
    if key is not None:
        colours = list(obj.uns.get(f"{key}_colors", []))
        kwargs["face_color"] = key
        if len(colours) >= features[key].astype("category").cat.categories.size:
            kwargs["face_color_cycle"] = colours
    points = np.ascontiguousarray(layout.spots_xy[:, ::-1])  # napari wants (row, col) = (y, x)
    layers.append((points, kwargs, "points"))
    return layers


def _levels(src, build: bool, section: str):
    """(the tissue's levels or None, a PyramidPending or None) of one section."""
    try:  # a pyramid (full resolution first) for large images, lazily
        return tissue_levels(src, build=build), None
    except PyramidPending as wait:  # the reader, on the GUI thread: built in a worker
        return None, wait
    except FactVAEInputError as err:  # the store holding the image moved: spots without it
        import warnings

        what = f"the tissue image of section '{section}'" if section else "the tissue image"
        warnings.warn(f"{what} is not shown: {err}", FactVAEDataWarning, stacklevel=3)
        return None, None


def _placement(part) -> dict:
    """napari kwargs that put a section's image (in its own pixels) at its place in the grid;
    the section it shows, in its metadata (`show_dataset` replaces a dataset's sections)."""
    out = {"translate": part.offset, "metadata": {SECTION_KEY: part.name}}
    if part.zoom != 1.0:
        out["scale"] = (part.zoom, part.zoom)
    return out


def section_labels(layout, name: str) -> tuple:
    """(points, kwargs, 'points'): each section's name written above its top-left corner
    (invisible points, text only)."""
    pos = np.array([part.offset for part in layout.sections], np.float64)
    pos[:, 0] -= 0.02 * max(max(part.extent) for part in layout.sections)
    kwargs = {"name": name, "features": {"section": [p.name for p in layout.sections]},
              "text": {"string": "{section}", "anchor": "upper_left", "size": 14,
                       "color": "white"},
              "size": 0, "face_color": "transparent", "border_color": "transparent",
              "border_width": 0,
              "metadata": {SECTION_KEY: [p.name for p in layout.sections]}}
    return (pos, kwargs, "points")
