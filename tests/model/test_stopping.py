"""Training as long as the data need: the stopping rule, the held-out spots, resuming a stopped
run, and domain previews that never change training."""

import pytest
import torch

import factvae
from factvae.model._trainer import StoppingRule


def test_rule_stops_on_a_plateau_and_not_before_the_minimum():
    rule = StoppingRule(patience=3, min_delta=0.01, min_epochs=8)
    losses = [10, 9, 8, 7.99, 7.98, 7.985, 7.99, 7.97, 7.98, 7.99, 7.99]
    stops = [rule.update(e, v) for e, v in enumerate(losses, start=1)]
    # best (by more than 1 %) at epoch 3; 3 epochs later is epoch 6, but not before epoch 8
    assert stops.index(True) + 1 == 8 and rule.best_epoch == 3
    steady = StoppingRule(patience=3, min_delta=0.01, min_epochs=0)
    assert not any(steady.update(e, 100 * 0.95 ** e) for e in range(1, 60))


@pytest.fixture(scope="module")
def prepared():
    m = factvae.simulate(n_spots=460, n_genes=120, n_peaks=800, n_domains=3, n_motifs=6,
                         domain_effect=2.0, image_size=200, seed=5)
    m = factvae.preprocess(m, n_top_genes=100, n_pcs=20, n_lsi=20)
    factvae.add_gene_peak_prior(m)
    return m


FAST = dict(device="cpu", n_threads=1, n_latent=8, batch_size=64, patience=2, min_epochs=4,
            min_delta=0.02)


def test_stops_early_and_holds_spots_out(prepared):
    model = factvae.FactVAE(prepared, epochs=200, **FAST)
    seen = set()
    batch = model.trainer.source.batch

    def spy(idx):
        seen.update(map(int, idx))
        return batch(idx)

    model.trainer.source.batch = spy
    events = list(model.train_iter())
    val = set(map(int, model.trainer.validation))
    assert len(val) == round(0.05 * prepared.n_obs)
    # the held-out spots are only ever cut for the held-out loss, never trained on
    assert model.stopped_early and 4 <= model.epochs_done < 200
    assert events[-1].stopped_early and "heldout" in model.history
    assert model.history["heldout"].notna().all()
    record = model.record()
    assert record["stopped_early"] and record["n_heldout_spots"] == len(val)
    trained_rows = set(map(int, model.trainer.train_rows))
    assert not (trained_rows & val) and trained_rows | val == set(range(prepared.n_obs))
    # training further does nothing while the rule holds
    assert list(model.train_iter(300)) == [] and model.epochs_done == record["epochs_done"]


def test_off_trains_every_spot_every_epoch(prepared):
    model = factvae.FactVAE(prepared, epochs=6, early_stopping=False, **FAST)
    model.train()
    assert model.trainer.validation is None and model.epochs_done == 6
    assert len(model.trainer.train_rows) == prepared.n_obs and "heldout" not in model.history


def test_resuming_an_interrupted_run_stops_where_the_uninterrupted_one_does(prepared, tmp_path):
    whole = factvae.FactVAE(prepared, epochs=200, **FAST)
    whole.train()
    part = factvae.FactVAE(prepared, epochs=200, **FAST)
    done = iter(range(10 ** 6))
    part.train(cancel=lambda: next(done) >= 9)  # cancelled in its second epoch
    assert part.cancelled and 0 < part.epochs_done < whole.epochs_done
    part.save(tmp_path / "part.pt")
    resumed = factvae.FactVAE.load(tmp_path / "part.pt", prepared, device="cpu", n_threads=1,
                                   epochs=200)
    resumed.train()
    assert resumed.stopped_early and resumed.epochs_done == whole.epochs_done
    for a, b in zip(whole.module.state_dict().values(), resumed.module.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    # a stopped run resumed without early stopping trains on, with every spot
    more = factvae.FactVAE.load(tmp_path / "part.pt", prepared, device="cpu", n_threads=1,
                                epochs=whole.epochs_done + 2, early_stopping=False)
    more.train()
    assert more.epochs_done == whole.epochs_done + 2 and more.trainer.validation is None


def test_previews_never_change_training(prepared):
    from factvae import pipeline

    def weights(preview_every):
        events = pipeline.train(prepared, {"n_latent": 8, "batch_size": 64, "patience": 2,
                                           "min_epochs": 4, "min_delta": 0.02}, epochs=12,
                                device="cpu", n_threads=1, preview_every=preview_every,
                                preview={"n_domains": 3})
        previews = []
        _, model = pipeline.drive(events, lambda k, v: previews.append(v) if k == "preview" else None)
        return model, previews

    plain, none = weights(0)
    watched, previews = weights(3)
    assert none == [] and len(previews) >= 2
    assert all(len(p["labels"]) == prepared.n_obs and p["labels"].max() == 2 for p in previews)
    assert watched.epochs_done == plain.epochs_done
    for a, b in zip(plain.module.state_dict().values(), watched.module.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    line = pipeline.describe_preview(previews[1], previews[0])
    assert f"epoch {previews[1]['epoch']}: 3 domains" in line and "ARI" in line


def test_cli_says_when_it_stopped_and_previews(prepared, tmp_path, capsys):
    from factvae.cli import main

    src = tmp_path / "in.h5mu"
    prepared.write(src)
    out = tmp_path / "res.h5mu"
    assert main(["run", "--mudata", str(src), "--epochs", "100", "--latent", "8",
                 "--batch-size", "64", "--patience", "2", "--threads", "1", "--n-domains", "3",
                 "--preview-every", "2", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "stopped early" in err and "preview at epoch 2: 3 domains" in err
    # what it will cost, said before most of the work; what each stage took, said last
    assert err.index("s per epoch: at most") < err.index("preview at epoch 2")
    assert "early stopping watches 23 held-out spots" in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("factvae: done in") and all(
        f"{stage} " in last for stage in ("load", "preprocess", "train", "domains", "write"))
    assert main(["run", "--mudata", str(src), "--epochs", "3", "--no-early-stop", "--latent", "8",
                 "--threads", "1", "--n-domains", "3", "--out", str(tmp_path / "r2.h5mu")]) == 0
    assert "trained 3 epochs" in capsys.readouterr().err
