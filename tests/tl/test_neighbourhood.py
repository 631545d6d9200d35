"""The one spatial neighbour definition, stored in squidpy's layout, and squidpy's neighbourhood
enrichment of the domains on it."""

import numpy as np
import pytest

import factvae
from factvae.errors import FactVAEInputError
from factvae.tl._graph import spatial_graph, spatial_neighbor_index


def test_the_joint_graph_and_the_refinement_share_one_neighbour_definition():
    rng = np.random.default_rng(0)
    xy = np.c_[np.repeat(np.arange(12), 12), np.tile(np.arange(12), 12)].astype(float)
    xy = np.r_[xy, [[40.0, 40.0]]]  # an isolated spot: no neighbour within 1.5 x the pitch
    xy += rng.normal(0, 0.01, xy.shape)
    idx = spatial_neighbor_index(xy, 6)
    A = spatial_graph(xy, 6, cutoff=1.5)
    expected = {(i, j) for i, row in enumerate(idx) for j in row if j >= 0}
    expected |= {(j, i) for i, j in expected}
    assert set(zip(*A.nonzero())) == expected
    assert A[len(xy) - 1].nnz == 0  # the far spot is joined to nothing (kNN alone would join it)
    assert (A != A.T).nnz == 0 and A.diagonal().sum() == 0
    knn = spatial_graph(xy, 6)  # the joint graph's: the 6 nearest whatever their distance
    assert knn[len(xy) - 1].nnz >= 6 and set(zip(*A.nonzero())) <= set(zip(*knn.nonzero()))


def test_spatial_neighbors_writes_squidpys_keys(trained):
    assert factvae.tl.spatial_neighbors(trained) is None
    C = trained.obsp["spatial_connectivities"]
    D = trained.obsp["spatial_distances"]
    assert (C != C.T).nnz == 0 and C.nnz == D.nnz > 0
    i, j = C.nonzero()
    xy = np.asarray(trained.obsm["spatial"])
    assert np.allclose(np.asarray(D[i, j]).ravel(), np.linalg.norm(xy[i] - xy[j], axis=1))
    assert trained.uns["spatial_neighbors"]["connectivities_key"] == "spatial_connectivities"
    for mod in ("rna", "atac"):  # squidpy reads an AnnData: the modalities hold it too
        assert (trained.mod[mod].obsp["spatial_connectivities"] != C).nnz == 0
    copy = factvae.tl.spatial_neighbors(trained, n_neighbors=3, key_added="near", copy=True)
    assert "near_connectivities" in copy.obsp and "near_connectivities" not in trained.obsp


@pytest.mark.slow
def test_domains_of_a_coherent_tissue_neighbour_themselves(trained):
    factvae.tl.find_domains(trained, n_domains=4, spatial_weight=0.3)
    factvae.tl.domain_enrichment(trained, n_perms=200)
    result = trained.uns["factvae_domain_nhood_enrichment"]
    z = np.asarray(result["zscore"])
    assert z.shape == (4, 4)
    off = z[~np.eye(4, dtype=bool)]
    assert np.diag(z).min() > 0 and np.diag(z).mean() > off.mean()  # spatial domains cluster
    shuffled = trained.copy()
    labels = shuffled.obs["factvae_domain"].to_numpy().copy()
    np.random.default_rng(0).shuffle(labels)
    shuffled.obs["factvae_domain"] = labels
    factvae.tl.domain_enrichment(shuffled, n_perms=200)
    zs = np.asarray(shuffled.uns["factvae_domain_nhood_enrichment"]["zscore"])
    assert np.abs(np.diag(zs)).max() < np.diag(z).min()  # shuffled labels: no enrichment


def test_enrichment_without_domains_is_one_clear_error(trained):
    with pytest.raises(FactVAEInputError, match="no domains to test"):
        factvae.tl.domain_enrichment(trained, groupby="nope")
