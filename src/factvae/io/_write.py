"""Writing results: atomic writes (a half-written file never replaces a good one), strings
that every reader can open, .h5mu and .h5ad pairs."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import FactVAEInputError
from ._read import MODALITIES


def write_atomically(path: str | Path, write, *, field: str = "output") -> Path:
    """Call `write(tmp)` on `path.partial`, then rename it to `path`.

    A crash never leaves a half-written file under the real name, and a failure (disk full,
    Ctrl-C) removes the partial file. An OSError becomes one FactVAEInputError naming the file;
    any other exception is raised again as it is. Missing parent folders are created.

    Parameters
    ----------
    path : str or Path
        The file to write.
    write : callable
        `write(tmp)` writes the whole file to the path `tmp` it is given.
    field : str, default 'output'
        The field named in the error.

    Returns
    -------
    Path
        `path`.

    Raises
    ------
    FactVAEInputError
        If writing fails with an OSError (nothing is left behind).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):  # a file where a folder of the path should be
        blocker = next((p for p in [path.parent, *path.parent.parents] if p.is_file()),
                       path.parent)
        raise FactVAEInputError(f"cannot be written: {blocker} is a file, not a folder.",
                                file=str(path), field=field,
                                fix="choose a path whose folders are folders.") from None
    tmp = path.with_name(path.name + ".partial")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        if isinstance(err, OSError):
            why = err.strerror or str(err).splitlines()[0]
            raise FactVAEInputError(f"cannot be written ({why}); nothing was left behind.",
                                    file=str(path), field=field,
                                    fix="free some disk space or choose another folder.") from None
        raise
    return path


def _plain_strings(df):
    """pandas' string dtypes (the default once `future.infer_string` is on) as object columns:
    anndata refuses to write them unless told to, and files with them need anndata >= 0.11."""
    import pandas as pd

    def plain(values):
        if isinstance(values.dtype, pd.StringDtype):
            return values.astype(object)
        if isinstance(values.dtype, pd.CategoricalDtype) and isinstance(
                values.cat.categories.dtype, pd.StringDtype):
            return values.cat.rename_categories(values.cat.categories.astype(object))
        return values

    if isinstance(df.index.dtype, pd.StringDtype):
        df.index = df.index.astype(object)
    for col in df.columns:
        new = plain(df[col])
        if new is not df[col]:
            df[col] = new
    return df


def portable_strings(obj) -> None:
    """In place: every obs/var table and uns DataFrame of a MuData/AnnData with plain strings.

    pandas' string dtypes (the default once `future.infer_string` is on) become object columns
    (categories too), which anndata writes and every reader opens. The MuData's modalities are
    converted as well, and DataFrames in nested `uns` dicts.

    Parameters
    ----------
    obj : MuData or AnnData
        Changed in place.

    Returns
    -------
    None
    """
    import pandas as pd

    def walk_uns(d):
        for k, v in list(d.items()):
            if isinstance(v, pd.DataFrame):
                _plain_strings(v)
            elif isinstance(v, dict):
                walk_uns(v)

    parts = [obj] + list(getattr(obj, "mod", {}).values())
    for part in parts:
        for attr in ("obs", "var"):
            frame = getattr(part, attr)
            _plain_strings(frame)
        walk_uns(part.uns)


def write_h5mu(mdata, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write a MuData, refusing to replace an existing file unless `overwrite`.

    String columns are stored as plain strings, whatever pandas' string-dtype setting
    (`portable_strings`, in place). The file is written atomically (`write_atomically`).

    Parameters
    ----------
    mdata : MuData
        The data and its results.
    path : str or Path
        The .h5mu file to write.
    overwrite : bool, default False
        Replace an existing file.

    Returns
    -------
    Path
        The path written.

    Raises
    ------
    FactVAEInputError
        If `path` exists and `overwrite` is False, or the file cannot be written.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FactVAEInputError("already exists.", file=str(path), field="output",
                                fix="choose another path or pass --overwrite.")
    portable_strings(mdata)
    return write_atomically(path, mdata.write)


def write_h5ad_pair(mdata, rna_path: str | Path, atac_path: str | Path, *,
                    overwrite: bool = False) -> tuple[Path, Path]:
    """Write the two modalities as .h5ad files; coordinates go into both, the image into RNA.

    The MuData's spot-level obs columns are copied into each file (where the modality lacks
    them). Each file is written atomically (`write_atomically`).

    Parameters
    ----------
    mdata : MuData
        The data, with modalities 'rna' and 'atac'.
    rna_path, atac_path : str or Path
        The two .h5ad files to write.
    overwrite : bool, default False
        Replace existing files.

    Returns
    -------
    tuple of Path
        (rna_path, atac_path) as written.

    Raises
    ------
    FactVAEInputError
        If either file exists and `overwrite` is False (nothing is written then), or a file
        cannot be written.
    """
    out = []
    for p in (rna_path, atac_path):
        if Path(p).exists() and not overwrite:
            raise FactVAEInputError("already exists.", file=str(p), field="output",
                                    fix="choose another path or pass --overwrite.")
    for m, p in zip(MODALITIES, (rna_path, atac_path)):
        p = Path(p)
        adata = mdata.mod[m].copy()
        if "spatial" in mdata.obsm:
            adata.obsm["spatial"] = np.asarray(mdata.obsm["spatial"])
        if m == "rna" and "spatial" in mdata.uns:
            adata.uns["spatial"] = mdata.uns["spatial"]
        for col in mdata.obs.columns:
            if col not in adata.obs and ":" not in col:
                adata.obs[col] = mdata.obs[col].to_numpy()
        out.append(write_atomically(p, adata.write_h5ad))
    return out[0], out[1]
