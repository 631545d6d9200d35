"""Gene-peak regulation: candidates by window, every score, honest nulls, per-domain scores,
BEDPE, and one clear error for each bad input."""

import numpy as np
import pandas as pd
import pytest

from factvae.errors import FactVAEInputError
from factvae.tl._regulation import MODEL_SCORES, SCORES, candidate_pairs, infer_regulation, to_bedpe
from factvae.tl._regulation_null import bh_qvalues
from factvae.tl._regulation_null import matched_background, peak_bins, random_pairs_outside


def test_candidates_within_window_and_signed_distance():
    genes = pd.DataFrame({"chrom": ["chr1", "chr1"], "start": [10_000, 50_000],
                          "end": [20_000, 60_000], "strand": ["+", "-"]}, index=["P", "M"])
    peaks = pd.DataFrame({"chrom": ["chr1"] * 4 + ["chr2"], "start": [9_000, 9_800, 61_000, 200_000, 10_000],
                          "end": [9_500, 10_200, 61_500, 200_500, 10_500]})
    c = candidate_pairs(genes, peaks, window=5_000)
    got = {(g, int(p), int(d)) for g, p, d in zip(c["gene"], c["peak_pos"], c["tss_distance"])}
    # P (+, TSS 10,000): peak 0 ends 500 bp upstream (-500), peak 1 covers the TSS (0)
    # M (-, TSS 60,000): peak 2 starts 1,000 bp before it in coordinates = upstream (-1000)
    assert got == {("P", 0, -500), ("P", 1, 0), ("M", 2, -1000)}
    assert dict(zip(c["gene"], c["tss"])) == {"P": 10_000, "M": 60_000}


def test_bh_qvalues_known_values_and_untested_pairs():
    q = bh_qvalues(np.array([0.01, 0.04, 0.03, 0.2]))
    # sorted p 0.01, 0.03, 0.04, 0.2 -> p*n/rank 0.04, 0.06, 0.0533, 0.2 -> running min from the top
    np.testing.assert_allclose(q, [0.04, 0.0533333, 0.0533333, 0.2], rtol=1e-4)
    # an untested pair (NaN) stays NaN and is not counted as a test
    q2 = bh_qvalues(np.array([0.01, np.nan, 0.04, 0.03, 0.2]))
    assert np.isnan(q2[1])
    np.testing.assert_allclose(q2[[0, 2, 3, 4]], q, rtol=1e-9)


def test_one_gene_table(trained):
    gene = trained.mod["rna"].var_names[trained.mod["rna"].var["highly_variable"]][0]
    t = infer_regulation(trained, gene, score="paper", window=150_000, n_background=20_000)
    assert {"gene", "peak", "score", "z", "pval", "qval", "tss_distance", "in_prior",
            "trained"} <= set(t.columns)
    assert (t["gene"] == gene).all() and (t["tss_distance"].abs() <= 150_000).all()
    assert t["score"].is_monotonic_decreasing
    tested = t[~t["trained"]]
    assert tested["pval"].between(0, 1).all()
    assert "factvae_regulation" not in trained.uns  # only stored for all genes


def test_prior_pairs_are_never_tested_by_a_null_they_were_trained_to_beat(trained):
    """Under every score computed from the model, the prior's pairs are marked trained and
    get no p-value; a score that never saw the model tests them like any pair."""
    for score in MODEL_SCORES:
        t = infer_regulation(trained, score=score, store=False)
        prior = t["in_prior"].to_numpy()
        assert prior.sum() > 10, score
        assert t.loc[prior, "trained"].all() and not t.loc[~prior, "trained"].any()
        assert t.loc[prior, ["pval", "qval", "z"]].isna().all().all(), score
        assert not ((t["qval"] < 0.05) & t["in_prior"]).any()
    raw = infer_regulation(trained, score="raw_correlation", store=False)
    assert not raw["trained"].any() and raw.loc[raw["in_prior"], "pval"].notna().all()


def test_paper_null_leaves_out_the_prior_pairs():
    excluded = {(g, p) for g in range(5) for p in range(5) if (g + p) % 2 == 0}
    gi, pj = random_pairs_outside(5, 5, excluded, 2_000, seed=1)
    assert len(gi) > 500
    assert not any((g, p) in excluded for g, p in zip(gi, pj))


def test_correlation_is_exact_from_moments(trained):
    """The moment formula equals the Pearson correlation of the explicit log denoised
    expression and log augmented accessibility over the spots."""
    from factvae.keys import EMBEDDING_KEY, FEATURE_KEY, LSE_KEY
    from factvae.tl._regulation_scores import denoised_moments

    rna, atac = trained.mod["rna"], trained.mod["atac"]
    G = np.asarray(rna.varm[FEATURE_KEY], float)
    W = np.asarray(atac.varm[FEATURE_KEY], float)
    ok = np.isfinite(G).all(1)
    z_r, z_a = np.asarray(rna.obsm[EMBEDDING_KEY], float), np.asarray(atac.obsm[EMBEDDING_KEY], float)
    L_r = z_r @ G[ok].T
    L_r -= np.log(np.exp(L_r).sum(1, keepdims=True))
    L_a = z_a @ W.T - atac.obs[LSE_KEY].to_numpy()[:, None]
    spots = np.arange(trained.n_obs) % 3 != 0
    mom = denoised_moments(trained, G, W, spots)
    g = int(np.flatnonzero(ok)[4])
    peaks = np.arange(0, 40)
    got = mom.correlation_with_peaks(G[g], W[peaks], mom.peak_sd(W[peaks]))
    col = int(np.flatnonzero(np.flatnonzero(ok) == g)[0])
    want = [np.corrcoef(L_r[spots, col], L_a[spots, p])[0, 1] for p in peaks]
    np.testing.assert_allclose(got, want, atol=1e-8)


def test_matched_background_is_matched():
    rng = np.random.default_rng(0)
    n = 3_000
    access, gc, width = rng.lognormal(0, 1, n), rng.uniform(0.3, 0.7, n), rng.integers(200, 900, n)
    chrom = rng.choice(["chr1", "chr2", "chr3"], n)
    bins = peak_bins(access, gc, width, n_bins=4)
    assert len(np.unique(bins)) == 64
    query = rng.choice(n, 200, replace=False)
    bg, fallback = matched_background(bins, chrom, query, n=50, seed=0)
    assert bg.shape == (200, 50) and fallback == 0
    assert (bins[bg] == bins[query][:, None]).all()            # same bin
    assert (chrom[bg] != chrom[query][:, None]).all()          # other chromosomes
    # each bin is a range of accessibility: a background peak's accessibility lies in the
    # query's bin, not elsewhere
    acc_bin = peak_bins(access, n_bins=4)
    assert (acc_bin[bg] == acc_bin[query][:, None]).all()
    # one chromosome only: the whole bin, counted
    bg1, fallback1 = matched_background(bins, np.full(n, "chr1"), query, n=5)
    assert fallback1 == 200 and (bins[bg1] == bins[query][:, None]).all()


@pytest.fixture(scope="module")
def linked_tissue():
    """A small tissue with strong spot-level enhancer activity, trained briefly."""
    import factvae

    m = factvae.simulate(n_spots=500, n_genes=200, n_peaks=2500, n_domains=4, n_motifs=8,
                         rna_depth=800, atac_depth=900, image_size=200, seed=4)
    m = factvae.preprocess(m, n_top_genes=200, n_pcs=30, n_lsi=30)
    factvae.add_gene_peak_prior(m)
    factvae.train(m, epochs=60, batch_size=64, device="cpu", n_threads=1, n_latent=16)
    factvae.find_domains(m, n_domains=4)
    return m


@pytest.mark.parametrize("score", ["contact_correlation", "correlation", "raw_correlation"])
def test_scores_rank_planted_distal_links_above_unlinked_peaks(linked_tissue, score):
    from sklearn.metrics import roc_auc_score

    m = linked_tissue
    links = m.uns["simulation"]["links"]
    distal = set(zip(links.loc[links["kind"] == "distal", "gene"],
                     links.loc[links["kind"] == "distal", "peak"]))
    t = infer_regulation(m, score=score, store=False)
    t = t[~t["in_prior"] & (t["tss_distance"].abs() >= 10_000)]
    y = np.array([(g, p) in distal for g, p in zip(t["gene"], t["peak"])])
    assert y.sum() >= 15
    assert roc_auc_score(y, t["score"]) > 0.65


def test_domain_scores_use_the_domain_spots(linked_tissue):
    m = linked_tissue
    gene = m.uns["simulation"]["links"]["gene"].iloc[0]
    label = str(m.obs["factvae_domain"].cat.categories[0])
    whole = infer_regulation(m, gene, score="abc")
    dom = infer_regulation(m, gene, score="abc", domain=label)
    assert dom.attrs["params"]["domain"] == label
    assert dom.attrs["params"]["n_spots"] == int((m.obs["factvae_domain"] == label).sum())
    merged = whole.merge(dom, on="peak")
    assert not np.allclose(merged["score_x"], merged["score_y"])
    # shares of the gene's candidates
    np.testing.assert_allclose(dom["score"].sum(), 1.0)


def test_bedpe_columns_and_zero_based_coordinates(tmp_path):
    import anndata as ad
    import mudata as md
    import scipy.sparse as sp

    rna = ad.AnnData(sp.csr_matrix((2, 2), dtype=np.float32),
                     var=pd.DataFrame({"chrom": ["chr1", "chr2"], "chromStart": [1000, 5000],
                                       "chromEnd": [2000, 9000], "strand": ["+", "-"]},
                                      index=["GP", "GM"]))
    atac = ad.AnnData(sp.csr_matrix((2, 2), dtype=np.float32),
                      var=pd.DataFrame(index=["chr1:3000-3500", "chr2:100-400"]))
    m = md.MuData({"rna": rna, "atac": atac})
    table = pd.DataFrame({"gene": ["GP", "GM"], "peak": ["chr1:3000-3500", "chr2:100-400"],
                          "score": [0.5, 0.25], "z": [1.0, np.nan], "qval": [0.01, np.nan],
                          "tss_distance": [1000, 4600], "in_prior": [False, True],
                          "trained": [False, True]})
    path = tmp_path / "links.bedpe"
    to_bedpe(table, m, path)
    lines = path.read_text().splitlines()
    assert lines[0].startswith("#chrom1\tstart1\tend1\tchrom2\tstart2\tend2\tname\tscore\tstrand1")
    first = lines[1].split("\t")
    assert first[:10] == ["chr1", "1000", "1001", "chr1", "3000", "3500", "GP|chr1:3000-3500",
                          "0.5", ".", "."]
    second = lines[2].split("\t")
    # '-' strand: the TSS is the last base of the gene, 0-based: end - 1
    assert second[:6] == ["chr2", "8999", "9000", "chr2", "100", "400"]
    back = pd.read_csv(path, sep="\t", comment=None)
    assert len(back) == 2


def test_regulation_errors(trained, tiny):
    with pytest.raises(FactVAEInputError, match="not in the data"):
        infer_regulation(trained, "NoSuchGene")
    with pytest.raises(FactVAEInputError, match="no trained FactVAE"):
        infer_regulation(tiny, "Gene00001")
    with pytest.raises(FactVAEInputError, match="unknown score"):
        infer_regulation(trained, score="pearson")
    with pytest.raises(FactVAEInputError, match="more than 0"):
        infer_regulation(trained, window=0)
    gene = trained.mod["rna"].var_names[trained.mod["rna"].var["highly_variable"]][0]
    with pytest.raises(FactVAEInputError, match="does not depend on the spots"):
        infer_regulation(trained, gene, score="paper", domain="1")
    placeless = trained.copy()
    placeless.mod["rna"].var.loc[gene, "chrom"] = np.nan
    placeless.mod["rna"].var.loc[gene, "chromStart"] = np.nan
    with pytest.raises(FactVAEInputError, match="without coordinates"):
        infer_regulation(placeless, gene)


def test_every_score_has_a_help_line_and_a_table(trained):
    from factvae.tl._regulation import SCORE_HELP, summarize

    assert set(SCORE_HELP) == set(SCORES)
    gene = trained.mod["rna"].var_names[trained.mod["rna"].var["highly_variable"]][1]
    for score in SCORES:
        t = infer_regulation(trained, gene, score=score)
        assert len(t) and t.attrs["params"]["score"] == score and "null" in t.attrs["params"]
        assert score in summarize(t)
