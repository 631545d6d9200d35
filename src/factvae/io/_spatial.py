"""Spot coordinates and the tissue image, in the scanpy/squidpy convention.

`mdata.obsm['spatial']` holds spot centres in full-resolution pixels; the image and its scale
factors live in `mdata.uns['spatial'][library_id] = {'images': {'hires': HxW[x3] array},
'scalefactors': {'tissue_hires_scalef': s, 'spot_diameter_fullres': d}}`, so that a spot's
position in the stored image is s * obsm['spatial'].
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import FactVAEInputError

IMAGE_KEYS = ("hires", "lowres")


SCALE_KEYS = {"hires": "tissue_hires_scalef", "lowres": "tissue_lowres_scalef"}


@dataclass
class TissueView:
    """What a viewer needs to draw spots on the tissue: everything in image pixels (x, y).

    Made by `tissue_view`; each parameter is kept as the attribute of the same name.

    Parameters
    ----------
    library_id : str
        The library of `uns['spatial']` ('' when there is none).
    image : numpy.ndarray or None
        H x W (x 3|4), or None when there is no image.
    image_key : str or None
        The key of the image in the library's 'images' ('hires', 'lowres'), or None.
    scale : float
        Image pixels per full-resolution pixel (per unit of obsm['spatial']).
    spots_xy : numpy.ndarray
        N x 2 spot centres, in image pixels.
    spot_diameter : float
        In image pixels.
    diameter_from_data : bool
        True when no `spot_diameter_fullres` was given: the diameter is half the spot pitch,
        a guess.
    """

    library_id: str
    image: np.ndarray | None       # H x W (x 3|4), or None when there is no image
    image_key: str | None
    scale: float                   # image pixels per full-resolution pixel
    spots_xy: np.ndarray           # N x 2, in image pixels
    spot_diameter: float           # in image pixels
    diameter_from_data: bool = False  # no spot_diameter_fullres given: half the pitch, a guess

    @property
    def drawn_diameter(self) -> float:
        """The diameter spots are drawn with, in napari and in the static pictures alike: the
        assay's when the scale factors give it, else the pitch (guessed spots that touch, as
        a grid of cells looks, rather than half-size dots with gaps)."""
        if not self.diameter_from_data:
            return self.spot_diameter
        return spot_pitch(self.spots_xy) or self.spot_diameter


def first_library(uns) -> tuple[str, dict] | None:
    """(library_id, entry) of the first library in an `uns['spatial']` mapping, if any."""
    spatial = uns.get("spatial") if hasattr(uns, "get") else None
    if not spatial or not hasattr(spatial, "items"):
        return None
    for lib, entry in spatial.items():
        if hasattr(entry, "get"):
            return str(lib), entry
    return None


def as_display_uint8(arr: np.ndarray) -> np.ndarray:
    """An image as uint8 for display. Floats in [0, 1] (scanpy's convention) are scaled by 255;
    other floats and 16/32-bit integers are stretched from their lowest to their highest value
    (a 12-bit scan in a 16-bit file would otherwise be nearly black, and a plain cast of floats
    or of values above 255 all black or all white). NaN shows as black. Row blocks in float32:
    a whole-slide image is never copied at full precision."""
    arr = np.asarray(arr)
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == bool:
        return arr.astype(np.uint8) * 255
    floating = np.issubdtype(arr.dtype, np.floating)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN image: handled below
        lo = float(np.nanmin(arr)) if arr.size else 0.0
        hi = float(np.nanmax(arr)) if arr.size else 0.0
    if not (np.isfinite(lo) and np.isfinite(hi)):  # all NaN, or infinities
        finite = arr[np.isfinite(arr)] if floating else arr
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    if floating and lo >= 0 and hi <= 1:
        lo, hi = 0.0, 1.0
    elif not floating and lo >= 0 and hi <= 255:
        lo, hi = 0.0, 255.0  # already in the 8-bit range: keep it as it is
    out = np.empty(arr.shape, np.uint8)
    step = max(1, (1 << 24) // max(1, arr[:1].size))  # ~16 M values per block
    for i in range(0, arr.shape[0] if arr.ndim else 1, step):
        block = np.asarray(arr[i:i + step], np.float32)
        block = np.nan_to_num((block - lo) * (255.0 / max(hi - lo, 1e-12)), nan=0.0,
                              posinf=255.0, neginf=0.0)
        out[i:i + step] = np.clip(np.rint(block), 0, 255)
    return out


def read_image(path: str | Path) -> np.ndarray:
    """An image file as a uint8 array (H x W or H x W x 3|4), with a clear error if it is not one.

    16-bit and float images are rescaled to 0..255 (see `as_display_uint8`). Read with PIL
    (no limit on the pixel count: whole-slide images are large by nature); TIFFs PIL cannot
    read in full (16-bit colour, float colour) are read with tifffile.

    Parameters
    ----------
    path : str or Path
        A PNG, JPEG or TIFF file.

    Returns
    -------
    numpy.ndarray
        uint8, H x W or H x W x 3|4.

    Raises
    ------
    FactVAEInputError
        If the file is missing, is a folder, or cannot be read as an image.
    """
    path = Path(path)
    if not path.exists():
        raise FactVAEInputError("image file not found.", file=str(path), field="image",
                                fix="give the path of the tissue image (PNG, JPEG or TIFF).")
    if path.is_dir():
        raise FactVAEInputError("is a folder, not an image.", file=str(path), field="image",
                                fix="give the image file inside it (PNG, JPEG or TIFF).")
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = None  # whole-slide images are large by nature
    try:
        with Image.open(path) as im:
            if _deep_colour_tiff(im):  # PIL keeps only the top 8 bits of 16-bit colour TIFFs
                arr = _read_tiff(path)
                if arr is not None:
                    return as_display_uint8(arr)
            # 16-bit ('I;16*'), 32-bit ('I') and float ('F') greyscale: keep the values, rescale
            # below; converting them with PIL clips to 255 (all white) or to 0 (all black)
            if im.mode not in ("L", "RGB", "RGBA") and not im.mode.startswith(("I", "F")):
                im = im.convert("RGBA" if "A" in im.mode or "transparency" in im.info else "RGB")
            arr = np.asarray(im)
    except (UnidentifiedImageError, OSError, ValueError) as err:
        # PIL opens no float colour TIFF (and some other TIFFs): tifffile reads them
        if path.suffix.lower() in (".tif", ".tiff"):
            try:
                arr = _read_tiff(path)
            except Exception:  # noqa: BLE001 - a damaged file: said below as PIL's error
                arr = None
            if arr is not None:
                return as_display_uint8(arr)
        raise FactVAEInputError(f"cannot be read as an image ({err}).", file=str(path),
                                field="image", fix="give a PNG, JPEG or TIFF image file.") from None
    return as_display_uint8(arr)


def _deep_colour_tiff(im) -> bool:
    if im.format != "TIFF" or im.mode not in ("RGB", "RGBA"):
        return False
    bits = getattr(im, "tag_v2", {}).get(258, (8,))  # BitsPerSample
    bits = bits if isinstance(bits, tuple) else (bits,)
    return max(int(b) for b in bits) > 8


def _read_tiff(path: Path) -> np.ndarray | None:
    try:
        import tifffile
    except ImportError:  # pragma: no cover - napari and squidpy bring it
        return None
    arr = np.asarray(tifffile.imread(path))
    if arr.ndim == 3 and arr.shape[0] in (3, 4) and arr.shape[-1] not in (3, 4):
        arr = np.moveaxis(arr, 0, -1)  # planar (C, H, W) to (H, W, C)
    return arr if arr.ndim in (2, 3) else None


def attach_image(mdata, path: str | Path, scale: float = 1.0, *, library_id: str | None = None,
                 spot_diameter_fullres: float | None = None) -> str:
    """Store an image file under `uns['spatial'][library_id]` with `tissue_hires_scalef = scale`.

    `scale` is image pixels per unit of obsm['spatial']. Returns the library id. The image is
    read with `read_image`; it replaces whatever `mdata.uns['spatial']` held.

    Parameters
    ----------
    mdata : MuData
        Changed in place.
    path : str or Path
        The image file (PNG, JPEG or TIFF).
    scale : float, default 1.0
        Image pixels per unit of obsm['spatial'] (`tissue_hires_scalef`).
    library_id : str, optional
        Default: the image file's stem.
    spot_diameter_fullres : float, optional
        Spot diameter in obsm['spatial'] units; default: `default_spot_diameter` of the
        coordinates.

    Returns
    -------
    str
        The library id.

    Raises
    ------
    FactVAEInputError
        If `scale` is not a positive finite number, or the image cannot be read.

    Notes
    -----
    Sets `mdata.uns['spatial'] = {library_id: {'images': {'hires': image}, 'scalefactors':
    {'tissue_hires_scalef', 'spot_diameter_fullres'}, 'metadata': {'source_image_path'}}}`.
    """
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


def spot_pitch(coords: np.ndarray | None) -> float:
    """Median nearest-neighbour distance between spot centres (0.0 when undefined).

    From 10,000 spots on, the median is taken over every (n // 5000)-th spot (each spot's
    nearest neighbour is still searched among all of them).

    Parameters
    ----------
    coords : numpy.ndarray or None
        N x 2 (or wider) spot centres.

    Returns
    -------
    float
        The pitch, in the units of `coords`; 0.0 for None or fewer than 2 spots.
    """
    if coords is None or len(coords) < 2:
        return 0.0
    from scipy.spatial import cKDTree

    coords = np.asarray(coords, dtype=np.float64)[:, :2]
    sample = coords[:: max(1, len(coords) // 5000)]
    dist, _ = cKDTree(coords).query(sample, k=2)
    return float(np.median(dist[:, 1]))


def default_spot_diameter(coords: np.ndarray | None) -> float:
    """Half the median nearest-neighbour distance: the diameter/pitch ratio of Visium and DBiT.

    Parameters
    ----------
    coords : numpy.ndarray or None
        N x 2 (or wider) spot centres.

    Returns
    -------
    float
        Half of `spot_pitch(coords)`, or 1.0 when the pitch is undefined.
    """
    nn = spot_pitch(coords)
    return nn / 2 if nn > 0 else 1.0


def tissue_view(mdata, *, image_key: str | None = None) -> TissueView | None:
    """Spots (and image, if any) in image-pixel coordinates; None for non-spatial data.

    The image is that of the first library in `mdata.uns['spatial']` ('hires', else
    'lowres'), scaled by its scale factor; without a library the spots stay in obsm['spatial']
    units (scale 1). An image that stays in its SpatialData store is not loaded (`image` None),
    but the spots are placed in its pixels (`tissue_hires_scalef`). Without
    `spot_diameter_fullres` the diameter is `default_spot_diameter` (and `diameter_from_data`
    is True).

    Parameters
    ----------
    mdata : MuData
        With spot centres in `obsm['spatial']`.
    image_key : str, optional
        The image to take ('hires', 'lowres'); default: 'hires' if present, else 'lowres'.

    Returns
    -------
    TissueView or None
        None when `mdata.obsm` has no 'spatial'.
    """
    coords = mdata.obsm.get("spatial") if hasattr(mdata.obsm, "get") else None
    if coords is None:
        return None
    coords = np.asarray(coords, dtype=np.float64)[:, :2]
    lib = first_library(mdata.uns)
    if lib is None:
        return TissueView("", None, None, 1.0, coords, default_spot_diameter(coords), True)
    library_id, entry = lib
    images = entry.get("images", {}) or {}
    scalefactors = entry.get("scalefactors", {}) or {}
    keys = [image_key] if image_key else [k for k in IMAGE_KEYS if k in images]
    key = keys[0] if keys and keys[0] in images else None
    image = np.asarray(images[key]) if key else None
    scale = float(scalefactors.get(SCALE_KEYS.get(key, "tissue_hires_scalef"), 1.0)) if key else 1.0
    if key is None and (entry.get("metadata") or {}).get("source") == "spatialdata":
        # the image stays in its store (factvae.images.tissue_levels); spots in its pixels
        scale = float(scalefactors.get("tissue_hires_scalef", 1.0))
    diameter = scalefactors.get("spot_diameter_fullres")
    guessed = diameter is None
    diameter = default_spot_diameter(coords) if guessed else float(diameter)
    return TissueView(library_id, image, key, scale, coords * scale, diameter * scale, guessed)


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
