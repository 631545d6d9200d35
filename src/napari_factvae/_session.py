"""Where the widgets find the data: the MuData lives in the spots layer's metadata, so every dock
widget works on whatever dataset the user loaded (or opened with the reader)."""

from __future__ import annotations

from ._layers import MUDATA_KEY, spot_layers


def dataset_layers(viewer):
    return [layer for layer in viewer.layers if MUDATA_KEY in getattr(layer, "metadata", {})]


def current(viewer):
    """(spots layer, MuData) of the selected dataset, else of the newest one, else (None, None)."""
    layers = dataset_layers(viewer)
    if not layers:
        return None, None
    active = viewer.layers.selection.active
    layer = active if active in layers else layers[-1]
    return layer, layer.metadata[MUDATA_KEY]


def show_dataset(viewer, mdata, name: str = "factvae"):
    """Add the tissue image and spots of `mdata` (replacing layers of the same names)."""
    added = []
    for data, kwargs, kind in spot_layers(mdata, name=name):
        if kwargs["name"] in viewer.layers:
            viewer.layers.remove(kwargs["name"])
        added.append(getattr(viewer, f"add_{kind}")(data, **kwargs))
    return added


def spots_layer(viewer, mdata):
    for layer in dataset_layers(viewer):
        if layer.metadata[MUDATA_KEY] is mdata:
            return layer
    return None


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
