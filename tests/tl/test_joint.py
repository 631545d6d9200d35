"""The joint code: the paper's concatenation, or per-spot modality weights (weighted nearest
neighbours) that follow the modality that tells something about the spot."""

import numpy as np
import pytest

import factvae
from factvae.errors import FactVAEInputError
from factvae.tl import joint_code, modality_weights
from _tissue import prepared_tissue


def _clusters(n=300, d=8, k=4, seed=0, noise=0.3):
    """Codes of k well separated groups, and the groups."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    centres = rng.normal(0, 3, (k, d))
    return centres[y] + rng.normal(0, noise, (n, d)), y


def test_the_weights_follow_the_informative_modality():
    informative, _ = _clusters()
    noise = np.random.default_rng(1).normal(size=informative.shape)
    w_rna_informative = modality_weights(informative, noise)
    w_atac_informative = modality_weights(noise, informative)
    assert w_rna_informative.mean() > 0.8 and w_atac_informative.mean() < 0.2
    # two views of the same structure: neither modality dominates
    other = informative + np.random.default_rng(2).normal(0, 0.3, informative.shape)
    both = modality_weights(informative, other)
    assert 0.3 < both.mean() < 0.7


def test_weights_sum_to_one_per_spot_in_the_joint_code():
    from factvae.tl._joint import unit_scale

    z_r, _ = _clusters(seed=3)
    z_a = np.random.default_rng(4).normal(size=(300, 5))
    code, w = joint_code(z_r, z_a)
    assert code.shape == (300, 13)
    # each half is its scaled code times the square root of its weight, and the two weights
    # sum to one per spot
    share_a = (code[:, :5] ** 2).sum(1) / (unit_scale(z_a) ** 2).sum(1)
    share_r = (code[:, 5:] ** 2).sum(1) / (unit_scale(z_r) ** 2).sum(1)
    np.testing.assert_allclose(share_r, w, rtol=1e-4)
    np.testing.assert_allclose(share_a + share_r, 1.0, rtol=1e-4)
    # each scaled half has a mean squared length of one: neither counts more for its scale
    np.testing.assert_allclose((unit_scale(z_r * 50) ** 2).sum(1).mean(), 1.0)


def test_the_weighted_code_clusters_where_the_concatenation_is_drowned_by_noise():
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    z_r, y = _clusters(n=400, d=6, noise=1.5, seed=5)
    z_a = np.random.default_rng(6).normal(0, 6, (400, 30))  # a loud, useless half
    concat = joint_code(z_r, z_a, method="concat")[0]
    weighted = joint_code(z_r, z_a)[0]
    ari = {name: adjusted_rand_score(y, KMeans(4, n_init=10, random_state=0).fit_predict(X))
           for name, X in (("concat", concat), ("weighted", weighted))}
    assert ari["weighted"] > 0.8 > ari["concat"] + 0.2


def test_bad_codes_are_refused_in_one_line():
    z = np.zeros((10, 3))
    with pytest.raises(FactVAEInputError, match="RNA has 10 spots and ATAC 9"):
        modality_weights(z, z[:9])
    bad = z.copy()
    bad[0, 0] = np.nan
    with pytest.raises(FactVAEInputError, match="NaN"):
        modality_weights(bad, z)
    with pytest.raises(FactVAEInputError, match="unknown joint code"):
        joint_code(z, z, method="mean")


@pytest.fixture(scope="module")
def tissue():
    return prepared_tissue(n_spots=200, seed=3)


def test_the_papers_concatenation_is_unchanged_when_selected(tissue):
    m = tissue.copy()
    factvae.train(m, epochs=2, joint="concat", device="cpu", n_threads=1, seed=0)
    np.testing.assert_array_equal(m.obsm["X_factvae"], np.hstack(
        [m.mod["atac"].obsm["X_factvae"], m.mod["rna"].obsm["X_factvae"]]))
    assert "factvae_rna_weight" not in m.obs
    w = tissue.copy()
    factvae.train(w, epochs=2, device="cpu", n_threads=1, seed=0)  # the default: weighted
    # the same network either way: only the read-out differs
    np.testing.assert_array_equal(w.mod["rna"].obsm["X_factvae"], m.mod["rna"].obsm["X_factvae"])
    code, weight = joint_code(w.mod["rna"].obsm["X_factvae"], w.mod["atac"].obsm["X_factvae"])
    np.testing.assert_allclose(w.obsm["X_factvae"], code, rtol=1e-6)
    np.testing.assert_allclose(w.obs["factvae_rna_weight"], weight)
