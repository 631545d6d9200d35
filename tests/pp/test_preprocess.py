"""Preprocessing with the authors' defaults, every parameter recorded."""

import numpy as np
import scipy.sparse as sp

from factvae.pp._preprocess import lsi, preprocess, tfidf


def test_preprocess_outputs_and_record(tiny):
    m = preprocess(tiny, n_top_genes=100, n_pcs=20, n_lsi=30)
    rna, atac = m.mod["rna"], m.mod["atac"]
    assert rna.var["highly_variable"].sum() == 100
    assert rna.obsm["X_pca"].shape == (m.n_obs, 20)
    assert atac.obsm["X_lsi"].shape == (m.n_obs, 30)
    np.testing.assert_allclose(atac.obsm["X_lsi"].mean(1), 0, atol=1e-5)
    np.testing.assert_allclose(atac.obsm["X_lsi"].std(1, ddof=1), 1, atol=1e-4)
    np.testing.assert_allclose(rna.obs["factvae_log_size"],
                               np.log(np.asarray(rna.X.sum(1)).ravel()), rtol=1e-5)
    assert sp.issparse(rna.X) and sp.issparse(atac.X) and sp.issparse(rna.layers["factvae_lognorm"])
    rec = m.uns["factvae_preprocess"]
    assert rec["n_top_genes"] == 100 and rec["n_pcs"] == 20 and rec["hvg_flavor"] == "seurat_v3"
    assert rec["removed_peaks"] == int((tiny.mod["atac"].X.getnnz(0) < 3).sum())


def test_all_genes_kept_when_fewer_than_n_top(tiny):
    m = preprocess(tiny)  # 150 genes < 2000
    assert m.mod["rna"].var["highly_variable"].all()


def test_filters_keep_modalities_aligned(tiny):
    X = tiny.mod["atac"].X.tolil()
    X[3, :] = 0
    tiny.mod["atac"].X = X.tocsr()
    m = preprocess(tiny)
    assert m.n_obs == tiny.n_obs - 1
    assert (m.mod["rna"].obs_names == m.mod["atac"].obs_names).all()
    assert tiny.obs_names[3] not in m.obs_names
    assert m.obsm["spatial"].shape == (m.n_obs, 2) and "domain" in m.obs
    assert "spatial" in m.uns


def test_tfidf_stays_sparse_and_lsi_separates_groups():
    rng = np.random.default_rng(0)
    a = rng.poisson(np.r_[np.full(50, 0.5), np.full(50, 0.02)], (40, 100))
    b = rng.poisson(np.r_[np.full(50, 0.02), np.full(50, 0.5)], (40, 100))
    X = sp.csr_matrix(np.vstack([a, b]).astype(np.float32))
    assert sp.issparse(tfidf(X))
    Z = lsi(X, 5)
    gap = np.abs(Z[:40].mean(0) - Z[40:].mean(0))
    assert gap.max() > 1.0  # some component splits the two groups (the first tracks depth)


def test_lsi_follows_the_scglue_recipe_on_a_hand_checked_example():
    """TF-IDF, then L1 per spot, then log1p(1e4 x), then U (not U * S), rows standardised."""
    from sklearn.utils.extmath import randomized_svd

    X = sp.csr_matrix(np.array([[2, 0, 1, 0, 0, 3],
                                [0, 1, 0, 4, 0, 0],
                                [1, 1, 1, 1, 1, 1],
                                [0, 0, 5, 0, 2, 0],
                                [3, 0, 0, 0, 0, 1]], dtype=np.float32))
    D = X.toarray().astype(np.float64)
    tf = D / D.sum(1, keepdims=True)
    idf = D.shape[0] / D.sum(0)
    T = tf * idf
    T = T / T.sum(1, keepdims=True)         # the L1 step
    T = np.log1p(T * 1e4)
    U, S, _ = randomized_svd(sp.csr_matrix(T), 3, n_iter=15, random_state=0)
    Z = (U - U.mean(1, keepdims=True)) / U.std(1, ddof=1, keepdims=True)
    np.testing.assert_allclose(lsi(X, 3), Z, rtol=1e-4, atol=1e-5)
    # U * S (the old recipe) is a different input: the components are not equally scaled
    US = U * S
    US = (US - US.mean(1, keepdims=True)) / US.std(1, ddof=1, keepdims=True)
    assert np.abs(lsi(X, 3, recipe="signac") - lsi(X, 3)).max() > 0.1
    assert np.abs(US - Z).max() > 0.1
