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


def expression_graph(X: np.ndarray, n_neighbors: int = 15, seed: int = 0) -> sp.csr_matrix:
    """UMAP-style connectivities of the kNN graph of X (scanpy, exact sklearn search)."""
    import anndata as ad
    import scanpy as sc

    tmp = ad.AnnData(np.zeros((X.shape[0], 0), np.float32))
    tmp.obsm["X"] = np.asarray(X, np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sc.pp.neighbors(tmp, n_neighbors=min(n_neighbors, X.shape[0] - 1), use_rep="X",
                        transformer="sklearn", random_state=seed)
    return sp.csr_matrix(tmp.obsp["connectivities"])


def spatial_graph(coords: np.ndarray, n_neighbors: int = 6) -> sp.csr_matrix:
    """Symmetric 0/1 graph of each spot's nearest spatial neighbours (squidpy)."""
    import anndata as ad
    import squidpy as sq  # imported here: it costs seconds

    tmp = ad.AnnData(np.zeros((coords.shape[0], 0), np.float32))
    tmp.obsm["spatial"] = np.asarray(coords, np.float64)
    import logging

    quiet = [logging.getLogger(name) for name in ("squidpy", "spatialdata._logging")]
    levels = [q.level for q in quiet]
    for q in quiet:
        q.setLevel(logging.WARNING)  # their INFO line says nothing to our users
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sq.gr.spatial_neighbors(tmp, coord_type="generic", n_neighs=n_neighbors)
    finally:
        for q, level in zip(quiet, levels):
            q.setLevel(level)
    A = sp.csr_matrix(tmp.obsp["spatial_connectivities"], dtype=np.float32)
    A = A.maximum(A.T)
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


def leiden(G: sp.csr_matrix, resolution: float, seed: int = 0) -> np.ndarray:
    import igraph as ig
    import leidenalg

    coo = sp.triu(G, k=1).tocoo()
    graph = ig.Graph(n=G.shape[0], edges=list(zip(coo.row.tolist(), coo.col.tolist())),
                     directed=False)
    part = leidenalg.find_partition(graph, leidenalg.RBConfigurationVertexPartition,
                                    weights=coo.data.tolist(), resolution_parameter=resolution,
                                    seed=seed, n_iterations=-1)
    labels = np.asarray(part.membership)
    # number domains by size, largest first, as scanpy does
    order = np.argsort(-np.bincount(labels), kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return rank[labels]


def leiden_n(G: sp.csr_matrix, n_domains: int, seed: int = 0, max_iter: int = 30,
             lo: float = 0.01, hi: float = 5.0) -> tuple[np.ndarray, float, bool]:
    """Bisect the resolution until Leiden finds `n_domains`; else the closest count reached.
    Returns (labels, resolution, exact)."""
    best = None
    for _ in range(max_iter):
        res = np.sqrt(lo * hi)  # bisection in log space: resolutions span orders of magnitude
        labels = leiden(G, res, seed)
        k = labels.max() + 1
        if best is None or abs(k - n_domains) < abs(best[0].max() + 1 - n_domains):
            best = (labels, res)
        if k == n_domains:
            return labels, res, True
        if k < n_domains:
            lo = res
        else:
            hi = res
    return best[0], best[1], False


def find_domains(mdata, *, n_domains: int | None = None, resolution: float | None = None,
                 spatial_weight: float = 0.0, n_neighbors: int = 15, n_spatial_neighbors: int = 6,
                 use_rep: str = EMBEDDING_KEY, seed: int = 0, key: str = DOMAIN_KEY) -> dict:
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
        labels, res, exact = leiden_n(G, n_domains, seed)
        if not exact:
            warnings.warn(f"Leiden found {labels.max() + 1} domains at best, not {n_domains} "
                          f"(resolution {res:.3g}).", stacklevel=2)
    else:
        res = 1.0 if resolution is None else float(resolution)
        labels, exact = leiden(G, res, seed), True
    k = int(labels.max() + 1)
    cats = [str(i) for i in range(k)]
    mdata.obs[key] = pd.Categorical.from_codes(labels, categories=cats)
    mdata.uns[f"{key}_colors"] = _palette(k)
    record = {"use_rep": use_rep, "n_neighbors": n_neighbors, "spatial_weight": spatial_weight,
              "n_spatial_neighbors": n_spatial_neighbors, "resolution": float(res),
              "n_domains_requested": -1 if n_domains is None else int(n_domains),
              "reached": k, "exact": bool(exact), "seed": seed, "method": "leiden (leidenalg)"}
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
