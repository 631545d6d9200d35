"""Reading and writing a whole dataset by the path's suffix: the one place that knows which
suffix means which format (the CLI, the Load widget and the napari writer all come here)."""

from __future__ import annotations

from pathlib import Path

RESULT_SUFFIXES = (".h5mu", ".zarr")


def write(mdata, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write `mdata` with its results: a SpatialData store for `.zarr`, else `.h5mu`.

    A `.zarr` path goes to `write_spatialdata` (the elements of the store it came from kept),
    any other suffix to `write_h5mu`. Atomic either way. Returns the path written.

    Parameters
    ----------
    mdata : MuData
        The data and its results.
    path : str or Path
        Where to write; the suffix chooses the format.
    overwrite : bool, default False
        Replace an existing file or store.

    Returns
    -------
    Path
        The path written.

    Raises
    ------
    FactVAEInputError
        If `path` exists and `overwrite` is False, or writing fails.
    """
    from ._spatialdata_write import write_spatialdata
    from ._write import write_h5mu

    if Path(path).suffix == ".zarr":
        return write_spatialdata(mdata, path, overwrite=overwrite)
    return write_h5mu(mdata, path, overwrite=overwrite)


def read(path: str | Path):
    """Open a dataset or a result: a SpatialData `.zarr` store, else an `.h5mu`.

    A SpatialData store (`is_spatialdata_store`) is read with `load_paired(sdata=path)`,
    anything else with `load_paired(path)`.

    Parameters
    ----------
    path : str or Path
        A SpatialData .zarr store or an .h5mu file.

    Returns
    -------
    MuData
        As `load_paired` returns it.

    Raises
    ------
    FactVAEInputError
        For anything `load_paired` cannot use.
    """
    from ._load import load_paired
    from ._store import is_spatialdata_store

    if is_spatialdata_store(path):
        return load_paired(sdata=path)
    return load_paired(path)
