"""Spatial domains: Leiden on a kNN graph of the joint FactVAE embedding, optionally joined with
the spatial neighbour graph, by resolution or by a target number of domains; and domain markers.

The kNN search uses scikit-learn's exact search (scanpy's `transformer='sklearn'`): scanpy's
default (pynndescent 0.7 with scipy 1.17) crashes from 8,192 spots on.
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .errors import FactVAEInputError
from .keys import DOMAIN_KEY, DOMAIN_MARKERS_KEY as MARKERS_KEY, EMBEDDING_KEY, LOGNORM_KEY
from .keys import MOTIF_Z_KEY, MOTIF_Z_NAMES_KEY, UNS_KEY, colors_key, params_of


def _palette(n: int) -> list[str]:
    """n hex colours: colour-blind-safe up to 10, distinguishable up to 30 (datasets.PALETTE);
    beyond that the 30 and then evenly spaced colours of a long colormap."""
    from .datasets import PALETTE

    if n <= len(PALETTE):
        return PALETTE[:n]
    import matplotlib

    cmap = matplotlib.colormaps["gist_ncar"]
    extra = n - len(PALETTE)
    return PALETTE + [matplotlib.colors.to_hex(cmap(0.05 + 0.9 * i / extra)) for i in range(extra)]


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


DOMAIN_METHODS = ("leiden", "kmeans", "gmm")


def _by_size(labels: np.ndarray) -> np.ndarray:
    """Relabel 0..k-1 by domain size, largest first (as scanpy numbers Leiden clusters)."""
    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return rank[inverse]


def suggest_n_domains(X: np.ndarray, k_range=range(2, 16), seed: int = 0,
                      max_spots: int = 4000) -> tuple[int, dict]:
    """The number of domains with the highest mean silhouette of K-means on X (on at most
    `max_spots` spots drawn at random), and the silhouette of each k tried."""
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
            refine: int = 0, seed: int = 0, flavor: str = "igraph") -> tuple[np.ndarray, dict]:
    """Domains of the rows of X: Leiden (graph of X, optionally joined with the spatial graph),
    K-means or a Gaussian mixture (diagonal covariances; the role mclust plays in R pipelines),
    then `refine` rounds of spatial majority refinement. `n_domains='auto'` (and, for K-means
    and the mixture, None) takes the number from `suggest_n_domains` (silhouette); Leiden without
    a number uses `resolution` (default 1.0). Returns labels numbered by size and a record."""
    X = np.asarray(X, np.float32)
    if method not in DOMAIN_METHODS:
        raise FactVAEInputError(f"unknown domain method {method!r}.", field="method",
                                fix=f"use one of {DOMAIN_METHODS}.")
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
    if n_neighbors < 2:
        raise FactVAEInputError(f"the neighbour graph needs at least 2 neighbours, got "
                                f"{n_neighbors}.", field="n_neighbors", fix="use e.g. 15.")
    if resolution is not None and not resolution > 0:
        raise FactVAEInputError(f"the resolution must be positive, got {resolution}.",
                                field="resolution", fix="use e.g. 1.0 (larger: more domains).")
    if (refine or spatial_weight) and coords is None:
        raise FactVAEInputError("spatial refinement and a spatial weight need spot coordinates.",
                                field="obsm['spatial']", fix="use refine=0 and spatial_weight=0.")
    if refine < 0:
        raise FactVAEInputError(f"refinement rounds must be 0 or more, got {refine}.",
                                field="refine", fix="use 0 (off) or 1.")
    record = {"method": method, "n_neighbors": n_neighbors, "spatial_weight": spatial_weight,
              "n_spatial_neighbors": n_spatial_neighbors, "refine": int(refine), "seed": seed,
              "n_domains_requested": -1 if record_suggest or n_domains is None else int(n_domains),
              "resolution": float("nan"), "suggested_by": ""}
    if record_suggest:
        record.update(record_suggest)
    if method == "leiden":
        G = joint_graph(X, coords, spatial_weight=spatial_weight, n_neighbors=n_neighbors,
                        n_spatial_neighbors=n_spatial_neighbors, seed=seed)
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
        from .neighbors import spatial_neighbor_index

        labels = refine_labels(labels, spatial_neighbor_index(coords, n_spatial_neighbors), refine)
    labels = _by_size(labels)
    k = int(labels.max() + 1)
    record.update(reached=k, exact=bool(n_domains is None or k == n_domains))
    return labels, record


def compute_domains(mdata, *, n_domains: int | None = None, resolution: float | None = None,
                    method: str = "leiden", refine: int = 0, spatial_weight: float = 0.0,
                    n_neighbors: int = 15, n_spatial_neighbors: int = 6,
                    use_rep: str = EMBEDDING_KEY, seed: int | None = None,
                    flavor: str = "igraph") -> tuple[np.ndarray, dict]:
    """The work of `find_domains` without storing anything: (labels, parameters record). A GUI
    runs this in a worker and stores the result with `store_domains` on its main thread."""
    if use_rep not in mdata.obsm:
        raise FactVAEInputError("is missing: no embedding to cluster.", field=f"obsm['{use_rep}']",
                                fix="train FactVAE first (factvae run / factvae.train).")
    if n_domains not in (None, "auto") and resolution is not None:
        raise FactVAEInputError("give either a number of domains or a resolution, not both.",
                                field="n_domains / resolution", fix="drop one of the two.")
    if seed is None:  # the training seed, so one seed reproduces the whole run (CLI and GUI)
        seed = int(params_of(mdata.uns, UNS_KEY).get("seed", 0))
    coords = np.asarray(mdata.obsm["spatial"]) if "spatial" in mdata.obsm else None
    labels, record = cluster(np.asarray(mdata.obsm[use_rep]), method=method, n_domains=n_domains,
                             resolution=resolution, coords=coords, spatial_weight=spatial_weight,
                             n_neighbors=n_neighbors, n_spatial_neighbors=n_spatial_neighbors,
                             refine=refine, seed=seed, flavor=flavor)
    record["use_rep"] = use_rep
    return labels, record


def store_domains(mdata, labels: np.ndarray, record: dict, *, key_added: str = DOMAIN_KEY) -> None:
    """Write domains as scanpy's `sc.tl.leiden` does: `obs[key_added]` (categorical),
    `uns[f'{key_added}_colors']`, `uns[key_added]['params']`."""
    k = int(record["reached"])
    mdata.obs[key_added] = pd.Categorical.from_codes(labels, categories=[str(i) for i in range(k)])
    mdata.uns[colors_key(key_added)] = _palette(k)
    mdata.uns[key_added] = {"params": record}


def find_domains(mdata, *, n_domains: int | None = None, resolution: float | None = None,
                 method: str = "leiden", refine: int = 0, spatial_weight: float = 0.0,
                 n_neighbors: int = 15, n_spatial_neighbors: int = 6,
                 use_rep: str = EMBEDDING_KEY, seed: int | None = None, key_added: str = DOMAIN_KEY,
                 flavor: str = "igraph", key: str | None = None) -> dict:
    """Spatial domains from `mdata.obsm[use_rep]` (default: the joint FactVAE embedding) with
    `cluster` (Leiden, K-means or a Gaussian mixture; optional spatial refinement).

    Give `n_domains` (Leiden searches the resolution) or, for Leiden, a `resolution` (default
    1.0); with neither, K-means and the mixture suggest a number. `seed`: default the training
    seed (`uns['factvae']['params']['seed']`), else 0. Writes, as scanpy's `sc.tl.leiden` does,
    `mdata.obs[key_added]` (categorical), `mdata.uns[f'{key_added}_colors']` and
    `mdata.uns[key_added]['params']`; other results are left alone (`key`: the old name of
    `key_added`). Returns the parameters record (with `reached`: the number found, and
    `exact`)."""
    labels, record = compute_domains(mdata, n_domains=n_domains, resolution=resolution,
                                     method=method, refine=refine, spatial_weight=spatial_weight,
                                     n_neighbors=n_neighbors,
                                     n_spatial_neighbors=n_spatial_neighbors, use_rep=use_rep,
                                     seed=seed, flavor=flavor)
    store_domains(mdata, labels, record, key_added=key_added if key is None else key)
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
    new_cats = list(dict.fromkeys(str(mapping.get(c, c)) for c in old))
    new_colours = {}
    for c in old:
        new_colours.setdefault(str(mapping.get(c, c)), colours[c])
    # recode through the categories (vectorised: ~1 ms at 50k spots, not a Python map)
    lut = np.array([new_cats.index(str(mapping.get(c, c))) for c in old] + [-1])
    codes = lut[cat.cat.codes.to_numpy()]
    mdata.obs[key] = pd.Categorical.from_codes(codes, categories=new_cats)
    mdata.uns[f"{key}_colors"] = [new_colours[c] for c in new_cats]


def domain_markers(mdata, *, groupby: str = DOMAIN_KEY, n_top: int = 20,
                   key_added: str = MARKERS_KEY, key: str | None = None) -> pd.DataFrame:
    """Per domain (`mdata.obs[groupby]`; `key`: its old name), the top genes (log-normalised
    RNA), peaks (log-normalised ATAC) and motifs (augmented deviation z-scores, when computed)
    by Wilcoxon test (scanpy's rank_genes_groups). Returns one long table (domain, kind, name,
    score, logfoldchange, pval_adj, rank) and stores it in `mdata.uns[key_added]` as
    {'params', 'table'}."""
    key = groupby if key is None else key
    import anndata as ad
    import scanpy as sc

    from .preprocess import log_normalize

    if key not in mdata.obs:
        raise FactVAEInputError("is missing: find domains first.", field=f"obs['{key}']",
                                fix="run factvae.find_domains(mdata) / factvae domains.")
    groups = mdata.obs[key].astype("category").to_numpy()
    tables = []
    rna, atac = mdata.mod["rna"], mdata.mod["atac"]
    atac_norm = log_normalize(atac.X)
    sources = [("gene", rna.layers.get(LOGNORM_KEY, rna.X), rna.var_names),
               ("peak", atac_norm, atac.var_names)]
    if MOTIF_Z_KEY in atac.obsm:
        # the deviations' own names: motifs without a hit have no column
        sources.append(("motif", np.asarray(atac.obsm[MOTIF_Z_KEY]), atac.uns[MOTIF_Z_NAMES_KEY]))
    for kind, X, names in sources:
        tmp = ad.AnnData(X=X, obs=pd.DataFrame({"g": pd.Categorical(groups)},
                                               index=mdata.obs_names),
                         var=pd.DataFrame(index=pd.Index(list(map(str, names)))))
        with warnings.catch_warnings(), contextlib.ExitStack() as stack:
            warnings.simplefilter("ignore")
            # scanpy's own log lines ("... groups with fewer than ...") say nothing to our users
            stack.enter_context(sc.settings.verbosity.override(0))
            sc.tl.rank_genes_groups(tmp, "g", method="wilcoxon", n_genes=n_top, use_raw=False)
        df = sc.get.rank_genes_groups_df(tmp, group=None)
        df = df.rename(columns={"group": "domain", "names": "name", "scores": "score",
                                "logfoldchanges": "logfoldchange", "pvals_adj": "pval_adj"})
        df["kind"] = kind
        df["rank"] = df.groupby("domain", observed=True).cumcount() + 1
        tables.append(df[["domain", "kind", "name", "score", "logfoldchange", "pval_adj", "rank"]])
    out = pd.concat(tables, ignore_index=True)
    out["domain"] = out["domain"].astype(str)
    mdata.uns[key_added] = {"params": {"groupby": key, "n_top": n_top, "method": "wilcoxon"},
                            "table": out}
    return out
