"""The shared steps of the CLI and the widgets (factvae.pipeline)."""

import pytest

import factvae
from factvae.errors import FactVAEInputError
from factvae.pipeline import default_threads, prepare


def test_prepare_preprocesses_with_the_seed_and_builds_the_prior(tiny):
    stages = []
    m = prepare(tiny, seed=3, on_stage=stages.append)
    assert m.uns["factvae_preprocess"]["seed"] == 3 and "factvae_g2p" in m.uns
    assert stages == ["preprocessing", "building the gene-peak prior"]
    again = []
    assert prepare(m, on_stage=again.append) is m and again == []  # nothing done twice


def test_a_missing_annotation_is_an_error_unless_the_prior_is_off(tiny):
    tiny.mod["rna"].var = tiny.mod["rna"].var.drop(columns=["chrom", "chromStart", "chromEnd",
                                                            "strand"])
    with pytest.raises(FactVAEInputError, match="alpha 0"):
        prepare(tiny.copy())
    m = prepare(tiny.copy(), alpha=0)
    assert "factvae_g2p" not in m.uns
    factvae.train(m, epochs=1, alpha=0, device="cpu", n_threads=1, batch_size=64, n_latent=4)
    assert m.uns["factvae"]["n_prior_pairs"] == 0


def test_default_threads_leave_a_core_to_a_viewer():
    from factvae.model._device import available_cpus

    assert default_threads() == available_cpus()
    assert default_threads(leave_one=True) == max(1, available_cpus() - 1)


def test_train_events_and_a_closed_generator_keeps_the_last_epoch(tiny):
    """`pipeline.train`, behind `factvae run` and the Train widget: stage, prepared, model,
    progress events in that order, (mdata, model) at the end; closed mid-epoch (a worker quit),
    the model is back at its last finished epoch."""
    import numpy as np

    from factvae.pipeline import train

    params = dict(batch_size=64, n_latent=8, seed=2)
    events = train(tiny, params, epochs=2, device="cpu", n_threads=1)
    kinds, stages = [], []
    try:
        while True:
            kind, value = next(events)
            kinds.append(kind)
            if kind == "stage":
                stages.append(value)
    except StopIteration as done:
        mdata, model = done.value
    # each preparation step is announced as it starts (the Train widget shows them)
    assert stages == ["preprocessing", "building the gene-peak prior"]
    assert kinds[:4] == ["stage", "stage", "prepared", "model"]
    assert set(kinds[4:]) == {"progress"}
    assert model.epochs_done == 2 and model.mdata is mdata and model.config.seed == 2
    assert mdata.uns["factvae_preprocess"]["seed"] == 2  # prepared with the training seed

    events = train(mdata, params, epochs=4, device="cpu", n_threads=1, model=model,
                   progress_interval=0.0)
    for kind, value in events:  # continue the same model; stop inside epoch 3
        if kind == "progress" and value.epoch == 3 and not value.epoch_done:
            break
    before = model.latent("rna")
    events.close()
    assert model.epochs_done == 2
    assert not np.allclose(before, model.latent("rna"))  # the half epoch was undone


def test_run_does_the_whole_job_from_a_file_with_a_callback_and_a_cancel(tiny_h5mu):
    from factvae.pipeline import run

    seen = []

    def callback(kind, value):
        seen.append(kind)

    calls = {"n": 0}

    def cancel():  # stop in the second epoch
        calls["n"] += 1
        return calls["n"] > 4

    mdata, model, record = run(tiny_h5mu, dict(batch_size=64, n_latent=8, seed=1), epochs=5,
                               device="cpu", n_threads=1, n_domains=3, callback=callback,
                               cancel=cancel)
    assert seen[:4] == ["stage", "stage", "prepared", "model"] and "progress" in seen
    assert model.cancelled and model.epochs_done == 1  # 3 steps an epoch: stopped in epoch 2
    assert "X_factvae" in mdata.obsm and record["reached"] == 3
    assert mdata.obs["factvae_domain"].cat.categories.size == 3


def test_prepare_with_copy_never_writes_into_the_given_mudata(tiny):
    keys = (set(tiny.uns), set(tiny.mod["rna"].layers), set(tiny.mod["atac"].obsm))
    m = prepare(tiny, copy=True)
    assert m is not tiny and "factvae_preprocess" in m.uns and "factvae_g2p" in m.uns
    assert (set(tiny.uns), set(tiny.mod["rna"].layers), set(tiny.mod["atac"].obsm)) == keys
    assert prepare(m, copy=True) is m  # nothing left to do: no copy
