"""Several tissue sections in one analysis: feature merging, the section covariate, spatial
neighbours within sections, shared domains and their composition."""

import numpy as np
import pandas as pd
import pytest
import torch

import factvae
from factvae.datasets import technical_copy
from factvae.errors import FactVAEInputError
from factvae.io import concat_sections, merged_peaks
from factvae.tl import domain_composition, section_codes
from factvae.tl._graph import spatial_graph, spatial_neighbor_index

FAST = dict(device="cpu", n_threads=1, batch_size=64, seed=0)


@pytest.fixture(scope="module")
def section():
    return factvae.simulate(n_spots=200, n_genes=120, n_peaks=700, n_domains=3, seed=2,
                            image_size=150)


@pytest.fixture(scope="module")
def two(section):
    m = concat_sections([section, technical_copy(section, seed=1)], ["a", "b"])
    m = factvae.preprocess(m, n_top_genes=80, n_pcs=15, n_lsi=15)
    factvae.add_gene_peak_prior(m)
    return m


def test_no_spatial_edge_joins_two_sections():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 10, (200, 2))
    groups = np.repeat([0, 1], 100)
    coords = np.vstack([xy[:100], xy[:100] + 0.01])  # the second section lies on the first
    idx = spatial_neighbor_index(coords, 6, cutoff=None, groups=groups)
    rows = np.repeat(np.arange(200), 6)
    assert (idx >= 0).all() and (groups[idx.ravel()] == groups[rows]).all()
    # without the sections every spot's nearest neighbour is its twin in the other section
    plain = spatial_neighbor_index(coords, 6, cutoff=None)
    assert (groups[plain[:, 0]] != groups).all()
    A = spatial_graph(coords, 6, groups=groups).tocoo()
    assert A.nnz and (groups[A.row] == groups[A.col]).all()


def test_two_sections_train_with_the_covariate_and_share_labels(two):
    m = two.copy()
    model = factvae.train(m, epochs=3, **FAST)
    assert model.config.sections == ("a", "b") and model.config.batch_key == "sample"
    offsets = model.module.rna.decoder.section_offset
    assert tuple(offsets.shape) == (2, 80)
    groups = section_codes(m)
    nbr = model.neighbors
    rows = np.repeat(np.arange(m.n_obs), nbr.shape[1])
    valid = nbr.ravel() >= 0
    assert (groups[nbr.ravel()[valid]] == groups[rows[valid]]).all()
    factvae.find_domains(m, n_domains=3, spatial_weight=0.3, refine=1)
    table = domain_composition(m, copy=True)
    assert list(table.columns) == ["a", "b", "total"]
    assert table["total"].sum() == m.n_obs and set(table.index) == {"0", "1", "2"}
    assert m.uns["factvae_domain_composition"]["table"].equals(table)  # stored by find_domains
    # markers over all sections and within each
    markers = factvae.tl.domain_markers(m, by_section=True, n_top=5)
    assert set(markers["section"]) == {"all", "a", "b"}
    for name, part in markers.groupby("section"):
        assert set(part["domain"]) <= set(table.index[table[name if name != "all" else "total"] >= 2])
    plain = factvae.tl.domain_markers(m, n_top=5)
    assert "section" not in plain and len(plain) == (markers["section"] == "all").sum()


def test_the_covariate_is_trained(two):
    m = two.copy()
    model = factvae.train(m, epochs=3, **FAST)
    assert model.module.atac.decoder.section_offset.detach().abs().sum() > 0
    # the section changes the decoded mean: two spots with one code, one per section
    dec = model.module.rna.decoder
    z = torch.zeros(2, model.config.n_latent)
    log_mu, _, _ = dec(z, torch.zeros(2), torch.tensor([0, 1]))
    assert not torch.allclose(log_mu[0], log_mu[1])


def test_one_sample_trains_exactly_as_no_sample_column(section):
    m = factvae.preprocess(section.copy(), n_top_genes=80, n_pcs=15, n_lsi=15)
    factvae.add_gene_peak_prior(m)
    labelled = m.copy()
    labelled.obs["sample"] = "only"
    a = factvae.train(m, epochs=2, **FAST)
    b = factvae.train(labelled, epochs=2, **FAST)
    assert b.config.sections == () and not hasattr(b.module.rna.decoder, "section_offset")
    sa, sb = a.module.state_dict(), b.module.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


def test_a_saved_model_knows_its_sections(two, tmp_path):
    m = two.copy()
    model = factvae.train(m, epochs=2, **FAST)
    model.save(tmp_path / "m.pt")
    back = factvae.FactVAE.load(tmp_path / "m.pt", m)
    assert back.config.sections == ("a", "b")
    assert torch.equal(back.module.rna.decoder.section_offset, model.module.rna.decoder.section_offset)
    other = m.copy()
    other.obs["sample"] = pd.Categorical(np.where(np.arange(m.n_obs) % 3 == 0, "x", "a"))
    with pytest.raises(FactVAEInputError, match="built for the sections"):
        factvae.FactVAE.load(tmp_path / "m.pt", other)


def test_mismatched_features_are_merged_as_reported(section):
    b = technical_copy(section, seed=1)
    atac = b.mod["atac"]
    var = atac.var.copy()
    # section b: its first 10 peaks shifted by 100 bp (they overlap a's), 20 peaks absent,
    # and 5 genes absent
    var.iloc[:10, var.columns.get_loc("chromStart")] += 100
    var.iloc[:10, var.columns.get_loc("chromEnd")] += 100
    atac.var = var
    atac.var_names = [f"{c}:{s}-{e}" for c, s, e in zip(var["chrom"], var["chromStart"],
                                                        var["chromEnd"])]
    b = b[:, [n for n in b.var_names if n not in set(atac.var_names[-20:])
              and n not in set(b.mod["rna"].var_names[:5])]].copy()
    m = concat_sections([section, b], ["a", "b"])
    r = m.uns["factvae_sections"]
    assert r["genes_in"] == [120, 115] and r["genes_kept"] == 115 == m.mod["rna"].n_vars
    own = merged_peaks([pd.DataFrame({"chrom": section.mod["atac"].var["chrom"].astype(str),
                                      "start": section.mod["atac"].var["chromStart"],
                                      "end": section.mod["atac"].var["chromEnd"]})])[0]
    assert r["peaks_in"] == [700, 680]
    assert r["peaks_kept"] == m.mod["atac"].n_vars
    assert r["peaks_kept"] + r["peaks_dropped_not_in_every_section"] == r["merged_intervals"]
    # the 20 absent peaks drop out (unless merged with a neighbour) and the 10 shifted ones
    # join their originals
    assert len(own) - 20 <= r["peaks_kept"] <= len(own)
    assert r["peaks_dropped_not_in_every_section"] >= 1
    # counts are summed into the merged peak, never lost for a kept one: section a's totals
    a_counts = np.asarray(m.mod["atac"].X[:200].sum())
    kept_in_a = section.mod["atac"].X.sum()
    assert a_counts <= kept_in_a and a_counts > 0.9 * kept_in_a


def test_bad_section_input_gives_one_clear_error(section, two):
    per_spot = two.copy()
    per_spot.obs["sample"] = [f"s{i}" for i in range(per_spot.n_obs)]
    with pytest.raises(FactVAEInputError, match="names spots, not sections"):
        section_codes(per_spot)
    renamed = technical_copy(section, seed=1)
    renamed.mod["rna"].var_names = [f"other{i}" for i in range(renamed.mod["rna"].n_vars)]
    with pytest.raises(FactVAEInputError, match="share no gene"):
        concat_sections([section, renamed], ["a", "b"])
    with pytest.raises(FactVAEInputError, match="repeat"):
        concat_sections([section, technical_copy(section)], ["a", "a"])
    with pytest.raises(FactVAEInputError, match="at least two"):
        concat_sections([section], ["a"])
    with pytest.raises(FactVAEInputError, match="is not a column of obs"):
        factvae.train(two.copy(), epochs=1, batch_key="slide", **FAST)


def test_spatialdata_with_one_coordinate_system_per_section_round_trips(two, tmp_path):
    import spatialdata as sd
    from spatialdata.transformations import get_transformation

    m = two.copy()
    m.obs["factvae_domain"] = pd.Categorical(np.where(np.arange(m.n_obs) % 2, "1", "0"))
    out = factvae.write_spatialdata(m, tmp_path / "two.zarr")
    store = sd.read_zarr(out)
    assert set(store.shapes) == {"spots_a", "spots_b"} and set(store.images) == {"image_a", "image_b"}
    assert set(get_transformation(store.shapes["spots_b"], get_all=True)) == {"b"}
    assert set(get_transformation(store.images["image_b"], get_all=True)) == {"b"}
    table = store.tables["rna"]
    assert table.uns["spatialdata_attrs"]["region"] == ["spots_a", "spots_b"]
    assert (table.obs["region"].astype(str).to_numpy()
            == np.where(m.obs["sample"] == "a", "spots_a", "spots_b")).all()
    back = factvae.load_paired(sdata=out)
    assert list(back.obs["sample"].cat.categories) == ["a", "b"]
    assert set(back.uns["spatial"]) == {"a", "b"}
    for name in ("a", "b"):
        mine = (m.obs["sample"] == name).to_numpy()
        theirs = (back.obs["sample"] == name).to_numpy()
        np.testing.assert_allclose(back.obsm["spatial"][theirs], m.obsm["spatial"][mine])
        assert (back.obs["factvae_domain"].astype(str).to_numpy()[theirs]
                == m.obs["factvae_domain"].astype(str).to_numpy()[mine]).all()
        np.testing.assert_array_equal(back.uns["spatial"][name]["images"]["hires"].shape,
                                      m.uns["spatial"][name]["images"]["hires"].shape)
