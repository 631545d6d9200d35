"""Turn an engine object (MuData or AnnData with the scanpy spatial convention) into napari
layer-data tuples: the tissue image and the spots as Points in the image's pixel frame."""

from __future__ import annotations

import numpy as np
import pandas as pd

from factvae.errors import FactVAEDataWarning, FactVAEInputError
from factvae.io._images import PyramidPending, tissue_levels
from factvae.io._spatial import tissue_view
from factvae.keys import LAYER_PENDING_IMAGE_KEY

from ._map_state import DOMAIN_KEYS, MAP_KEY, MUDATA_KEY, domain_key, new_state

PENDING_IMAGE_KEY = LAYER_PENDING_IMAGE_KEY  # spots metadata: a tissue pyramid being built


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
    metadata; `_qt._map_display.show` draws the map once they are in a viewer."""
    view = tissue_view(obj)
    if view is None:
        return []
    prefix = f"{name} " if name else ""
    layers, pending = [], None
    try:  # a pyramid (full resolution first) for large images, lazily
        levels = tissue_levels(obj, build=build_pyramid)
    except PyramidPending as wait:  # the reader, on the GUI thread: built in a worker
        levels, pending = None, wait
    except FactVAEInputError as err:  # the store holding the image moved: spots without it
        import warnings

        warnings.warn(f"the tissue image is not shown: {err}", FactVAEDataWarning, stacklevel=2)
        levels = None
    if levels:
        layers.append(image_layer(levels, f"{prefix}tissue"))
    features = spot_table(obj)
    # the size the engine's pictures draw too (the assay's, else the pitch: spots that touch)
    state = new_state(view.spots_xy, view.drawn_diameter,
                      bool(levels) or pending is not None)
    kwargs = {"name": f"{prefix}spots", "size": state.geometry.spot_size,
              "features": features, "border_width": 0, "opacity": 0.9,
              "metadata": {MUDATA_KEY: obj, MAP_KEY: state}}
    if pending is not None:
        kwargs["metadata"][PENDING_IMAGE_KEY] = (pending, f"{prefix}tissue")
    key = domain_key(obj)
    if key is not None:
        colours = list(obj.uns.get(f"{key}_colors", []))
        kwargs["face_color"] = key
        if len(colours) >= features[key].astype("category").cat.categories.size:
            kwargs["face_color_cycle"] = colours
    points = np.ascontiguousarray(view.spots_xy[:, ::-1])  # napari wants (row, col) = (y, x)
    layers.append((points, kwargs, "points"))
    return layers
