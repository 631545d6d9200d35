"""Several tissue sections as one SpatialData store, in the scverse layout: per section a
shapes element `spots_<section>` and its image, each in a coordinate system named after the
section; one table per modality annotating all the spots elements (its `region` column says
which element a row belongs to, its `spot_id` the row's instance there). Reading such a store
gives the sections back (`obs['sample']`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..keys import SAMPLE_KEY, SPOTS

PREFIX = f"{SPOTS}_"


def section_element(name: str) -> str:
    """The shapes element of a section's spots."""
    return f"{PREFIX}{name}"


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
    from ._spatial import default_spot_diameter
    from ._spatialdata_write import channel_names, result_tables

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


def section_regions(sdata, tables=None) -> list[str]:
    """The spots elements the chosen tables annotate when they annotate several (one per
    section), else []."""
    from ._spatialdata import _attrs, _tables

    chosen = _tables(sdata, tables, None)
    region = _attrs(chosen["rna"][1], chosen["rna"][0], None)[0]
    return list(region) if len(region) > 1 else []


def split_by_region(sdata, tables=None) -> list[tuple[str, object]]:
    """[(section name, SpatialData of that section alone)]: its spots element, the images that
    share a coordinate system with it, and the tables' rows of that element."""
    import spatialdata as sd
    from spatialdata.models import TableModel
    from spatialdata.transformations import get_transformation

    from ._spatialdata import _attrs, _tables

    chosen = _tables(sdata, tables, None)
    regions, region_key, instance_key = _attrs(chosen["rna"][1], chosen["rna"][0], None)
    out = []
    for region in regions:
        element = sdata.shapes[region] if region in sdata.shapes else sdata.points[region]
        systems = set(get_transformation(element, get_all=True))
        images = {k: v for k, v in sdata.images.items()
                  if systems & set(get_transformation(v, get_all=True))}
        parts = {}
        for m, (_, table) in chosen.items():
            part = table[(table.obs[region_key].astype(str) == region).to_numpy()].copy()
            part.obs[region_key] = pd.Categorical([region] * part.n_obs)
            del part.uns["spatialdata_attrs"]
            parts[m] = TableModel.parse(part, region=region, region_key=region_key,
                                        instance_key=instance_key)
        name = region[len(PREFIX):] if region.startswith(PREFIX) else region
        if SAMPLE_KEY in parts["rna"].obs and parts["rna"].obs[SAMPLE_KEY].nunique() == 1:
            name = str(parts["rna"].obs[SAMPLE_KEY].iloc[0])  # the name we wrote
        for m in parts:  # one section each: the column names it again when joined
            parts[m].obs = parts[m].obs.drop(columns=[SAMPLE_KEY], errors="ignore")
        shapes = {region: element} if region in sdata.shapes else {}
        points = {region: element} if region in sdata.points else {}
        out.append((name, sd.SpatialData(images=images, shapes=shapes, points=points,
                                          tables=parts)))
    return out
