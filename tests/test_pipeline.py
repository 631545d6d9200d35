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
    from factvae.trainer import available_cpus

    assert default_threads() == available_cpus()
    assert default_threads(leave_one=True) == max(1, available_cpus() - 1)
