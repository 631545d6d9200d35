"""Each spot's spatial neighbours, as a fixed-width index (spots x k), for the spatial encoders.

Neighbours are the k nearest spots by Euclidean distance on `obsm['spatial']`, kept only within
`cutoff` times the median nearest-neighbour distance, so that spots at the tissue edge or
isolated spots get fewer neighbours instead of far ones; missing slots are -1. Memory is
spots x k: nothing spots x spots is ever built.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..errors import FactVAEInputError


def spatial_neighbor_index(coords: np.ndarray, k: int = 6, cutoff: float | None = 1.5,
                           groups: np.ndarray | None = None) -> np.ndarray:
    """An int64 array (spots x k): the k nearest other spots within `cutoff` x the median
    nearest-neighbour distance (None: no cutoff), nearest first; -1 where there are fewer.

    `groups` (one section code per spot): neighbours are found within each section only, with
    each section's own median distance, so no spatial edge joins two sections."""
    coords = np.asarray(coords, dtype=np.float64)
    if groups is not None and len(np.unique(groups)) > 1:
        groups = np.asarray(groups)
        out = np.full((coords.shape[0], k), -1, dtype=np.int64)
        for g in np.unique(groups):
            rows = np.flatnonzero(groups == g)
            sub = spatial_neighbor_index(coords[rows], k, cutoff)
            out[rows] = np.where(sub >= 0, rows[np.maximum(sub, 0)], -1)
        return out
    from sklearn.neighbors import NearestNeighbors

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
    keep = np.isfinite(dist) & (dist <= (np.inf if cutoff is None else cutoff) * scale)
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


def knn(X: np.ndarray, n_neighbors: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest neighbours (Euclidean), each spot first in its own list (as scanpy)."""
    from sklearn.neighbors import NearestNeighbors

    X = np.asarray(X, np.float32)
    k = min(n_neighbors, X.shape[0])
    dist, idx = NearestNeighbors(n_neighbors=k).fit(X).kneighbors(X)
    # duplicated spots: a twin may come before the spot itself; put the spot first
    for i in np.flatnonzero(idx[:, 0] != np.arange(X.shape[0])):
        keep = idx[i] != i
        idx[i] = np.r_[i, idx[i][keep][:k - 1]]
        dist[i] = np.r_[0.0, dist[i][keep][:k - 1]]
    return idx, dist.astype(np.float32)


def _smooth_knn_dist(dist: np.ndarray, n_iter: int = 64, tol: float = 1e-5,
                     min_scale: float = 1e-3) -> tuple[np.ndarray, np.ndarray]:
    """UMAP's per-spot bandwidth sigma and nearest distance rho (umap.umap_.smooth_knn_dist,
    local_connectivity 1), the binary search run for all spots at once."""
    n, k = dist.shape
    target = np.log2(k)
    positive = np.where(dist > 0, dist, np.inf)
    rho = positive.min(axis=1)
    rho[~np.isfinite(rho)] = 0.0
    D = dist[:, 1:].astype(np.float64) - rho[:, None]
    lo, hi, mid = np.zeros(n), np.full(n, np.inf), np.ones(n)
    active = np.arange(n)
    for _ in range(n_iter):
        if active.size == 0:
            break
        Da = D[active]
        psum = np.where(Da > 0, np.exp(-np.maximum(Da, 0) / mid[active, None]), 1.0).sum(axis=1)
        done = np.abs(psum - target) < tol
        over, under = active[(psum > target) & ~done], active[(psum <= target) & ~done]
        hi[over] = mid[over]
        mid[over] = (lo[over] + hi[over]) / 2
        lo[under] = mid[under]
        unbounded = np.isinf(hi[under])
        mid[under[unbounded]] *= 2
        bounded = under[~unbounded]
        mid[bounded] = (lo[bounded] + hi[bounded]) / 2
        active = active[~done]
    floor = np.where(rho > 0, min_scale * dist.mean(axis=1), min_scale * dist.mean())
    return np.maximum(mid, floor), rho


def umap_connectivities(idx: np.ndarray, dist: np.ndarray) -> sp.csr_matrix:
    """UMAP's fuzzy simplicial set of a kNN graph (the connectivities scanpy computes), in numpy:
    w_ij = exp(-(d_ij - rho_i) / sigma_i), then the fuzzy union W + W^T - W o W^T. Equal to
    umap.fuzzy_simplicial_set to float precision (tested) without its numba compilation, which
    costs 5-8 s on the first call of every process."""
    n, k = idx.shape
    sigma, rho = _smooth_knn_dist(dist)
    d = dist.astype(np.float64) - rho[:, None]
    w = np.where(d <= 0, 1.0, np.exp(-np.maximum(d, 0) / np.maximum(sigma[:, None], 1e-300)))
    w[idx == np.arange(n)[:, None]] = 0.0
    W = sp.csr_matrix((w.ravel().astype(np.float32), (np.repeat(np.arange(n), k), idx.ravel())),
                      shape=(n, n))
    W.eliminate_zeros()
    Wt = W.T.tocsr()
    return sp.csr_matrix(W + Wt - W.multiply(Wt))


def expression_graph(X: np.ndarray, n_neighbors: int = 15, seed: int = 0) -> sp.csr_matrix:
    """UMAP-style connectivities of the exact kNN graph of X (scanpy's default graph)."""
    idx, dist = knn(X, min(n_neighbors, X.shape[0]))
    return umap_connectivities(idx, dist)


def spatial_graph(coords: np.ndarray, n_neighbors: int = 6,
                  cutoff: float | None = None, groups: np.ndarray | None = None) -> sp.csr_matrix:
    """Symmetric 0/1 graph of each spot's spatial neighbours (itself excluded).

    The neighbours of `spatial_neighbor_index`, the one definition, made symmetric. The joint
    graph of `find_domains` keeps the k nearest whatever their distance (`cutoff=None`, as
    squidpy's generic graph); the model's read-out and the refinement keep those within 1.5 x
    the median nearest-spot distance. The cutoff in the joint graph measured worse on the
    simulator (docs/benchmarks.md 9), so the two uses differ only by this argument.

    Parameters
    ----------
    coords : numpy.ndarray
        spots x 2 coordinates.
    n_neighbors : int, default 6
        Neighbours per spot before symmetrising.
    cutoff : float, optional
        Keep only neighbours within `cutoff` x the median nearest-spot distance.
    groups : numpy.ndarray, optional
        One section code per spot: no edge joins two sections.

    Returns
    -------
    scipy.sparse.csr_matrix
        spots x spots, 1 where two spots are neighbours.
    """
    idx = spatial_neighbor_index(coords, n_neighbors, cutoff, groups)
    n = idx.shape[0]
    rows = np.repeat(np.arange(n), idx.shape[1])
    cols = idx.ravel()
    keep = cols >= 0
    A = sp.csr_matrix((np.ones(keep.sum(), np.float32), (rows[keep], cols[keep])), shape=(n, n))
    A = A.maximum(A.T).tocsr()
    A.data[:] = 1.0
    return A


def joint_graph(X, coords=None, *, spatial_weight: float = 0.0, n_neighbors: int = 15,
                n_spatial_neighbors: int = 6, seed: int = 0,
                groups: np.ndarray | None = None) -> sp.csr_matrix:
    """(1 - w) * expression connectivities + w * spatial graph (each scaled to a maximum of 1);
    `groups`: the spatial graph has no edge between two sections."""
    if not 0.0 <= spatial_weight <= 1.0:
        raise FactVAEInputError(f"spatial weight must be in [0, 1], got {spatial_weight}.",
                                field="spatial_weight", fix="use 0 (expression only) to 1.")
    G = expression_graph(X, n_neighbors, seed)
    if spatial_weight > 0:
        if coords is None:
            raise FactVAEInputError("a spatial weight was given but the spots have no coordinates.",
                                    field="obsm['spatial']", fix="use --spatial-weight 0.")
        G = (1 - spatial_weight) * G + spatial_weight * spatial_graph(coords, n_spatial_neighbors,
                                                                  groups=groups)
    return sp.csr_matrix(G)
