"""Tissue images of any size for display: a list of levels (full resolution first, each half the
previous), read lazily.

- An image element of a SpatialData store (named in `uns['spatial'][lib]['metadata']`): its own
  pyramid when it has one; a single-scale image above `PYRAMID_ABOVE` px gets one built once and
  cached beside the store (`<store>.factvae-pyramid/<image>/`, reused while the image is
  unchanged).
- An image held in memory (`uns['spatial'][lib]['images']`, from an .h5mu or an image file):
  downsampled in memory above `PYRAMID_ABOVE` px.
Every level covers the same tissue: level k's pixel (r, c) is level 0's (r, c) * 2**k, so spots
drawn in level-0 pixels stay registered whatever level napari shows.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

PYRAMID_ABOVE = 4000   # longest side above which an image is shown as a pyramid


COARSEST = 1024        # levels are halved until the longest side is at most this


CHUNK = 512


def pyramid_factors(shape) -> list[int]:
    """Downsampling factors (each 2) for an image of `shape` (y, x, ...): none up to
    PYRAMID_ABOVE px, else halvings until the longest side is at most COARSEST."""
    side = max(shape[:2])
    if side <= PYRAMID_ABOVE:
        return []
    factors = []
    while side > COARSEST:
        factors.append(2)
        side = (side + 1) // 2
    return factors


def _half(level):
    """Half size by 2 x 2 means (uint8 out for uint8 in); a dask array stays lazy."""
    import dask.array as da

    h, w = level.shape[:2]
    level = level[: h - h % 2, : w - w % 2]
    integer = np.issubdtype(level.dtype, np.integer)
    if isinstance(level, da.Array):
        out = da.coarsen(np.mean, level, {0: 2, 1: 2}, trim_excess=True)
        return out.round().astype(level.dtype) if integer else out.astype(level.dtype)
    out = np.empty((level.shape[0] // 2, level.shape[1] // 2) + level.shape[2:], level.dtype)
    for i in range(0, level.shape[0], 2048):  # row blocks: a whole-slide image is never
        lv = np.asarray(level[i:i + 2048], np.float32)  # copied at float precision
        block = (lv[0::2, 0::2] + lv[1::2, 0::2] + lv[0::2, 1::2] + lv[1::2, 1::2]) / 4
        out[i // 2:i // 2 + len(block)] = block.round() if integer else block
    return out


def memory_pyramid(image: np.ndarray) -> list:
    levels = [image]
    for _ in pyramid_factors(image.shape):
        levels.append(_half(levels[-1]))
    return levels


def _yxc(arr):
    """A SpatialData image level (c, y, x) as (y, x[, c]) for napari; lazy."""
    data = arr.data if hasattr(arr, "data") else arr
    if data.shape[0] == 1:
        return data[0]
    return data.transpose(1, 2, 0)


def element_levels(element) -> list:
    """The levels of a SpatialData image element (DataTree: its scales; DataArray: one)."""
    if hasattr(element, "children") and len(element.children):
        names = sorted(element.children, key=lambda s: int(str(s).replace("scale", "") or 0))
        return [_yxc(next(iter(element[n].ds.data_vars.values()))) for n in names]
    return [_yxc(element)]


def cache_dir(store: Path, image: str) -> Path:
    return store.with_name(store.name + ".factvae-pyramid") / image


def _stamp(store: Path, image: str, shape, dtype) -> dict:
    src = store / "images" / image
    mtime = max((p.stat().st_mtime for p in src.rglob("*") if p.is_file()), default=0.0) \
        if src.is_dir() else 0.0
    return {"shape": [int(s) for s in shape], "dtype": str(dtype), "mtime": mtime}


def cached_pyramid(level0, store: Path, image: str, build: bool = True):
    """Levels 1.. of `level0` (dask, y x [c]) from the cache beside `store`, built when absent
    or stale (or None then, when not `build`). Falls back to an in-memory lazy pyramid when the
    folder cannot be written."""
    import dask.array as da

    folder = cache_dir(store, image)
    stamp = _stamp(store, image, level0.shape, level0.dtype)
    meta = folder / "factvae_pyramid.json"
    factors = pyramid_factors(level0.shape)
    try:
        if meta.is_file() and json.loads(meta.read_text()) == stamp:
            return [da.from_zarr(str(folder / str(k))) for k in range(1, len(factors) + 1)]
        if not build:
            return None
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True, exist_ok=True)
        levels, prev = [], level0
        for k in range(1, len(factors) + 1):
            half = _half(prev).rechunk((CHUNK, CHUNK) + (-1,) * (level0.ndim - 2))
            half.to_zarr(str(folder / str(k)))
            prev = da.from_zarr(str(folder / str(k)))
            levels.append(prev)
        meta.write_text(json.dumps(stamp))
        return levels
    except OSError:  # a read-only data folder: lazy levels computed on view
        shutil.rmtree(folder, ignore_errors=True)
        levels, prev = [], level0
        for _ in factors:
            prev = _half(prev)
            levels.append(prev)
        return levels


class PyramidPending(Exception):
    """The image needs a pyramid that is not built yet (`tissue_levels(build=False)`)."""

    def __init__(self, store: Path, image: str):
        super().__init__(f"{store}: image '{image}' has no cached pyramid yet")
        self.store, self.image = store, image


def tissue_levels(mdata, *, build: bool = True) -> list | None:
    """The tissue image of `mdata` for display: [level 0, level 1, ...] (one level for a small
    image), each (y, x) or (y, x, c), numpy or dask; None without an image. With
    `build=False`, a store image whose pyramid is not cached yet raises PyramidPending instead
    of building it (a caller on the GUI thread builds it in a worker)."""
    from ._spatial import first_library

    lib = first_library(mdata.uns)
    if lib is None:
        return None
    name, entry = lib
    images = entry.get("images") or {}
    if images:
        key = "hires" if "hires" in images else next(iter(images))
        return memory_pyramid(np.asarray(images[key]))
    meta = entry.get("metadata") or {}
    if meta.get("source") != "spatialdata" or not meta.get("store"):
        return None
    return store_levels(Path(meta["store"]), meta["image"], build=build)


def store_levels(store: Path, image: str, *, build: bool = True) -> list:
    """The levels of image element `image` in the SpatialData store `store`, lazily (see
    `tissue_levels` for `build`)."""
    import warnings

    import spatialdata as sd

    from ..errors import FactVAEInputError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            element = sd.read_zarr(store, selection=("images",)).images[image]
    except (KeyError, OSError, ValueError) as err:
        raise FactVAEInputError(f"the image '{image}' cannot be opened ({err}).", file=str(store),
                                field=f"images['{image}']",
                                fix="check that the store is where it was when the data were "
                                    "loaded.") from None
    levels = element_levels(element)
    if len(levels) == 1 and pyramid_factors(levels[0].shape):
        import dask.array as da

        level0 = levels[0] if isinstance(levels[0], da.Array) else da.from_array(levels[0])
        more = cached_pyramid(level0, store, image, build=build)
        if more is None:
            raise PyramidPending(store, image)
        levels = [levels[0], *more]
    return levels


def fitting_level(levels, max_side: int) -> tuple[np.ndarray, float]:
    """(the finest level of at most `max_side` px, halved further if none fits, in memory; its
    scale to level 0)."""
    fit = [lv for lv in levels if max(lv.shape[:2]) <= max_side]
    image = np.asarray(fit[0] if fit else levels[-1])
    scale = image.shape[0] / levels[0].shape[0]
    while max(image.shape[:2]) > max_side:
        image = _half(image)  # pixel (r, c) is (2r, 2c) before: exactly half
        scale /= 2
    return image, scale


def display_copy(element, max_side: int = PYRAMID_ABOVE) -> tuple[np.ndarray, float]:
    """(an in-memory copy of an image element, at most `max_side` px, as y x [c]; its scale to
    level 0)."""
    return fitting_level(element_levels(element), max_side)


def small_view(mdata, max_side: int = 2000):
    """`tissue_view(mdata)` with an image of at most `max_side` px (the finest pyramid level
    that fits, else halved) and the spots placed on it: for static pictures."""
    from dataclasses import replace

    from ._spatial import tissue_view

    view = tissue_view(mdata)
    if view is None:
        return None
    from ..errors import FactVAEInputError

    try:
        levels = tissue_levels(mdata)
    except FactVAEInputError:  # a moved store: the picture without the tissue
        levels = None
    if not levels:
        return view
    image, f = fitting_level(levels, max_side)
    return replace(view, image=image, scale=view.scale * f, spots_xy=view.spots_xy * f,
                   spot_diameter=view.spot_diameter * f)


def copy_sharing_images(mdata):
    """`mdata.copy()` whose tissue images (`uns['spatial'][lib]['images']`) are the same arrays
    as the original's: nothing in FactVAE writes to them, and a 30,000 px RGB image would cost
    2.7 GB more. The original's image dicts are set aside during the copy and put back."""
    libraries = mdata.uns.get("spatial")
    held = {}
    if hasattr(libraries, "items"):
        for lib, entry in libraries.items():
            if hasattr(entry, "get") and entry.get("images"):
                held[lib] = entry["images"]
                entry["images"] = {}
    try:
        out = mdata.copy()
    finally:
        for lib, images in held.items():
            libraries[lib]["images"] = images
    for lib, images in held.items():
        out.uns["spatial"][lib]["images"] = dict(images)  # the same arrays, in a dict of its own
    return out
