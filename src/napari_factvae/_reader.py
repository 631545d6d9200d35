"""Reader for .h5mu / .h5ad files and SpatialData .zarr stores (inputs, or results written by
`factvae run`)."""

from __future__ import annotations

from pathlib import Path

from ._layers import PENDING_IMAGE_KEY, image_layer, spot_layers

SUFFIXES = (".h5mu", ".h5ad")


def watch_current_viewer():
    """The reader returns layer data only: the domain map (the raster under the spots, the
    legend) is drawn once the spots are in the viewer, so watch the viewer they go to."""
    try:
        import napari

        from ._domain_map import watch

        watch(napari.current_viewer())
    except Exception:  # noqa: BLE001 - without a viewer (scripts) the layer data is enough
        pass


def build_tissue_later(pending, name: str):
    """A large single-scale image opened with File > Open: its pyramid is built once in a
    worker (the window stays usable; the spots and domains show at once) and the tissue is
    added under them when it is ready."""
    try:
        import napari
        from napari.utils.notifications import show_info
        from qtpy.QtCore import QTimer
    except ImportError:  # pragma: no cover - the reader is a napari contribution
        return
    viewer = napari.current_viewer()
    if viewer is None:
        return
    from factvae.io._images import store_levels

    from . import _workers
    from ._session import suggest_async_rendering

    def add(levels):
        data, kwargs, _ = image_layer(levels, name)
        layer = viewer.add_image(data, **kwargs)
        viewer.layers.move(viewer.layers.index(layer), 0)  # under the domains and spots
        show_info(f"{name}: image pyramid ready (cached for next time).")
        suggest_async_rendering()

    def start():
        show_info(f"{name}: building the image pyramid once, in the background; the tissue "
                  "appears when it is ready.")
        worker = _workers.start(store_levels, pending.store, pending.image, on_return=add)
        build_tissue_later.workers.append(worker)  # kept alive until it finishes
        worker.finished.connect(lambda: build_tissue_later.workers.remove(worker))
        worker.start()

    QTimer.singleShot(0, start)  # after napari has added the spots


build_tissue_later.workers = []


def get_reader(path):
    """A reader function for a spatial .h5mu/.h5ad, or None (quickly, never raising) otherwise."""
    if isinstance(path, (list, tuple)):
        if len(path) != 1:
            return None
        path = path[0]
    p = Path(str(path).rstrip("/\\"))
    if p.is_dir():
        from factvae.io._spatialdata import is_spatialdata_store

        return read_spatial if is_spatialdata_store(p) else None
    if p.suffix.lower() not in SUFFIXES or not p.is_file():
        return None
    try:
        import h5py

        if not h5py.is_hdf5(p):
            return None
        with h5py.File(p, "r") as f:
            if p.suffix.lower() == ".h5mu" and "mod" not in f:
                return None
            if p.suffix.lower() == ".h5ad" and "obs" not in f:
                return None
    except OSError:
        return None
    return read_spatial


def read_spatial(path):
    """Layers for one file: tissue image (if any) and spots with the spot table as features."""
    if isinstance(path, (list, tuple)):
        path = path[0]
    p = Path(str(path).rstrip("/\\"))
    if p.is_dir():  # a SpatialData store: validated as the Load widget does
        import factvae
        from factvae.errors import FactVAEInputError
        from napari.utils.notifications import show_error

        try:
            obj = factvae.load_paired(sdata=p)
        except FactVAEInputError as err:
            show_error(str(err))
            return []
    elif p.suffix.lower() == ".h5mu":
        import mudata

        from factvae.keys import upgrade

        obj = mudata.read_h5mu(p)
        upgrade(obj)  # a result saved by an older version: today's keys
    else:
        import anndata

        obj = anndata.read_h5ad(p)
    layers = spot_layers(obj, name=p.stem, build_pyramid=False)  # readers run on the GUI thread
    watch_current_viewer()
    pending = layers[-1][1]["metadata"].get(PENDING_IMAGE_KEY) if layers else None
    if pending is not None:
        build_tissue_later(*pending)
    elif layers and layers[0][1].get("multiscale"):
        from ._session import suggest_async_rendering

        suggest_async_rendering()
    if not layers:
        from napari.utils.notifications import show_warning

        show_warning(f"{p.name}: no spot coordinates (obsm['spatial']); nothing to draw.")
    return layers
