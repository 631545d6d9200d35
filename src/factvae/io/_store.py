"""A SpatialData store on disk: is a folder one, opening it, and naming the element that is
damaged when it cannot be read."""

from __future__ import annotations

import warnings
from pathlib import Path

from ..errors import FactVAEInputError


def is_spatialdata_store(path: str | Path) -> bool:
    """Whether `path` is a SpatialData store: a cheap check, without importing spatialdata.

    A SpatialData store is a zarr group whose attributes carry 'spatialdata_attrs'. Reads the
    group's `zarr.json` (zarr v3) or `.zattrs` (zarr v2).

    Parameters
    ----------
    path : str or Path
        A folder (or anything else: then False).

    Returns
    -------
    bool
        True for a SpatialData store; False otherwise, or when its metadata is unreadable.
    """
    import json

    p = Path(path)
    for name in ("zarr.json", ".zattrs"):
        f = p / name
        if f.is_file():
            try:
                meta = json.loads(f.read_text())
            except (OSError, ValueError):
                return False
            attrs = meta.get("attributes", meta) if name == "zarr.json" else meta
            return isinstance(attrs, dict) and "spatialdata_attrs" in attrs
    return False


def open_store(path: str | Path, field: str = "sdata"):
    """A SpatialData read lazily from `path`, or one clear error.

    When spatialdata cannot read the store, the error names the first damaged element
    (`damaged_element`) if there is one.

    Parameters
    ----------
    path : str or Path
        A SpatialData .zarr folder.
    field : str, default 'sdata'
        The field named in errors.

    Returns
    -------
    SpatialData
        Read with `spatialdata.read_zarr`.

    Raises
    ------
    FactVAEInputError
        If `path` is missing, is a file, is not a SpatialData store, or cannot be read.
    """
    p = Path(path)
    if not p.exists():
        raise FactVAEInputError("not found.", file=str(p), field=field,
                                fix="give the path of a SpatialData .zarr folder.")
    if not p.is_dir():
        raise FactVAEInputError("is a file, not a SpatialData .zarr folder.", file=str(p),
                                field=field, fix="give the .zarr folder (for .h5mu use --mudata).")
    if not is_spatialdata_store(p):
        raise FactVAEInputError("is not a SpatialData store (no 'spatialdata_attrs' in its zarr "
                                "attributes).", file=str(p), field=field,
                                fix="write it with spatialdata (sdata.write(path)) or a "
                                    "spatialdata-io reader, or give an .h5mu with --mudata.")
    import spatialdata as sd

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return sd.read_zarr(p)
    except Exception as err:  # noqa: BLE001 - zarr/ome-zarr raise many types
        broken = damaged_element(p)
        if broken is not None:
            where, why = broken
            raise FactVAEInputError(f"the element {where} is damaged ({why}); the rest of the "
                                    "store may be fine.", file=str(p), field=where,
                                    fix="restore that element from a backup or the original "
                                        "data, or remove it (and its table) from the store.") from None
        raise FactVAEInputError(f"cannot be read as SpatialData ({type(err).__name__}: {err}).",
                                file=str(p), field=field,
                                fix="re-write it with spatialdata >= 0.4.") from None


def damaged_element(store: Path) -> tuple[str, str] | None:
    """The first element of a store whose zarr metadata is unreadable JSON, or None.

    Returned as ('tables/rna', why). (Missing chunk files are not looked for: zarr leaves out
    chunks that hold only the fill value, so a missing chunk is not damage by itself.) Elements
    are searched among tables, images, labels, shapes and points, in that order.

    Parameters
    ----------
    store : Path
        The .zarr folder.

    Returns
    -------
    tuple of str, or None
        (element, why): e.g. ('tables/rna', the metadata file and the JSON error); None when
        every element's metadata reads.
    """
    import json

    for kind in ("tables", "images", "labels", "shapes", "points"):
        folder = store / kind
        if not folder.is_dir():
            continue
        for element in sorted(folder.iterdir()):
            if not element.is_dir():
                continue
            for meta in sorted(element.rglob("*")):
                if meta.name not in ("zarr.json", ".zattrs", ".zgroup", ".zarray"):
                    continue
                try:
                    json.loads(meta.read_text())
                except (OSError, ValueError) as err:
                    return f"{kind}/{element.name}", f"{meta.relative_to(store)}: {err}"
    return None
