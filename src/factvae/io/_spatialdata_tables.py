"""The tables written into a SpatialData store the data came from: the user's own table, every
spot and feature it had, with our results added (missing where QC dropped a spot or feature),
and written into the store without a moment where a table is lost."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import FactVAEInputError
from ..keys import KEPT_KEY, WRITTEN_KEY, is_result_key
from ._read import MODALITIES


def source_tables(src, record, file) -> dict:
    """{modality: the user's table it was read from}: every spot and feature it had (one table
    for both modalities: its part of each)."""
    from ._spatialdata import _split_by_modality

    names = list(record["tables"])
    missing = [t for t in dict.fromkeys(names) if t not in src.tables]
    if missing:
        raise FactVAEInputError(f"has no table {missing[0]!r} any more (tables: "
                                f"{list(src.tables)}); it changed since it was read.",
                                file=file, field="tables",
                                fix="read the store again and rerun, or write the results to "
                                    "an .h5mu instead.")
    if names[0] == names[1]:
        parts = _split_by_modality(src.tables[names[0]], names[0], file)
        if parts is not None:
            return {m: parts[m].copy() for m in MODALITIES}
    return {m: src.tables[t] for m, t in zip(MODALITIES, names)}


def spot_pixels(src, record):
    """(instance ids, N x 2 centres) of every spot of the element, in the pixels
    `obsm['spatial']` holds when read (`read_sdata`)."""
    from ._spatialdata import _apply, _spot_centres, _to_pixels

    element = record["spots"]
    xy, _, index = _spot_centres(src, element)
    spots_el = src.shapes[element] if element in src.shapes else src.points[element]
    image = record.get("image") or None
    to_px, _ = _to_pixels(src, spots_el, image if image in src.images else None,
                          record["coordinate_system"])
    return pd.Index(index), _apply(to_px, xy)


def _reindexed(values: pd.Series, at, n: int, index) -> pd.Series:
    """A column of the analysed rows, at positions `at` of `n` rows, missing elsewhere: NaN
    (floats), a missing category (categories, strings), pandas' NA (integers, booleans)."""
    dtype = values.dtype
    if dtype == object or isinstance(dtype, pd.StringDtype):
        try:
            values = values.astype("category")
        except TypeError:  # unhashable objects: pandas' own missing value below
            pass
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = np.full(n, -1, np.int64)
        codes[at] = values.cat.codes.to_numpy()
        out = pd.Categorical.from_codes(codes, dtype=values.dtype)
    elif isinstance(dtype, np.dtype) and dtype.kind in "biu":
        nullable = "boolean" if dtype.kind == "b" else (
            f"{'U' if dtype.kind == 'u' else ''}Int{8 * dtype.itemsize}")
        out = pd.array(np.zeros(n, dtype), dtype=nullable)
        out[np.setdiff1d(np.arange(n), at)] = pd.NA
        out[at] = values.to_numpy()
    elif isinstance(dtype, np.dtype) and dtype.kind in "fc":
        out = np.full(n, np.nan, dtype)
        out[at] = values.to_numpy()
    else:  # another extension type: pandas' own missing value
        out = pd.Series(values.to_numpy(), index=at).reindex(np.arange(n)).array
    return pd.Series(out, index=index)


def _reindexed_rows(value, at, n: int, index):
    """An obsm/varm entry of the analysed rows at positions `at` of `n`: NaN rows elsewhere
    (zero rows for a sparse one)."""
    import scipy.sparse as sp

    if hasattr(value, "columns"):  # a DataFrame
        df = value.reset_index(drop=True)
        df.index = at
        df = df.reindex(np.arange(n))
        df.index = index
        return df
    if sp.issparse(value):
        return _placed(value, at, None, (n, value.shape[1]))
    arr = np.asarray(value)
    dtype = arr.dtype if arr.dtype.kind in "fc" else (np.float64 if arr.dtype.kind in "biu"
                                                      else object)
    out = np.full((n,) + arr.shape[1:], np.nan if dtype != object else None, dtype)
    out[at] = arr
    return out


def _placed(X, rows, cols, shape):
    """A sparse matrix's entries moved to rows `rows` (and columns `cols`) of a larger one of
    `shape`: never dense, the other rows and columns empty."""
    import scipy.sparse as sp

    coo = sp.coo_matrix(X)
    r = np.asarray(rows)[coo.row]
    c = coo.col if cols is None else np.asarray(cols)[coo.col]
    return sp.csr_matrix((coo.data, (r, c)), shape=shape)


def onto_source(result, source, *, instance_key: str, region_key: str, spots=None,
                 file=None):
    """The user's table with our results: every spot and feature it had, its X, layers, obs,
    var, obsm, varm and uns as they were, plus the entries of `result` (the analysed spots and
    features) reindexed to all of them, missing where QC dropped a spot or feature.

    obs/var['factvae_kept'] says which have results; uns['factvae_written'] lists the entries
    written (those of an earlier write are replaced; dense layers too large to be worth
    reindexing are not written, listed under 'left_out'). An entry the user had under the same
    name is kept as it was, unless it is one of ours (`is_result_key`) or an earlier write's.
    `spots`: (instance ids, centres) of every spot, for obsm['spatial'] when the table lacks it.
    """
    import scipy.sparse as sp

    ids = pd.Index(source.obs[instance_key])
    where = f"obs['{instance_key}']"
    if not ids.is_unique:
        raise FactVAEInputError("names some spots twice, so the results cannot be placed.",
                                file=file, field=where, fix="give each row its own spot id.")
    rows = ids.get_indexer(pd.Index(result.obs[instance_key]))
    cols = source.var_names.get_indexer(result.var_names)
    if (rows < 0).any() or (cols < 0).any():
        raise FactVAEInputError("lacks spots or features of the results: the store changed "
                                "since it was read.", file=file, field=where,
                                fix="read the store again and rerun, or write the results to an "
                                    ".h5mu instead.")
    n, f = source.shape
    table = source
    before = dict(table.uns.get(WRITTEN_KEY, {}))

    def ours(slot, key, present):
        return key not in present or is_result_key(key) or key in list(before.get(slot, []))

    written = {slot: [] for slot in ("obs", "var", "obsm", "varm", "layers", "uns")}
    left_out = []
    for slot, frame, at, size in (("obs", result.obs, rows, n), ("var", result.var, cols, f)):
        target = getattr(table, slot)
        for col in frame.columns:
            if col in (region_key, instance_key, KEPT_KEY) or not ours(slot, col, target):
                continue
            target[col] = _reindexed(frame[col], at, size, target.index)
            written[slot].append(col)
    table.obs[KEPT_KEY] = np.isin(np.arange(n), rows)
    table.var[KEPT_KEY] = np.isin(np.arange(f), cols)
    for slot, entries, at, size, index in (("obsm", result.obsm, rows, n, table.obs_names),
                                           ("varm", result.varm, cols, f, table.var_names)):
        target = getattr(table, slot)
        for key, value in entries.items():
            if not ours(slot, key, target):
                continue
            if slot == "obsm" and key == "spatial" and spots is not None:
                pos = spots[0].get_indexer(ids)
                target[key] = np.asarray(spots[1], float)[pos] if (pos >= 0).all() else \
                    _reindexed_rows(value, at, size, index)
            else:
                target[key] = _reindexed_rows(value, at, size, index)
            written[slot].append(key)
    for key, value in result.layers.items():
        if not ours("layers", key, table.layers):
            continue
        if sp.issparse(value):
            table.layers[key] = _placed(value, rows, cols, (n, f))
            written["layers"].append(key)
        else:  # a dense spots x features layer: not made larger still
            left_out.append(f"layers['{key}'] (dense, so not reindexed to every spot)")
    for key, value in result.uns.items():
        if key != "spatialdata_attrs" and ours("uns", key, table.uns):
            table.uns[key] = value
            written["uns"].append(key)
    for slot, keys in before.items():  # an earlier write's entries not written now: stale
        if slot not in written:
            continue
        target = getattr(table, slot)
        for key in keys:
            if key not in written[slot] and key in target and key not in (KEPT_KEY, WRITTEN_KEY):
                del target[key]
    table.uns[WRITTEN_KEY] = {**written, "left_out": left_out}
    return table


def replace_tables(src, store: Path, tables: dict) -> None:
    """Write `tables` into the store `src` was read from without a moment where a table is
    lost: each is written under a name of its own first, and only when all are complete are
    the old ones moved out and the new ones renamed in (then the store's consolidated metadata
    is rewritten). A failure before that leaves the store as it was."""
    import shutil

    folder = store / "tables"
    staged = {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # zarr's notes on future defaults
            for name, table in tables.items():
                tmp = f"{name}-partial"
                while tmp in src.tables or (folder / tmp).exists():
                    tmp += "-"
                src.tables[tmp] = table
                staged[name] = tmp
                src.write_element(tmp)
    except BaseException as err:
        for tmp in staged.values():
            shutil.rmtree(folder / tmp, ignore_errors=True)
        try:
            _consolidate(src)
        except (OSError, ValueError):  # the first error is the one to say
            pass
        if isinstance(err, OSError):
            raise FactVAEInputError(f"cannot be written ({err.strerror or err}); the store is as "
                                    "it was.", file=str(store), field="tables",
                                    fix="free some disk space and run again.") from None
        raise
    for name, tmp in staged.items():
        old = store.with_name(f"{store.name}.{name}.old")
        shutil.rmtree(old, ignore_errors=True)
        if (folder / name).exists():
            (folder / name).rename(old)
        (folder / tmp).rename(folder / name)
        shutil.rmtree(old, ignore_errors=True)
    _consolidate(src)


def _consolidate(src) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if src.has_consolidated_metadata():
            src.write_consolidated_metadata()
