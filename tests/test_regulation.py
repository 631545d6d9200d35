"""Gene-peak regulation: candidates by window, cosine scores against a random-pair background."""

import numpy as np
import pandas as pd
import pytest

from factvae.errors import FactVAEInputError
from factvae.regulation import bh_qvalues, candidate_pairs, infer_regulation


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


def test_bh_qvalues_known_values():
    q = bh_qvalues(np.array([0.01, 0.04, 0.03, 0.2]))
    # sorted p 0.01, 0.03, 0.04, 0.2 -> p*n/rank 0.04, 0.06, 0.0533, 0.2 -> running min from the top
    np.testing.assert_allclose(q, [0.04, 0.0533333, 0.0533333, 0.2], rtol=1e-4)


def test_one_gene_table(trained):
    gene = trained.mod["rna"].var_names[trained.mod["rna"].var["highly_variable"]][0]
    t = infer_regulation(trained, gene, window=150_000, n_background=20_000)
    assert set(t.columns) == {"gene", "peak", "score", "z", "pval", "qval", "tss_distance", "in_prior"}
    assert (t["gene"] == gene).all() and (t["tss_distance"].abs() <= 150_000).all()
    assert t["score"].is_monotonic_decreasing and t["pval"].between(0, 1).all()
    assert "factvae_regulation" not in trained.uns  # only stored for all genes


def test_planted_links_score_above_background(trained):
    table = infer_regulation(trained, n_background=20_000)
    stored = trained.uns["factvae_regulation"]
    assert stored["params"]["all_genes"] and len(stored["table"]) > 0
    links = trained.uns["simulation"]["links"]
    key = set(zip(links["gene"], links["peak"]))
    planted = table[[(g, p) in key for g, p in zip(table["gene"], table["peak"])]]
    others = table[[(g, p) not in key for g, p in zip(table["gene"], table["peak"])]]
    assert len(planted) > 20
    assert planted["z"].mean() > 1.0 and planted["z"].mean() > others["z"].mean() + 0.5


def test_regulation_errors(trained, tiny):
    with pytest.raises(FactVAEInputError, match="not in the data"):
        infer_regulation(trained, "NoSuchGene")
    with pytest.raises(FactVAEInputError, match="no trained FactVAE"):
        infer_regulation(tiny, "Gene00001")
