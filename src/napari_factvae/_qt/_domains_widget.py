"""Domains: number of domains or resolution, spatial weight; computed in a worker and shown as
the domain map (see _core._map_paint; its display is set in the Legend dock); rename and merge
domains by hand; export the table (_core._domain_table)."""

from __future__ import annotations

from magicgui.widgets import (ComboBox, Container, FileEdit, FloatSpinBox, Label, PushButton,
                              RadioButtons, SpinBox)
from napari.utils.notifications import show_error, show_info
from qtpy.QtWidgets import QTableWidget, QTableWidgetItem

from factvae.errors import FactVAEInputError
from factvae.keys import DOMAIN_KEY, EMBEDDING_KEY
from factvae.tl._params import DomainParams

from .._core import _dataset_model, _map_paint, _map_state, _viewer_datasets
from .._core._domain_table import write_domain_table
from . import _map_display, _workers
from ._widget_helpers import follow

KEY = DOMAIN_KEY


def compute_domains(mdata, n_domains, resolution, spatial_weight, method="leiden", refine=0):
    """Worker body: (labels, record) from the engine; nothing is stored here (the widget stores
    them on the main thread). The seed is the training seed, as in `factvae run`."""
    from factvae.tl._domains import compute_domains as compute

    return compute(mdata, n_domains=n_domains, resolution=resolution, method=method,
                   refine=refine, spatial_weight=spatial_weight)


class DomainsWidget(Container):
    def __init__(self, napari_viewer):
        super().__init__(labels=True)
        self.viewer = napari_viewer
        # labels, choices, ranges and help from the declaration the engine checks with
        opt = {o.name: o for o in DomainParams.options("gui")}
        self.method = ComboBox(label="Method", choices=list(opt["method"].choices),
                               value=opt["method"].default, tooltip=opt["method"].help)
        self.mode = RadioButtons(label="Choose by",
                                 choices=["number of domains", "resolution", "suggest a number"],
                                 value="number of domains")
        self.n_domains = SpinBox(label="Domains", value=7, min=2, max=200,
                                 tooltip=opt["n_domains"].help)
        self.resolution = FloatSpinBox(label=opt["resolution"].label, value=1.0, min=0.01,
                                       max=20.0, step=0.1, tooltip=opt["resolution"].help)
        w = opt["spatial_weight"]
        self.spatial_weight = FloatSpinBox(label=w.label, value=w.default, min=w.min, max=w.max,
                                           step=w.step, tooltip=w.help)
        self.refine = SpinBox(label=opt["refine"].label, value=opt["refine"].default,
                              min=opt["refine"].min, max=10,
                              tooltip=opt["refine"].help + ": a spot takes the domain of most of "
                                      "its neighbours")
        self.compute_button = PushButton(text="Find domains")
        self.info = Label(value="")
        self.rename_button = PushButton(text="Apply names (same name = merge)")
        self.export_file = FileEdit(label="Export table", mode="w", filter="*.csv *.tsv")
        self.export_button = PushButton(text="Export")
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["domain", "name"])
        self.extend([self.method, self.mode, self.n_domains, self.resolution, self.spatial_weight,
                     self.refine, self.compute_button, self.info])
        self.native.layout().addWidget(self.table)
        self.extend([self.rename_button, self.export_file, self.export_button])
        self.compute_button.changed.connect(self.compute)
        self.rename_button.changed.connect(self.apply_names)
        self.export_button.changed.connect(self.export)
        self.worker = None
        self.mdata = None
        # the legend renames, merges and recolours too: follow it
        follow(self, self._on_changed, _map_state.events.changed)

    def compute(self):
        layer, mdata = _viewer_datasets.current(self.viewer)
        if mdata is None:
            show_error("No dataset loaded.")
            return
        if EMBEDDING_KEY not in mdata.obsm:
            show_error("Train FactVAE first (Train widget): domains use its joint embedding.")
            return
        if (self.refine.value or self.spatial_weight.value) and "spatial" not in mdata.obsm:
            show_error("Refinement and a spatial weight need spot coordinates; set both to 0.")
            return
        if self.mode.value == "resolution" and self.method.value != "leiden":
            show_error("A resolution applies to Leiden only: choose a number of domains.")
            return
        n = {"number of domains": self.n_domains.value, "resolution": None,
             "suggest a number": "auto"}[self.mode.value]
        resolution = self.resolution.value if self.mode.value == "resolution" else None
        try:  # the engine's own checks, said before the worker starts
            DomainParams(method=self.method.value, n_domains=None if n == "auto" else n,
                         resolution=resolution, refine=self.refine.value,
                         spatial_weight=self.spatial_weight.value).validate()
        except FactVAEInputError as err:
            show_error(str(err))
            return
        self.mdata = mdata
        self.compute_button.enabled = self.rename_button.enabled = False
        self.info.value = "Computing..."
        dataset = _dataset_model.dataset_of(mdata)
        dataset.finding_domains = True  # renames wait (see Dataset); cleared even if we are gone
        self.worker = _workers.start(compute_domains, mdata, n, resolution,
                                     self.spatial_weight.value, self.method.value,
                                     self.refine.value, owner=self, on_return=self._done,
                                     on_error=self._failed, on_abort=self._stopped,
                                     cleanup=lambda: setattr(dataset, "finding_domains", False))
        self.worker.start()

    def _done(self, result):
        labels, record = result
        _dataset_model.dataset_of(self.mdata).store_domains(labels, record)
        self.compute_button.enabled = self.rename_button.enabled = True
        exact = "" if record["exact"] else " (closest reached)"
        how = (f"resolution {record['resolution']:.3g}" if record["method"] == "leiden"
               else record["method"])
        if record.get("suggested_by"):
            how += ", number by silhouette"
        if record.get("refine"):
            how += f", refined {record['refine']}x"
        self.info.value = f"{record['reached']} domains{exact} ({how})"
        if _viewer_datasets.spots_of(self.viewer, self.mdata) is None:
            self.info.value += ("; not painted: the dataset's spots layer was removed while "
                                "they were computed")
        self.repaint()
        show_info(self.info.value)

    def _failed(self, error):
        self.compute_button.enabled = self.rename_button.enabled = True
        self.info.value = f"Failed: {error}"

    def _stopped(self):
        self.compute_button.enabled = self.rename_button.enabled = True
        self.info.value = "Stopped; the domains are as they were."

    def repaint(self):
        spots = _viewer_datasets.spots_of(self.viewer, self.mdata)
        if spots is not None:
            _map_display.show(self.viewer, spots)  # spots, raster and legend, spots on top
        self._fill_table()

    def _on_changed(self, mdata):
        if mdata is self.mdata:
            self._fill_table()

    def _fill_table(self):
        if self.mdata is None or KEY not in self.mdata.obs:
            return
        cats = list(self.mdata.obs[KEY].astype("category").cat.categories)
        self.table.setRowCount(len(cats))
        for i, c in enumerate(cats):
            item = QTableWidgetItem(str(c))
            item.setFlags(item.flags() & ~item.flags().ItemIsEditable)
            self.table.setItem(i, 0, item)
            self.table.setItem(i, 1, QTableWidgetItem(str(c)))

    def apply_names(self):
        from factvae.tl._domains import rename_domains

        if self.mdata is None or KEY not in self.mdata.obs:
            show_error("Find domains first.")
            return
        if _dataset_model.dataset_of(self.mdata).finding_domains:
            show_error(_dataset_model.RENAME_WAITS)
            self._fill_table()
            return
        mapping = {}
        for i in range(self.table.rowCount()):
            old, new = self.table.item(i, 0).text(), self.table.item(i, 1).text().strip()
            if new and new != old:
                mapping[old] = new
        if _viewer_datasets.spots_of(self.viewer, self.mdata) is None:
            rename_domains(self.mdata, mapping)  # the dataset's layers are gone: data only
            self._fill_table()
        else:
            _map_paint.rename(self.viewer, self.mdata, mapping)

    def export(self):
        mdata = self.mdata
        path = self.export_file.value
        if mdata is None or KEY not in mdata.obs or path is None or str(path) in ("", "."):
            show_error("Find domains and choose a file first.")
            return
        table = write_domain_table(mdata, path)
        show_info(f"Exported {len(table)} spots to {path}")
