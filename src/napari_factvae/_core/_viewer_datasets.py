"""Where the widgets find the data: the MuData lives in the spots layer's metadata, so every dock
widget works on whatever dataset the user loaded (or opened with the reader)."""

from __future__ import annotations

from . import _domain_map
from ._layers import MUDATA_KEY, spot_layers


def dataset_layers(viewer):
    return [layer for layer in viewer.layers if MUDATA_KEY in getattr(layer, "metadata", {})]


def current(viewer):
    """(spots layer, MuData) of the selected dataset, else of the newest one, else (None, None)."""
    layers = dataset_layers(viewer)
    if not layers:
        return None, None
    active = viewer.layers.selection.active
    meta = getattr(active, "metadata", {})
    for key in (_domain_map.RASTER_KEY, _domain_map.VALUES_KEY):  # a layer drawn from a dataset
        if meta.get(key) is not None:
            active = _domain_map.spots_of(viewer, meta[key])
    layer = active if active in layers else layers[-1]
    return layer, layer.metadata[MUDATA_KEY]


def show_dataset(viewer, mdata, name: str = "factvae", layers: list | None = None):
    """Add the tissue image and spots of `mdata` (in place of layers of the same names; a
    replaced dataset's domain raster is reused) and draw its domain map. `layers`: the output of
    `spot_layers(mdata)` when made in a worker (names get the `name` prefix here)."""
    added = []
    for data, kwargs, kind in layers if layers is not None else spot_layers(mdata):
        kwargs = {**kwargs, "name": f"{name} {kwargs['name']}".strip()}
        old = viewer.layers[kwargs["name"]] if kwargs["name"] in viewer.layers else None
        if (kind == "image" and old is not None and getattr(old, "rgb", None) == kwargs["rgb"]
                and old.multiscale == kwargs.get("multiscale", False)):
            old.data = data  # the tissue again: napari collects garbage on each removal (~0.4 s)
            added.append(old)
            continue
        if old is not None:
            owner = old.metadata.get(MUDATA_KEY)
            raster = _domain_map.raster_of(viewer, owner) if owner is not None else None
            if raster is not None:  # kept for the new data, redrawn by `show`
                raster.metadata[_domain_map.RASTER_KEY] = mdata
            viewer.layers.remove(old)
        added.append(getattr(viewer, f"add_{kind}")(data, **kwargs))
    if any(getattr(layer, "multiscale", False) for layer in added):
        suggest_async_rendering()
    if added and _domain_map.MAP_KEY in added[-1].metadata:
        _domain_map.show(viewer, added[-1])
    return added


_HINTED = []


def suggest_async_rendering() -> None:
    """Once a session, when a tissue pyramid is shown while napari loads tiles on the GUI thread:
    say which preference makes panning smooth (measured: pan stalls 100-120 ms -> ~60 ms at
    30,000 px, docs/benchmarks.md 5b). The user's settings are never changed for them."""
    from napari.settings import get_settings
    from napari.utils.notifications import show_info

    if _HINTED or get_settings().experimental.async_:
        return
    _HINTED.append(True)
    show_info("Large tissue image: for smooth panning turn on Preferences > Experimental > "
              "Render Images Asynchronously.")


def spots_layer(viewer, mdata):
    return _domain_map.spots_of(viewer, mdata)


def searchable(line_edit):
    """Attach a case-insensitive, substring-matching completer to a magicgui LineEdit; returns
    it (set the names with `completer.model().setStringList(names)`)."""
    from qtpy.QtCore import QStringListModel, Qt
    from qtpy.QtWidgets import QCompleter

    completer = QCompleter()
    completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
    completer.setFilterMode(Qt.MatchFlag.MatchContains)
    completer.setModel(QStringListModel())
    line_edit.native.setCompleter(completer)
    return completer
