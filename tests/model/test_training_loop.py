"""The training loop: device-resident and streamed batches agree, and the loop computes what the
textbook formulation (host-sliced counts, dense ZINB) computes."""

import copy

import numpy as np
import pytest
import torch

from factvae.config import FactVAEConfig
from factvae.model._model import FactVAE, training_data
from factvae.model._module import FactVAEModule, kl_normal, regulatory_loss
from factvae.model._trainer import Trainer
from factvae.model._device import tune_cpu_allocator
from factvae.model._zinb import zinb_log_prob
from _tissue import prepared_tissue

LEGACY = dict(spatial=False, ssa_sampled=False, encoder_init="torch")


@pytest.fixture(scope="module")
def prepared():
    return prepared_tissue(n_spots=200, n_genes=120, n_peaks=700, n_domains=3, n_motifs=6,
                           seed=4)


@pytest.mark.parametrize("spatial", [False, True])
def test_resident_and_streamed_batches_train_identically(prepared, spatial):
    runs = []
    for on_device in (True, False):
        torch.manual_seed(0)
        model = FactVAE(prepared.copy(), device="cpu", n_threads=1, batch_size=64,
                        spatial=spatial, n_latent=8)
        model.trainer = Trainer(model.module, model.trainer.data, model.config, model.device,
                                data_on_device=on_device)
        assert model.trainer.source.resident is on_device
        model.train(2)
        runs.append(model.latent("atac"))
    np.testing.assert_array_equal(runs[0], runs[1])


def _textbook_step(module, batch, counts, idx, pairs, weights, opt):
    """The joint step as the authors formulate it: dense counts, element-wise ZINB."""
    terms = {}
    for name, vae, x, ls, X in (("rna", module.rna, batch.x_rna, batch.log_size_rna, counts[0]),
                                ("atac", module.atac, batch.x_atac, batch.log_size_atac, counts[1])):
        mean, log_var = vae.encoder(x)
        z = module._sample(mean, log_var)
        log_mu, log_theta, pi = vae.decoder(z, ls)
        dense = torch.as_tensor(X[idx].toarray())
        terms[name] = -zinb_log_prob(dense, log_mu, log_theta, pi).sum(1).mean()
        terms["kl_" + name] = kl_normal(mean, log_var).mean()
    reg = regulatory_loss(module.rna.decoder.feature, module.atac.decoder.feature, *pairs)
    loss = (weights["nll_rna"] * terms["rna"] + weights["kl_rna"] * terms["kl_rna"]
            + weights["nll_atac"] * terms["atac"] + weights["kl_atac"] * terms["kl_atac"]
            + weights["alpha"] * reg.exp())
    opt.zero_grad()
    loss.backward()
    opt.step()
    return float(loss.detach())


def test_loop_equals_the_textbook_formulation(prepared):
    """Same seed, same batches: the sparse, fused loop and the dense textbook loss move the
    weights to the same place within float32 rounding (the fused backward sums in another order)."""
    config = FactVAEConfig(n_latent=8, batch_size=50, ssa=False, **LEGACY)
    genes = prepared.mod["rna"].var_names[prepared.mod["rna"].var["highly_variable"].to_numpy()]
    data = training_data(prepared, genes, prepared.mod["atac"].var_names)
    torch.manual_seed(0)
    module = FactVAEModule(20, len(genes), 20, prepared.mod["atac"].n_vars, n_latent=8,
                           encoder_init="torch", dispersion="paper")
    reference = copy.deepcopy(module)
    trainer = Trainer(module, data, config, torch.device("cpu"))
    ref_opt = torch.optim.Adam(reference.parameters(), lr=config.lr)
    tune_cpu_allocator()
    order = np.random.default_rng(0).permutation(200)
    for step in range(4):
        idx = order[step * 50:(step + 1) * 50]
        batch = trainer.source.batch(idx)
        torch.manual_seed(step)
        ours = float(trainer.train_step(batch)["joint"])
        torch.manual_seed(step)
        theirs = _textbook_step(reference, batch, (data.counts_rna, data.counts_atac), idx,
                                trainer.source.pairs, trainer.weights, ref_opt)
        assert ours == pytest.approx(theirs, rel=1e-4)
    for (name, a), b in zip(module.named_parameters(), reference.parameters()):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-3, atol=2e-5,
                                   err_msg=name)


def test_losses_are_read_once_per_event_and_average_the_steps(prepared):
    model = FactVAE(prepared.copy(), device="cpu", n_threads=1, batch_size=50, n_latent=8)
    events = list(model.train_iter(1, progress_interval=0))
    steps, epoch = [e for e in events if not e.epoch_done], events[-1]
    assert len(steps) == 4 and epoch.epoch_done
    for key in ("joint", "nll_atac", "kl_rna"):
        assert epoch.losses[key] == pytest.approx(np.mean([s.losses[key] for s in steps]), rel=1e-5)
    assert model.history["joint"].iloc[0] == pytest.approx(epoch.losses["joint"])


def test_threads_are_reported_and_bad_parameters_are_one_clear_error(prepared):
    from factvae.errors import FactVAEInputError

    model = FactVAE(prepared.copy(), device="cpu", n_threads=1, batch_size=50)
    assert model.n_threads == 1 and model.record()["n_threads"] == 1
    assert model.record()["data_on_device"] is True
    for bad in ({"lr": float("nan")}, {"lr": -1.0}, {"n_latent": 0}, {"batch_size": 0},
                {"alpha": float("nan")}, {"epochs": -1}, {"spatial_neighbors": 0}):
        with pytest.raises(FactVAEInputError):
            FactVAE(prepared.copy(), device="cpu", **bad)
    with pytest.raises(FactVAEInputError, match="threads"):
        FactVAE(prepared.copy(), device="cpu", n_threads=-1)
    with pytest.raises(FactVAEInputError, match="device"):
        FactVAE(prepared.copy(), device="nonsense")


def test_an_error_inside_an_epoch_leaves_the_last_finished_epoch(prepared, monkeypatch):
    model = FactVAE(prepared.copy(), device="cpu", n_threads=1, batch_size=64, seed=0)
    list(model.trainer.run(1, keep_last_epoch=True))
    after_one = {k: v.clone() for k, v in model.module.state_dict().items()}
    real, calls = model.trainer.train_step, []

    def failing(batch):  # two good steps of epoch 2, then out of memory
        calls.append(1)
        if len(calls) > 2:
            raise MemoryError("simulated")
        return real(batch)

    monkeypatch.setattr(model.trainer, "train_step", failing)
    with pytest.raises(MemoryError):
        list(model.trainer.run(2, keep_last_epoch=True))
    assert len(calls) == 3 and model.trainer.epoch == 1
    for k, v in model.module.state_dict().items():
        assert torch.equal(v, after_one[k]), k
