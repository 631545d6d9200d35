"""SpatialData (`.zarr`) in and out.

Accepted layouts (read by `read_sdata`, used by `load_paired(sdata=...)`):
- two tables, one per modality, named 'rna' and 'atac' (or named with `tables=(rna, atac)`),
  both annotating the same spots element;
- one table holding both modalities, split by a `var` column 'modality' (values 'rna'/'atac')
  or 'feature_types' (10x: 'Gene Expression' / 'Peaks').
The spots are a shapes element (circles: a Point geometry and a 'radius'; polygons give their
centroid) or a points element ('x', 'y'), matched to the table rows by the table's instance key.
The tissue image is an image element (multiscale or not) with a transformation to a coordinate
system of the spots; spot centres become its level-0 pixels (`obsm['spatial']`, scale 1), and
the image itself stays on disk: `uns['spatial'][image]['metadata']` names the store and element
(`factvae.images.tissue_levels` opens it lazily).

Written back (`write_spatialdata`): each modality table gets the joint results (obs columns such
as `factvae_domain`, obsm embeddings, colours and parameters in uns) as well as its own (varm
feature embeddings); `uns['factvae_joint']` lists which entries are joint, so reading the store
again gives the same MuData. The elements are copied unchanged. A table written into (or from)
the user's store keeps every spot and feature it had, those QC dropped marked False in
obs/var['factvae_kept']: read again, only the marked True are read, as they were analysed.

A sparse matrix whose index arrays disagree on disk (a missing chunk of `indptr` or `indices`
reads as zeros) is refused, naming the table and field (`check_stored_matrices`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import FactVAEInputError
from ..keys import JOINT_KEY, KEPT_KEY, WRITTEN_KEY
from ._read import check_stored_matrices
from ._store import open_store

MODALITIES = ("rna", "atac")


_FEATURE_TYPES = {"gene expression": "rna", "rna": "rna", "gex": "rna", "peaks": "atac",
                  "atac": "atac", "chromatin accessibility": "atac"}


def _attrs(table, name, file):
    attrs = table.uns.get("spatialdata_attrs")
    if not attrs or not attrs.get("region"):
        raise FactVAEInputError("annotates no element (no uns['spatialdata_attrs']['region']).",
                                file=file, field=f"tables['{name}']",
                                fix="link it to the spots with spatialdata.models.TableModel.parse("
                                    "table, region='spots', region_key=..., instance_key=...).")
    region = attrs["region"]
    region = [region] if isinstance(region, str) else list(region)
    return region, attrs["region_key"], attrs["instance_key"]


def _split_by_modality(table, name, file):
    for col in ("modality", "feature_types"):
        if col in table.var:
            kind = table.var[col].astype(str).str.lower().map(_FEATURE_TYPES)
            parts = {m: table[:, (kind == m).to_numpy()] for m in MODALITIES}
            missing = [m for m, a in parts.items() if a.n_vars == 0]
            if missing:
                raise FactVAEInputError(
                    f"var['{col}'] has values {sorted(table.var[col].astype(str).unique())[:5]}; "
                    f"no feature is {missing}.", file=file, field=f"tables['{name}'].var['{col}']",
                    fix="mark genes 'rna' (or 'Gene Expression') and peaks 'atac' (or 'Peaks').")
            return parts
    return None


def _tables(sdata, tables, file):
    """{modality: (table name, AnnData)}."""
    names = list(sdata.tables)
    if tables is not None:
        chosen = dict(zip(MODALITIES, tables))
        for m, t in chosen.items():
            if t not in sdata.tables:
                raise FactVAEInputError(f"has no table '{t}' (tables: {names}).", file=file,
                                        field="tables", fix=f"name the {m} table from {names}.")
        return {m: (t, sdata.tables[t]) for m, t in chosen.items()}
    if all(m in sdata.tables for m in MODALITIES):
        return {m: (m, sdata.tables[m]) for m in MODALITIES}
    for t in names:
        parts = _split_by_modality(sdata.tables[t], t, file)
        if parts is not None:
            return {m: (t, parts[m]) for m in MODALITIES}
    missing = [m for m in MODALITIES if m not in sdata.tables]
    raise FactVAEInputError(
        f"has tables {names}: missing {missing}, and no table has a var column 'modality' or "
        "'feature_types' to split.", file=file, field="tables",
        fix="store one table per modality named 'rna' and 'atac' (or pass tables=(rna, atac) / "
            "--tables RNA ATAC), or one table with var['modality'] in {'rna', 'atac'}.")


def _spot_centres(sdata, element):
    """(N x 2 centres in the element's own frame, diameters or None, index)."""
    if element in sdata.shapes:
        gdf = sdata.shapes[element]
        geom = gdf.geometry
        if (geom.geom_type == "Point").all():
            xy = np.c_[geom.x.to_numpy(), geom.y.to_numpy()]
            diam = 2 * gdf["radius"].to_numpy(float) if "radius" in gdf else None
        else:
            cent = geom.centroid
            xy = np.c_[cent.x.to_numpy(), cent.y.to_numpy()]
            diam = 2 * np.sqrt(geom.area.to_numpy() / np.pi)
        return xy, diam, gdf.index
    df = sdata.points[element].compute()
    return df[["x", "y"]].to_numpy(float), None, df.index


def _affine(element, cs):
    from spatialdata.transformations import get_transformation

    t = get_transformation(element, to_coordinate_system=cs)
    return np.asarray(t.to_affine_matrix(input_axes=("x", "y"), output_axes=("x", "y")), float)


def _apply(A, xy):
    return xy @ A[:2, :2].T + A[:2, 2]


def _pick_image(sdata, spots_el, image, coordinate_system, file):
    """(image name or None, coordinate system)."""
    from spatialdata.transformations import get_transformation

    spot_cs = list(get_transformation(spots_el, get_all=True))
    if coordinate_system is not None and coordinate_system not in spot_cs:
        raise FactVAEInputError(f"the spots have no transformation to coordinate system "
                                f"'{coordinate_system}' (they have {spot_cs}).", file=file,
                                field="coordinate_system", fix=f"use one of {spot_cs}.")
    names = [image] if image is not None else list(sdata.images)
    if image is not None and image not in sdata.images:
        raise FactVAEInputError(f"has no image '{image}' (images: {list(sdata.images)}).",
                                file=file, field="image", fix="name one of its images.")
    for cs in ([coordinate_system] if coordinate_system else spot_cs):
        for name in names:
            if cs in get_transformation(sdata.images[name], get_all=True):
                return name, cs
    if names:
        img_cs = {n: list(get_transformation(sdata.images[n], get_all=True)) for n in names}
        raise FactVAEInputError(
            f"the image(s) {names} are in coordinate systems {img_cs}, the spots in {spot_cs}: "
            "no transformation links them.", file=file, field="images",
            fix="add a transformation from the image to the spots' coordinate system "
                "(spatialdata.transformations.set_transformation), or leave the image out.")
    return None, coordinate_system or ("global" if "global" in spot_cs else spot_cs[0])


def _to_pixels(sdata, spots_el, image_name, cs):
    """(affine from the spots' frame to the pixels `obsm['spatial']` holds, the image's scale
    factor): level-0 pixels of the image through coordinate system `cs` (a plain scale stays a
    scale factor, scanpy's convention), or `cs` itself without an image."""
    to_cs = _affine(spots_el, cs)
    if image_name is None:
        return to_cs, 1.0
    to_img = np.linalg.inv(_affine(sdata.images[image_name], cs))
    lin = to_img[:2, :2]
    if np.allclose(to_img[:2, 2], 0) and np.isclose(lin[0, 1], 0) and np.isclose(
            lin[1, 0], 0) and np.isclose(lin[0, 0], lin[1, 1]) and lin[0, 0] > 0:
        return to_cs, float(lin[0, 0])  # a plain scale: scanpy's convention holds it
    return to_img @ to_cs, 1.0  # rotation, shear, offset: the spots go into the image's pixels


def _analysed_only(table, name, file):
    """A table `write_spatialdata` wrote keeps the spots and features QC dropped, marked by
    obs/var['factvae_kept']: read, it gives the ones analysed (as the MuData written), the
    columns it wrote in their own dtypes again. Any other table: as it is."""
    rows = _mask(table.obs, name, "obs", file)
    cols = _mask(table.var, name, "var", file)
    if rows is None and cols is None:
        return table.copy()
    adata = table[slice(None) if rows is None else rows,
                  slice(None) if cols is None else cols].copy()
    written = adata.uns.pop(WRITTEN_KEY, None) or {}
    for axis in ("obs", "var"):
        df = getattr(adata, axis)
        df.drop(columns=[KEPT_KEY], inplace=True, errors="ignore")
        for col in written.get(axis, []):  # nullable on disk only for the rows without results
            if col in df and isinstance(df[col].dtype, pd.api.extensions.ExtensionDtype) \
                    and not isinstance(df[col].dtype, pd.CategoricalDtype) \
                    and not df[col].isna().any():
                numpy_dtype = getattr(df[col].dtype, "numpy_dtype", None)
                if numpy_dtype is not None:
                    df[col] = df[col].to_numpy(dtype=numpy_dtype)
    return adata


def _mask(df, name, axis, file):
    if KEPT_KEY not in df:
        return None
    kept = df[KEPT_KEY]
    if kept.isna().any() or not kept.isin([True, False]).all():
        raise FactVAEInputError(f"has values other than True/False in {axis}['{KEPT_KEY}'].",
                                file=file, field=f"tables['{name}'].{axis}['{KEPT_KEY}']",
                                fix="leave that column as factvae wrote it (True: analysed), or "
                                    "delete it to read every row and column.")
    return kept.to_numpy(bool)


def read_sdata(sdata, *, tables=None, image: str | None = None,
               coordinate_system: str | None = None):
    """Read the RNA and ATAC tables, spots and image of a SpatialData object or store.

    (rna, atac, uns['spatial'] library or None, source record) from a SpatialData object or
    `.zarr` path; each AnnData holds its table's rows with the spot centres in obsm['spatial']
    and obs_names the spot names. Raises one FactVAEInputError for each unusable layout.

    The accepted layouts are those of the module: two tables named 'rna' and 'atac' (or
    `tables`) annotating one spots element, or one table split by a `var` column 'modality' or
    'feature_types'. The spots are a shapes (circles or polygons) or points element; the
    modalities are paired by instance id and named as in the RNA table. Spot centres are
    placed in the chosen image's level-0 pixels; the image itself stays on disk (a display
    copy is taken only of a SpatialData object held in memory). A table `write_spatialdata`
    wrote gives only its spots and features with results (obs/var['factvae_kept'] True).

    Parameters
    ----------
    sdata : SpatialData or str or Path
        The object, or the path of its .zarr store (opened with `open_store`).
    tables : tuple of str, optional
        The names of the (rna, atac) tables; default: tables 'rna' and 'atac', else the first
        table that splits by modality.
    image : str, optional
        The image element; default: the first image with a transformation to a coordinate
        system of the spots (None when the store has no image).
    coordinate_system : str, optional
        Where spots and image meet; default: the first of the spots' systems an image shares,
        without an image 'global' (when the spots have it) or the spots' first.

    Returns
    -------
    tuple
        (rna, atac, library, record): the two AnnData; `library` = (library id, entry) for
        `uns['spatial']` (scale factors and the store's image in 'metadata'), or None when
        there is neither an image nor a spot diameter; `record`: 'store', 'spots', 'tables',
        'image', 'coordinate_system', 'region_key' and 'instance_key' (what `load_paired`
        stores in `uns['factvae_sdata']`).

    Raises
    ------
    FactVAEInputError
        For each unusable layout: missing tables, a table annotating no or several elements,
        the modalities annotating different elements, rows naming spots that are absent,
        no transformation linking image and spots, most spots outside the image; and (read
        from a path) a damaged sparse matrix in a table.
    """
    path, opened = None, isinstance(sdata, (str, Path))
    if opened:
        path = Path(sdata)
        sdata = open_store(path)
    elif getattr(sdata, "path", None) is not None:
        path = Path(sdata.path)
    file = str(path) if path else None
    chosen = _tables(sdata, tables, file)
    if opened:  # a chunk missing on disk reads as zeros: said before any slicing
        check_stored_matrices(path, sdata, [t for t, _ in chosen.values()])
    regions = {}
    for m, (t, table) in chosen.items():
        region, region_key, instance_key = _attrs(table, t, file)
        if len(region) != 1:
            raise FactVAEInputError(f"annotates several elements {region}.", file=file,
                                    field=f"tables['{t}']",
                                    fix="give one table per modality annotating one spots element.")
        regions[m] = (region[0], region_key, instance_key)
    element = regions["rna"][0]
    if regions["atac"][0] != element:
        raise FactVAEInputError(
            f"table '{chosen['rna'][0]}' annotates '{element}' but '{chosen['atac'][0]}' annotates "
            f"'{regions['atac'][0]}': the modalities must annotate the same spots.", file=file,
            field="tables", fix="link both tables to the same spots element.")
    if element not in sdata.shapes and element not in sdata.points:
        kind = "labels" if element in sdata.labels else ("an image" if element in sdata.images
                                                         else "missing")
        raise FactVAEInputError(
            f"the tables annotate '{element}', which is {kind}, not a shapes or points element "
            f"(shapes: {list(sdata.shapes)}, points: {list(sdata.points)}).", file=file,
            field=f"tables['{chosen['rna'][0]}'].uns['spatialdata_attrs']['region']",
            fix="annotate the spots (circles or points) with the tables.")
    spots_el = sdata.shapes[element] if element in sdata.shapes else sdata.points[element]
    xy, diam, index = _spot_centres(sdata, element)
    mods, names = {}, None
    for m, (t, table) in chosen.items():
        _, region_key, instance_key = regions[m]
        if instance_key not in table.obs:
            raise FactVAEInputError(f"has no obs['{instance_key}'] (its instance key).",
                                    file=file, field=f"tables['{t}']",
                                    fix="store each row's spot id in the instance key column.")
        ids = table.obs[instance_key].to_numpy()
        pos = pd.Index(index).get_indexer(ids)
        if (pos < 0).any():
            raise FactVAEInputError(f"{int((pos < 0).sum())} rows name spots not in '{element}' "
                                    f"(e.g. {list(ids[pos < 0][:3])}).", file=file,
                                    field=f"tables['{t}'].obs['{instance_key}']",
                                    fix=f"keep only rows of spots present in '{element}'.")
        keep = _mask(table.obs, t, "obs", file)
        if keep is not None:
            ids, pos = ids[keep], pos[keep]
        adata = _analysed_only(table, t, file)
        adata.uns.pop("spatialdata_attrs", None)
        adata.obsm["spatial"] = xy[pos]
        # the modalities are paired by spot (instance id), named as in the RNA table
        if names is None:
            names = dict(zip(ids, adata.obs_names.astype(str)))
            if len(set(names.values())) < len(names):
                names = {i: str(i) for i in ids}
        adata.obs_names = [names.get(i, f"{element}-{i}") for i in ids]
        mods[m] = adata
    image_name, cs = _pick_image(sdata, spots_el, image, coordinate_system, file)
    library = None
    record = {"store": str(path.resolve()) if path else "", "spots": element,
              "tables": [chosen[m][0] for m in MODALITIES], "image": image_name or "",
              "coordinate_system": cs, "region_key": regions["rna"][1],
              "instance_key": regions["rna"][2]}
    to_px, img_scale = _to_pixels(sdata, spots_el, image_name, cs)
    px_per_unit = float(np.sqrt(abs(np.linalg.det(to_px[:2, :2]))))
    for m in MODALITIES:
        mods[m].obsm["spatial"] = _apply(to_px, mods[m].obsm["spatial"])
    if image_name is not None:
        from ._images import display_copy, element_levels

        h, w = element_levels(sdata.images[image_name])[0].shape[:2]
        sx, sy = mods["rna"].obsm["spatial"].T * img_scale
        tol = float(np.median(diam) * px_per_unit * img_scale) if diam is not None else 0.0
        out = (sx < -tol) | (sy < -tol) | (sx > w + tol) | (sy > h + tol)
        if out.mean() > 0.5:
            raise FactVAEInputError(
                f"{int(out.sum())} of {len(sx)} spots fall outside image '{image_name}' ({w} x {h} "
                f"px) through the transformations to '{cs}'.", file=file,
                field=f"transformations of '{element}' / '{image_name}'",
                fix="set the transformations so that spots and image meet in one coordinate "
                    "system (spatialdata.transformations.set_transformation).")
        scalefactors = {"tissue_hires_scalef": img_scale}
        if diam is not None:
            scalefactors["spot_diameter_fullres"] = float(np.median(diam) * px_per_unit)
        library = (image_name, {"scalefactors": scalefactors,
                                "metadata": {"source": "spatialdata", "store": record["store"],
                                             "image": image_name}})
        if not record["store"]:  # an object in memory: take a display copy of the image
            copy, scale = display_copy(sdata.images[image_name])
            library[1]["images"] = {"hires": copy}
            library[1]["scalefactors"]["tissue_hires_scalef"] = scale * img_scale
    elif diam is not None:
        library = ("spots", {"scalefactors": {"tissue_hires_scalef": 1.0,
                                              "spot_diameter_fullres": float(np.median(diam)
                                                                             * px_per_unit)}})
    return mods["rna"], mods["atac"], library, record


def restore_joint(mdata, rna_table) -> None:
    """Move the joint results a `write_spatialdata` stored in each table back to the MuData.

    The entries listed in the table's `uns['factvae_joint']` (obs columns, with their
    categories; obsm arrays; uns entries) are copied from the RNA table to the MuData and
    removed from both modalities, as is `uns['factvae_joint']` itself. Nothing happens when
    the table lists none.

    Parameters
    ----------
    mdata : MuData
        Changed in place.
    rna_table : AnnData
        The RNA table the MuData was read from.

    Returns
    -------
    None
    """
    joint = rna_table.uns.get(JOINT_KEY)
    if not joint:
        return
    rows = rna_table.obs_names.get_indexer(mdata.obs_names)
    for col in joint.get("obs", []):
        if col in rna_table.obs:
            mdata.obs[col] = rna_table.obs[col].iloc[rows].to_numpy()
            if isinstance(rna_table.obs[col].dtype, pd.CategoricalDtype):
                mdata.obs[col] = pd.Categorical(mdata.obs[col],
                                                categories=rna_table.obs[col].cat.categories)
    for key in joint.get("obsm", []):
        if key in rna_table.obsm:
            mdata.obsm[key] = np.asarray(rna_table.obsm[key])[rows]
    for key in joint.get("uns", []):
        if key in rna_table.uns:
            mdata.uns[key] = rna_table.uns[key]
    for m in MODALITIES:
        mod = mdata.mod[m]
        for col in joint.get("obs", []):
            if col in mod.obs:
                del mod.obs[col]
        for key in joint.get("obsm", []):
            mod.obsm.pop(key, None)
        for key in joint.get("uns", []):
            mod.uns.pop(key, None)
        mod.uns.pop(JOINT_KEY, None)
