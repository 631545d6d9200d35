"""Each spot's spatial neighbours, as a fixed-width index (spots x k), for the spatial encoders.

Neighbours are the k nearest spots by Euclidean distance on `obsm['spatial']`, kept only within
`cutoff` times the median nearest-neighbour distance, so that spots at the tissue edge or
isolated spots get fewer neighbours instead of far ones; missing slots are -1. Memory is
spots x k: nothing spots x spots is ever built.
"""

from __future__ import annotations

import numpy as np

from .errors import FactVAEInputError


def spatial_neighbor_index(coords: np.ndarray, k: int = 6, cutoff: float = 1.5) -> np.ndarray:
    """An int64 array (spots x k): the k nearest other spots within `cutoff` x the median
    nearest-neighbour distance, nearest first; -1 where there are fewer."""
    from sklearn.neighbors import NearestNeighbors

    coords = np.asarray(coords, dtype=np.float64)
    if coords.ndim != 2 or coords.shape[1] < 2:
        raise FactVAEInputError(f"spot coordinates must be spots x 2, got shape {coords.shape}.",
                                field="obsm['spatial']", fix="store x, y per spot.")
    if not np.isfinite(coords).all():
        raise FactVAEInputError("spot coordinates contain NaN or infinite values.",
                                field="obsm['spatial']",
                                fix="remove those spots, or train without spatial context (--spatial off, spatial=False).")
    n = coords.shape[0]
    if k < 1:
        raise FactVAEInputError(f"the number of spatial neighbours must be at least 1, got {k}.",
                                field="spatial_neighbors", fix="use e.g. 6.")
    out = np.full((n, k), -1, dtype=np.int64)
    if n < 2:
        return out
    m = min(k + 1, n)
    dist, idx = NearestNeighbors(n_neighbors=m).fit(coords).kneighbors(coords)
    # drop the spot itself wherever it appears (twins at the same position come first too)
    self_hit = idx == np.arange(n)[:, None]
    dist = np.where(self_hit, np.inf, dist)
    order = np.argsort(dist, axis=1, kind="stable")[:, :m - 1]
    dist = np.take_along_axis(dist, order, axis=1)
    idx = np.take_along_axis(idx, order, axis=1)
    nearest = dist[:, 0][np.isfinite(dist[:, 0])]
    scale = float(np.median(nearest)) if nearest.size else 0.0
    if scale <= 0:
        positive = nearest[nearest > 0]
        scale = float(np.median(positive)) if positive.size else 0.0
    if scale <= 0:
        raise FactVAEInputError("all spots share one position: no spatial neighbourhood exists.",
                                field="obsm['spatial']",
                                fix="check the coordinates, or train without spatial context (--spatial off, spatial=False).")
    keep = np.isfinite(dist) & (dist <= cutoff * scale)
    out[:, :m - 1] = np.where(keep, idx, -1)
    return out


def bilateral_mean(Z, neighbors):
    """Each row of Z (spots x d, a numpy array or torch tensor) averaged with its spatial
    neighbours' rows, neighbour j of spot i weighted by exp(-|z_i - z_j|^2 / s) (the spot itself
    by 1), s the median squared distance over all neighbouring pairs. Neighbours that look like
    the spot count almost fully; neighbours across a domain boundary, or in tissue whose domains
    are not spatially coherent, hardly at all. Returns (averaged Z, the weight share each spot
    keeps for itself). Memory: spots x k."""
    import torch

    z = torch.as_tensor(Z)
    nb = torch.as_tensor(np.asarray(neighbors), device=z.device)
    valid = nb >= 0
    idx = torch.where(valid, nb, torch.arange(len(z), device=z.device)[:, None])
    d2 = (z[idx] - z[:, None, :]).pow(2).sum(-1)                       # spots x k
    if valid.any():
        scale = d2[valid].median().clamp_min(1e-12)
    else:
        scale = d2.new_ones(())
    w = torch.exp(-d2 / scale) * valid
    total = 1 + w.sum(1)
    out = (z + (w[..., None] * z[idx]).sum(1)) / total[:, None]
    return out, 1 / total
