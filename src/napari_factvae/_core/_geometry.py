"""Where the spots sit: their pitch, their lattice and a raster of the nearest spot, so that
domains can be drawn as filled regions with or without a tissue image. Pure numpy/scipy, computed
once per dataset (in a worker or the reader, not on the GUI thread)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_RASTER_PIXELS = 4_000_000  # ~0.5 s of KD-tree queries; a finer raster shows nothing more


@dataclass
class MapGeometry:
    pitch: float            # median centre-to-centre distance, in the points' frame
    square: bool            # a square lattice (DBiT): square spots tile it
    spot_size: float        # the assay's spot diameter; the pitch when none is given
    nearest: np.ndarray     # raster: index of the spot within reach of each pixel, -1 = none
    pixel: float            # raster pixel size, in the points' frame
    origin: tuple           # (y, x) of the first pixel's centre

    def labels(self, codes: np.ndarray) -> np.ndarray:
        """The label image of per-spot category codes (0 = background, code + 1 elsewhere)."""
        dtype = np.uint8 if codes.size == 0 or codes.max() < 254 else np.uint16  # napari's fast path
        lut = np.concatenate([[0], np.asarray(codes) + 1]).astype(dtype)
        return lut[self.nearest + 1]


def map_geometry(xy: np.ndarray, spot_diameter: float | None = None) -> MapGeometry:
    """Geometry of spots at `xy` (N x 2, x then y). Each raster pixel takes the nearest spot
    within 0.75 pitch: that reaches the corners of a square lattice's cells (0.71 pitch) and
    the vertices of a hexagonal one (0.58), but leaves holes of missing spots open."""
    from scipy.spatial import cKDTree

    xy = np.asarray(xy, np.float64)[:, :2]
    tree = cKDTree(xy)
    k = min(7, len(xy))
    sample = xy[:: max(1, len(xy) // 5000)]
    dist = tree.query(sample, k=k)[0].reshape(len(sample), k) if k > 1 else np.ones((1, 2))
    pitch = float(np.median(dist[:, 1])) if k > 1 else 1.0
    pitch = pitch if pitch > 0 else 1.0
    square = bool(k == 7 and np.median((dist[:, 1:] < 1.2 * pitch).sum(1)) == 4)
    lo, hi = xy.min(0) - pitch, xy.max(0) + pitch
    pixel = max(pitch / 5, float(np.sqrt(np.prod(hi - lo) / MAX_RASTER_PIXELS)))
    nx, ny = np.ceil((hi - lo) / pixel).astype(int)
    gx = lo[0] + (np.arange(nx) + 0.5) * pixel
    nearest = np.empty((ny, nx), np.int32)
    step = max(1, 1_000_000 // nx)  # row blocks bound the memory of the query
    for r in range(0, ny, step):
        gy = lo[1] + (np.arange(r, min(r + step, ny)) + 0.5) * pixel
        px, py = np.meshgrid(gx, gy)
        d, idx = tree.query(np.c_[px.ravel(), py.ravel()], distance_upper_bound=0.75 * pitch,
                            workers=-1)
        nearest[r:r + len(gy)] = np.where(np.isfinite(d), idx, -1).reshape(len(gy), nx)
    size = float(spot_diameter) if spot_diameter else pitch
    return MapGeometry(pitch, square, size, nearest, pixel,
                       (lo[1] + 0.5 * pixel, lo[0] + 0.5 * pixel))
