"""Reading several tissue sections from one SpatialData store, in the scverse layout
`write_spatialdata` writes them in (`_spatialdata_write.sections_to_spatialdata`): per section
a shapes element `spots_<section>` and its image, each in a coordinate system named after the
section; one table per modality annotating all the spots elements (its `region` column says
which element a row belongs to, its `spot_id` the row's instance there)."""

from __future__ import annotations

import pandas as pd

from ..keys import SAMPLE_KEY, SPOTS

PREFIX = f"{SPOTS}_"


def section_element(name: str) -> str:
    """The shapes element of a section's spots."""
    return f"{PREFIX}{name}"


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
