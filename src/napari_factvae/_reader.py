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
    """A reader function for a .h5mu/.h5ad file or a SpatialData .zarr store, or None (quickly,
    never raising) otherwise. Any existing file of those names is taken, even a damaged or
    mislabelled one: reading it says what is wrong (napari's message for a refused file names
    no cause). A folder that is not a SpatialData store is left to other readers (napari
    offers them)."""
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
    return read_spatial


# npe2's "read, nothing to add": the reason is in a notification (an empty list would make
# napari raise "returned no data" on top of it)
NOTHING = [(None,)]


def _read(p: Path):
    """The dataset or result at `p`; every failure a FactVAEInputError naming the file."""
    if p.is_dir():  # a SpatialData store: validated as the Load widget does
        import factvae

        return factvae.load_paired(sdata=p)
    from factvae.io._read import _read_h5

    # not HDF5 (a renamed text file), truncated, damaged, not AnnData/MuData: one line each;
    # a result saved by an older version gets today's keys
    return _read_h5(p, "mudata" if p.suffix.lower() == ".h5mu" else "anndata")


def read_spatial(path):
    """Layers for one file or store: tissue image (if any) and spots with the spot table as
    features; NOTHING (after a notification saying why) when it cannot be read or has no
    spot coordinates."""
    from napari.utils.notifications import show_error, show_warning

    from factvae.errors import FactVAEInputError

    if isinstance(path, (list, tuple)):
        path = path[0]
    p = Path(str(path).rstrip("/\\"))
    try:
        obj = _read(p)
    except FactVAEInputError as err:
        show_error(str(err))
        return NOTHING
    layers = spot_layers(obj, name=p.stem, build_pyramid=False)  # readers run on the GUI thread
    if not layers:
        show_warning(f"{p.name}: no spot coordinates (obsm['spatial']); nothing to draw.")
        return NOTHING
    watch_current_viewer()
    pending = layers[-1][1]["metadata"].get(PENDING_IMAGE_KEY)
    if pending is not None:
        from ._qt._tissue_pyramid import build_tissue_later

        build_tissue_later(*pending)
    elif layers[0][1].get("multiscale"):
        from ._qt._show_dataset import suggest_async_rendering

        suggest_async_rendering()
    return layers
