"""Spatial domains: Leiden on a kNN graph of the joint FactVAE embedding, optionally joined with
the spatial neighbour graph, by resolution or by a target number of domains; and domain markers.

The kNN search uses scikit-learn's exact search (scanpy's `transformer='sklearn'`): scanpy's
default (pynndescent 0.7 with scipy 1.17) crashes from 8,192 spots on.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .errors import FactVAEInputError
from .model import EMBEDDING_KEY

DOMAIN_KEY = "factvae_domain"
PARAMS_KEY = "factvae_domain_params"
MARKERS_KEY = "factvae_domain_markers"


def _palette(n: int) -> list[str]:
    from .datasets import PALETTE

    if n <= len(PALETTE):
        return PALETTE[:n]
    import matplotlib

    cmap = matplotlib.colormaps["gist_ncar"]
    return [matplotlib.colors.to_hex(cmap(i / n)) for i in range(n)]


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


def spatial_graph(coords: np.ndarray, n_neighbors: int = 6) -> sp.csr_matrix:
    """Symmetric 0/1 graph of each spot's nearest spatial neighbours (itself excluded), as
    squidpy's generic `spatial_neighbors` builds it, without importing squidpy (4 s)."""
    from sklearn.neighbors import NearestNeighbors

    coords = np.asarray(coords, np.float64)
    n = coords.shape[0]
    k = min(n_neighbors + 1, n)
    _, idx = NearestNeighbors(n_neighbors=k).fit(coords).kneighbors(coords)
    rows = np.repeat(np.arange(n), k)
    keep = idx.ravel() != rows
    A = sp.csr_matrix((np.ones(keep.sum(), np.float32), (rows[keep], idx.ravel()[keep])),
                      shape=(n, n))
    A = A.maximum(A.T).tocsr()
    A.data[:] = 1.0
    return A


def joint_graph(X, coords=None, *, spatial_weight: float = 0.0, n_neighbors: int = 15,
                n_spatial_neighbors: int = 6, seed: int = 0) -> sp.csr_matrix:
    """(1 - w) * expression connectivities + w * spatial graph (each scaled to a maximum of 1)."""
    if not 0.0 <= spatial_weight <= 1.0:
        raise FactVAEInputError(f"spatial weight must be in [0, 1], got {spatial_weight}.",
                                field="spatial_weight", fix="use 0 (expression only) to 1.")
    G = expression_graph(X, n_neighbors, seed)
    if spatial_weight > 0:
        if coords is None:
            raise FactVAEInputError("a spatial weight was given but the spots have no coordinates.",
                                    field="obsm['spatial']", fix="use --spatial-weight 0.")
        G = (1 - spatial_weight) * G + spatial_weight * spatial_graph(coords, n_spatial_neighbors)
    return sp.csr_matrix(G)


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


def find_domains(mdata, *, n_domains: int | None = None, resolution: float | None = None,
                 spatial_weight: float = 0.0, n_neighbors: int = 15, n_spatial_neighbors: int = 6,
                 use_rep: str = EMBEDDING_KEY, seed: int = 0, key: str = DOMAIN_KEY,
                 flavor: str = "igraph") -> dict:
    """Leiden domains on `mdata.obsm[use_rep]` (default: the concatenated FactVAE embedding).

    Give `n_domains` (the resolution is searched) or `resolution` (default 1.0). Writes
    `mdata.obs[key]` (categorical), `mdata.uns[f'{key}_colors']` and `mdata.uns[PARAMS_KEY]`;
    returns the parameters record (with `reached`: the number found, and `exact`)."""
    if use_rep not in mdata.obsm:
        raise FactVAEInputError("is missing: no embedding to cluster.", field=f"obsm['{use_rep}']",
                                fix="train FactVAE first (factvae run / factvae.train).")
    if n_domains is not None and resolution is not None:
        raise FactVAEInputError("give either a number of domains or a resolution, not both.",
                                field="n_domains / resolution", fix="drop one of the two.")
    if n_domains is not None and not 1 <= n_domains < mdata.n_obs:
        raise FactVAEInputError(f"number of domains must be between 1 and {mdata.n_obs - 1}.",
                                field="n_domains", fix="choose a smaller number.")
    X = np.asarray(mdata.obsm[use_rep])
    coords = np.asarray(mdata.obsm["spatial"]) if "spatial" in mdata.obsm else None
    G = joint_graph(X, coords, spatial_weight=spatial_weight, n_neighbors=n_neighbors,
                    n_spatial_neighbors=n_spatial_neighbors, seed=seed)
    if n_domains is not None:
        labels, res, exact = leiden_n(G, n_domains, seed, flavor=flavor)
        if not exact:
            warnings.warn(f"Leiden found {labels.max() + 1} domains at best, not {n_domains} "
                          f"(resolution {res:.3g}).", stacklevel=2)
    else:
        res = 1.0 if resolution is None else float(resolution)
        labels, exact = leiden(G, res, seed, flavor), True
    k = int(labels.max() + 1)
    cats = [str(i) for i in range(k)]
    mdata.obs[key] = pd.Categorical.from_codes(labels, categories=cats)
    mdata.uns[f"{key}_colors"] = _palette(k)
    record = {"use_rep": use_rep, "n_neighbors": n_neighbors, "spatial_weight": spatial_weight,
              "n_spatial_neighbors": n_spatial_neighbors, "resolution": float(res),
              "n_domains_requested": -1 if n_domains is None else int(n_domains),
              "reached": k, "exact": bool(exact), "seed": seed, "method": f"leiden ({flavor})"}
    mdata.uns[PARAMS_KEY] = record
    return record


def rename_domains(mdata, mapping: dict, *, key: str = DOMAIN_KEY) -> None:
    """Rename domains by hand; giving two domains the same new name merges them. Colours follow
    the first domain of each new name."""
    cat = mdata.obs[key].astype("category")
    old = list(cat.cat.categories)
    colours = dict(zip(old, mdata.uns.get(f"{key}_colors", _palette(len(old)))))
    unknown = set(mapping) - set(old)
    if unknown:
        raise FactVAEInputError(f"unknown domain(s) {sorted(unknown)}.", field=key,
                                fix=f"use one of {old}.")
    new_values = cat.astype(str).map(lambda v: str(mapping.get(v, v)))
    new_cats = list(dict.fromkeys(str(mapping.get(c, c)) for c in old))
    new_colours = {}
    for c in old:
        new_colours.setdefault(str(mapping.get(c, c)), colours[c])
    mdata.obs[key] = pd.Categorical(new_values, categories=new_cats)
    mdata.uns[f"{key}_colors"] = [new_colours[c] for c in new_cats]


def domain_markers(mdata, *, key: str = DOMAIN_KEY, n_top: int = 20) -> pd.DataFrame:
    """Per domain, the top genes (log-normalised RNA), peaks (log-normalised ATAC) and motifs
    (deviation z-scores, when computed) by Wilcoxon test (scanpy's rank_genes_groups).
    Returns one long table (domain, kind, name, score, logfoldchange, pval_adj, rank) and stores
    it in `mdata.uns['factvae_domain_markers']`."""
    import anndata as ad
    import scanpy as sc

    if key not in mdata.obs:
        raise FactVAEInputError("is missing: find domains first.", field=f"obs['{key}']",
                                fix="run factvae.find_domains(mdata) / factvae domains.")
    groups = mdata.obs[key].astype("category").to_numpy()
    tables = []
    rna, atac = mdata.mod["rna"], mdata.mod["atac"]
    atac_norm = sc.pp.normalize_total(ad.AnnData(atac.X.copy()), target_sum=1e4, inplace=False)["X"]
    atac_norm = sp.csr_matrix(atac_norm)
    atac_norm.data = np.log1p(atac_norm.data)
    sources = [("gene", rna.layers.get("lognorm", rna.X), rna.var_names),
               ("peak", atac_norm, atac.var_names)]
    from .motifs import MOTIF_Z_KEY, MOTIF_NAMES_KEY

    if MOTIF_Z_KEY in atac.obsm:
        sources.append(("motif", np.asarray(atac.obsm[MOTIF_Z_KEY]), atac.uns[MOTIF_NAMES_KEY]))
    for kind, X, names in sources:
        tmp = ad.AnnData(X=X, obs=pd.DataFrame({"g": pd.Categorical(groups)},
                                               index=mdata.obs_names),
                         var=pd.DataFrame(index=pd.Index(list(map(str, names)))))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sc.tl.rank_genes_groups(tmp, "g", method="wilcoxon", n_genes=n_top, use_raw=False)
        df = sc.get.rank_genes_groups_df(tmp, group=None)
        df = df.rename(columns={"group": "domain", "names": "name", "scores": "score",
                                "logfoldchanges": "logfoldchange", "pvals_adj": "pval_adj"})
        df["kind"] = kind
        df["rank"] = df.groupby("domain", observed=True).cumcount() + 1
        tables.append(df[["domain", "kind", "name", "score", "logfoldchange", "pval_adj", "rank"]])
    out = pd.concat(tables, ignore_index=True)
    out["domain"] = out["domain"].astype(str)
    mdata.uns[MARKERS_KEY] = out
    return out
