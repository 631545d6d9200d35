"""The spots' spatial graph in squidpy's layout, and which domains sit next to which.

`spatial_neighbors` stores the one neighbour definition (`spatial_graph`) where squidpy looks
(`obsp['spatial_connectivities']`, `obsp['spatial_distances']`, `uns['spatial_neighbors']`), so
any `squidpy.gr` function runs on a FactVAE result; `domain_enrichment` is squidpy's
neighbourhood enrichment (a permutation z-score per pair of domains) on that graph."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..errors import FactVAEInputError
from ..keys import DOMAIN_KEY, SPATIAL_GRAPH_KEY
from ._graph import spatial_graph


def spatial_neighbors(mdata, *, n_neighbors: int = 6, cutoff: float | None = 1.5,
                      key_added: str = SPATIAL_GRAPH_KEY, copy: bool = False):
    """Store the spots' spatial graph as squidpy's `sq.gr.spatial_neighbors` does.

    By default the neighbours are the model's and the refinement's (`spatial_graph`: the k
    nearest within 1.5 x the median nearest-spot distance, symmetric).

    Parameters
    ----------
    mdata : MuData
        With spot coordinates in `mdata.obsm['spatial']`.
    n_neighbors : int, default 6
        Neighbours per spot before symmetrising.
    cutoff : float or None, default 1.5
        Keep only neighbours within `cutoff` x the median nearest-spot distance; None keeps
        the k nearest (the joint graph of `find_domains`).
    key_added : str, default 'spatial'
        The prefix of the keys written (squidpy's `key_added`).
    copy : bool, default False
        Work on a copy and return it.

    Returns
    -------
    MuData or None
        The copy when `copy`, else None.

    Raises
    ------
    FactVAEInputError
        When the spots have no coordinates.

    Notes
    -----
    Sets `obsp[f'{key_added}_connectivities']` (0/1) and `obsp[f'{key_added}_distances']`
    (Euclidean, on the same edges) of `mdata` and of each modality with the same spots, and
    `mdata.uns[f'{key_added}_neighbors']` (the keys and the parameters).
    """
    if copy:
        mdata = mdata.copy()
    if "spatial" not in mdata.obsm:
        raise FactVAEInputError("is missing: the spots have no coordinates.",
                                field="obsm['spatial']", fix="give x, y per spot.")
    xy = np.asarray(mdata.obsm["spatial"], np.float64)[:, :2]
    A = spatial_graph(xy, n_neighbors, cutoff).tocoo()
    d = np.linalg.norm(xy[A.row] - xy[A.col], axis=1)
    graph = {f"{key_added}_connectivities": A.tocsr(),
             f"{key_added}_distances": sp.csr_matrix((d, (A.row, A.col)), shape=A.shape)}
    # the modalities too (same spots, same order), so squidpy's functions, which take an
    # AnnData, run on mdata.mod['rna'] or ['atac'] as they are
    for target in [mdata] + [m for m in mdata.mod.values() if m.obs_names.equals(mdata.obs_names)]:
        target.obsp.update(graph)
    mdata.uns[f"{key_added}_neighbors"] = {
        "connectivities_key": f"{key_added}_connectivities",
        "distances_key": f"{key_added}_distances",
        "params": {"n_neighbors": int(n_neighbors), "coord_type": "generic",
                   "cutoff_x_median_distance": -1.0 if cutoff is None else float(cutoff),
                   "made_by": "factvae"}}
    return mdata if copy else None


def domain_enrichment(mdata, *, groupby: str = DOMAIN_KEY, n_perms: int = 1000,
                      seed: int = 0, connectivity_key: str = SPATIAL_GRAPH_KEY,
                      copy: bool = False):
    """Which domains neighbour which: squidpy's neighbourhood enrichment on the spatial graph.

    For each pair of domains, the number of graph edges between them against `n_perms`
    permutations of the labels (a z-score: positive, the two touch more than by chance). The
    graph is made with `spatial_neighbors` when `mdata` has none.

    Parameters
    ----------
    mdata : MuData
        With domains in `mdata.obs[groupby]` and coordinates in `mdata.obsm['spatial']`.
    groupby : str, default 'factvae_domain'
        The categorical obs column of the domains.
    n_perms : int, default 1000
        Label permutations of the null.
    seed : int, default 0
        Seed of the permutations.
    connectivity_key : str, default 'spatial'
        The prefix of the graph in `obsp` (as `spatial_neighbors` writes it).
    copy : bool, default False
        Work on a copy and return it.

    Returns
    -------
    MuData or None
        The copy when `copy`, else None.

    Raises
    ------
    FactVAEInputError
        When `groupby` is not an obs column.

    Notes
    -----
    Sets `mdata.uns[f'{groupby}_nhood_enrichment']` = {'zscore': domains x domains,
    'count': edges between domains} (squidpy's key and layout), and the graph of
    `spatial_neighbors` when it was missing.
    """
    import anndata as ad
    import squidpy as sq

    if copy:
        mdata = mdata.copy()
    if groupby not in mdata.obs:
        raise FactVAEInputError("is not an obs column: no domains to test.",
                                field=f"obs['{groupby}']",
                                fix="find domains first (factvae.tl.find_domains).")
    if f"{connectivity_key}_connectivities" not in mdata.obsp:
        spatial_neighbors(mdata, key_added=connectivity_key)
    spots = ad.AnnData(obs=mdata.obs[[groupby]].astype({groupby: "category"}),
                       obsm={"spatial": np.asarray(mdata.obsm["spatial"])},
                       obsp={f"{connectivity_key}_connectivities":
                             mdata.obsp[f"{connectivity_key}_connectivities"]})
    sq.gr.nhood_enrichment(spots, cluster_key=groupby, connectivity_key=connectivity_key,
                           n_perms=n_perms, seed=seed, show_progress_bar=False, n_jobs=1)
    mdata.uns[f"{groupby}_nhood_enrichment"] = dict(spots.uns[f"{groupby}_nhood_enrichment"])
    return mdata if copy else None
