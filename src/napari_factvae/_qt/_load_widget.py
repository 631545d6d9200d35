"""Load: a .h5mu, a SpatialData .zarr, or RNA and ATAC .h5ad files, an optional image and gene annotation; shows the
tissue and the spots with a summary; every validation problem becomes a notification."""

from __future__ import annotations

import warnings
from pathlib import Path

from magicgui.widgets import (CheckBox, Container, FileEdit, FloatSpinBox, Label, PushButton)
from napari.utils.notifications import show_info, show_warning

from factvae.keys import PRIOR_INFO_KEY

from .._core import _viewer_datasets
from . import _workers
from ._show_dataset import show_dataset


def load_dataset(mudata=None, rna=None, atac=None, image=None, image_scale=1.0, genes=None,
                 prior=True, sdata=None):
    """Engine calls of the Load widget (run in a worker): load, validate, build the prior, and
    the layers (their domain map geometry too). Returns (mdata, summary text, warning
    messages, layer data)."""
    import factvae

    from .._core._layers import spot_layers

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mdata = factvae.load_paired(mudata, rna=rna, atac=atac, image=image,
                                    image_scale=image_scale, sdata=sdata)
        if prior and "factvae_g2p" not in mdata.uns:
            factvae.add_gene_peak_prior(mdata, genes)
    return mdata, summary(mdata), [str(w.message) for w in caught
                                   if issubclass(w.category, UserWarning)], spot_layers(mdata)


def save_job(mdata, path, overwrite: bool):
    """Worker: write the dataset with its results (atomically: a failed write leaves no file),
    as .h5mu, or as a SpatialData .zarr (the elements of the store it came from kept)."""
    from factvae.io import write

    return write(mdata, path, overwrite=overwrite)


def summary(mdata) -> str:
    text = (f"{mdata.n_obs} spots, {mdata.mod['rna'].n_vars} genes, "
            f"{mdata.mod['atac'].n_vars} peaks")
    info = mdata.uns.get(PRIOR_INFO_KEY)
    if info:
        text += f", {info['n_pairs']} linked gene-peak pairs"
    return text


def _path(edit: FileEdit):
    value = edit.value
    return None if value is None or str(value) in ("", ".") else Path(value)


class LoadWidget(Container):
    def __init__(self, napari_viewer):
        super().__init__(labels=True)
        self.viewer = napari_viewer
        self.mudata_file = FileEdit(label="MuData (.h5mu)", filter="*.h5mu")
        self.sdata_file = FileEdit(label="or SpatialData (.zarr)", mode="d")
        self.rna_file = FileEdit(label="or RNA (.h5ad)", filter="*.h5ad")
        self.atac_file = FileEdit(label="and ATAC (.h5ad)", filter="*.h5ad")
        self.image_file = FileEdit(label="Image (optional)", filter="*.png *.jpg *.jpeg *.tif *.tiff")
        self.image_scale = FloatSpinBox(label="Image scale", value=1.0, min=1e-6, max=1e6, step=0.05)
        self.genes_file = FileEdit(label="Genes (GTF/GFF3/BED)", filter="*.gtf *.gff3 *.gff *.bed *.gz")
        self.prior = CheckBox(text="Build gene-peak prior", value=True)
        self.load_button = PushButton(text="Load")
        self.save_file = FileEdit(label="Save results to", mode="w", filter="*.h5mu *.zarr")
        self.save_button = PushButton(text="Save (.h5mu or .zarr)")
        self.info = Label(value="No data loaded.")
        self.extend([self.mudata_file, self.sdata_file, self.rna_file, self.atac_file, self.image_file,
                     self.image_scale, self.genes_file, self.prior, self.load_button, self.info,
                     self.save_file, self.save_button])
        self.load_button.changed.connect(self.load)
        self.save_button.changed.connect(self.save)
        self.worker = None

    def load(self):
        kwargs = dict(mudata=_path(self.mudata_file), rna=_path(self.rna_file),
                      atac=_path(self.atac_file), image=_path(self.image_file),
                      image_scale=self.image_scale.value, genes=_path(self.genes_file),
                      prior=self.prior.value, sdata=_path(self.sdata_file))
        if kwargs["mudata"] is not None:
            kwargs["rna"] = kwargs["atac"] = kwargs["sdata"] = None
        elif kwargs["sdata"] is not None:
            kwargs["rna"] = kwargs["atac"] = None
        self.load_button.enabled = False
        self.info.value = "Loading..."
        self.worker = _workers.start(load_dataset, **kwargs, owner=self, on_return=self._loaded,
                                     on_error=self._failed,
                                     on_abort=lambda: self._failed("stopped."))
        self.worker.start()

    def _loaded(self, result):
        mdata, text, messages, layers = result
        name = Path(str(_path(self.mudata_file) or _path(self.sdata_file) or _path(self.rna_file)
                        or "factvae")).stem
        show_dataset(self.viewer, mdata, name, layers)
        for message in messages:
            show_warning(message)
        self.info.value = text
        self.load_button.enabled = True
        show_info(f"Loaded {text}")

    def _failed(self, error):
        self.info.value = f"Not loaded: {error}"
        self.load_button.enabled = True

    def save(self):
        from napari.utils.notifications import show_error

        _, mdata = _viewer_datasets.current(self.viewer)
        path = _path(self.save_file)
        if mdata is None or path is None:
            show_error("Load or open a dataset, and choose a file to save to.")
            return
        target = path if path.suffix == ".zarr" else path.with_suffix(".h5mu")
        overwrite = target.exists() and self._confirm_overwrite(target)
        if target.exists() and not overwrite:
            show_info(f"Not saved: {target} is kept as it was.")
            return
        self.save_button.enabled = False  # written in a worker: the viewer stays usable
        self.save_worker = worker = _workers.start(save_job, mdata, target, overwrite, owner=self,
                                on_return=lambda p: show_info(f"Saved {p}"),
                                on_finish=lambda: setattr(self.save_button, "enabled", True))
        worker.start()

    def _confirm_overwrite(self, path) -> bool:
        from qtpy.QtWidgets import QMessageBox

        answer = QMessageBox.question(self.native, "Overwrite?", f"{path} exists. Replace it?")
        return answer == QMessageBox.StandardButton.Yes
