"""Regulation: search a gene, pick a score and (for the scores that use the spots) a domain, set
the window, rank its candidate peaks in a worker; see them in a table (score, z, q, distance, in
prior, trained) and in a locus view (arcs from the TSS coloured by score); clicking a row or an
arc paints that peak's augmented accessibility on the tissue; export TSV or BEDPE."""

from __future__ import annotations

from pathlib import Path

from magicgui.widgets import ComboBox, Container, FileEdit, Label, LineEdit, PushButton, SpinBox
from napari.utils.notifications import show_error, show_info

from factvae.keys import DOMAIN_KEY, FEATURE_KEY
from factvae.tl._params import (DEFAULT_SCORE, SCORE_HELP, SCORES, SPOT_SCORES,
                                RegulationParams)

from .._core import _viewer_datasets
from . import _workers
from ._locus_view import LocusView
from ._overlay_widget import add_value_layer
from ._table import export_tsv, fill, results_table
from ._widget_helpers import follow, searchable

COLUMNS = ["peak", "score", "z", "qval", "tss_distance", "in_prior", "trained"]
ALL_SPOTS = "all spots"


class RegulationWidget(Container):
    def __init__(self, napari_viewer):
        super().__init__(labels=True)
        self.viewer = napari_viewer
        self.gene = LineEdit(label="Gene")
        self.score = ComboBox(label="Score", choices=list(SCORES), value=DEFAULT_SCORE,
                              tooltip="\n".join(f"{k}: {v}" for k, v in SCORE_HELP.items()))
        self.domain = ComboBox(label="Spots", choices=[ALL_SPOTS], value=ALL_SPOTS,
                               tooltip="score with one domain's activity and correlation")
        window = next(o for o in RegulationParams.options("gui") if o.name == "window")
        # in kb here; the declaration's range (bp) and help
        self.window = SpinBox(label="Window (kb)", value=window.default // 1000, min=1,
                              max=window.max // 1000, tooltip=window.help)
        self.run_button = PushButton(text="Rank peaks")
        self.info = Label(value="")
        self.export_file = FileEdit(label="Export", mode="w", filter="*.tsv *.bedpe")
        self.export_button = PushButton(text="Export (.tsv or .bedpe)")
        self.table = results_table(COLUMNS)
        self.locus = LocusView(on_pick=self.pick_arc)
        self.extend([self.gene, self.score, self.domain, self.window, self.run_button, self.info])
        self.native.layout().addWidget(self.locus)
        self.native.layout().addWidget(self.table)
        self.extend([self.export_file, self.export_button])
        self.completer = searchable(self.gene)
        self.run_button.changed.connect(self.run)
        self.export_button.changed.connect(self.export)
        self.table.cellClicked.connect(self.paint_row)
        self.score.changed.connect(self._score_changed)
        self.viewer.layers.events.inserted.connect(lambda e: self.refresh())
        # trained, loaded or domains found in place (no new layer): genes and domains change
        follow(self, lambda mdata, what: self.refresh())
        self.result = None
        self.mdata = None
        self.worker = None
        self.refresh()

    def refresh(self):
        import numpy as np

        _, mdata = _viewer_datasets.current(self.viewer)
        names, domains = [], []
        if hasattr(mdata, "mod") and FEATURE_KEY in mdata.mod["rna"].varm:  # not a lone .h5ad
            ok = np.isfinite(mdata.mod["rna"].varm[FEATURE_KEY]).all(axis=1)
            names = list(map(str, mdata.mod["rna"].var_names[ok]))
        if hasattr(mdata, "obs") and DOMAIN_KEY in mdata.obs:
            domains = list(map(str, mdata.obs[DOMAIN_KEY].astype("category").cat.categories))
        self.completer.model().setStringList(names)
        keep = self.domain.value if self.domain.value in domains else ALL_SPOTS
        self.domain.choices = [ALL_SPOTS] + domains
        self.domain.value = keep
        self._score_changed()

    def _score_changed(self, *_):
        self.domain.enabled = self.score.value in SPOT_SCORES

    def run(self):
        from factvae.tl._regulation import infer_regulation

        _, mdata = _viewer_datasets.current(self.viewer)
        if mdata is None:
            show_error("No dataset loaded.")
            return
        gene = self.gene.value.strip()
        if not gene:
            show_error("Type a gene name.")
            return
        domain = None
        if self.score.value in SPOT_SCORES and self.domain.value != ALL_SPOTS:
            domain = self.domain.value
        self.run_button.enabled = False
        self.info.value = f"Ranking peaks around {gene}..."
        self.mdata = mdata
        self.worker = _workers.start(infer_regulation, mdata, gene, score=self.score.value,
                                     window=self.window.value * 1000, domain=domain,
                                     owner=self, on_return=self._done, on_error=self._failed)
        self.worker.start()

    def _done(self, table):
        from factvae.tl._regulation import summarize

        self.run_button.enabled = True
        self.result = table
        fill(self.table, table, COLUMNS)
        self.info.value = summarize(table).split(" (null:")[0]
        self.info.tooltip = summarize(table)
        self._draw_locus(table)

    def _draw_locus(self, table):
        from factvae.pp._genome import peak_coordinates
        from factvae.pp._prior import gene_intervals

        if table is None or not len(table) or self.mdata is None:
            self.locus.clear()
            return
        name = str(table["gene"].iloc[0])
        g = gene_intervals(self.mdata).loc[name]
        # only the table's peaks: parsing every peak name would stall the GUI thread
        peaks = peak_coordinates(self.mdata.mod["atac"].var.loc[table["peak"]])
        gene = {"name": name, "chrom": g["chrom"], "start": g["start"], "end": g["end"],
                "strand": g["strand"], "tss": table["tss"].iloc[0]}
        self.locus.show_links(table, gene, peaks["start"].to_numpy(), peaks["end"].to_numpy(),
                              score_label=str(table.attrs.get("params", {}).get("score", "score")))

    def _failed(self, error):
        self.run_button.enabled = True
        self.info.value = f"Failed: {error}"

    def pick_arc(self, row: int):
        """An arc was clicked: select its row and paint its peak."""
        self.table.selectRow(row)
        return self.paint_row(row)

    def paint_row(self, row: int, column: int = 0):
        from factvae.get._values import spot_values

        spots, mdata = _viewer_datasets.current(self.viewer)
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
        path = self.export_file.value
        if self.result is not None and path is not None and Path(path).suffix == ".bedpe":
            from factvae.io._write import write_atomically
            from factvae.tl._regulation import to_bedpe

            try:
                write_atomically(path, lambda tmp: to_bedpe(self.result, self.mdata, tmp))
            except Exception as err:  # a gene whose coordinates came from another annotation
                show_error(str(err))
                return
            show_info(f"Exported {len(self.result)} links to {path}")
            return
        from factvae.tl._regulation import with_provenance

        export_tsv(None if self.result is None else with_provenance(self.result), path,
                   "Rank peaks and choose a file first.")
