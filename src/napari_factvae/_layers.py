"""Turn an engine object (MuData or AnnData with the scanpy spatial convention) into napari
layer-data tuples: the tissue image and the spots as Points in the image's pixel frame."""

from __future__ import annotations

import numpy as np
import pandas as pd

from factvae.spatial import tissue_view

MUDATA_KEY = "factvae_mudata"  # layer.metadata key under which the widgets find the data
DOMAIN_KEYS = ("factvae_domain", "domain")


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
    return table.reset_index(names="spot")


def spot_layers(obj, *, name: str = "") -> list[tuple]:
    """[(image, kwargs, 'image')?, (points, kwargs, 'points')], or [] for non-spatial data."""
    view = tissue_view(obj)
    if view is None:
        return []
    prefix = f"{name} " if name else ""
    layers = []
    if view.image is not None:
        rgb = view.image.ndim == 3 and view.image.shape[-1] in (3, 4)
        layers.append((view.image, {"name": f"{prefix}tissue", "rgb": rgb}, "image"))
    features = spot_table(obj)
    kwargs = {"name": f"{prefix}spots", "size": max(view.spot_diameter, 1.0),
              "features": features, "border_width": 0, "opacity": 0.9,
              "metadata": {MUDATA_KEY: obj}}
    key = next((k for k in DOMAIN_KEYS if k in features.columns), None)
    if key is not None:
        colours = list(obj.uns.get(f"{key}_colors", []))
        kwargs["face_color"] = key
        if len(colours) >= features[key].astype("category").cat.categories.size:
            kwargs["face_color_cycle"] = colours
    points = np.ascontiguousarray(view.spots_xy[:, ::-1])  # napari wants (row, col) = (y, x)
    layers.append((points, kwargs, "points"))
    return layers
