"""Reading one modality's file (.h5ad or a modality inside .h5mu) and checking its counts
and names: each refusal names the file, the field and the fix."""

from __future__ import annotations

import warnings
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import FactVAEInputError

MODALITIES = ("rna", "atac")


def _read_h5(path: Path, role: str):
    """Read .h5ad or .h5mu, turning every failure into a FactVAEInputError naming the file."""
    if not path.exists():
        raise FactVAEInputError("file not found.", file=str(path), field=role,
                                fix="check the path.")
    if path.is_dir():
        from ._store import is_spatialdata_store

        if is_spatialdata_store(path):  # the right input, given to the wrong option
            raise FactVAEInputError("is a SpatialData store, not an .h5mu/.h5ad file.",
                                    file=str(path), field=role,
                                    fix=f"give it with --sdata {path} (Python: "
                                        "load_paired(sdata=...)).")
        raise FactVAEInputError("is a folder, not a file.", file=str(path), field=role,
                                fix="give the .h5mu or .h5ad file inside it.")
    try:
        import h5py

        if not h5py.is_hdf5(path):
            raise FactVAEInputError(
                "is not an HDF5 file, so not AnnData (.h5ad) or MuData (.h5mu).",
                file=str(path), field=role,
                fix="convert it with anndata/mudata (e.g. adata.write_h5ad) and try again.")
        with h5py.File(path, "r") as f:
            is_mudata = "mod" in f
            is_anndata = "X" in f or "obs" in f
        with warnings.catch_warnings():
            # anndata/mudata warn about duplicated names, sometimes several times; the check
            # right after loading says it once, with the field and the fix
            for text in (r"Duplicated (obs|var)_names", r"(obs|var)_names are not unique",
                         r"(Observation|Variable) names are not unique"):
                warnings.filterwarnings("ignore", message=text)
            if is_mudata:
                import mudata

                from ..keys import upgrade

                with h5py.File(path, "r") as f:  # mudata fails on these with a numpy error
                    _refuse_duplicated_names(f, path)

                mdata = mudata.read_h5mu(path)
                upgrade(mdata)  # a result saved by an older version: today's keys
                return mdata
            if is_anndata:
                return ad.read_h5ad(path)
    except FactVAEInputError:
        raise
    except Exception as err:  # anndata/h5py raise many types for corrupt files
        raise FactVAEInputError(f"cannot be read as AnnData/MuData ({type(err).__name__}: {err}).",
                                file=str(path), field=role,
                                fix="re-export the file with anndata or mudata.") from None
    raise FactVAEInputError("is an HDF5 file but holds neither AnnData nor MuData.",
                            file=str(path), field=role,
                            fix="give an .h5ad written by anndata or an .h5mu written by mudata.")


# above this a "count" is not a count (a scaled value or a missing-value code): log sizes and
# the decoders' sums would overflow float32 long before training could say why
MAX_COUNT = 1e9


def sparse_problem(X, stored: int | None = None) -> str | None:
    """What is structurally wrong with a CSR/CSC matrix, or None (also for any other matrix).

    A cheap check of the index arrays: `indptr` has one entry per row (CSC: column) plus one,
    starts at 0, never decreases and ends at the number of stored entries; `indices` lie in
    0..n_columns - 1; no (row, column) pair is stored twice. The last is only looked at when
    scipy's `has_canonical_format` (sorted, no repeats) is False. Such a matrix is what a
    damaged file gives (a missing zarr chunk of `indptr` or `indices` reads as zeros).

    Parameters
    ----------
    X : matrix
        Any matrix; only scipy CSR/CSC ones are checked.
    stored : int, optional
        How many entries the file stores (the length of `indices` on disk): scipy drops those
        beyond `indptr[-1]` when it builds the matrix, so only the file can tell.

    Returns
    -------
    str or None
        The problem, in words; None when the structure is sound.
    """
    if not sp.issparse(X) or X.format not in ("csr", "csc"):
        return None
    major, minor = X.shape if X.format == "csr" else X.shape[::-1]
    what = "row" if X.format == "csr" else "column"
    indptr, indices = np.asarray(X.indptr), np.asarray(X.indices)
    if len(indptr) != major + 1:
        return f"indptr has {len(indptr)} entries for {major} {what}s (expected {major + 1})"
    if indptr[0] != 0:
        return f"indptr starts at {int(indptr[0])}, not 0"
    step = np.diff(indptr)
    if (step < 0).any():
        k = int(np.flatnonzero(step < 0)[0])
        return (f"indptr decreases at {what} {k} ({int(indptr[k])}, then "
                f"{int(indptr[k + 1])})")
    n = len(indices) if stored is None else int(stored)
    if int(indptr[-1]) != n or len(X.data) != len(indices):
        values = "" if len(X.data) == n else f" ({len(X.data)} values)"
        return f"indptr ends at {int(indptr[-1])} but {n} entries are stored{values}"
    if n and (int(indices.min()) < 0 or int(indices.max()) >= minor):
        bad = int(((indices < 0) | (indices >= minor)).sum())
        return f"{bad} indices lie outside 0..{minor - 1}"
    if not X.has_canonical_format:
        summed = X.copy()
        summed.sum_duplicates()
        if summed.nnz < X.nnz:
            return f"{X.nnz - summed.nnz} entries repeat a (row, column) pair stored before"
    return None


def counts_matrix(adata: ad.AnnData, name: str, *, file: str | None = None,
                  layer: str | None = None) -> sp.csr_matrix:
    """The raw counts of one modality as CSR float32, checked: finite, non-negative, integer.

    Taken from `layer`, else `layers['counts']` when present, else `X`. A count above
    `MAX_COUNT` is refused too (not a count: a scaled value or a missing-value code). The
    matrix comes back with sorted indices.

    Parameters
    ----------
    adata : AnnData
        One modality.
    name : str
        The modality's name ('rna' or 'atac'), used in error messages.
    file : str, optional
        The file it was read from, used in error messages.
    layer : str, optional
        The layer holding the counts; default: `layers['counts']` when present, else `X`.

    Returns
    -------
    scipy.sparse.csr_matrix
        The counts, spots x features, float32.

    Raises
    ------
    FactVAEInputError
        If the layer is missing, there is no matrix, a sparse matrix's index arrays disagree
        (`sparse_problem`), or a value is NaN, infinite, negative, not an integer or above
        `MAX_COUNT`.
    """
    if layer is None:
        layer = "counts" if "counts" in adata.layers else None
    where = f"{name}.layers['{layer}']" if layer else f"{name}.X"
    if layer is not None and layer not in adata.layers:
        raise FactVAEInputError(f"no layer '{layer}'.", file=file, field=where,
                                fix=f"use one of {list(adata.layers)} or X.")
    X = adata.layers[layer] if layer else adata.X
    if X is None:
        raise FactVAEInputError("has no matrix.", file=file, field=where,
                                fix="store raw counts in X or layers['counts'].")
    broken = sparse_problem(X)
    if broken is not None:
        raise FactVAEInputError(f"is not a sound sparse matrix: {broken}.", file=file,
                                field=where,
                                fix="re-export the file from the original data (it may be "
                                    "damaged); if entries are repeated on purpose, add them up "
                                    "first (X.sum_duplicates()).")
    X = sp.csr_matrix(X, dtype=np.float32) if not sp.issparse(X) or X.format != "csr" else X
    data = X.data
    if not np.isfinite(data).all():
        raise FactVAEInputError(f"contains {int((~np.isfinite(data)).sum())} NaN or infinite values.",
                                file=file, field=where,
                                fix="give raw counts (integers >= 0); remove or zero the bad entries.")
    if (data < 0).any():
        raise FactVAEInputError(f"contains {int((data < 0).sum())} negative values; raw counts are "
                                "required.", file=file, field=where,
                                fix="give raw counts, not normalised or scaled data (keep them in "
                                    "layers['counts'] if X holds something else).")
    frac = data != np.round(data)
    if frac.any():
        raise FactVAEInputError(f"contains {int(frac.sum())} non-integer values (e.g. "
                                f"{data[frac][0]:g}); raw counts are required.", file=file,
                                field=where,
                                fix="give raw counts, not log-normalised data (keep them in "
                                    "layers['counts'] if X holds something else).")
    if data.size and data.max() > MAX_COUNT:
        k = int(np.argmax(data))
        row = int(np.searchsorted(X.indptr, k, side="right") - 1)
        spot, feature = adata.obs_names[row], adata.var_names[X.indices[k]]
        raise FactVAEInputError(f"holds a count of {data[k]:.3g} (spot {spot!r}, feature "
                                f"{feature!r}); no assay counts more than {MAX_COUNT:.0e} of one "
                                "feature in one spot, and such a count overflows the model's "
                                "sums.", file=file, field=where,
                                fix="check that these are raw counts (not scaled values or a "
                                    "missing-value code) and fix or remove that entry.")
    if X.dtype != np.float32:
        X = X.astype(np.float32)
    X.sort_indices()
    return X


def check_stored_matrices(store: str | Path, sdata, names) -> None:
    """Refuse a table whose sparse X or layer is damaged on disk, naming store, element, field.

    zarr leaves out chunks that hold only the fill value, so a chunk file deleted from a store
    is read back as zeros without a word: a missing chunk of `indptr` empties the matrix, one
    of `indices` moves its counts to the first feature. Each sparse matrix of the tables
    `names` is checked with `factvae.io._read.sparse_problem`, against the length of `indices`
    written in the store's metadata (no chunk is read again).

    Parameters
    ----------
    store : str or Path
        The .zarr folder `sdata` was read from.
    sdata : SpatialData
        As read from it (tables in memory).
    names : iterable of str
        The tables to check.

    Returns
    -------
    None

    Raises
    ------
    FactVAEInputError
        For the first damaged matrix: the store, 'tables/NAME/X' (or '.../layers/KEY') and the
        fix.
    """
    store = Path(store)
    for name in dict.fromkeys(names):
        table = sdata.tables[name]
        fields = {"X": table.X, **{f"layers/{k}": v for k, v in table.layers.items()}}
        for field, X in fields.items():
            if not hasattr(X, "indptr"):
                continue
            where = f"tables/{name}/{field}"
            broken = sparse_problem(X, stored=_stored_length(store / where / "indices"))
            if broken is not None:
                raise FactVAEInputError(
                    f"the sparse matrix {field} of element tables/{name} is damaged: {broken} "
                    "(a chunk file of its indptr or indices is probably missing: zarr reads a "
                    "missing chunk as zeros).", file=str(store), field=where,
                    fix=f"restore tables/{name} from a backup, or write it again from the "
                        f"original data (sdata.tables['{name}'] = adata; "
                        f"sdata.write_element('{name}')).")


def _stored_length(array: Path) -> int | None:
    """The length of a 1-d zarr array from its metadata (v3 zarr.json or v2 .zarray), or None."""
    import json

    for meta in ("zarr.json", ".zarray"):
        try:
            shape = json.loads((array / meta).read_text()).get("shape")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(shape, list) and len(shape) == 1:
            return int(shape[0])
    return None


def _refuse_duplicated_names(f, path) -> None:
    """Duplicated spot or feature names inside an .h5mu, said exactly as for an .h5ad (mudata
    itself cannot read some such files)."""
    mods = sorted(f["mod"], key=lambda m: (m not in MODALITIES, MODALITIES.index(m)
                                           if m in MODALITIES else 0, m))
    for mod in mods:
        for axis, what in (("obs", "obs_names (spots)"), ("var", "var_names (features)")):
            group = f["mod"][mod].get(axis)
            key = group.attrs.get("_index") if group is not None else None
            if key is None or key not in group:
                continue
            names = pd.Index([n.decode() if isinstance(n, bytes) else str(n)
                              for n in group[key][:]])
            dup = names[names.duplicated()]
            if len(dup):
                raise FactVAEInputError(
                    f"{len(dup)} duplicated {what}, e.g. {list(dup[:3])}.", file=str(path),
                    field=f"{mod}.{axis}_names", fix=_DUPLICATE_FIX)


_DUPLICATE_FIX = ("make them unique (e.g. adata.obs_names_make_unique() / "
                  "var_names_make_unique()) or remove the duplicates.")


def _check_names(adata: ad.AnnData, name: str, file: str | None) -> None:
    if adata.n_obs == 0 or adata.n_vars == 0:
        raise FactVAEInputError(f"is empty ({adata.n_obs} spots x {adata.n_vars} features).",
                                file=file, field=name, fix=f"give a non-empty {name} matrix.")
    for axis, names in (("obs_names (spots)", adata.obs_names), ("var_names (features)",
                                                                  adata.var_names)):
        dup = names[names.duplicated()]
        if len(dup):
            raise FactVAEInputError(
                f"{len(dup)} duplicated {axis}, e.g. {list(dup[:3])}.", file=file,
                field=f"{name}.{axis.split()[0]}", fix=_DUPLICATE_FIX)


def _clean_modality(adata: ad.AnnData, name: str, file: str | None, layer: str | None) -> ad.AnnData:
    _check_names(adata, name, file)
    X = counts_matrix(adata, name, file=file, layer=layer)
    layers = {k: v for k, v in adata.layers.items() if k != "counts"}
    out = ad.AnnData(X=X, obs=adata.obs.copy(), var=adata.var.copy(), layers=layers,
                     obsm=dict(adata.obsm), varm=dict(adata.varm), uns=dict(adata.uns))
    return out
