"""The built-in simulator: deterministic, realistic in shape, with consistent ground truth."""

import numpy as np
import pytest
import scipy.sparse as sp

from factvae.datasets._simulate import simulate


def test_sizes_and_sparsity(tiny_mdata):
    m = tiny_mdata
    assert m.mod["rna"].shape == (240, 150) and m.mod["atac"].shape == (240, 900)
    rna_density = m.mod["rna"].X.nnz / np.prod(m.mod["rna"].shape)
    atac_density = m.mod["atac"].X.nnz / np.prod(m.mod["atac"].shape)
    assert atac_density < rna_density / 3 and atac_density < 0.15
    for name in ("rna", "atac"):
        X = m.mod[name].X
        assert sp.issparse(X) and np.all(X.data == np.round(X.data)) and X.data.min() > 0


def test_deterministic_for_a_seed():
    a = simulate(n_spots=120, n_genes=60, n_peaks=300, n_domains=3, n_motifs=6, image_size=120, seed=5)
    b = simulate(n_spots=120, n_genes=60, n_peaks=300, n_domains=3, n_motifs=6, image_size=120, seed=5)
    c = simulate(n_spots=120, n_genes=60, n_peaks=300, n_domains=3, n_motifs=6, image_size=120, seed=6)
    assert (a.mod["atac"].X != b.mod["atac"].X).nnz == 0
    lib = "simulated_tissue"
    np.testing.assert_array_equal(a.uns["spatial"][lib]["images"]["hires"],
                                  b.uns["spatial"][lib]["images"]["hires"])
    assert (a.mod["atac"].X != c.mod["atac"].X).nnz > 0


def test_domains_have_different_sizes_and_are_spatially_coherent(tiny_mdata):
    from scipy.spatial import cKDTree

    dom = tiny_mdata.obs["domain"].cat.codes.to_numpy()
    counts = np.bincount(dom)
    assert len(counts) == 4 and counts.min() >= 3 and counts.max() > 1.5 * counts.min()
    xy = tiny_mdata.obsm["spatial"]
    _, nn = cKDTree(xy).query(xy, k=7)
    agree = (dom[nn[:, 1:]] == dom[:, None]).mean()
    assert agree > 0.7  # neighbours mostly share a domain: domains are regions, not noise


def test_image_is_registered_to_spots(tiny_mdata):
    from factvae.io._spatial import tissue_view

    view = tissue_view(tiny_mdata)
    h, w = view.image.shape[:2]
    x, y = view.spots_xy.T
    assert (x > 0).all() and (x < w).all() and (y > 0).all() and (y < h).all()
    img = view.image.astype(float)
    on_spots = img[y.astype(int), x.astype(int)].mean()
    corner = img[:5, :5].mean()
    assert corner > 225 and on_spots < corner - 20  # tissue darker than the background


def test_links_and_prior_truth_agree(tiny_mdata):
    """The simulator's in_prior, checked by hand (not by the prior's own code): a link is in
    the prior when its peak overlaps the gene body extended 2 kb upstream of the TSS."""
    m = tiny_mdata.copy()
    links = m.uns["simulation"]["links"]
    assert links["in_prior"].any() and (~links["in_prior"]).any()
    genes, peaks = m.mod["rna"].var, m.mod["atac"].var
    by_hand = []
    for g, p in zip(links["gene"], links["peak"]):
        chrom, start, end, strand = genes.loc[g, ["chrom", "chromStart", "chromEnd", "strand"]]
        lo, hi = (start - 2000, end) if strand == "+" else (start, end + 2000)
        pc, ps, pe = peaks.loc[p, ["chrom", "chromStart", "chromEnd"]]
        by_hand.append(pc == chrom and ps < hi and pe > max(lo, 0))
    np.testing.assert_array_equal(np.array(by_hand), links["in_prior"].to_numpy())
    assert (np.abs(links["tss_distance"]) <= 150_000).all()


def test_planted_links_drive_expression():
    """A planted gene correlates with its linked peak across domains more than random pairs do
    (strong effects and six domains, so that six domain means show it clearly)."""
    m = simulate(n_spots=600, n_genes=200, n_peaks=1500, n_domains=6, n_motifs=12,
                 domain_effect=2.0, image_size=200, seed=3)
    dom = m.obs["domain"].cat.codes.to_numpy()
    rna = m.mod["rna"].X.toarray()
    atac = m.mod["atac"].X.toarray()
    rna = rna / rna.sum(1, keepdims=True)
    atac = atac / atac.sum(1, keepdims=True)
    rmean = np.stack([rna[dom == d].mean(0) for d in np.unique(dom)])
    amean = np.stack([atac[dom == d].mean(0) for d in np.unique(dom)])
    links = m.uns["simulation"]["links"]
    gi = m.mod["rna"].var_names.get_indexer(links["gene"])
    pj = m.mod["atac"].var_names.get_indexer(links["peak"])

    def corr(g, p):
        return np.corrcoef(np.log(rmean[:, g] + 1e-6), np.log(amean[:, p] + 1e-6))[0, 1]

    planted = np.nanmean([corr(g, p) for g, p in zip(gi, pj)])
    rng = np.random.default_rng(0)
    random = np.nanmean([corr(g, p) for g, p in zip(rng.integers(0, rmean.shape[1], 300),
                                                     rng.integers(0, amean.shape[1], 300))])
    assert planted > random + 0.2


def test_planted_motifs_are_domain_specific(tiny_mdata):
    m = tiny_mdata
    act = m.uns["simulation"]["motif_activity"]
    pairs = m.uns["simulation"]["domain_motifs"]
    assert len(pairs) >= 4
    for d, motif in zip(pairs["domain"], pairs["motif"]):
        assert act.loc[d, motif] == act[motif].max()
    motif_mat = m.mod["atac"].varm["motif"]
    assert motif_mat.shape == (900, 8) and len(m.mod["atac"].uns["motif_names"]) == 8


def test_rejects_bad_arguments():
    with pytest.raises(ValueError):
        simulate(n_domains=1)
