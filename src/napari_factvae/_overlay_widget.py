"""Overlays: a gene (raw or normalised), a peak (raw or augmented), a motif (raw or augmented
deviation) or a gene's activity, picked from a searchable list, painted as coloured spots with a
colormap and contrast limits; raw and augmented side by side on request."""

from __future__ import annotations

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, Container, LineEdit, PushButton
from napari.utils.notifications import show_error

from factvae.values import KINDS, feature_names, spot_values

from . import _session, _workers

PAIRS = {"gene (raw)": "gene (normalised)", "peak (raw)": "peak (augmented)",
         "motif (raw)": "motif (augmented)", "gene activity (raw)": "gene activity (augmented)"}


def add_value_layer(viewer, spots, values: np.ndarray, name: str, cmap: str = "viridis"):
    """A Points layer over the spots coloured by `values` (contrast: 1st-99th percentile);
    an existing layer of that name is updated in place."""
    finite = values[np.isfinite(values)]
    lo, hi = (np.percentile(finite, [1, 99]) if finite.size else (0.0, 1.0))
    if hi <= lo:
        hi = lo + 1e-6
    if name in viewer.layers:
        layer = viewer.layers[name]
        layer.features = {"value": values}
        layer.face_colormap = cmap
        layer.face_contrast_limits = (float(lo), float(hi))
        layer.face_color = "value"
        return layer
    return viewer.add_points(spots.data, name=name, size=spots.size, features={"value": values},
                             face_color="value", face_colormap=cmap,
                             face_contrast_limits=(float(lo), float(hi)), border_width=0,
                             scale=spots.scale, translate=spots.translate)


class OverlayWidget(Container):
    def __init__(self, napari_viewer):
        super().__init__(labels=True)
        self.viewer = napari_viewer
        self.kind = ComboBox(label="Show", choices=list(KINDS), value="gene (raw)")
        self.search = LineEdit(label="Name (type to search)")
        self.cmap = ComboBox(label="Colormap", choices=["viridis", "magma", "inferno", "plasma",
                                                        "turbo", "coolwarm"], value="viridis")
        self.side_by_side = CheckBox(text="Raw and normalised/augmented side by side", value=False)
        self.show_button = PushButton(text="Paint")
        self.motif_button = PushButton(text="Compute motif activity")
        self.extend([self.kind, self.search, self.cmap, self.side_by_side, self.show_button,
                     self.motif_button])
        self.completer = _session.searchable(self.search)
        self.kind.changed.connect(self.refresh_names)
        self.show_button.changed.connect(self.paint)
        self.motif_button.changed.connect(self.compute_motifs)
        self.viewer.layers.events.inserted.connect(lambda e: self.refresh_names())
        self.worker = None
        self.refresh_names()

    def refresh_names(self, *args):
        _, mdata = _session.current(self.viewer)
        names = feature_names(mdata, self.kind.value) if mdata is not None else []
        self.completer.model().setStringList(names)

    def paint(self):
        spots, mdata = _session.current(self.viewer)
        if mdata is None:
            show_error("No dataset loaded.")
            return
        name = self.search.value.strip()
        kinds = [self.kind.value]
        if self.side_by_side.value:
            raw = next((k for k, v in PAIRS.items() if self.kind.value in (k, v)), None)
            kinds = [raw, PAIRS[raw]] if raw else kinds
        layers = []
        for kind in kinds:
            try:
                values = spot_values(mdata, kind, name)
            except Exception as err:  # engine errors are specific; show, never crash
                show_error(str(err))
                return
            layers.append(add_value_layer(self.viewer, spots, values, f"{kind}: {name}",
                                          self.cmap.value))
        self.viewer.grid.enabled = len(layers) > 1
        if len(layers) > 1:
            self.viewer.grid.shape = (1, -1)
        return layers

    def compute_motifs(self):
        from factvae.motifs import motif_deviations

        _, mdata = _session.current(self.viewer)
        if mdata is None:
            show_error("No dataset loaded.")
            return
        self.motif_button.enabled = False
        augmented = "X_factvae" in mdata.mod["atac"].obsm
        self.worker = _workers.start(motif_deviations, mdata, augmented=augmented,
                                     on_return=lambda r: self._motifs_done(),
                                     on_error=lambda e: setattr(self.motif_button, "enabled", True))
        self.worker.start()

    def _motifs_done(self):
        self.motif_button.enabled = True
        self.kind.value = "motif (raw)"
        self.refresh_names()
