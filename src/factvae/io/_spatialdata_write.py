"""SpatialData out: the result tables annotating the spots, images with named channels, and
writing a store without losing what the user had in it."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import FactVAEInputError
from ..keys import INPUT_KEY, INSTANCE_KEY, JOINT_KEY, REGION_KEY, SDATA_KEY, SPOTS
from ._read import MODALITIES
from ._spatialdata_tables import onto_source, replace_tables, source_tables, spot_pixels
from ._store import open_store


def _portable_uns(d: dict) -> dict:
    """uns entries zarr/anndata can store: arrays of images are left out (they are elements),
    tuples become lists (anndata has no way to write a tuple)."""
    return {k: _listed(v) for k, v in d.items() if k not in ("spatial", SDATA_KEY, INPUT_KEY)}


def _listed(value):
    if isinstance(value, dict):
        return {k: _listed(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_listed(v) for v in value]
    return value


def result_tables(mdata, *, region: str = SPOTS, region_key: str = REGION_KEY,
                  instance_key: str = INSTANCE_KEY, rows=None, names=MODALITIES) -> dict:
    """The SpatialData tables of a MuData's results: one AnnData per modality.

    {table name: AnnData} for each modality: its counts and own results, plus the joint
    results (obs, obsm, uns of the MuData) listed in uns['factvae_joint']. `rows`: each spot's
    instance id in the spots element (default 0..n-1).

    The joint results are the MuData's obs columns (without ':'), its obsm arrays (not the
    modalities' nor 'spatial') and its uns entries (not 'spatial', 'factvae_sdata' nor
    'factvae_input'); `obsm['spatial']`, when present, is copied into each table. Strings are
    made portable (`portable_strings`) and each table is parsed as a SpatialData `TableModel`.

    Parameters
    ----------
    mdata : MuData
        The data and its results.
    region : str, default 'spots'
        The spots element the tables annotate.
    region_key : str, default 'region'
        The obs column naming that element.
    instance_key : str, default 'spot_id'
        The obs column holding each row's instance id.
    rows : array_like, optional
        Each spot's instance id in the spots element; default 0..n-1.
    names : tuple of str, default ('rna', 'atac')
        The table names of the (rna, atac) modalities.

    Returns
    -------
    dict
        {table name: AnnData}, one per modality; each table's `uns['factvae_joint']` lists the
        joint 'obs', 'obsm' and 'uns' entries.
    """
    import anndata as ad
    from spatialdata.models import TableModel

    from ._write import portable_strings

    rows = np.arange(mdata.n_obs) if rows is None else np.asarray(rows)
    joint_obs = [c for c in mdata.obs.columns if ":" not in c]
    joint_obsm = [k for k in mdata.obsm if k not in MODALITIES and k != "spatial"
                  and not hasattr(mdata.obsm[k], "columns")]
    joint_uns = list(_portable_uns(dict(mdata.uns)))
    out = {}
    for m, name in zip(MODALITIES, names):
        mod = mdata.mod[m]
        obs = mod.obs.drop(columns=[c for c in (region_key, instance_key) if c in mod.obs]).copy()
        for col in joint_obs:
            obs[col] = mdata.obs[col].values  # categories kept
        obs[region_key] = pd.Categorical([region] * mod.n_obs if isinstance(region, str)
                                         else np.asarray(region))  # one element per section
        obs[instance_key] = rows
        obsm = {k: np.asarray(mdata.obsm[k]) for k in joint_obsm}
        obsm.update((k, v) for k, v in mod.obsm.items() if k != "spatial")
        if "spatial" in mdata.obsm:
            obsm["spatial"] = np.asarray(mdata.obsm["spatial"])
        table = ad.AnnData(X=mod.X, obs=obs, var=mod.var.copy(), layers=dict(mod.layers),
                           varm=dict(mod.varm), obsm=obsm,
                           uns={**_portable_uns(dict(mod.uns)), **_portable_uns(dict(mdata.uns))})
        table.uns[JOINT_KEY] = {"obs": joint_obs, "obsm": joint_obsm, "uns": joint_uns}
        portable_strings(table)
        out[name] = TableModel.parse(table, region=region if isinstance(region, str) else
                                     list(pd.unique(np.asarray(region))), region_key=region_key,
                                     instance_key=instance_key)
    return out


def to_spatialdata(mdata, *, spots: str = SPOTS, coordinate_system: str = "global"):
    """A SpatialData object of a MuData: spots, result tables and the tissue image.

    A SpatialData of a MuData: the spots as circles in obsm['spatial'] units, one table per
    modality (`result_tables`), and the tissue image (a pyramid above 4,000 px) placed by its
    scale factor.

    The circles' diameter is the library's `spot_diameter_fullres`, else
    `default_spot_diameter`. The image ('hires' if present, else the first stored) of the
    first library in `uns['spatial']` becomes an image element named after the library, its
    channels named r, g, b (, a) for colour images.

    Parameters
    ----------
    mdata : MuData
        With spot centres in `obsm['spatial']`.
    spots : str, default 'spots'
        The name of the shapes element.
    coordinate_system : str, default 'global'
        The coordinate system of spots and image.

    Returns
    -------
    SpatialData
        In memory; write it with `write_spatialdata` (or its own `write`).

    Raises
    ------
    FactVAEInputError
        If the spots have no coordinates.
    """
    import geopandas as gpd
    import spatialdata as sd
    from spatialdata.models import Image2DModel, ShapesModel
    from spatialdata.transformations import Identity, Scale

    from ._spatial import default_spot_diameter, first_library

    if "spatial" not in mdata.obsm:
        raise FactVAEInputError("has no spot coordinates, so no SpatialData spots.",
                                field="obsm['spatial']", fix="store spot centres (x, y) first.")
    from ..tl._sections import section_key

    batch = section_key(mdata)
    if batch is not None:  # one spots element, image and coordinate system per section
        return sections_to_spatialdata(mdata, batch)
    xy = np.asarray(mdata.obsm["spatial"], float)
    lib = first_library(mdata.uns)
    sf = lib[1].get("scalefactors", {}) if lib else {}
    diameter = float(sf.get("spot_diameter_fullres") or default_spot_diameter(xy))
    gdf = gpd.GeoDataFrame({"radius": np.full(len(xy), diameter / 2)},
                           geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]),
                           index=np.arange(len(xy)))
    shapes = {spots: ShapesModel.parse(gdf, transformations={coordinate_system: Identity()})}
    images = {}
    if lib and lib[1].get("images"):
        key = "hires" if "hires" in lib[1]["images"] else next(iter(lib[1]["images"]))
        arr = np.asarray(lib[1]["images"][key])
        s = float(sf.get(f"tissue_{key}_scalef", 1.0))
        arr = arr[..., None] if arr.ndim == 2 else arr
        from ._images import pyramid_factors

        images[lib[0]] = Image2DModel.parse(
            np.moveaxis(arr, -1, 0), dims=("c", "y", "x"), c_coords=channel_names(arr.shape[-1]),
            scale_factors=pyramid_factors(arr.shape[:2]) or None,
            transformations={coordinate_system: Scale([1 / s, 1 / s], axes=("x", "y"))})
    tables = result_tables(mdata, region=spots)
    return sd.SpatialData(images=images, shapes=shapes, tables=tables)


def channel_names(n: int) -> list[str] | None:
    """Channel names napari-spatialdata and spatialdata-plot read as colour: r, g, b (and a).

    Parameters
    ----------
    n : int
        The number of channels.

    Returns
    -------
    list of str or None
        ['r', 'g', 'b'] for 3, ['r', 'g', 'b', 'a'] for 4, None for any other number.
    """
    return {3: ["r", "g", "b"], 4: ["r", "g", "b", "a"]}.get(n)


def _named_channels(image):
    """An RGB(A) image whose channels are only numbered gets r, g, b (, a): viewers otherwise
    show three grey channels. Multiscale images get it at every scale."""
    import xarray as xr

    def rename(arr):
        names = channel_names(arr.sizes.get("c", 0)) if "c" in arr.dims else None
        if names is None or [str(c) for c in arr.coords["c"].values] == names:
            return arr
        if not all(isinstance(c, (int, np.integer)) for c in arr.coords["c"].values):
            return arr  # named by the user: kept
        return arr.assign_coords(c=names)

    if isinstance(image, xr.DataArray):
        return rename(image)
    try:  # a DataTree of scales
        for node in image.subtree:
            if node.ds is not None and "image" in node.ds:
                node.ds = node.ds.assign(image=rename(node.ds["image"]))
    except (AttributeError, TypeError, ValueError):  # another layout: left as it is
        pass
    return image


def write_spatialdata(mdata, out: str | Path, *, overwrite: bool = False) -> Path:
    """Write `mdata` with its results as a SpatialData store.

    When it was read from a store (uns['factvae_sdata']), that store's elements are kept and
    each modality table gets the results (same names, same spots element); otherwise one is
    built (`to_spatialdata`). A table written from a store keeps every spot and feature it had,
    with its X, layers, obs and var as they were: the results of the spots and features QC
    dropped are missing (NaN, a missing category), obs/var['factvae_kept'] says which have
    results and uns['factvae_written'] lists what was written (reading the store again gives
    the analysed spots and features only). Writing into the store read from needs `overwrite`:
    only its tables change, each written beside the old one first and swapped in when complete.
    Elsewhere the store is written to `out.partial` and renamed. A source store with one table
    for both modalities keeps it and gets one result table per modality besides, named 'rna'
    and 'atac'. With `overwrite`, an existing store at `out` is removed only once the new one
    is complete.

    Parameters
    ----------
    mdata : MuData
        The data and its results.
    out : str or Path
        The .zarr store to write.
    overwrite : bool, default False
        Replace an existing store (the store read from: its tables only).

    Returns
    -------
    Path
        `out`.

    Raises
    ------
    FactVAEInputError
        If `out` exists and `overwrite` is False, the source store or the spots are unusable,
        or writing fails with an OSError (nothing is left behind).
    """
    import shutil

    import spatialdata as sd

    out = Path(out)
    record = dict(mdata.uns.get(SDATA_KEY, {}))
    source = Path(record["store"]) if record.get("store") else None
    if out.exists() and not overwrite:
        raise FactVAEInputError("already exists.", file=str(out), field="output",
                                fix="choose another path or pass --overwrite (a store read from "
                                    "gets its tables replaced, nothing else).")
    if source is not None and source.exists():
        from spatialdata.models import TableModel

        from ._write import portable_strings

        src = open_store(source)
        rows = mdata.mod["rna"].obs[record["instance_key"]].to_numpy()
        names = tuple(record["tables"])
        sources = source_tables(src, record, str(source))
        if names[0] == names[1]:  # one table for both modalities: kept; results per modality
            names = MODALITIES  # (the layout read first next time)
        results = result_tables(mdata, region=record["spots"], region_key=record["region_key"],
                                instance_key=record["instance_key"], rows=rows, names=names)
        spots = spot_pixels(src, record)
        tables = {}
        for m, name in zip(MODALITIES, names):  # the user's rows and columns, all of them
            table = onto_source(results[name], sources[m], instance_key=record["instance_key"],
                                 region_key=record["region_key"], spots=spots, file=str(source))
            table.uns.pop("spatialdata_attrs", None)
            portable_strings(table)
            tables[name] = TableModel.parse(table, region=record["spots"],
                                            region_key=record["region_key"],
                                            instance_key=record["instance_key"])
        if out.resolve() == source.resolve():
            replace_tables(src, source, tables)
            return out
        elements = {"images": {k: _named_channels(v) for k, v in src.images.items()},
                    "labels": dict(src.labels),
                    "shapes": dict(src.shapes), "points": dict(src.points),
                    "tables": {**{k: v for k, v in src.tables.items() if k not in tables},
                               **tables}}
        new = sd.SpatialData(**elements)
    else:
        new = to_spatialdata(mdata)

    tmp = out.with_name(out.name + ".partial")
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            new.write(tmp, overwrite=True)
    except BaseException as err:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(err, OSError):
            raise FactVAEInputError(f"cannot be written ({err.strerror or err}); nothing was "
                                    "left behind.", file=str(out), field="output",
                                    fix="free some disk space or choose another folder.") from None
        raise
    if out.exists():  # --overwrite: the old store goes only once the new one is complete
        old = out.with_name(out.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink()
    else:
        tmp.rename(out)
    return out


def sections_to_spatialdata(mdata, batch_key: str):
    """A SpatialData of a MuData holding several sections (see the module docstring).

    Parameters
    ----------
    mdata : MuData
        With the sections in `obs[batch_key]`, each section's coordinates in
        `obsm['spatial']` and its image in `uns['spatial'][section]` when it has one.
    batch_key : str
        The section column.

    Returns
    -------
    SpatialData
        In memory.
    """
    import geopandas as gpd
    import spatialdata as sd
    from spatialdata.models import Image2DModel, ShapesModel
    from spatialdata.transformations import Identity, Scale

    from ._images import pyramid_factors
    from ._sections_sdata import section_element
    from ._spatial import default_spot_diameter

    sections = mdata.obs[batch_key].astype(str).to_numpy()
    names = list(pd.unique(sections))
    xy_all = np.asarray(mdata.obsm["spatial"], float)[:, :2]
    libraries = dict(mdata.uns.get("spatial", {}) or {})
    shapes, images = {}, {}
    rows = np.zeros(mdata.n_obs, np.int64)
    for name in names:
        at = np.flatnonzero(sections == name)
        rows[at] = np.arange(len(at))
        xy = xy_all[at]
        entry = libraries.get(name, {}) or {}
        sf = entry.get("scalefactors", {}) or {}
        diameter = float(sf.get("spot_diameter_fullres") or default_spot_diameter(xy))
        gdf = gpd.GeoDataFrame({"radius": np.full(len(xy), diameter / 2)},
                               geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]),
                               index=np.arange(len(xy)))
        shapes[section_element(name)] = ShapesModel.parse(gdf, transformations={name: Identity()})
        stored = entry.get("images") or {}
        if stored:
            key = "hires" if "hires" in stored else next(iter(stored))
            arr = np.asarray(stored[key])
            arr = arr[..., None] if arr.ndim == 2 else arr
            s = float(sf.get(f"tissue_{key}_scalef", 1.0))
            images[f"image_{name}"] = Image2DModel.parse(
                np.moveaxis(arr, -1, 0), dims=("c", "y", "x"),
                c_coords=channel_names(arr.shape[-1]),
                scale_factors=pyramid_factors(arr.shape[:2]) or None,
                transformations={name: Scale([1 / s, 1 / s], axes=("x", "y"))})
    regions = np.array([section_element(s) for s in sections])
    tables = result_tables(mdata, region=regions, rows=rows)
    return sd.SpatialData(images=images, shapes=shapes, tables=tables)
