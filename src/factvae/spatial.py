"""Spot coordinates and the tissue image, in the scanpy/squidpy convention.

`mdata.obsm['spatial']` holds spot centres in full-resolution pixels; the image and its scale
factors live in `mdata.uns['spatial'][library_id] = {'images': {'hires': HxW[x3] array},
'scalefactors': {'tissue_hires_scalef': s, 'spot_diameter_fullres': d}}`, so that a spot's
position in the stored image is s * obsm['spatial'].
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import FactVAEInputError

IMAGE_KEYS = ("hires", "lowres")
SCALE_KEYS = {"hires": "tissue_hires_scalef", "lowres": "tissue_lowres_scalef"}


@dataclass
class TissueView:
    """What a viewer needs to draw spots on the tissue: everything in image pixels (x, y)."""

    library_id: str
    image: np.ndarray | None       # H x W (x 3|4), or None when there is no image
    image_key: str | None
    scale: float                   # image pixels per full-resolution pixel
    spots_xy: np.ndarray           # N x 2, in image pixels
    spot_diameter: float           # in image pixels


def first_library(uns) -> tuple[str, dict] | None:
    """(library_id, entry) of the first library in an `uns['spatial']` mapping, if any."""
    spatial = uns.get("spatial") if hasattr(uns, "get") else None
    if not spatial or not hasattr(spatial, "items"):
        return None
    for lib, entry in spatial.items():
        if hasattr(entry, "get"):
            return str(lib), entry
    return None


def read_image(path: str | Path) -> np.ndarray:
    """An image file as a uint8 array (H x W or H x W x 3|4), with a clear error if it is not one."""
    path = Path(path)
    if not path.exists():
        raise FactVAEInputError("image file not found.", file=str(path), field="image",
                                fix="give the path of the tissue image (PNG, JPEG or TIFF).")
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = None  # whole-slide images are large by nature
    try:
        with Image.open(path) as im:
            if im.mode not in ("L", "RGB", "RGBA"):
                im = im.convert("RGB")
            arr = np.asarray(im)
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise FactVAEInputError(f"cannot be read as an image ({err}).", file=str(path),
                                field="image", fix="give a PNG, JPEG or TIFF image file.") from None
    if arr.dtype != np.uint8:
        lo, hi = float(arr.min()), float(arr.max())
        arr = ((arr - lo) / max(hi - lo, 1e-12) * 255).astype(np.uint8)
    return arr


def attach_image(mdata, path: str | Path, scale: float = 1.0, *, library_id: str | None = None,
                 spot_diameter_fullres: float | None = None) -> str:
    """Store an image file under `uns['spatial'][library_id]` with `tissue_hires_scalef = scale`
    (image pixels per unit of obsm['spatial']). Returns the library id."""
    if not np.isfinite(scale) or scale <= 0:
        raise FactVAEInputError(f"image scale must be a positive number, got {scale}.",
                                file=str(path), field="image scale",
                                fix="give image pixels per coordinate unit, e.g. 1.0 or 0.25.")
    image = read_image(path)
    library_id = library_id or Path(path).stem
    if spot_diameter_fullres is None:
        spot_diameter_fullres = default_spot_diameter(mdata.obsm.get("spatial"))
    mdata.uns["spatial"] = {library_id: {
        "images": {"hires": image},
        "scalefactors": {"tissue_hires_scalef": float(scale),
                         "spot_diameter_fullres": float(spot_diameter_fullres)},
        "metadata": {"source_image_path": str(path)}}}
    return library_id


def default_spot_diameter(coords: np.ndarray | None) -> float:
    """Half the median nearest-neighbour distance: the diameter/pitch ratio of Visium and DBiT."""
    if coords is None or len(coords) < 2:
        return 1.0
    from scipy.spatial import cKDTree

    sample = coords[:: max(1, len(coords) // 5000)]
    dist, _ = cKDTree(coords).query(sample, k=2)
    nn = float(np.median(dist[:, 1]))
    return nn / 2 if nn > 0 else 1.0


def tissue_view(mdata, *, image_key: str | None = None) -> TissueView | None:
    """Spots (and image, if any) in image-pixel coordinates; None for non-spatial data."""
    coords = mdata.obsm.get("spatial") if hasattr(mdata.obsm, "get") else None
    if coords is None:
        return None
    coords = np.asarray(coords, dtype=np.float64)[:, :2]
    lib = first_library(mdata.uns)
    if lib is None:
        return TissueView("", None, None, 1.0, coords, default_spot_diameter(coords))
    library_id, entry = lib
    images = entry.get("images", {}) or {}
    scalefactors = entry.get("scalefactors", {}) or {}
    keys = [image_key] if image_key else [k for k in IMAGE_KEYS if k in images]
    key = keys[0] if keys and keys[0] in images else None
    image = np.asarray(images[key]) if key else None
    scale = float(scalefactors.get(SCALE_KEYS.get(key, "tissue_hires_scalef"), 1.0)) if key else 1.0
    diameter = scalefactors.get("spot_diameter_fullres")
    diameter = float(diameter) if diameter is not None else default_spot_diameter(coords)
    return TissueView(library_id, image, key, scale, coords * scale, diameter * scale)


def check_spots_on_image(view: TissueView, *, file: str | None = None) -> None:
    """Every spot must fall on the image (within one spot diameter of its edge)."""
    if view is None or view.image is None:
        return
    h, w = view.image.shape[:2]
    tol = max(view.spot_diameter, 1.0)
    x, y = view.spots_xy[:, 0], view.spots_xy[:, 1]
    outside = (x < -tol) | (y < -tol) | (x > w + tol) | (y > h + tol) | ~np.isfinite(x + y)
    if outside.any():
        raise FactVAEInputError(
            f"{int(outside.sum())} of {len(x)} spots fall outside the {w}x{h} image once scaled "
            f"by {view.scale:g} (spots span x {np.nanmin(x):.0f}..{np.nanmax(x):.0f}, "
            f"y {np.nanmin(y):.0f}..{np.nanmax(y):.0f} image pixels).", file=file,
            field="obsm['spatial'] / image scale",
            fix="give the image's scale factor (image pixels per coordinate unit), check that "
                "obsm['spatial'] is (x, y) and not (row, col), and that the image is the right one.")
