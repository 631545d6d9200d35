"""Motif annotation and chromVAR-style deviations, raw and augmented."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from factvae.errors import FactVAEInputError
from factvae.tl._motifs import background_peaks, deviations, domain_motifs, motif_deviations
from factvae.tl._motif_scan import read_motif_matrix, scan_motifs


def test_deviation_is_positive_where_motif_peaks_are_enriched():
    rng = np.random.default_rng(0)
    n, p = 200, 300
    rate = np.full((n, p), 0.3)
    rate[:100, :30] = 0.55  # motif 0 (peaks 0-29): up in the first 100 spots, down in the rest,
    rate[100:, :30] = 0.05  # so its peaks keep an average mean and backgrounds stay comparable
    X = sp.csr_matrix(rng.poisson(rate).astype(np.float32))
    M = sp.csr_matrix(np.c_[np.r_[np.ones(30), np.zeros(270)], rng.random(p) < 0.1].astype(np.float32))
    col = np.asarray(X.sum(0)).ravel()
    bg = background_peaks(col / n, None, 30)
    z, dev = deviations([(slice(0, n), X)], n, M, bg, col / col.sum())
    assert z[:100, 0].mean() > 2 and z[100:, 0].mean() < -2
    assert abs(z[:, 1].mean()) < 1  # a random motif shows no structure


def test_backgrounds_are_matched():
    rng = np.random.default_rng(1)
    mean = rng.lognormal(0, 1, 2000)
    gc = rng.uniform(0.3, 0.7, 2000)
    bg = background_peaks(mean, gc, 10, n_bins=10)
    assert bg.shape == (2000, 10)
    assert np.corrcoef(np.log(mean), np.log(mean[bg[:, 0]]))[0, 1] > 0.9
    assert np.corrcoef(gc, gc[bg[:, 0]])[0, 1] > 0.8


def test_planted_domain_motifs_rank_on_top(trained):
    motif_deviations(trained, n_backgrounds=20)
    atac = trained.mod["atac"]
    assert atac.obsm["factvae_motif_z_raw"].shape == (trained.n_obs, 8)
    assert atac.obsm["factvae_motif_z"].shape == (trained.n_obs, 8)
    trained.obs["factvae_domain"] = trained.obs["domain"].astype(str)
    table = domain_motifs(trained, n_top=3)
    truth = trained.uns["simulation"]["domain_motifs"]
    for source in ("raw", "augmented"):
        top = table[(table["source"] == source) & (table["rank"] <= 3)]
        found = sum(((top["domain"] == d) & (top["motif"] == m)).any()
                    for d, m in zip(truth["domain"], truth["motif"]))
        assert found >= 0.75 * len(truth), source
    assert {"log2fc", "shared", "pval_adj"} <= set(table.columns)


def test_a_motif_without_hits_goes_through_deviations_markers_and_domain_motifs(trained):
    """A motif that matches no peak has no deviation: every table names only the kept motifs
    (before, the markers paired the kept z-scores with the full name list and failed)."""
    from factvae.tl._markers import domain_markers
    from factvae.tl._domains import find_domains

    atac = trained.mod["atac"]
    M = sp.lil_matrix(atac.varm["motif"])
    M[:, 2] = 0
    atac.varm["motif"] = sp.csr_matrix(M)
    dropped = atac.uns["motif_names"][2]
    with pytest.warns(UserWarning, match="1 motifs match no peak"):
        motif_deviations(trained, n_backgrounds=10)
    names = list(atac.uns["factvae_motif_z_names"])
    assert dropped not in names and len(names) == 7
    assert atac.obsm["factvae_motif_z"].shape[1] == atac.obsm["factvae_motif_z_raw"].shape[1] == 7
    find_domains(trained, n_domains=3)
    markers = domain_markers(trained, n_top=3)
    motif_rows = markers[markers["kind"] == "motif"]
    assert len(motif_rows) == 3 * 3 and set(motif_rows["name"]) <= set(names)
    table = domain_motifs(trained, n_top=3)
    assert dropped not in set(table["motif"]) and set(table["motif"]) == set(names)
    assert trained.uns["factvae_domain_motifs"]["params"]["groupby"] == "factvae_domain"


def test_read_motif_matrix_aligns_peaks(trained, tmp_path):
    peaks = list(trained.mod["atac"].var_names[:5]) + ["chrZ:1-2"]
    df = pd.DataFrame({"TF_A": [1, 0, 1, 0, 0, 1], "TF_B": [0, 1, 1, 0, 0, 0]}, index=peaks)
    df.to_csv(tmp_path / "motifs.csv")
    read_motif_matrix(trained, tmp_path / "motifs.csv")
    M = trained.mod["atac"].varm["motif"]
    assert M.shape == (trained.mod["atac"].n_vars, 2) and M.sum() == 4  # the absent peak drops
    assert trained.mod["atac"].uns["motif_names"] == ["TF_A", "TF_B"]
    pd.DataFrame({"TF": [1]}, index=["nope:1-2"]).to_csv(tmp_path / "bad.csv")
    with pytest.raises(FactVAEInputError, match="match the data's peaks"):
        read_motif_matrix(trained, tmp_path / "bad.csv")


def test_scan_finds_a_planted_site(tmp_path):
    import anndata as ad
    import mudata
    from Bio import motifs
    from Bio.Seq import Seq

    rng = np.random.default_rng(0)
    chrom = "".join(rng.choice(list("ACGT"), 3000))
    site = "TGACTCAGCA"
    chrom = chrom[:1200] + site + chrom[1210:]
    (tmp_path / "g.fa").write_text(">chr1\n" + "\n".join(chrom[i:i + 60] for i in range(0, 3000, 60)) + "\n")
    peaks = ["chr1:1000-1500", "chr1:2000-2500", "chr1:100-600"]
    atac = ad.AnnData(sp.csr_matrix(np.ones((3, 3), np.float32)), var=pd.DataFrame(index=peaks))
    rna = ad.AnnData(sp.csr_matrix(np.ones((3, 2), np.float32)))
    m = mudata.MuData({"rna": rna, "atac": atac})
    motif = motifs.create([Seq(site)] * 20)
    motif.matrix_id, motif.name = "TEST1", "AP1like"
    scan_motifs(m, tmp_path / "g.fa", [motif], pvalue=1e-4)
    M = m.mod["atac"].varm["motif"].toarray()
    assert M[:, 0].tolist() == [1, 0, 0]
    assert m.mod["atac"].uns["motif_names"] == ["TEST1_AP1like"]
    assert m.mod["atac"].var["gc_content"].between(0.3, 0.7).all()


def test_no_annotation_is_a_clear_error(trained):
    del trained.mod["atac"].varm["motif"]
    with pytest.raises(FactVAEInputError, match="no motif annotation"):
        motif_deviations(trained)


def test_motif_deviations_key_added_leaves_the_default_result_alone(trained):
    motif_deviations(trained, n_backgrounds=10)
    atac = trained.mod["atac"]
    default = atac.obsm["factvae_motif_z"].copy()
    motif_deviations(trained, n_backgrounds=12, seed=3, augmented=False, key_added="alt")
    assert "alt_raw" in atac.obsm and "alt" not in atac.obsm  # raw only, under the new key
    assert atac.uns["alt"]["params"]["n_backgrounds"] == 12
    assert atac.uns["factvae_motif_z"]["params"]["n_backgrounds"] == 10
    np.testing.assert_array_equal(atac.obsm["factvae_motif_z"], default)
    trained.obs["factvae_domain"] = trained.obs["domain"].astype(str)
    table = domain_motifs(trained, n_top=3, motif_key="alt", key_added="alt_domain_motifs")
    assert set(table["source"]) == {"raw"} and set(table["motif"]) <= set(atac.uns["alt_names"])
    assert trained.uns["alt_domain_motifs"]["params"]["motif_key"] == "alt"
