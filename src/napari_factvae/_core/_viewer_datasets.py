"""Which datasets a viewer shows, and where each one's layers are. The MuData lives in the spots
layer's metadata, so every dock widget works on whatever dataset the user loaded (or opened with
the reader); the domain raster and the value overlays name the MuData they were drawn from."""

from __future__ import annotations

from ._map_state import MAP_KEY, MUDATA_KEY, RASTER_KEY, VALUES_KEY


def dataset_layers(viewer):
    return [layer for layer in viewer.layers if MUDATA_KEY in getattr(layer, "metadata", {})]


def current(viewer):
    """(spots layer, MuData) of the selected dataset, else of the newest one, else (None, None)."""
    layers = dataset_layers(viewer)
    if not layers:
        return None, None
    active = viewer.layers.selection.active
    meta = getattr(active, "metadata", {})
    for key in (RASTER_KEY, VALUES_KEY):  # a layer drawn from a dataset
        if meta.get(key) is not None:
            active = spots_of(viewer, meta[key])
    layer = active if active in layers else layers[-1]
    return layer, layer.metadata[MUDATA_KEY]


def spots_of(viewer, mdata):
    """The spots layer of a dataset (the one holding its domain map), or None."""
    return next((lay for lay in viewer.layers if MAP_KEY in lay.metadata
                 and lay.metadata.get(MUDATA_KEY) is mdata), None)


def raster_of(viewer, mdata):
    return next((lay for lay in viewer.layers if lay.metadata.get(RASTER_KEY) is mdata), None)


def value_layers(viewer, mdata):
    return [lay for lay in viewer.layers if lay.metadata.get(VALUES_KEY) is mdata]
