"""The command line: every bad input ends in one line on stderr and a non-zero exit."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from factvae.cli import main
from factvae.cli._messages import EXIT_INPUT

from _pairs import make_pair, write_pair


def _bad_counts(rna, atac):
    X = atac.X.toarray()
    X[0, 0] = -2
    atac.X = sp.csr_matrix(X)


def _dup_spots(rna, atac):
    names = list(rna.obs_names)
    names[1] = names[0]
    rna.obs_names = names


def _no_shared(rna, atac):
    atac.obs_names = [f"x{s}" for s in atac.obs_names]


def _bad_peaks(rna, atac):
    atac.var_names = [f"peak{i}" for i in range(atac.n_vars)]


def _no_gene_coords(rna, atac):
    rna.var = pd.DataFrame(index=rna.var_names)


CASES = {
    "negative counts": (_bad_counts, "negative values"),
    "duplicated spots": (_dup_spots, "duplicated obs_names"),
    "no shared spots": (_no_shared, "share no spot"),
    "unparseable peaks": (_bad_peaks, "cannot be read as coordinates"),
    "no gene coordinates": (_no_gene_coords, "no gene coordinates"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_check_reports_bad_input_in_one_line(tmp_path, capsys, case):
    change, message = CASES[case]
    rna, atac = make_pair()
    change(rna, atac)
    r, a = write_pair(tmp_path, rna, atac)
    code = main(["check", "--rna", str(r), "--atac", str(a)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == EXIT_INPUT
    errors = [line for line in err if line.startswith("factvae: error:")]
    assert len(errors) == 1 and message in errors[0] and "Fix:" in errors[0]
    assert not any("Traceback" in line for line in err)


def test_bad_image_and_not_anndata(tmp_path, capsys):
    rna, atac = make_pair()
    r, a = write_pair(tmp_path, rna, atac)
    assert main(["check", "--rna", str(r), "--atac", str(a), "--image", "missing.png"]) == EXIT_INPUT
    assert "image file not found" in capsys.readouterr().err
    txt = tmp_path / "table.h5mu"
    txt.write_text("not hdf5")
    assert main(["check", "--mudata", str(txt)]) == EXIT_INPUT
    assert "not an HDF5 file" in capsys.readouterr().err


def test_missing_partner_file(capsys, tmp_path):
    assert main(["check", "--rna", str(tmp_path / "r.h5ad")]) == EXIT_INPUT
    assert "--atac is missing" in capsys.readouterr().err


def test_no_traceback_from_a_real_process(tmp_path):
    bad = tmp_path / "x.h5mu"
    bad.write_text("hello")
    out = subprocess.run([sys.executable, "-m", "factvae.cli", "check", "--mudata", str(bad)],
                         capture_output=True, text=True)
    assert out.returncode == EXIT_INPUT
    assert "Traceback" not in out.stderr and out.stderr.count("factvae: error:") == 1
    debug = subprocess.run([sys.executable, "-m", "factvae.cli", "--debug", "check", "--mudata",
                            str(bad)], capture_output=True, text=True)
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_check_summarises_good_input(tiny_h5mu, capsys):
    assert main(["check", "--mudata", str(tiny_h5mu)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ok: 240 spots, 150 genes, 900 peaks") and "gene-peak pairs" in out


def test_simulate_writes_both_formats_and_never_overwrites(tmp_path, capsys):
    out = tmp_path / "sim.h5mu"
    args = ["simulate", "--out", str(out), "--n-spots", "100", "--n-genes", "50", "--n-peaks",
            "200", "--n-domains", "3", "--n-motifs", "6"]
    assert main(args) == 0
    stamp = out.stat().st_mtime_ns
    assert main(args) == EXIT_INPUT
    assert "already exists" in capsys.readouterr().err and out.stat().st_mtime_ns == stamp
    assert main(args + ["--overwrite"]) == 0
    assert main(["simulate", "--rna-out", str(tmp_path / "r.h5ad"), "--atac-out",
                 str(tmp_path / "a.h5ad"), "--n-spots", "100", "--n-genes", "50", "--n-peaks",
                 "200", "--n-domains", "3", "--n-motifs", "6"]) == 0
    assert main(["check", "--rna", str(tmp_path / "r.h5ad"), "--atac",
                 str(tmp_path / "a.h5ad")]) == 0


def test_run_writes_result_and_picture(tiny_h5mu, tmp_path, capsys):
    import mudata

    out = tmp_path / "res.h5mu"
    assert main(["run", "--mudata", str(tiny_h5mu), "--out", str(out), "--epochs", "2", "--batch-size", "64"]) == 0
    printed = capsys.readouterr().out
    assert f"results: {out}" in printed and f"picture: {out.with_suffix('.png')}" in printed
    res = mudata.read_h5mu(out)
    assert "factvae_preprocess" in res.uns and "factvae_g2p" in res.uns
    assert out.with_suffix(".png").stat().st_size > 10_000
    assert np.isfinite(res.mod["rna"].obsm["X_pca"]).all()


def test_run_end_to_end_with_domains(tiny_h5mu, tmp_path, capsys):
    import mudata

    out = tmp_path / "res.h5mu"
    args = ["run", "--mudata", str(tiny_h5mu), "--out", str(out), "--epochs", "3", "--batch-size",
            "64", "--n-domains", "3", "--threads", "1"]
    assert main(args) == 0
    res = mudata.read_h5mu(out)
    assert res.obs["factvae_domain"].nunique() == 3 and "X_factvae" in res.obsm
    assert out.with_name("res.model.pt").exists() and out.with_suffix(".png").exists()
    # nothing is overwritten without --overwrite, and nothing is half-written either
    before = {p: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    assert main(args) == EXIT_INPUT
    assert "already exists" in capsys.readouterr().err
    assert {p: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == before
    # resume the saved model for two more epochs
    out2 = tmp_path / "res2.h5mu"
    assert main(["train", "--mudata", str(out), "--resume", str(out.with_name("res.model.pt")),
                 "--epochs", "5", "--out", str(out2)]) == 0
    assert mudata.read_h5mu(out2).uns["factvae"]["epochs_done"] == 5


def test_analysis_subcommands(trained_h5mu, tmp_path, capsys):
    import pandas as pd

    dom = tmp_path / "dom.h5mu"
    assert main(["domains", "--mudata", str(trained_h5mu), "--n-domains", "4", "--markers",
                 str(tmp_path / "markers.tsv"), "--out", str(dom)]) == 0
    assert pd.read_csv(tmp_path / "markers.tsv", sep="\t")["kind"].nunique() == 2
    reg = tmp_path / "reg.tsv"
    bedpe = tmp_path / "reg.bedpe"
    assert main(["regulation", "--mudata", str(dom), "--all", "--tsv", str(reg),
                 "--background", "50", "--bedpe", str(bedpe)]) == 0
    table = pd.read_csv(reg, sep="\t")
    assert {"gene", "peak", "score", "z", "qval", "tss_distance", "in_prior",
            "trained"} <= set(table.columns)
    assert "contact_correlation" in capsys.readouterr().err  # the line says which score
    assert set(table["score_name"]) == {"contact_correlation"}  # and so does the file
    assert table["null"].str.startswith("matched background peaks").all()
    links = pd.read_csv(bedpe, sep="\t")
    assert len(links) == len(table) and links.columns[0] == "#chrom1"
    assert main(["regulation", "--mudata", str(dom), "--all", "--tsv", str(reg)]) == EXIT_INPUT
    mot = tmp_path / "mot.h5mu"
    assert main(["motifs", "--mudata", str(dom), "--tsv", str(tmp_path / "motifs.tsv"),
                 "--backgrounds", "10", "--out", str(mot)]) == 0
    assert set(pd.read_csv(tmp_path / "motifs.tsv", sep="\t")["source"]) == {"raw", "augmented"}
    import mudata

    m = mudata.read_h5mu(mot)
    assert "factvae_motif_z" in m.mod["atac"].obsm and "factvae_motif_z_raw" in m.mod["atac"].obsm
    peak = m.mod["atac"].var_names[0]
    aug = tmp_path / "aug.csv"
    assert main(["augment", "--mudata", str(mot), "--peaks", peak, "--raw", "--table", str(aug)]) == 0
    t = pd.read_csv(aug)
    assert list(t.columns) == ["spot", f"{peak}:augmented", f"{peak}:raw"] and len(t) == m.n_obs
    capsys.readouterr()
    assert main(["regulation", "--mudata", str(dom), "--gene", "NoSuchGene", "--tsv",
                 str(tmp_path / "r2.tsv")]) == EXIT_INPUT
    assert "not in the data" in capsys.readouterr().err


def test_model_options_are_generated_from_the_config():
    """Every FactVAEConfig option with a flag is a CLI option, parsed to the config's values."""
    from factvae.cli._checks import _given_model_params
    from factvae.cli._parser import build_parser
    from factvae.config import FactVAEConfig

    parser = build_parser()
    defaults = vars(parser.parse_args(["run", "--out", "x"]))
    for o in FactVAEConfig.options("cli"):
        assert o.dest in defaults, o.flag
        # not given = None (the saved model's value with --resume), except the run's settings
        assert defaults[o.dest] == (o.default if o.run_level else None), o.flag
    args = parser.parse_args(["run", "--out", "x.h5mu", "--no-ssa", "--spatial", "off",
                              "--latent", "12", "--dispersion", "feature", "--lr-ssa", "0.001"])
    # the run's own settings (seed, early stopping, patience, precision) always come along
    assert _given_model_params(args) == {"ssa": False, "spatial": False, "n_latent": 12,
                                         "dispersion": "feature", "lr_ssa": 0.001, "seed": 0,
                                         "early_stopping": True, "patience": 10,
                                         "precision": "auto"}
    config = FactVAEConfig().updated(**_given_model_params(args))
    assert (config.ssa, config.spatial, config.n_latent) == (False, False, 12)
