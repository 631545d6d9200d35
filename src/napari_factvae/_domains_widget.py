"""Domains: number of domains or resolution, spatial weight; computed in a worker and painted on
the tissue (spots coloured by domain and a filled label raster with adjustable opacity); rename
and merge domains by hand; export the table."""

from __future__ import annotations

import numpy as np
from magicgui.widgets import (CheckBox, ComboBox, Container, FileEdit, FloatSlider, FloatSpinBox, Label,
                              PushButton, RadioButtons, SpinBox)
from napari.utils.notifications import show_error, show_info
from qtpy.QtWidgets import QTableWidget, QTableWidgetItem

from . import _session, _workers
from ._paint import domain_raster, paint_categories

KEY = "factvae_domain"


def compute_domains(mdata, n_domains, resolution, spatial_weight, method="leiden", refine=0):
    """Worker body: domains (engine), then the label raster for painting."""
    from factvae.domains import find_domains

    record = find_domains(mdata, n_domains=n_domains, resolution=resolution, method=method,
                          refine=refine, spatial_weight=spatial_weight)
    return record, domain_raster(mdata, KEY)


class DomainsWidget(Container):
    def __init__(self, napari_viewer):
        super().__init__(labels=True)
        self.viewer = napari_viewer
        self.method = ComboBox(label="Method", choices=["leiden", "kmeans", "gmm"], value="leiden",
                               tooltip="Leiden on the embedding's neighbour graph, K-means, or a "
                                       "Gaussian mixture")
        self.mode = RadioButtons(label="Choose by",
                                 choices=["number of domains", "resolution", "suggest a number"],
                                 value="number of domains")
        self.n_domains = SpinBox(label="Domains", value=7, min=2, max=200)
        self.resolution = FloatSpinBox(label="Resolution", value=1.0, min=0.01, max=20.0, step=0.1)
        self.spatial_weight = FloatSpinBox(label="Spatial weight", value=0.0, min=0.0, max=1.0, step=0.1)
        self.refine = SpinBox(label="Refinement rounds", value=0, min=0, max=10,
                              tooltip="spatial majority vote: a spot takes the domain of most of "
                                      "its neighbours")
        self.compute_button = PushButton(text="Find domains")
        self.opacity = FloatSlider(label="Fill opacity", value=0.5, min=0.0, max=1.0)
        self.fill = CheckBox(text="Filled domain raster", value=True)
        self.info = Label(value="")
        self.rename_button = PushButton(text="Apply names (same name = merge)")
        self.export_file = FileEdit(label="Export table", mode="w", filter="*.csv *.tsv")
        self.export_button = PushButton(text="Export")
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["domain", "name"])
        self.extend([self.method, self.mode, self.n_domains, self.resolution, self.spatial_weight,
                     self.refine, self.compute_button, self.fill, self.opacity, self.info])
        self.native.layout().addWidget(self.table)
        self.extend([self.rename_button, self.export_file, self.export_button])
        self.compute_button.changed.connect(self.compute)
        self.opacity.changed.connect(self._set_opacity)
        self.rename_button.changed.connect(self.apply_names)
        self.export_button.changed.connect(self.export)
        self.worker = None
        self.mdata = None

    def compute(self):
        layer, mdata = _session.current(self.viewer)
        if mdata is None:
            show_error("No dataset loaded.")
            return
        if "X_factvae" not in mdata.obsm:
            show_error("Train FactVAE first (Train widget): domains use its joint embedding.")
            return
        if (self.refine.value or self.spatial_weight.value) and "spatial" not in mdata.obsm:
            show_error("Refinement and a spatial weight need spot coordinates; set both to 0.")
            return
        if self.mode.value == "resolution" and self.method.value != "leiden":
            show_error("A resolution applies to Leiden only: choose a number of domains.")
            return
        self.mdata = mdata
        n = {"number of domains": self.n_domains.value, "resolution": None,
             "suggest a number": "auto"}[self.mode.value]
        resolution = self.resolution.value if self.mode.value == "resolution" else None
        self.compute_button.enabled = False
        self.info.value = "Computing..."
        self.worker = _workers.start(compute_domains, mdata, n, resolution,
                                     self.spatial_weight.value, self.method.value,
                                     self.refine.value, on_return=self._done,
                                     on_error=self._failed)
        self.worker.start()

    def _done(self, result):
        record, raster = result
        self.compute_button.enabled = True
        exact = "" if record["exact"] else " (closest reached)"
        how = (f"resolution {record['resolution']:.3g}" if record["method"] == "leiden"
               else record["method"])
        if record.get("suggested_by"):
            how += ", number by silhouette"
        if record.get("refine"):
            how += f", refined {record['refine']}x"
        self.info.value = f"{record['reached']} domains{exact} ({how})"
        self.repaint(raster)
        show_info(self.info.value)

    def _failed(self, error):
        self.compute_button.enabled = True
        self.info.value = f"Failed: {error}"

    def repaint(self, raster=None):
        mdata = self.mdata
        spots = _session.spots_layer(self.viewer, mdata)
        if spots is not None:
            paint_categories(spots, mdata, KEY)
        if raster is None:
            raster = domain_raster(mdata, KEY)
        if self.fill.value and raster is not None:
            from napari.utils.colormaps import DirectLabelColormap

            labels, colours = raster
            cmap = DirectLabelColormap(color_dict=colours)
            name = "domains (filled)"
            if name in self.viewer.layers:
                self.viewer.layers[name].data = labels
                self.viewer.layers[name].colormap = cmap
            else:
                self.viewer.add_labels(labels, name=name, colormap=cmap, opacity=self.opacity.value)
            if spots is not None:  # keep the spots on top of the fill
                self.viewer.layers.move(self.viewer.layers.index(spots), len(self.viewer.layers))
        self._fill_table()

    def _fill_table(self):
        cats = list(self.mdata.obs[KEY].astype("category").cat.categories)
        self.table.setRowCount(len(cats))
        for i, c in enumerate(cats):
            item = QTableWidgetItem(str(c))
            item.setFlags(item.flags() & ~item.flags().ItemIsEditable)
            self.table.setItem(i, 0, item)
            self.table.setItem(i, 1, QTableWidgetItem(str(c)))

    def _set_opacity(self, value):
        if "domains (filled)" in self.viewer.layers:
            self.viewer.layers["domains (filled)"].opacity = value

    def apply_names(self):
        from factvae.domains import rename_domains

        if self.mdata is None or KEY not in self.mdata.obs:
            show_error("Find domains first.")
            return
        mapping = {}
        for i in range(self.table.rowCount()):
            old, new = self.table.item(i, 0).text(), self.table.item(i, 1).text().strip()
            if new and new != old:
                mapping[old] = new
        rename_domains(self.mdata, mapping)
        self.repaint()

    def export(self):
        mdata = self.mdata
        path = self.export_file.value
        if mdata is None or KEY not in mdata.obs or path is None or str(path) in ("", "."):
            show_error("Find domains and choose a file first.")
            return
        from pathlib import Path

        import pandas as pd

        path = Path(path)
        table = pd.DataFrame({"spot": mdata.obs_names, "domain": mdata.obs[KEY].astype(str).to_numpy()})
        if "spatial" in mdata.obsm:
            xy = np.asarray(mdata.obsm["spatial"])
            table["x"], table["y"] = xy[:, 0], xy[:, 1]
        table.to_csv(path, sep="\t" if path.suffix == ".tsv" else ",", index=False)
        show_info(f"Exported {len(table)} spots to {path}")
