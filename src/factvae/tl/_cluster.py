"""Clustering a code into domains: Leiden (with a search for a number of domains), K-means,
a Gaussian mixture, the silhouette suggestion and the spatial refinement of labels."""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp

from ..errors import FactVAEInputError
from ._params import DOMAIN_METHODS, DomainParams  # noqa: F401  (DOMAIN_METHODS: 0.1 name)
from ._graph import joint_graph

LEIDEN_FLAVORS = ("igraph", "leidenalg")


class LeidenGraph:
    """A weighted graph built once (igraph from arrays) and clustered at many resolutions.

    flavor 'igraph' (default): igraph's C implementation of Leiden on the modularity with a
    resolution (scanpy's `flavor='igraph'`), 10-15x faster than leidenalg on 10k spots;
    'leidenalg': leidenalg's RBConfiguration partition, as before 2026-11 (same objective)."""

    def __init__(self, G: sp.spmatrix, flavor: str = "igraph"):
        import igraph as ig

        if flavor not in LEIDEN_FLAVORS:
            raise FactVAEInputError(f"unknown Leiden flavour {flavor!r}.", field="flavor",
                                    fix=f"use one of {LEIDEN_FLAVORS}.")
        coo = sp.triu(sp.csr_matrix(G), k=1).tocoo()
        self.n, self.flavor = G.shape[0], flavor
        self.graph = ig.Graph(n=self.n, edges=list(zip(coo.row.tolist(), coo.col.tolist())),
                              directed=False)
        self.weights = coo.data.astype(np.float64).tolist()
        self.probes = 0

    def partition(self, resolution: float, seed: int = 0) -> np.ndarray:
        """Labels numbered by domain size, largest first (as scanpy)."""
        self.probes += 1
        if self.flavor == "igraph":
            import random

            import igraph as ig

            ig.set_random_number_generator(random.Random(seed))
            try:
                part = self.graph.community_leiden(objective_function="modularity",
                                                   weights=self.weights, resolution=resolution,
                                                   beta=0.01, n_iterations=-1)
            finally:
                ig.set_random_number_generator(random)
        else:
            import leidenalg

            part = leidenalg.find_partition(self.graph, leidenalg.RBConfigurationVertexPartition,
                                            weights=self.weights, resolution_parameter=resolution,
                                            seed=seed, n_iterations=-1)
        labels = np.asarray(part.membership)
        order = np.argsort(-np.bincount(labels), kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        return rank[labels]


def leiden(G, resolution: float, seed: int = 0, flavor: str = "igraph") -> np.ndarray:
    graph = G if isinstance(G, LeidenGraph) else LeidenGraph(G, flavor)
    return graph.partition(resolution, seed)


def leiden_n(G, n_domains: int, seed: int = 0, max_probes: int = 30, flavor: str = "igraph"
             ) -> tuple[np.ndarray, float, bool]:
    """The resolution at which Leiden finds `n_domains`, else the closest count reached.
    The graph is built once; the resolution is bracketed from 1.0 by doubling or halving, then
    bisected in log space (the count grows with the resolution, roughly monotonically).
    Returns (labels, resolution, exact)."""
    graph = G if isinstance(G, LeidenGraph) else LeidenGraph(G, flavor)
    best = None

    def probe(res):
        nonlocal best
        labels = graph.partition(res, seed)
        k = int(labels.max()) + 1
        if best is None or abs(k - n_domains) < abs(best[2] - n_domains):
            best = (labels, res, k)
        return k

    res = 1.0
    k = probe(res)
    lo = hi = None
    while k != n_domains and graph.probes < max_probes:   # bracket
        if k < n_domains:
            lo = res
            if hi is not None:
                break
            res *= 2
        else:
            hi = res
            if lo is not None:
                break
            res /= 2
        if res > 1e3 or res < 1e-4:
            break
        k = probe(res)
    while k != n_domains and lo is not None and hi is not None and graph.probes < max_probes:
        res = float(np.sqrt(lo * hi))    # resolutions span orders of magnitude
        k = probe(res)
        if k < n_domains:
            lo = res
        elif k > n_domains:
            hi = res
    labels, res, k = best
    return labels, res, k == n_domains




def _by_size(labels: np.ndarray) -> np.ndarray:
    """Relabel 0..k-1 by domain size, largest first (as scanpy numbers Leiden clusters)."""
    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return rank[inverse]


def suggest_n_domains(X: np.ndarray, k_range=range(2, 16), seed: int = 0,
                      max_spots: int = 4000) -> tuple[int, dict]:
    """Suggest a number of domains: the k whose K-means on X has the best mean silhouette.

    The number of domains with the highest mean silhouette of K-means on X (on at most
    `max_spots` spots drawn at random), and the silhouette of each k tried.

    Values of k that are not below the number of spots used are not tried.

    Parameters
    ----------
    X : numpy.ndarray
        spots x dimensions, e.g. an embedding.
    k_range : iterable of int, default range(2, 16)
        The numbers of domains to try, in increasing order.
    seed : int, default 0
        Seed of the spot sample and of K-means.
    max_spots : int, default 4000
        At most this many spots, drawn at random, are clustered.

    Returns
    -------
    k : int
        The number with the highest silhouette; 1 when no k could be tried.
    scores : dict
        {k: mean silhouette} for each k tried.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    X = np.asarray(X, np.float64)
    rng = np.random.default_rng(seed)
    sub = X if X.shape[0] <= max_spots else X[rng.choice(X.shape[0], max_spots, replace=False)]
    scores = {}
    for k in k_range:
        if k >= sub.shape[0]:
            break
        labels = KMeans(k, n_init=4, random_state=seed).fit_predict(sub)
        scores[int(k)] = float(silhouette_score(sub, labels))
    if not scores:
        return 1, scores
    return max(scores, key=scores.get), scores


def refine_labels(labels: np.ndarray, neighbors: np.ndarray, rounds: int = 1) -> np.ndarray:
    """Spatial refinement: a spot takes the label held by more than half of its spatial
    neighbours when that label is not its own (a majority vote, as SpaGCN's refinement).
    A spot whose neighbours mostly agree with it, or that has no clear majority, keeps its
    label. `neighbors` is a spots x k index with -1 for missing slots."""
    labels = np.asarray(labels).copy()
    valid = neighbors >= 0
    n_valid = valid.sum(1)
    k = int(labels.max()) + 1 if labels.size else 0
    for _ in range(rounds):
        nb = np.where(valid, labels[np.where(valid, neighbors, 0)], -1)
        counts = np.zeros((labels.size, k), np.int32)
        rows = np.repeat(np.arange(labels.size), neighbors.shape[1])
        keep = nb.ravel() >= 0
        np.add.at(counts, (rows[keep], nb.ravel()[keep]), 1)
        top = counts.argmax(1)
        change = (2 * counts[np.arange(labels.size), top] > n_valid) & (top != labels)
        if not change.any():
            break
        labels[change] = top[change]
    return labels


def cluster(X: np.ndarray, *, method: str = "leiden", n_domains: int | None = None,
            resolution: float | None = None, coords: np.ndarray | None = None,
            spatial_weight: float = 0.0, n_neighbors: int = 15, n_spatial_neighbors: int = 6,
            refine: int = 0, seed: int = 0, flavor: str = "igraph",
            groups: np.ndarray | None = None) -> tuple[np.ndarray, dict]:
    """Domains of the rows of X: Leiden, K-means or a Gaussian mixture, optionally refined.

    Leiden (graph of X, optionally joined with the spatial graph), K-means or a Gaussian
    mixture (diagonal covariances; the role mclust plays in R pipelines), then `refine` rounds
    of spatial majority refinement. `n_domains='auto'` (and, for K-means and the mixture,
    None) takes the number from `suggest_n_domains` (silhouette); Leiden without a number uses
    `resolution` (default 1.0). Returns labels numbered by size and a record.

    Leiden with `n_domains` searches the resolution: bracketed from 1.0 by doubling or
    halving, then bisected in log space (at most 30 partitions), keeping the closest count.

    Parameters
    ----------
    X : numpy.ndarray
        spots x dimensions (e.g. an embedding); must be finite.
    method : str, default 'leiden'
        'leiden', 'kmeans' or 'gmm'.
    n_domains : int or 'auto', optional
        The number of domains, between 1 and spots - 1.
    resolution : float, optional
        Leiden only, positive: larger gives more domains.
    coords : numpy.ndarray, optional
        Spot coordinates, needed by `spatial_weight` and `refine`.
    spatial_weight : float, default 0.0
        Leiden: weight w in [0, 1] of the spatial graph in (1 - w) kNN graph + w spatial graph.
    n_neighbors : int, default 15
        Neighbours of the kNN graph of X (at least 2).
    n_spatial_neighbors : int, default 6
        Spatial neighbours per spot: the nearest ones in the spatial graph; in the refinement,
        those within 1.5 x the median nearest-spot distance.
    refine : int, default 0
        Rounds of spatial majority refinement (0: off; SpaGCN's refinement).
    seed : int, default 0
        Seed of every random step.
    flavor : str, default 'igraph'
        Leiden's implementation: 'igraph' or 'leidenalg'.
    groups : numpy.ndarray, optional
        One section code per row (several tissue sections): the spatial graph and the
        refinement never join two sections; the domains are shared.

    Returns
    -------
    labels : numpy.ndarray
        One domain per row, 0..k-1 by size, largest first.
    record : dict
        'method', 'n_neighbors', 'spatial_weight', 'n_spatial_neighbors', 'refine', 'seed',
        'n_domains_requested' (-1 when none or suggested), 'resolution' (NaN unless Leiden),
        'suggested_by' ('' unless suggested; then also 'silhouette'), 'flavor' (Leiden),
        'reached' (k) and 'exact' (True when no number was asked for or k is it).

    Raises
    ------
    FactVAEInputError
        For an unknown method or flavor, a non-finite or empty X, a resolution with K-means or
        the mixture (or with a suggested number), a number of domains, neighbours, resolution,
        spatial weight or refinement out of range, or `refine` / `spatial_weight` without
        `coords`.

    Warns
    -----
    UserWarning
        When Leiden cannot reach `n_domains`.
    """
    X = np.asarray(X, np.float32)
    DomainParams(method=method, n_domains=None if n_domains == "auto" else n_domains,
                 resolution=resolution, refine=refine, spatial_weight=spatial_weight,
                 n_neighbors=n_neighbors).validate()
    if not np.isfinite(X).all():
        raise FactVAEInputError("the embedding contains NaN or infinite values.",
                                field="embedding", fix="retrain the model (a diverged training "
                                "gives NaN) or choose another embedding.")
    if X.ndim != 2 or X.shape[1] == 0:
        raise FactVAEInputError(f"the embedding has no columns (shape {X.shape}).",
                                field="embedding", fix="choose another embedding.")
    if resolution is not None and method != "leiden":
        raise FactVAEInputError(f"a resolution applies to Leiden only, not {method}.",
                                field="resolution", fix="give a number of domains instead.")
    record_suggest = None
    if n_domains == "auto" or (n_domains is None and method != "leiden"):
        if resolution is not None:
            raise FactVAEInputError("give a resolution or let the number be suggested, not both.",
                                    field="resolution", fix="drop the resolution.")
        n_domains, scores = suggest_n_domains(X, seed=seed)
        record_suggest = {"suggested_by": "silhouette of K-means, k = 2..15",
                          "silhouette": {str(k): v for k, v in scores.items()}}
    if n_domains is not None and not 1 <= n_domains < X.shape[0]:
        raise FactVAEInputError(f"number of domains must be between 1 and {X.shape[0] - 1}, "
                                f"got {n_domains}.", field="n_domains",
                                fix="choose a larger number." if n_domains < 1 else
                                "choose a smaller number.")
    if (refine or spatial_weight) and coords is None:
        raise FactVAEInputError("spatial refinement and a spatial weight need spot coordinates.",
                                field="obsm['spatial']", fix="use refine=0 and spatial_weight=0.")
    record = {"method": method, "n_neighbors": n_neighbors, "spatial_weight": spatial_weight,
              "n_spatial_neighbors": n_spatial_neighbors, "refine": int(refine), "seed": seed,
              "n_domains_requested": -1 if record_suggest or n_domains is None else int(n_domains),
              "resolution": float("nan"), "suggested_by": ""}
    if record_suggest:
        record.update(record_suggest)
    if method == "leiden":
        G = joint_graph(X, coords, spatial_weight=spatial_weight, n_neighbors=n_neighbors,
                        n_spatial_neighbors=n_spatial_neighbors, seed=seed, groups=groups)
        if n_domains is not None:
            labels, res, exact = leiden_n(G, n_domains, seed, flavor=flavor)
            if not exact:
                warnings.warn(f"Leiden found {labels.max() + 1} domains at best, not {n_domains} "
                              f"(resolution {res:.3g}).", stacklevel=3)
        else:
            res = 1.0 if resolution is None else float(resolution)
            labels = leiden(G, res, seed, flavor)
        record.update(resolution=float(res), flavor=flavor)
    else:
        if method == "kmeans":
            from sklearn.cluster import KMeans

            labels = KMeans(n_domains, n_init=10, random_state=seed).fit_predict(X)
        else:
            from sklearn.mixture import GaussianMixture

            labels = GaussianMixture(n_domains, covariance_type="diag", n_init=3,
                                     random_state=seed, reg_covar=1e-4).fit_predict(X)
    if refine:
        from ._graph import spatial_neighbor_index

        labels = refine_labels(labels, spatial_neighbor_index(coords, n_spatial_neighbors,
                                                              groups=groups), refine)
    labels = _by_size(labels)
    k = int(labels.max() + 1)
    record.update(reached=k, exact=bool(n_domains is None or k == n_domains))
    return labels, record
