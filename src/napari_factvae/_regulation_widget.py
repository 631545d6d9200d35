"""Regulation: search a gene, set the window, rank its candidate peaks in a worker, see them in a
table (score, z, q, distance, in prior); clicking a row paints that peak's augmented
accessibility on the tissue; export the table as TSV."""

from __future__ import annotations

from magicgui.widgets import Container, FileEdit, Label, LineEdit, PushButton, SpinBox
from napari.utils.notifications import show_error

from factvae.keys import FEATURE_KEY

from . import _dataset, _session, _workers
from ._overlay_widget import add_value_layer
from ._table import export_tsv, fill, results_table

COLUMNS = ["peak", "score", "z", "qval", "tss_distance", "in_prior"]


class RegulationWidget(Container):
    def __init__(self, napari_viewer):
        super().__init__(labels=True)
        self.viewer = napari_viewer
        self.gene = LineEdit(label="Gene")
        self.window = SpinBox(label="Window (kb)", value=150, min=1, max=10_000)
        self.run_button = PushButton(text="Rank peaks")
        self.info = Label(value="")
        self.export_file = FileEdit(label="Export TSV", mode="w", filter="*.tsv")
        self.export_button = PushButton(text="Export")
        self.table = results_table(COLUMNS)
        self.extend([self.gene, self.window, self.run_button, self.info])
        self.native.layout().addWidget(self.table)
        self.extend([self.export_file, self.export_button])
        self.completer = _session.searchable(self.gene)
        self.run_button.changed.connect(self.run)
        self.export_button.changed.connect(self.export)
        self.table.cellClicked.connect(self.paint_row)
        self.viewer.layers.events.inserted.connect(lambda e: self.refresh_genes())
        # trained or loaded in place (no new layer): the genes with embeddings change
        _dataset.follow(self, lambda mdata, what: self.refresh_genes())
        self.result = None
        self.worker = None
        self.refresh_genes()

    def refresh_genes(self):
        import numpy as np

        _, mdata = _session.current(self.viewer)
        names = []
        if hasattr(mdata, "mod") and FEATURE_KEY in mdata.mod["rna"].varm:  # not a lone .h5ad
            ok = np.isfinite(mdata.mod["rna"].varm[FEATURE_KEY]).all(axis=1)
            names = list(map(str, mdata.mod["rna"].var_names[ok]))
        self.completer.model().setStringList(names)

    def run(self):
        from factvae.regulation import infer_regulation

        _, mdata = _session.current(self.viewer)
        if mdata is None:
            show_error("No dataset loaded.")
            return
        gene = self.gene.value.strip()
        if not gene:
            show_error("Type a gene name.")
            return
        self.run_button.enabled = False
        self.info.value = f"Ranking peaks around {gene}..."
        self.worker = _workers.start(infer_regulation, mdata, gene, window=self.window.value * 1000,
                                     on_return=self._done, on_error=self._failed)
        self.worker.start()

    def _done(self, table):
        self.run_button.enabled = True
        self.result = table
        fill(self.table, table, COLUMNS)
        n_sig = int((table["qval"] < 0.05).sum()) if len(table) else 0
        self.info.value = f"{len(table)} candidate peaks, {n_sig} with q < 0.05"

    def _failed(self, error):
        self.run_button.enabled = True
        self.info.value = f"Failed: {error}"

    def paint_row(self, row: int, column: int = 0):
        from factvae.values import spot_values

        spots, mdata = _session.current(self.viewer)
        if self.result is None or mdata is None or row >= len(self.result):
            return
        peak = self.result["peak"].iloc[row]
        try:
            values = spot_values(mdata, "peak (augmented)", peak)
        except Exception as err:
            show_error(str(err))
            return
        return add_value_layer(self.viewer, spots, values, f"peak (augmented): {peak}", "magma")

    def export(self):
        export_tsv(self.result, self.export_file.value, "Rank peaks and choose a file first.")
