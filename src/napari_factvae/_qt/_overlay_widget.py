"""Overlays: a gene (raw or normalised), a peak (raw or augmented), a motif (raw or augmented
deviation) or a gene's activity, picked from a searchable list, painted as coloured spots with a
colormap, a colour bar on the canvas and contrast limits on a slider; raw and augmented side by
side on request. Hovering a spot shows its name, domain and value."""

from __future__ import annotations

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, Container, FloatRangeSlider, LineEdit, PushButton
from napari.utils.notifications import show_error

from factvae.get._values import KINDS, feature_names, spot_values
from factvae.keys import EMBEDDING_KEY

from .._core import _dataset_model, _viewer_datasets
from .._core._map_state import MAP_KEY, MUDATA_KEY, VALUES_KEY, domain_key
from . import _workers
from ._widget_helpers import follow, searchable

PAIRS = {"gene (raw)": "gene (normalised)", "peak (raw)": "peak (augmented)",
         "motif (raw)": "motif (augmented)", "gene activity (raw)": "gene activity (augmented)"}


def add_value_layer(viewer, spots, values: np.ndarray, name: str, cmap: str = "viridis"):
    """A Points layer of tiles over the spots coloured by `values` (contrast: 1st-99th
    percentile) with its colour bar; features spot, domain, value for the status bar (the
    spots layer gets the values too, as its 'overlay' column). An existing layer of that name
    is updated in place."""
    finite = values[np.isfinite(values)]
    lo, hi = (np.percentile(finite, [1, 99]) if finite.size else (0.0, 1.0))
    if hi <= lo:
        hi = lo + 1e-6
    mdata = spots.metadata[MUDATA_KEY]
    key = domain_key(mdata)
    features = {"spot": mdata.obs_names.astype(str).to_numpy()}
    if key is not None:
        features["domain"] = mdata.obs[key].astype(str).to_numpy()
    features["value"] = values
    spots.features["overlay"] = values  # in place: for the status bar only, and cheap
    if name in viewer.layers:
        layer = viewer.layers[name]
        layer.features = features
        layer.face_colormap = cmap
        layer.face_contrast_limits = (float(lo), float(hi))
        layer.face_color = "value"
    else:
        # tiles (as wide as the spacing) read as a map of values; the spot-size slider still
        # sets spots and overlays together
        g = spots.metadata[MAP_KEY].geometry
        layer = viewer.add_points(spots.data, name=name, size=g.pitch,
                                  symbol="square" if g.square else "disc", features=features,
                                  face_color="value", face_colormap=cmap,
                                  face_contrast_limits=(float(lo), float(hi)), border_width=0,
                                  scale=spots.scale, translate=spots.translate,
                                  metadata={VALUES_KEY: mdata})
    layer.face_colorbar.visible = True
    layer.face_colorbar.gridded = True  # side by side: each bar in its own layer's cell
    return layer


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
        self.limits = FloatRangeSlider(label="Contrast limits", min=0.0, max=1.0, value=(0.0, 1.0),
                                       enabled=False, tooltip="of the selected overlay; the ends "
                                                              "are its lowest and highest value")
        self.motif_button = PushButton(text="Compute motif activity")
        self.extend([self.kind, self.search, self.cmap, self.side_by_side, self.show_button,
                     self.limits, self.motif_button])
        self.completer = searchable(self.search)
        self.kind.changed.connect(self.refresh_names)
        self.show_button.changed.connect(self.paint)
        self.motif_button.changed.connect(self.compute_motifs)
        self.viewer.layers.events.inserted.connect(lambda e: self.refresh_names())
        follow(self, lambda mdata, what: self.refresh_names())
        self.viewer.layers.selection.events.active.connect(lambda e: self._follow(e.value))
        self.limits.changed.connect(self._set_limits)
        self.layer = None  # the overlay whose contrast limits the slider sets
        self.worker = None
        self.refresh_names()

    def refresh_names(self, *args):
        _, mdata = _viewer_datasets.current(self.viewer)
        # an .h5ad opened alone has no modalities to pick from
        names = feature_names(mdata, self.kind.value) if hasattr(mdata, "mod") else []
        self.completer.model().setStringList(names)

    def paint(self):
        spots, mdata = _viewer_datasets.current(self.viewer)
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
        grid = self.viewer.canvas.grid
        if grid.enabled != (len(layers) > 1):
            grid.enabled = len(layers) > 1
            if grid.enabled:
                grid.shape = (1, -1)
            self.viewer.reset_view()  # the cells (or the single view) fit the tissue
        self._follow(layers[-1])
        return layers

    def _follow(self, layer):
        """Point the contrast slider at `layer` if it is an overlay: range = its values."""
        if layer is None or VALUES_KEY not in getattr(layer, "metadata", {}):
            return
        self.layer = None  # no feedback while the slider is set up
        values = np.asarray(layer.features["value"], float)
        finite = values[np.isfinite(values)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        hi = max(hi, lo + 1e-6)
        self.limits.range = (lo, hi)
        self.limits.step = (hi - lo) / 200
        self.limits.value = tuple(np.clip(layer.face_contrast_limits, lo, hi))
        self.limits.enabled = True
        self.layer = layer

    def _set_limits(self, value):
        if self.layer is not None and self.layer in self.viewer.layers and value[1] > value[0]:
            self.layer.face_contrast_limits = tuple(map(float, value))

    def compute_motifs(self):
        from factvae.tl._motifs import motif_deviations

        _, mdata = _viewer_datasets.current(self.viewer)
        if mdata is None:
            show_error("No dataset loaded.")
            return
        self.motif_button.enabled = False
        augmented = EMBEDDING_KEY in mdata.mod["atac"].obsm
        # computed in the worker, stored here on the main thread
        self.worker = _workers.start(motif_deviations, mdata, augmented=augmented, store=False,
                                     owner=self, on_return=lambda r: self._motifs_done(mdata, r),
                                     on_error=lambda e: setattr(self.motif_button, "enabled", True))
        self.worker.start()

    def _motifs_done(self, mdata, result):
        _dataset_model.dataset_of(mdata).store_motifs(result)
        self.motif_button.enabled = True
        self.kind.value = "motif (raw)"
        self.refresh_names()
