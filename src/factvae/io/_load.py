"""`load_paired`: one entry for every input form (.h5mu, an RNA + ATAC pair, SpatialData)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ..errors import FactVAEDataWarning, FactVAEInputError
from ..keys import INPUT_KEY
from ._assemble import _spatial_from, assemble, pair_spots
from ._read import MODALITIES, _clean_modality, _read_h5
from ._spatial import attach_image, check_spots_on_image, tissue_view


def load_paired(mudata: str | Path | None = None, *, rna: str | Path | None = None,
                atac: str | Path | None = None, image: str | Path | None = None,
                image_scale: float = 1.0, library_id: str | None = None,
                counts_layer: str | None = None, sdata=None, tables=None,
                image_element: str | None = None, coordinate_system: str | None = None):
    """Load and validate paired spatial RNA + ATAC counts into one MuData.

    Give either `mudata` (an .h5mu with modalities 'rna' and 'atac'), both `rna` and `atac`
    (.h5ad files), or `sdata` (a SpatialData object or .zarr store; `tables`, `image_element`
    and `coordinate_system` choose among several: see `factvae.io.read_sdata`). `image`
    (PNG/JPEG/TIFF) with `image_scale` (image pixels per unit of
    obsm['spatial']) replaces any image stored in the files. Raises FactVAEInputError with the
    file, the field and the fix for anything unusable.

    Each modality's raw counts are checked (finite, non-negative, integer, no count above
    `factvae.io.MAX_COUNT`; unique, non-empty spot and feature names) and only the spots
    profiled in both modalities are kept, in RNA's order (`pair_spots`). From an .h5mu, the
    keys older versions wrote are renamed to today's (`factvae.keys.upgrade`) and the results of
    an earlier run (spot-level obs columns, obsm embeddings) are kept.

    Parameters
    ----------
    mudata : str or Path, optional
        An .h5mu file holding modalities 'rna' and 'atac'.
    rna, atac : str or Path, optional
        Single-modality .h5ad files, given together.
    image : str or Path, optional
        A tissue image (PNG, JPEG or TIFF) to store with `attach_image`, replacing any image
        stored in the files; the spots must have coordinates.
    image_scale : float, default 1.0
        Image pixels per unit of obsm['spatial'].
    library_id : str, optional
        The library id the image is stored under in `uns['spatial']`; default: the image
        file's stem.
    counts_layer : str, optional
        The layer holding the raw counts, read from both modalities; default: each modality's
        `layers['counts']` if present, else `X`.
    sdata : SpatialData or str or Path, optional
        A SpatialData object or the path of its .zarr store.
    tables : tuple of str, optional
        With `sdata`: the names of the (rna, atac) tables.
    image_element : str, optional
        With `sdata`: the image element to show under the spots.
    coordinate_system : str, optional
        With `sdata`: the coordinate system in which spots and image meet.

    Returns
    -------
    MuData
        Modalities 'rna' and 'atac' with the checked raw counts (CSR float32) in `X`; spot
        centres in `mdata.obsm['spatial']` and the image in `mdata.uns['spatial']` (scanpy's
        convention) when there are any; `mdata.uns['factvae_input']`: the files read
        ('files') and the number of spots ('n_spots'); from `sdata`, also
        `mdata.uns['factvae_sdata']`: the store, tables and elements it came from.

    Raises
    ------
    FactVAEInputError
        If not exactly one input is given, or for anything unusable in it (a missing or
        unreadable file, a missing modality, counts that are not raw counts, duplicated
        names, no shared spot, bad coordinates, spots outside the image): the message names
        the file, the field and the fix.

    Warns
    -----
    FactVAEDataWarning
        When only some spots are in both modalities (the others are dropped), when RNA has
        more features than ATAC (swapped modalities?), and when there are no spot coordinates.
    """
    two_files = rna is not None and atac is not None
    given = sum(x is not None for x in (mudata, sdata)) + two_files
    if given != 1 or ((mudata is not None or sdata is not None) and (rna or atac)):
        raise FactVAEInputError("give one input: an .h5mu (mudata=...), a SpatialData store "
                                "(sdata=...), or both rna=... and atac=... .h5ad files.",
                                field="input", fix="see `factvae run --help`.")
    top_uns, top_obsm, record = None, None, None
    if sdata is not None and tables is None and image_element is None:
        several = _sections_of_store(sdata, counts_layer)
        if several is not None:
            return several
    if sdata is not None:
        from ._spatialdata import read_sdata

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
        from ..keys import SDATA_KEY
        from ._spatialdata import restore_joint

        mdata.uns[SDATA_KEY] = record
        restore_joint(mdata, rna_t)
    mdata.uns[INPUT_KEY] = {"files": [f for f in dict.fromkeys(files) if f],
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


def _sections_of_store(sdata, counts_layer):
    """A store whose tables annotate one spots element per section: the sections joined
    (`concat_sections`), else None."""
    from ._sections import concat_sections
    from ._sections_sdata import section_regions, split_by_region
    from ._store import is_spatialdata_store, open_store

    path = Path(sdata) if isinstance(sdata, (str, Path)) else None
    if path is not None and not is_spatialdata_store(path):
        return None  # read_sdata says what is wrong with it
    obj = open_store(path) if path is not None else sdata
    try:
        if not section_regions(obj):
            return None
    except FactVAEInputError:
        return None  # not a layout of ours: read_sdata names the fault with the file
    parts = split_by_region(obj)
    loaded = [load_paired(sdata=sub, counts_layer=counts_layer) for _, sub in parts]
    file = str(path) if path is not None else None
    return concat_sections(loaded, [name for name, _ in parts], files=[file] * len(parts))


def load_sections(inputs: list, names: list[str] | None = None, *, join: str = "inner",
                  **load_kwargs):
    """Load several sections and join them (`concat_sections`).

    Parameters
    ----------
    inputs : list
        Per section: an .h5mu path, a .zarr SpatialData store, or a (rna.h5ad, atac.h5ad) pair.
    names : list of str, optional
        The sections' names (default: the files' stems).
    join : str, default 'inner'
        As for `concat_sections`.
    **load_kwargs
        Passed to `load_paired` for each section (e.g. `counts_layer`).

    Returns
    -------
    MuData
        As `concat_sections`.

    Raises
    ------
    FactVAEInputError
        As `load_paired` for each input, and as `concat_sections`.
    """
    from ._sections import concat_sections
    from ._store import is_spatialdata_store

    loaded, files = [], []
    for item in inputs:
        if isinstance(item, (tuple, list)):
            rna, atac = item
            loaded.append(load_paired(rna=rna, atac=atac, **load_kwargs))
            files.append(str(rna))
        elif is_spatialdata_store(Path(item)):
            loaded.append(load_paired(sdata=item, **load_kwargs))
            files.append(str(item))
        else:
            loaded.append(load_paired(mudata=item, **load_kwargs))
            files.append(str(item))
    return concat_sections(loaded, names, join=join, files=files)
