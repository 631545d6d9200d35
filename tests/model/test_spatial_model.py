"""The spatial mode, the domain methods and the spatial refinement."""

import tracemalloc

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

import factvae
from factvae.tl._cluster import cluster, refine_labels, suggest_n_domains
from factvae.tl._domains import find_domains
from factvae.errors import FactVAEInputError
from factvae.model._model import FactVAE
from factvae.tl._graph import spatial_neighbor_index
from _tissue import prepared_tissue

FAST = dict(batch_size=64, device="cpu", n_threads=1, n_latent=8)


@pytest.fixture(scope="module")
def prepared():
    return prepared_tissue()


def test_spatial_mode_is_on_with_coordinates_and_off_without(prepared):
    on = FactVAE(prepared.copy(), **FAST)
    assert on.config.spatial is True and on.neighbors.shape == (240, 8)
    assert on.config.spatial_design == "bilateral" and on.trainer.data.neighbors is None
    plain = prepared.copy()
    del plain.obsm["spatial"]
    off = FactVAE(plain, **FAST)
    assert off.config.spatial is False and off.trainer.data.neighbors is None
    with pytest.raises(FactVAEInputError, match="coordinates"):
        FactVAE(plain, spatial=True, **FAST)
    paper = FactVAE(prepared.copy(), spatial=False, **FAST)
    assert paper.trainer.data.neighbors is None and paper.neighbors is None
    assert type(paper.module.rna.encoder).__name__ == "Encoder"


def test_bilateral_trains_the_papers_network_and_averages_its_codes(prepared):
    from factvae.tl._graph import bilateral_mean

    paper = factvae.train(prepared.copy(), epochs=2, spatial=False, **FAST)
    spatial = factvae.train(prepared.copy(), epochs=2, spatial_design="bilateral", **FAST)
    for mod in ("rna", "atac"):
        own = spatial.latent(mod, spatial=False)
        np.testing.assert_array_equal(own, paper.latent(mod))       # the same network
        expect, kept = bilateral_mean(own, spatial.neighbors)
        np.testing.assert_allclose(spatial.latent(mod), expect.numpy(), rtol=1e-6)
        assert np.allclose(spatial.latent(mod, self_weight=True), kept.numpy())
        np.testing.assert_array_equal(spatial.mdata.mod[mod].obsm["X_factvae_own"], own)


@pytest.mark.parametrize("design", ["bilateral", "bilateral_train", "attention", "aggregate",
                                    "smooth"])
def test_each_design_trains_and_writes_finite_results(prepared, design):
    m = prepared.copy()
    model = factvae.train(m, epochs=2, spatial_design=design, **FAST)
    assert np.isfinite(m.obsm["X_factvae"]).all() and m.obsm["X_factvae"].shape == (240, 16)
    hist = model.history
    if design in ("bilateral", "bilateral_train", "attention"):
        w = m.mod["rna"].obs["factvae_self_weight"].to_numpy()
        assert ((w > 0) & (w <= 1)).all()
        assert design == "bilateral" or "self_weight_rna" in hist
    if design == "smooth":
        assert "smooth_rna" in hist and np.isfinite(hist["smooth_atac"]).all()
    assert m.uns["factvae"]["params"]["spatial_design"] == design


def test_attention_gives_all_weight_to_a_spot_without_neighbours(prepared):
    import torch

    model = FactVAE(prepared.copy(), spatial_design="attention", **FAST)
    enc = model.module.rna.encoder
    x = torch.randn(3, 20)
    x_nbr = torch.randn(3, 8, 20)
    mask = torch.zeros(3, 8, dtype=torch.bool)
    mask[0, :2] = True
    enc.eval()
    mean, _ = enc(x, x_nbr, mask)
    alone, _ = enc(x[1:], None, None)
    enc(x, x_nbr, mask)
    w = enc.last_self_weight
    assert w[1] == 1 and w[2] == 1 and 0 < w[0] < 1
    torch.testing.assert_close(mean[1:], alone)


def test_saved_spatial_model_reloads_with_its_design(prepared, tmp_path):
    m = prepared.copy()
    for design in ("aggregate", "bilateral"):
        model = factvae.train(m, epochs=1, spatial_design=design, **FAST)
        path = model.save(tmp_path / f"{design}.pt")
        again = FactVAE.load(path, m, device="cpu")
        assert again.config.spatial and again.config.spatial_design == design
        np.testing.assert_allclose(again.latent("rna"), model.latent("rna"), rtol=1e-6)
        with pytest.raises(FactVAEInputError, match="cannot change"):
            FactVAE.load(path, m, device="cpu", spatial_design="attention")


def test_neighbour_index_and_refinement_at_20k_spots_stay_sparse():
    side = 142
    xy = np.stack(np.meshgrid(np.arange(side), np.arange(side)), -1).reshape(-1, 2)[:20000]
    xy = xy.astype(float)  # an exact grid, as DBiT and Visium arrays are
    labels = (xy[:, 0] > side / 2).astype(int)
    tracemalloc.start()
    nbr = spatial_neighbor_index(xy, 6)
    refined = refine_labels(labels, nbr)
    from factvae.tl._graph import spatial_graph

    A = spatial_graph(xy, 6)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 100e6, f"{peak / 1e6:.0f} MB: something spots x spots was built"
    assert nbr.shape == (20000, 6) and A.shape == (20000, 20000) and A.nnz < 20000 * 12
    # on a grid the 4 nearest are one step away, the diagonals 1.41 (within the 1.5 cutoff);
    # a corner has 2 + 1, an edge 3 + 2, the inside 4 + 2 of its 4 diagonals
    count = (nbr >= 0).sum(1)
    assert count.min() >= 2 and np.median(count) == 6
    assert (refined == labels).mean() > 0.99


def test_refinement_never_changes_a_spot_whose_neighbours_agree():
    rng = np.random.default_rng(1)
    nbr = rng.integers(0, 50, (50, 6))
    nbr[:, 5] = -1
    labels = rng.integers(0, 3, 50)
    out = refine_labels(labels, nbr, rounds=1)
    for i in range(50):
        nb = labels[nbr[i][nbr[i] >= 0]]
        if (nb == labels[i]).sum() * 2 >= len(nb):  # at least half agree: no other majority
            assert out[i] == labels[i]
    # an isolated outlier inside a uniform neighbourhood is absorbed
    labels2 = np.zeros(50, int)
    labels2[7] = 2
    nbr2 = np.tile(np.arange(1, 7), (50, 1))
    nbr2[7] = [0, 1, 2, 3, 4, 5]
    assert refine_labels(labels2, nbr2)[7] == 0


@pytest.mark.parametrize("method", ["leiden", "kmeans", "gmm"])
def test_domains_with_each_method(trained, method):
    rec = find_domains(trained, n_domains=4, method=method)
    dom = trained.obs["factvae_domain"]
    assert rec["reached"] == 4 and rec["method"] == method and dom.cat.categories.size == 4
    assert adjusted_rand_score(trained.obs["domain"], dom) > 0.4
    before = trained.obs["factvae_domain"].cat.codes.to_numpy()
    refined = find_domains(trained, n_domains=4, method=method, refine=1)
    assert refined["refine"] == 1
    after = trained.obs["factvae_domain"].cat.codes.to_numpy()
    # the refinement changed labels, and exactly as one majority round of the spatial
    # neighbours changes the unrefined ones (labels are renumbered by size: compare partitions)
    from factvae.tl._graph import spatial_neighbor_index

    nbr = spatial_neighbor_index(np.asarray(trained.obsm["spatial"]), 6)
    assert adjusted_rand_score(before, after) < 1.0
    assert adjusted_rand_score(refine_labels(before, nbr, 1), after) == 1.0


def test_suggested_number_of_domains_on_separated_groups():
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 10, (5, 6))
    X = np.vstack([c + rng.normal(0, 0.5, (80, 6)) for c in centres])
    k, scores = suggest_n_domains(X)
    assert k == 5 and set(scores) >= {2, 5, 10}
    labels, rec = cluster(X, method="gmm")
    assert rec["reached"] == 5 and "silhouette" in rec["suggested_by"]


def test_bad_domain_options_are_one_clear_error(trained):
    with pytest.raises(FactVAEInputError, match="unknown domain method"):
        find_domains(trained, n_domains=3, method="mclust")
    with pytest.raises(FactVAEInputError, match="between 1 and"):
        find_domains(trained, n_domains=trained.n_obs + 5, method="kmeans")
    with pytest.raises(FactVAEInputError, match="Leiden only"):
        find_domains(trained, resolution=1.0, method="kmeans")
    no_xy = trained.copy()
    del no_xy.obsm["spatial"]
    with pytest.raises(FactVAEInputError, match="coordinates"):
        find_domains(no_xy, n_domains=3, refine=1)
    bad = trained.copy()
    bad.obsm["X_factvae"] = np.full_like(bad.obsm["X_factvae"], np.nan)
    with pytest.raises(FactVAEInputError, match="NaN"):
        find_domains(bad, n_domains=3)


def test_cli_exposes_spatial_mode_and_domain_methods(trained_h5mu, tmp_path, capsys):
    from factvae.cli import main

    out = tmp_path / "d.h5mu"
    assert main(["domains", "--mudata", str(trained_h5mu), "--method", "gmm", "--n-domains", "3",
                 "--refine", "1", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "3 domains (gmm" in err and "refinement" in err
    with pytest.raises(SystemExit):
        main(["domains", "--mudata", str(trained_h5mu), "--method", "mclust"])
    capsys.readouterr()
    sim = tmp_path / "sim.h5mu"
    assert main(["simulate", "--out", str(sim), "--n-spots", "150", "--n-genes", "80",
                 "--n-peaks", "300", "--n-domains", "3"]) == 0
    res = tmp_path / "r.h5mu"
    assert main(["train", "--mudata", str(sim), "--epochs", "1", "--batch-size", "64",
                 "--spatial", "on", "--spatial-design", "aggregate", "--threads", "1",
                 "--out", str(res)]) == 0
    assert "spatial mode (aggregate" in capsys.readouterr().err


def test_bilateral_leans_on_neighbours_that_look_alike_and_not_on_others():
    import torch

    from factvae.model._module import BilateralEncoder

    torch.manual_seed(0)
    enc = BilateralEncoder(10, (16,), 4, 0.0).eval()
    x = torch.randn(4, 10)
    twins = x[:, None, :].repeat(1, 3, 1)                  # neighbours identical to the spot
    strangers = x[:, None, :] + 50 * torch.randn(4, 3, 10)  # neighbours far away in code space
    nbr = torch.cat([twins, strangers], dim=1)
    mask = torch.ones(4, 6, dtype=torch.bool)
    mean, _ = enc(x, nbr, mask)
    own, _ = enc(x)
    w = enc.last_self_weight
    # the twins count fully (weight 1 each), the strangers hardly: self weight ~ 1/4
    assert torch.allclose(w, torch.full((4,), 0.25), atol=0.02)
    torch.testing.assert_close(mean, own, rtol=1e-3, atol=1e-3)  # twins share the spot's code
    mask[:, :3] = False                                     # only strangers left
    enc(x, nbr, mask)
    # the median distance is now a stranger's: the spot keeps at least a third of the weight
    assert (enc.last_self_weight > 0.3).all()
