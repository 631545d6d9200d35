"""Which spots the shapes drawn on the tissue enclose: the polygons, rectangles and ellipses of
a napari Shapes layer tested against a spots layer, both in world coordinates, with the engine's
point-in-polygon (`factvae.tl._regions.region_mask`)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np


def _world(layer, coords: np.ndarray) -> np.ndarray:
    return np.asarray(layer._data_to_world(np.asarray(coords, float)))  # napari's affine


def _outline(vertices: np.ndarray, shape_type: str) -> np.ndarray | None:
    """A shape's outline as a polygon (rows of (row, col)); None for lines and paths."""
    if shape_type in ("polygon", "rectangle"):
        return vertices
    if shape_type == "ellipse":  # napari stores the four corners of the bounding box
        centre = vertices.mean(axis=0)
        half = (vertices.max(axis=0) - vertices.min(axis=0)) / 2
        t = np.linspace(0, 2 * np.pi, 64, endpoint=False)
        return centre + np.c_[half[0] * np.sin(t), half[1] * np.cos(t)]
    return None


def shapes_mask(spots, shapes) -> np.ndarray:
    """Spots of the `spots` Points layer inside any polygon, rectangle or ellipse of the
    `shapes` layer, both in world coordinates."""
    from factvae.tl._regions import region_mask

    pts = _world(spots, spots.data)[:, -2:]
    outlines = [_outline(_world(shapes, vertices)[:, -2:], kind)
                for vertices, kind in zip(shapes.data, shapes.shape_type)]
    # fewer than 3 vertices enclose no spot (the engine refuses them as polygons)
    outlines = [o for o in outlines if o is not None and len(o) >= 3]
    # the engine tests the spots' obsm['spatial']: here their world positions stand in for it
    # (rows and columns on both sides, so the order of the axes does not matter)
    spots_in_world = SimpleNamespace(n_obs=len(pts), obsm={"spatial": pts})
    return region_mask(spots_in_world, outlines)
