"""Region markers: draw one or more polygons on the tissue (a Shapes layer), then list what
marks the spots inside against the rest of the tissue or against a second Shapes layer: genes,
peaks (raw and augmented), motif deviations and gene activity, with log fold change, statistic
and adjusted p. Clicking a row paints that feature; the table exports as TSV."""

from __future__ import annotations

from magicgui.widgets import ComboBox, Container, FileEdit, Label, PushButton
from napari.utils.notifications import show_error

from factvae.tl._regions import KINDS, compute_region_markers

from .._core import _dataset_model, _viewer_datasets
from .._core._shapes import shapes_mask
from . import _workers
from ._overlay_widget import add_value_layer
from ._table import export_tsv, fill, results_table

REST = "rest of the tissue"
ALL = "all kinds"
COLUMNS = ["kind", "name", "logfoldchange", "statistic", "pval_adj"]


class RegionMarkersWidget(Container):
    def __init__(self, napari_viewer):
        super().__init__(labels=True)
        self.viewer = napari_viewer
        self.draw_button = PushButton(text="Draw a region")
        self.region = ComboBox(label="Region (shapes)", choices=self._shapes_names)
        self.reference = ComboBox(label="Against", choices=self._reference_names)
        self.run_button = PushButton(text="Find markers")
        self.kind = ComboBox(label="Show", choices=[ALL, *KINDS], value=ALL)
        self.info = Label(value="Draw polygons on the tissue, then find markers.")
        self.export_file = FileEdit(label="Export TSV", mode="w", filter="*.tsv")
        self.export_button = PushButton(text="Export")
        self.table = results_table(COLUMNS)
        self.extend([self.draw_button, self.region, self.reference, self.run_button, self.kind,
                     self.info])
        self.native.layout().addWidget(self.table)
        self.extend([self.export_file, self.export_button])
        self.draw_button.changed.connect(self.draw)
        self.run_button.changed.connect(self.run)
        self.kind.changed.connect(self.show_rows)
        self.table.cellClicked.connect(self.paint_row)
        self.export_button.changed.connect(self.export)
        for event in (self.viewer.layers.events.inserted, self.viewer.layers.events.removed):
            event.connect(lambda e: self._refresh())
        self.result = None
        self.shown = None
        self.worker = None

    def _shapes_names(self, *_):
        return [layer.name for layer in self.viewer.layers if layer._type_string == "shapes"]

    def _reference_names(self, *_):
        return [REST, *self._shapes_names()]

    def _refresh(self):
        self.region.reset_choices()
        self.reference.reset_choices()

    def draw(self):
        """A new Shapes layer in polygon mode above the spots: click the corners, double-click
        to close; several polygons make one region."""
        spots, _ = _viewer_datasets.current(self.viewer)
        kwargs = {} if spots is None else {"scale": spots.scale, "translate": spots.translate}
        layer = self.viewer.add_shapes(name="region", face_color=[1, 1, 1, 0.15],
                                       edge_color="white", edge_width=3, **kwargs)
        layer.mode = "add_polygon"
        self._refresh()
        self.region.value = layer.name
        return layer

    def masks(self):
        spots, mdata = _viewer_datasets.current(self.viewer)
        if mdata is None:
            raise ValueError("No dataset loaded.")
        if not self.region.value:
            raise ValueError("Draw a region first (Draw a region, or any Shapes layer).")
        region = shapes_mask(spots, self.viewer.layers[self.region.value])
        reference = None
        if self.reference.value and self.reference.value != REST:
            if self.reference.value == self.region.value:
                raise ValueError("Compare the region with another Shapes layer or the rest.")
            reference = shapes_mask(spots, self.viewer.layers[self.reference.value])
        return mdata, region, reference

    def run(self):
        try:
            mdata, region, reference = self.masks()
        except ValueError as err:
            show_error(str(err))
            return
        self.run_button.enabled = False
        self.info.value = f"Testing {int(region.sum())} spots..."
        self.worker = _workers.start(compute_region_markers, mdata, region, reference=reference,
                                     owner=self, on_return=lambda r: self._done(mdata, r),
                                     on_error=self._failed)
        self.worker.start()

    def _done(self, mdata, result):
        table, params = result
        self.run_button.enabled = True
        _dataset_model.dataset_of(mdata).store_region_markers(table, params)
        self.result = table
        self.info.value = (f"{params['n_region']} spots against {params['n_reference']} "
                           f"({'rest' if params['reference'] == 'rest' else 'second region'})")
        self.show_rows()

    def _failed(self, error):
        self.run_button.enabled = True
        self.info.value = f"Failed: {error}"

    def show_rows(self, *_):
        if self.result is None:
            return
        rows = self.result if self.kind.value == ALL else self.result[
            self.result["kind"] == self.kind.value]
        self.shown = rows.reset_index(drop=True)
        fill(self.table, rows, COLUMNS)

    def paint_row(self, row: int, column: int = 0):
        from factvae.get._values import spot_values

        spots, mdata = _viewer_datasets.current(self.viewer)
        if self.shown is None or mdata is None or row >= len(self.shown):
            return None
        kind, name = self.shown["kind"].iloc[row], self.shown["name"].iloc[row]
        try:
            values = spot_values(mdata, kind, name)
        except Exception as err:  # noqa: BLE001 - shown, never raised into Qt
            show_error(str(err))
            return None
        return add_value_layer(self.viewer, spots, values, f"{kind}: {name}", "magma")

    def export(self):
        export_tsv(self.result, self.export_file.value, "Find markers and choose a file first.")
