"""Load a paired spatial ATAC + RNA dataset into one MuData (modalities 'rna' and 'atac'),
validating it on the way in, and write it back out.

After `load_paired`:
- `mdata.mod['rna'].X`, `mdata.mod['atac'].X`: raw counts, CSR float32, same spots in the same order;
- `mdata.obsm['spatial']`: spot centres (x, y) when the input had them;
- `mdata.uns['spatial'][library_id]`: image and scale factors (scanpy convention), when given.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from .errors import FactVAEDataWarning, FactVAEInputError
from .spatial import attach_image, check_spots_on_image, first_library, tissue_view

MODALITIES = ("rna", "atac")


def _read_h5(path: Path, role: str):
    """Read .h5ad or .h5mu, turning every failure into a FactVAEInputError naming the file."""
    if not path.exists():
        raise FactVAEInputError("file not found.", file=str(path), field=role,
                                fix="check the path.")
    if path.is_dir():
        from .sdata import is_spatialdata_store

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

                from .keys import upgrade

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


def counts_matrix(adata: ad.AnnData, name: str, *, file: str | None = None,
                  layer: str | None = None) -> sp.csr_matrix:
    """The raw counts of one modality as CSR float32, checked: finite, non-negative, integer.
    Taken from `layer`, else `layers['counts']` when present, else `X`."""
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


def pair_spots(rna: ad.AnnData, atac: ad.AnnData, *, files: tuple[str | None, str | None] = (None, None)
               ) -> tuple[ad.AnnData, ad.AnnData]:
    """Keep the spots profiled in both modalities, in RNA's order. No shared spot is an error;
    a partial overlap is intersected with a warning that says how many were dropped."""
    shared = rna.obs_names.intersection(atac.obs_names, sort=False)
    if len(shared) == 0:
        raise FactVAEInputError(
            f"RNA ({rna.n_obs} spots, e.g. {list(rna.obs_names[:2])}) and ATAC ({atac.n_obs} "
            f"spots, e.g. {list(atac.obs_names[:2])}) share no spot name.",
            file=" / ".join(f for f in files if f) or None, field="obs_names",
            fix="both modalities must name the same spots the same way (strip suffixes such "
                "as '-ATAC' or '#GEX' so the barcodes match).")
    if len(shared) < rna.n_obs or len(shared) < atac.n_obs:
        warnings.warn(
            f"RNA has {rna.n_obs} spots and ATAC {atac.n_obs}; keeping the {len(shared)} in both "
            f"(dropped {rna.n_obs - len(shared)} RNA-only and {atac.n_obs - len(shared)} "
            "ATAC-only spots).", FactVAEDataWarning, stacklevel=3)
    order = rna.obs_names[rna.obs_names.isin(shared)]
    return rna[order].copy(), atac[order].copy()


def _spatial_from(mods: dict, extra_uns=None):
    """Coordinates from RNA, then ATAC; the image library from the global object first."""
    coords = None
    for m in MODALITIES:
        if coords is None and "spatial" in mods[m].obsm:
            coords = np.asarray(mods[m].obsm["spatial"])
    lib = first_library(extra_uns) if extra_uns is not None else None
    for m in MODALITIES:
        if lib is None:
            lib = first_library(mods[m].uns)
    return coords, lib


def _not_numbers(values, n: int = 2) -> list:
    bad = []
    for v in values:
        try:
            float(v)
        except (TypeError, ValueError):
            bad.append(v)
            if len(bad) == n:
                break
    return bad


def spot_coordinates(coords, spots) -> np.ndarray:
    """obsm['spatial'] as an N x 2 float array, checked: numbers, and finite for every spot (a NaN
    would otherwise surface later as a spot 'outside the image' or a library error)."""
    try:
        xy = np.asarray(coords, dtype=np.float64)
    except (TypeError, ValueError):
        raw = np.asarray(coords, dtype=object).ravel()
        raise FactVAEInputError(f"holds values that are not numbers (e.g. {_not_numbers(raw)}).",
                                field="obsm['spatial']",
                                fix="store spot centres (x, y) as numbers.") from None
    if xy.ndim != 2 or xy.shape[1] < 2:
        raise FactVAEInputError(f"must be an N x 2 array of (x, y), got shape {xy.shape}.",
                                field="obsm['spatial']", fix="store spot centres as (x, y).")
    xy = xy[:, :2]
    bad = ~np.isfinite(xy).all(axis=1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        first = spots[row] if len(spots) == len(xy) else row
        raise FactVAEInputError(f"{int(bad.sum())} of {len(xy)} spots have NaN or infinite "
                                f"coordinates (first: {first!r}).", field="obsm['spatial']",
                                fix="give every spot its (x, y), or remove the spots without one.")
    return xy


def assemble(rna: ad.AnnData, atac: ad.AnnData, *, coords=None, library=None, uns=None):
    """One MuData from two aligned modalities; spatial data stored once, at the top level."""
    import mudata

    for m in (rna, atac):
        m.uns.pop("spatial", None)
    with mudata.set_options(pull_on_update=False):
        mdata = mudata.MuData({"rna": rna, "atac": atac})
    if coords is not None:
        mdata.obsm["spatial"] = spot_coordinates(coords, rna.obs_names)
    if library is not None:
        mdata.uns["spatial"] = {library[0]: library[1]}
    for k, v in (uns or {}).items():
        if k != "spatial":
            mdata.uns[k] = v
    return mdata


def load_paired(mudata: str | Path | None = None, *, rna: str | Path | None = None,
                atac: str | Path | None = None, image: str | Path | None = None,
                image_scale: float = 1.0, library_id: str | None = None,
                counts_layer: str | None = None, sdata=None, tables=None,
                image_element: str | None = None, coordinate_system: str | None = None):
    """Load and validate paired spatial RNA + ATAC counts into one MuData.

    Give either `mudata` (an .h5mu with modalities 'rna' and 'atac'), both `rna` and `atac`
    (.h5ad files), or `sdata` (a SpatialData object or .zarr store; `tables`, `image_element`
    and `coordinate_system` choose among several: see `factvae.sdata`). `image`
    (PNG/JPEG/TIFF) with `image_scale` (image pixels per unit of
    obsm['spatial']) replaces any image stored in the files. Raises FactVAEInputError with the
    file, the field and the fix for anything unusable.
    """
    two_files = rna is not None and atac is not None
    given = sum(x is not None for x in (mudata, sdata)) + two_files
    if given != 1 or ((mudata is not None or sdata is not None) and (rna or atac)):
        raise FactVAEInputError("give one input: an .h5mu (mudata=...), a SpatialData store "
                                "(sdata=...), or both rna=... and atac=... .h5ad files.",
                                field="input", fix="see `factvae run --help`.")
    top_uns, top_obsm, record = None, None, None
    if sdata is not None:
        from .sdata import read_sdata

        rna_t, atac_t, library, record = read_sdata(sdata, tables=tables, image=image_element,
                                                    coordinate_system=coordinate_system)
        files = (record["store"] or None, record["store"] or None)
        mods = {"rna": rna_t, "atac": atac_t}
        top_uns = {"spatial": {library[0]: library[1]}} if library else None
    elif mudata is not None:
        path = Path(mudata)
        obj = _read_h5(path, "mudata")
        if not hasattr(obj, "mod"):
            raise FactVAEInputError("is a single AnnData, not a MuData with 'rna' and 'atac'.",
                                    file=str(path), field="modalities",
                                    fix="pass it as --rna or --atac with its partner file, or "
                                        "save both as one MuData({'rna': ..., 'atac': ...}).")
        missing = [m for m in MODALITIES if m not in obj.mod]
        if missing:
            raise FactVAEInputError(f"has modalities {list(obj.mod)}; missing {missing}.",
                                    file=str(path), field="mod",
                                    fix="name the modalities 'rna' and 'atac' "
                                        "(e.g. mdata.mod['atac'] = mdata.mod.pop('peaks')).")
        files = (str(path), str(path))
        mods = {m: obj.mod[m] for m in MODALITIES}
        top_uns, top_obsm = dict(obj.uns), dict(obj.obsm)
    else:
        files = (str(rna), str(atac))
        mods = {}
        for m, p in zip(MODALITIES, (rna, atac)):
            obj = _read_h5(Path(p), m)
            if hasattr(obj, "mod"):
                raise FactVAEInputError("is a MuData file, expected a single-modality .h5ad.",
                                        file=str(p), field=m, fix="pass it with --mudata instead.")
            mods[m] = obj
    if counts_layer is not None:
        lacking = [m for m in MODALITIES if counts_layer not in mods[m].layers]
        if len(lacking) == 1:  # both lacking: counts_matrix says so for the first
            m = lacking[0]
            other = next(o for o in MODALITIES if o != m)
            raise FactVAEInputError(
                f"has no layer '{counts_layer}' (only {other} has it); the counts layer is read "
                f"from both modalities.", file=files[MODALITIES.index(m)],
                field=f"{m}.layers['{counts_layer}']",
                fix=f"store {m}'s raw counts in layers['{counts_layer}'] too, or leave the counts "
                    "layer out (then each modality uses layers['counts'] if present, else X).")
    cleaned = {m: _clean_modality(mods[m], m, f, counts_layer) for m, f in zip(MODALITIES, files)}
    if top_obsm is not None and "spatial" in top_obsm:
        for m in MODALITIES:  # global coordinates follow the global obs order
            cleaned[m].obsm["spatial"] = np.asarray(top_obsm["spatial"])[
                obj.obs_names.get_indexer(cleaned[m].obs_names)]
    r, a = pair_spots(cleaned["rna"], cleaned["atac"], files=files)
    if r.n_vars > a.n_vars:  # paired data has ~20-40k genes and 50-500k peaks
        warnings.warn(
            f"RNA has {r.n_vars} features (e.g. {list(r.var_names[:2])}) and ATAC only "
            f"{a.n_vars} (e.g. {list(a.var_names[:2])}): more genes than peaks. Check that "
            "RNA and ATAC are not swapped.", FactVAEDataWarning, stacklevel=2)
    coords, lib = _spatial_from({"rna": r, "atac": a}, top_uns)
    try:
        mdata = assemble(r, a, coords=coords, library=lib,
                         uns={k: v for k, v in (top_uns or {}).items()})
    except FactVAEInputError as err:  # bad coordinates: say which file they came from
        raise err.with_file(files[0]) from None
    if mudata is not None:  # results of an earlier run: spot-level columns and embeddings
        rows = obj.obs_names.get_indexer(mdata.obs_names)
        for col in obj.obs.columns:
            if ":" not in col:
                mdata.obs[col] = obj.obs[col].iloc[rows].values
        for key, value in obj.obsm.items():
            if key != "spatial" and not hasattr(value, "columns") and key not in MODALITIES:
                mdata.obsm[key] = np.asarray(value)[rows]
    if record is not None:
        from .sdata import SDATA_KEY, restore_joint

        mdata.uns[SDATA_KEY] = record
        restore_joint(mdata, rna_t)
    mdata.uns["factvae_input"] = {"files": [f for f in dict.fromkeys(files) if f],
                                  "n_spots": int(mdata.n_obs)}
    if image is not None:
        if coords is None:
            raise FactVAEInputError("an image was given but the spots have no coordinates.",
                                    file=files[0], field="obsm['spatial']",
                                    fix="store spot centres (x, y) in obsm['spatial'].")
        attach_image(mdata, image, image_scale, library_id=library_id)
    if coords is None:
        warnings.warn("No spot coordinates (obsm['spatial']): everything works except the tissue "
                      "view.", FactVAEDataWarning, stacklevel=2)
    else:
        check_spots_on_image(tissue_view(mdata), file=str(image) if image else files[0])
    return mdata


def write_atomically(path: str | Path, write, *, field: str = "output") -> Path:
    """Call `write(tmp)` on `path.partial`, then rename it to `path`: a crash never leaves a
    half-written file under the real name, and a failure (disk full, Ctrl-C) removes the partial
    file. An OSError becomes one FactVAEInputError naming the file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
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
    """In place: every obs/var table and uns DataFrame of a MuData/AnnData with plain strings."""
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
    """Write a MuData, refusing to replace an existing file unless `overwrite`. String columns
    are stored as plain strings, whatever pandas' string-dtype setting."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise FactVAEInputError("already exists.", file=str(path), field="output",
                                fix="choose another path or pass --overwrite.")
    portable_strings(mdata)
    return write_atomically(path, mdata.write)


def write_h5ad_pair(mdata, rna_path: str | Path, atac_path: str | Path, *,
                    overwrite: bool = False) -> tuple[Path, Path]:
    """Write the two modalities as .h5ad files; coordinates go into both, the image into RNA."""
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
