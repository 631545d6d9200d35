"""Reader for .h5mu / .h5ad files and SpatialData .zarr stores (inputs, or results written by
`factvae run`): the npe2 reader contribution, returning layer data."""

from __future__ import annotations

from pathlib import Path

from ._core._layers import PENDING_IMAGE_KEY, spot_layers

SUFFIXES = (".h5mu", ".h5ad")


def watch_current_viewer():
    """The reader returns layer data only: the domain map (the raster under the spots, the
    legend) is drawn once the spots are in the viewer, so watch the viewer they go to."""
    try:
        import napari

        from ._qt._map_display import watch

        watch(napari.current_viewer())
    except Exception:  # noqa: BLE001 - without a viewer (scripts) the layer data is enough
        pass


def get_reader(path):
    """A reader function for a spatial .h5mu/.h5ad, or None (quickly, never raising) otherwise."""
    if isinstance(path, (list, tuple)):
        if len(path) != 1:
            return None
        path = path[0]
    p = Path(str(path).rstrip("/\\"))
    if p.is_dir():
        from factvae.io._store import is_spatialdata_store

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
        from ._qt._tissue_pyramid import build_tissue_later

        build_tissue_later(*pending)
    elif layers and layers[0][1].get("multiscale"):
        from ._qt._show_dataset import suggest_async_rendering

        suggest_async_rendering()
    if not layers:
        from napari.utils.notifications import show_warning

        show_warning(f"{p.name}: no spot coordinates (obsm['spatial']); nothing to draw.")
    return layers
