"""The FactVAE model and trainer on a tiny simulated tissue (few epochs, CPU)."""

import numpy as np
import pytest
import torch

import factvae
from factvae.errors import FactVAEInputError
from factvae.model._model import FactVAE
from factvae.model._module import cosine_matrix, regulatory_loss
from _tissue import prepared_tissue

FAST = dict(batch_size=64, device="cpu", n_threads=1)


@pytest.fixture(scope="module")
def prepared():
    return prepared_tissue(n_pcs=30)


@pytest.fixture
def data(prepared):
    return prepared.copy()


def test_outputs_have_the_documented_keys_and_shapes(data):
    model = factvae.train(data, epochs=2, n_latent=12, **FAST)
    rna, atac = data.mod["rna"], data.mod["atac"]
    assert rna.obsm["X_factvae"].shape == (240, 12) and atac.obsm["X_factvae"].shape == (240, 12)
    # the default joint code: per-spot weights, stored for users to paint
    w = data.obs["factvae_rna_weight"].to_numpy()
    assert w.shape == (240,) and ((w >= 0) & (w <= 1)).all()
    assert data.obsm["X_factvae"].shape == (240, 24)
    genes = rna.varm["factvae_feature"]
    assert genes.shape == (rna.n_vars, 12)
    hvg = rna.var["highly_variable"].to_numpy()
    assert np.isnan(genes[~hvg]).all() and np.isfinite(genes[hvg]).all()
    assert np.isfinite(atac.varm["factvae_feature"]).all()
    rec = data.uns["factvae"]
    assert rec["params"]["n_latent"] == 12 and rec["epochs_done"] == 2
    assert list(rec["history"]["epoch"]) == [1, 2] and rec["device"] == "cpu"
    assert "torch" in rec["versions"] and model.epochs_done == 2


def test_defaults_match_the_spec():
    c = factvae.FactVAEConfig()
    assert (c.n_latent, c.rna_hidden, c.atac_hidden, c.dropout_rate) == (50, (512, 256), (256,), 0.2)
    assert (c.w_nll_rna, c.w_kl_rna, c.w_nll_atac, c.w_kl_atac, c.alpha) == (0.1, 0.001, 0.002, 0.001, 1.0)
    assert (c.lr, c.lr_ssa, c.gamma, c.batch_size, c.epochs, c.seed) == (1e-3, 5e-4, 0.995, 128, 300, 0)


def test_loss_decreases_and_prior_pairs_align(data):
    model = FactVAE(data, **FAST)
    g, p = model.trainer.data.pairs
    before = torch.nn.functional.cosine_similarity(model.module.rna.decoder.feature[g],
                                                   model.module.atac.decoder.feature[p]).mean()
    model.train(15)
    h = model.history
    assert h["nll_rna"].iloc[-1] < h["nll_rna"].iloc[0]
    assert h["nll_atac"].iloc[-1] < h["nll_atac"].iloc[0]
    assert h["reg"].iloc[-1] < 0.5 * h["reg"].iloc[0]
    after = torch.nn.functional.cosine_similarity(model.module.rna.decoder.feature[g],
                                                  model.module.atac.decoder.feature[p]).mean()
    assert float(after) > float(before) + 0.3


def _structure_disagreement(model):
    zr = torch.as_tensor(model.latent("rna"))
    za = torch.as_tensor(model.latent("atac"))
    return float((1 - torch.nn.functional.cosine_similarity(cosine_matrix(zr), cosine_matrix(za))).mean())


def test_ssa_raises_agreement_between_similarity_structures():
    # without the simulator's spot-level enhancer programs, which RNA shows and sparse ATAC
    # barely does (they cap how alike the two structures can get: ratio 0.89-0.97 with them)
    data = prepared_tissue(n_pcs=30, enhancer_activity=0.0)
    with_ssa = FactVAE(data, ssa=True, **FAST).train(30)
    without = FactVAE(data, ssa=False, **FAST).train(30)
    # measured over seeds 0-2: 0.0029-0.0034 with SSA against 0.0039-0.0042 without
    assert _structure_disagreement(with_ssa) < 0.85 * _structure_disagreement(without)
    assert np.isnan(without.history["ssa"]).all()


def test_reproducible_on_cpu(data):
    a = factvae.train(data.copy(), epochs=3, **FAST)
    b = factvae.train(data.copy(), epochs=3, **FAST)
    np.testing.assert_array_equal(a.latent("atac"), b.latent("atac"))
    np.testing.assert_array_equal(a.feature_embedding("rna"), b.feature_embedding("rna"))
    c = factvae.train(data.copy(), epochs=3, seed=1, **FAST)
    assert not np.array_equal(a.latent("atac"), c.latent("atac"))


def test_cancel_keeps_the_last_finished_epoch(data):
    reference = FactVAE(data, **FAST).train(2)
    # 3 mini-batches per epoch: the check before the 9th batch (epoch 3, step 3) cancels
    steps = []
    model = FactVAE(data, **FAST)
    for e in model.train_iter(10, cancel=lambda: len(steps) >= 8, progress_interval=0):
        if not e.epoch_done:
            steps.append(e)
    assert model.cancelled and model.epochs_done == 2
    np.testing.assert_array_equal(model.latent("atac"), reference.latent("atac"))
    model.write_results()
    assert data.uns["factvae"]["cancelled"] and data.uns["factvae"]["epochs_done"] == 2


def test_progress_events(data):
    seen = []
    FactVAE(data, **FAST).train(2, callback=seen.append, progress_interval=0)
    per_batch = [p for p in seen if not p.epoch_done]
    per_epoch = [p for p in seen if p.epoch_done]
    assert len(per_batch) == 6 and len(per_epoch) == 2
    assert set(per_batch[0].losses) >= {"joint", "nll_rna", "kl_rna", "nll_atac", "kl_atac", "reg", "ssa"}
    assert per_epoch[-1].fraction == 1.0 and per_batch[-1].elapsed >= per_batch[0].elapsed
    # mid-epoch events come at most every progress_interval seconds; epoch ends always
    seen = []
    FactVAE(data, **FAST).train(2, callback=seen.append, progress_interval=3600)
    assert [p.epoch_done for p in seen] == [True, True]
    assert all(np.isfinite(v) for k, v in seen[-1].losses.items() if k != "ssa")


def test_save_load_resume_round_trip(data, tmp_path):
    straight = FactVAE(data, **FAST).train(4)
    first = FactVAE(data, **FAST).train(2)
    path = first.save(tmp_path / "m.pt")
    with pytest.raises(FactVAEInputError, match="already exists"):
        first.save(path)
    resumed = FactVAE.load(path, data, **{k: v for k, v in FAST.items() if k != "batch_size"})
    assert resumed.epochs_done == 2 and len(resumed.history) == 2
    np.testing.assert_array_equal(resumed.latent("rna"), first.latent("rna"))
    resumed.train(4)
    np.testing.assert_allclose(resumed.latent("atac"), straight.latent("atac"), rtol=1e-5, atol=1e-6)


def test_a_model_loaded_to_read_results_builds_no_optimiser_and_moves_no_counts(data, tmp_path):
    first = FactVAE(data, **FAST).train(2)
    path = first.save(tmp_path / "m.pt")
    loaded = FactVAE.load(path, data, device="cpu", n_threads=1)
    loaded.write_results()
    assert not loaded.trainer.optimisers_built and loaded.trainer._source is None
    np.testing.assert_array_equal(data.mod["atac"].obsm["X_factvae"], first.latent("atac"))
    np.testing.assert_array_equal(data.mod["rna"].obsm["X_factvae"], first.latent("rna"))
    # saved again untouched: the optimiser states go through as they were loaded
    again = FactVAE.load(loaded.save(tmp_path / "again.pt"), data, device="cpu", n_threads=1)
    a, b = first.trainer.opt.state_dict(), again.trainer.opt.state_dict()
    for k in a["state"]:
        torch.testing.assert_close(a["state"][k]["exp_avg"], b["state"][k]["exp_avg"])


def test_loading_onto_other_features_is_a_clear_error(data, tmp_path):
    path = FactVAE(data, **FAST).train(1).save(tmp_path / "m.pt")
    other = data[:, data.mod["atac"].var_names[:-5].tolist() + data.mod["rna"].var_names.tolist()].copy()
    with pytest.raises(FactVAEInputError, match=r"trained on \d+ peaks, the data has \d+ \(5 of"):
        FactVAE.load(path, other, device="cpu")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(FactVAEInputError, match="not a FactVAE model file"):
        FactVAE.load(tmp_path / "junk.pt", data)


def test_requires_preprocessing(tiny):
    with pytest.raises(FactVAEInputError, match="not been preprocessed"):
        FactVAE(tiny, device="cpu")


def test_cpu_only_and_device_errors(data):
    model = FactVAE(data, **FAST)
    assert next(model.module.parameters()).device.type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(FactVAEInputError, match="CUDA was requested"):
            FactVAE(data, device="cuda")


def test_regulatory_loss_uses_only_known_pairs():
    g = torch.Generator().manual_seed(0)
    genes, peaks = torch.randn(5, 4, generator=g), torch.randn(7, 4, generator=g)
    gi, pj = torch.tensor([0, 2, 4]), torch.tensor([1, 1, 6])
    gn, pn = torch.nn.functional.normalize(genes, dim=1), torch.nn.functional.normalize(peaks, dim=1)
    dense = gn @ pn.T
    expect = ((dense[gi, pj] - 1) ** 2).mean()
    torch.testing.assert_close(regulatory_loss(genes, peaks, gi, pj), expect)


def test_augmented_atac_on_demand(data):
    from factvae.tl._augment import augment_atac, iter_augmented_atac

    model = factvae.train(data, epochs=2, **FAST)
    atac = data.mod["atac"]
    z = torch.as_tensor(model.latent("atac"))
    W = model.module.atac.decoder.feature.detach()
    dense = (torch.softmax(z @ W.T, dim=1) * torch.as_tensor(atac.obs["factvae_log_size"].to_numpy()).exp()[:, None]).numpy()
    some = augment_atac(data, atac.var_names[[3, 10, 500]])
    np.testing.assert_allclose(some, dense[:, [3, 10, 500]], rtol=1e-4)
    total = np.zeros(atac.n_obs)
    seen = 0
    for pos, block in iter_augmented_atac(data, chunk_size=128):
        assert block.shape == (atac.n_obs, len(pos)) and block.shape[1] <= 128
        total += block.sum(axis=1)
        seen += len(pos)
    assert seen == atac.n_vars
    np.testing.assert_allclose(total, np.exp(atac.obs["factvae_log_size"]), rtol=1e-3)
    with pytest.raises(FactVAEInputError, match="not in the data"):
        augment_atac(data, ["chrZ:1-2"])
