"""`factvae run` with several tissue sections: one result with shared domains, each section's
counts on the command line, the sections side by side in the picture; bad input refused up
front in one line."""

import numpy as np
import pytest

import factvae
from factvae.cli import main
from factvae.cli._messages import EXIT_INPUT
from factvae.datasets import technical_copy


@pytest.fixture(scope="module")
def two_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("sections")
    a = factvae.simulate(n_spots=150, n_genes=80, n_peaks=400, n_domains=3, seed=5,
                         image_size=120)
    factvae.io.write_h5mu(a, d / "a.h5mu")
    factvae.io.write_h5mu(technical_copy(a, seed=2), d / "b.h5mu")
    return d


def test_run_with_two_sections_writes_one_result_with_shared_domains(two_files, tmp_path, capsys):
    import mudata as md
    from PIL import Image

    out = tmp_path / "both.h5mu"
    assert main(["run", "--mudata", str(two_files / "a.h5mu"), str(two_files / "b.h5mu"),
                 "--sample-names", "left", "right", "--epochs", "3", "--threads", "1",
                 "--n-domains", "3", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "2 sections (left 150, right 150 spots)" in err
    assert "section left:" in err and "section right:" in err
    m = md.read_h5mu(out)
    assert list(m.obs["sample"].cat.categories) == ["left", "right"]
    assert list(m.uns["factvae"]["params"]["sections"]) == ["left", "right"]
    table = m.uns["factvae_domain_composition"]["table"]
    assert table["total"].sum() == m.n_obs
    picture = np.asarray(Image.open(out.with_suffix(".png")))
    assert picture.shape[1] > 1.5 * picture.shape[0]  # the two sections side by side


def test_bad_section_input_is_refused_before_any_work(two_files, tmp_path, capsys, monkeypatch):
    from factvae.io import _load

    a, b = str(two_files / "a.h5mu"), str(two_files / "b.h5mu")
    out = str(tmp_path / "r.h5mu")
    cases = [(["--mudata", a, b, "--sample-names", "x"], "1 sample names for 2 inputs"),
             (["--rna", a, b, "--atac", a], "2 RNA files and 1 ATAC files"),
             (["--mudata", a, "--sample-names", "x"], "names samples, but one input"),
             (["--mudata", a, b, "--image", a], "applies to one section only"),
             (["--mudata", a, b, "--sample-names", "x", "x"], "sample names repeat")]
    monkeypatch.setattr(_load, "load_sections",
                        lambda *a, **k: pytest.fail("the inputs were read"))
    for args, line in cases:
        assert main(["run", *args, "--epochs", "1", "--out", out]) == EXIT_INPUT
        err = capsys.readouterr().err
        assert line in err and "Traceback" not in err and err.count("\n") == 1, err
