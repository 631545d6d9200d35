"""Shared fixtures: tiny simulated tissues and the optional shared reference datasets."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("FACTVAE_SHARED_DATA", ROOT.parent / "shared" / "data"))
ARTIFACTS = ROOT / "test-artifacts"


def pytest_configure(config):
    warnings.filterwarnings("ignore", category=FutureWarning, module="mudata")
    # caches (FASTA indexes) go to a throw-away folder, not the home folder of whoever runs CI
    import tempfile

    os.environ.setdefault("FACTVAE_CACHE", tempfile.mkdtemp(prefix="factvae-test-cache-"))


@pytest.fixture(scope="session")
def tiny_mdata():
    """A small simulated tissue, made once per session; tests must copy before changing it."""
    from factvae.datasets._simulate import simulate

    return simulate(n_spots=240, n_genes=150, n_peaks=900, n_domains=4, n_motifs=8,
                    image_size=300, seed=1)


@pytest.fixture
def tiny(tiny_mdata):
    return tiny_mdata.copy()


@pytest.fixture
def tiny_h5mu(tiny_mdata, tmp_path):
    path = tmp_path / "tiny.h5mu"
    tiny_mdata.write(path)
    return path


@pytest.fixture
def tiny_h5ad_pair(tiny_mdata, tmp_path):
    from factvae.io._write import write_h5ad_pair

    return write_h5ad_pair(tiny_mdata, tmp_path / "rna.h5ad", tmp_path / "atac.h5ad")


@pytest.fixture
def shared_data():
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared datasets not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def artifacts():
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def trained_mdata():
    """The tiny tissue, preprocessed, with the prior, trained for a few epochs (shared; copy it)."""
    import factvae

    # strong domain effects: at this tiny size the defaults leave too little signal to test with
    m = factvae.simulate(n_spots=300, n_genes=150, n_peaks=1200, n_domains=4, n_motifs=8,
                         domain_effect=2.0, rna_depth=600, atac_depth=300, image_size=240, seed=2)
    m = factvae.preprocess(m, n_top_genes=120, n_pcs=30, n_lsi=30)
    factvae.add_gene_peak_prior(m)
    factvae.train(m, epochs=40, batch_size=64, device="cpu", n_threads=1, n_latent=16)
    return m


@pytest.fixture
def trained(trained_mdata):
    return trained_mdata.copy()


@pytest.fixture
def trained_h5mu(trained_mdata, tmp_path):
    path = tmp_path / "trained.h5mu"
    trained_mdata.write(path)
    return path
