"""The fault list (issue: faults): each bad input or option ends in one line on stderr, exit 2,
no traceback, and nothing the user had is changed or left behind. docs/faults.md maps every
fault to its test."""

import errno
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from factvae.cli import main
from factvae.cli._messages import EXIT_INPUT
from factvae.errors import FactVAEDataWarning, FactVAEInputError
from factvae.io._load import load_paired

from _pairs import make_pair, write_pair

FAST = ["--batch-size", "64", "--threads", "1", "--latent", "8"]
SIM = ["--n-genes", "30", "--n-peaks", "120", "--n-domains", "3", "--n-motifs", "4"]


def _files(folder):
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*")}


def _refused(argv, capsys, *words, field=None):
    """main(argv) exits 2 with exactly one error line holding `words` (and naming `field`)."""
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("factvae: error:")]
    assert code == EXIT_INPUT, err
    assert len(lines) == 1 and "Traceback" not in err, err
    assert "Fix:" in lines[0], lines[0]
    for w in words:
        assert w in lines[0], lines[0]
    if field is not None:
        assert f": {field}: " in lines[0], lines[0]
    return lines[0]


def _fake_result(tmp_path, coords=None, name="result.h5mu"):
    """A small file shaped like a trained result (an embedding in obsm), without training."""
    from factvae.datasets._simulate import simulate

    m = simulate(n_spots=80, n_genes=30, n_peaks=120, n_domains=3, n_motifs=4, image_size=100,
                 seed=3)
    rng = np.random.default_rng(0)
    m.obsm["X_factvae"] = rng.normal(size=(m.n_obs, 4)) + m.obs["domain"].cat.codes.to_numpy()[:, None] * 3
    if coords is not None:
        m.obsm["spatial"] = coords(m.obsm["spatial"])
        m.uns.pop("spatial", None)
    path = tmp_path / name
    m.write(path)
    return path


# --- 1. analysis outputs: checked up front, named after their own flag ---------------------------
ANALYSIS_CLASHES = {
    "domains --out is the input": (["domains", "--out", "{in}"], "--out", "destroy the input"),
    "domains --markers = --out": (["domains", "--markers", "x.tsv", "--out", "x.tsv"],
                                  "--markers", "both --out and --markers"),
    "domains --picture = --markers": (["domains", "--markers", "x.png", "--picture", "x.png"],
                                      "--picture", "both --markers and --picture"),
    "regulation --tsv is the input": (["regulation", "--all", "--tsv", "{in}"], "--tsv",
                                      "destroy the input"),
    "regulation --tsv = --out": (["regulation", "--all", "--tsv", "x.h5mu", "--out", "x.h5mu"],
                                 "--out", "both --tsv and --out"),
    "motifs --tsv = --out": (["motifs", "--tsv", "x.tsv", "--out", "x.tsv"], "--out",
                             "both --tsv and --out"),
    "motifs --tsv is the input": (["motifs", "--tsv", "{in}"], "--tsv", "destroy the input"),
    "augment --table is the input": (["augment", "--peaks", "p", "--table", "{in}"], "--table",
                                     "destroy the input"),
}


@pytest.mark.parametrize("case", list(ANALYSIS_CLASHES))
def test_analysis_outputs_equal_to_an_input_or_each_other_are_refused_up_front(
        tiny_h5mu, tmp_path, capsys, case):
    args, field, words = ANALYSIS_CLASHES[case]
    args = [str(tiny_h5mu) if a == "{in}" else str(tmp_path / a) if "." in a else a
            for a in args]
    before = _files(tmp_path)
    _refused([args[0], "--mudata", tiny_h5mu, *args[1:], "--overwrite"], capsys, words,
             field=field)
    assert _files(tmp_path) == before


def test_existing_table_is_named_by_its_own_flag(tiny_h5mu, tmp_path, capsys):
    tsv = tmp_path / "t.tsv"
    tsv.write_text("precious")
    _refused(["regulation", "--mudata", tiny_h5mu, "--all", "--tsv", tsv], capsys,
             "already exists", field="--tsv")
    _refused(["augment", "--mudata", tiny_h5mu, "--peaks", "p", "--table", tsv], capsys,
             "already exists", field="--table")
    assert tsv.read_text() == "precious"


def test_domains_picture_must_be_a_picture(tiny_h5mu, tmp_path, capsys):
    before = _files(tmp_path)
    _refused(["domains", "--mudata", tiny_h5mu, "--picture", tmp_path / "x.h5mu"], capsys,
             "a picture must end in", ".png", field="--picture")
    assert _files(tmp_path) == before


def test_domains_with_no_output_is_refused(tiny_h5mu, capsys):
    _refused(["domains", "--mudata", tiny_h5mu, "--n-domains", "3"], capsys,
             "nothing would be written")


# --- 2. no .partial file left behind ------------------------------------------------------------
@pytest.mark.parametrize("exc", [OSError(errno.ENOSPC, "No space left on device"),
                                 KeyboardInterrupt()])
def test_failed_h5mu_write_leaves_no_partial_file(tiny, tmp_path, monkeypatch, exc):
    import mudata

    from factvae.io._write import write_h5mu

    def half_written(self, filename, *a, **k):
        open(filename, "wb").write(b"half")
        raise exc

    monkeypatch.setattr(mudata.MuData, "write", half_written)
    out = tmp_path / "out.h5mu"
    if isinstance(exc, OSError):
        with pytest.raises(FactVAEInputError, match="No space left on device") as e:
            write_h5mu(tiny, out)
        assert e.value.file == str(out)
    else:
        with pytest.raises(KeyboardInterrupt):
            write_h5mu(tiny, out)
    assert list(tmp_path.iterdir()) == []


def test_disk_full_on_the_command_line_is_one_line(tmp_path, capsys, monkeypatch):
    import mudata

    def full(self, filename, *a, **k):
        open(filename, "wb").write(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(mudata.MuData, "write", full)
    out = tmp_path / "sim.h5mu"
    _refused(["simulate", "--out", out, "--n-spots", "60", *SIM], capsys,
             "No space left on device", str(out))
    assert list(tmp_path.iterdir()) == []


def test_failed_table_and_picture_writes_leave_nothing(tiny, tmp_path):
    from factvae.io._write import write_atomically
    from factvae.pl._plots import plot_domains

    def broken(tmp):
        open(tmp, "w").write("half")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(FactVAEInputError, match="cannot be written"):
        write_atomically(tmp_path / "t.tsv", broken, field="--tsv")
    assert list(tmp_path.iterdir()) == []
    pic = plot_domains(tiny, tmp_path / "d.svg")  # the format follows the real name
    assert pic.read_text().lstrip().startswith("<?xml") and list(tmp_path.iterdir()) == [pic]


# --- 3. validation ------------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["train", "run"])
def test_zero_epochs_is_refused(tiny_h5mu, tmp_path, capsys, command):
    before = _files(tmp_path)
    _refused([command, "--mudata", tiny_h5mu, "--out", tmp_path / "r.h5mu", "--epochs", "0",
              *FAST], capsys, "at least 1", field="--epochs")
    assert _files(tmp_path) == before


DOMAIN_OPTIONS = {
    "--neighbors 0": (["--neighbors", "0"], "--neighbors", "at least 2"),
    "--neighbors 1": (["--neighbors", "1"], "--neighbors", "at least 2"),
    "--resolution 0": (["--resolution", "0"], "--resolution", "must be positive"),
    "--resolution -1": (["--resolution", "-1"], "--resolution", "must be positive"),
    "--n-domains 0": (["--n-domains", "0"], "--n-domains", "at least 1"),
    "--refine -1": (["--refine", "-1"], "--refine", "at least 0"),
    "--spatial-weight 2": (["--spatial-weight", "2"], "--spatial-weight", "in [0, 1]"),
}


@pytest.mark.parametrize("case", list(DOMAIN_OPTIONS))
def test_domain_options_out_of_range(tiny_h5mu, tmp_path, capsys, case):
    opts, field, words = DOMAIN_OPTIONS[case]
    before = _files(tmp_path)
    line = _refused(["domains", "--mudata", tiny_h5mu, *opts, "--out", tmp_path / "d.h5mu"],
                    capsys, words, field=field)
    assert "smaller" not in line
    # run checks them before training, not after
    _refused(["run", "--mudata", tiny_h5mu, *opts, "--out", tmp_path / "r.h5mu", "--epochs", "1",
              *FAST], capsys, words, field=field)
    assert _files(tmp_path) == before


@pytest.mark.parametrize("opts,field", [(["--n-spots", "0"], "--n-spots"),
                                        (["--n-spots", "-3"], "--n-spots"),
                                        (["--n-genes", "0"], "--n-genes"),
                                        (["--n-peaks", "0"], "--n-peaks"),
                                        (["--n-motifs", "0"], "--n-motifs"),
                                        (["--n-domains", "1"], "--n-domains")])
def test_simulate_sizes_below_one(tmp_path, capsys, opts, field):
    _refused(["simulate", "--out", tmp_path / "s.h5mu", *opts], capsys, "at least", field=field)
    assert list(tmp_path.iterdir()) == []


def test_simulate_too_few_spots_for_the_domains(tmp_path, capsys):
    _refused(["simulate", "--out", tmp_path / "s.h5mu", "--n-spots", "5", "--n-domains", "5"],
             capsys, "too few", field="--n-spots / --n-domains")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("given,missing", [("--rna-out", "--atac-out"), ("--atac-out", "--rna-out")])
def test_simulate_half_a_pair_is_refused(tmp_path, capsys, given, missing):
    _refused(["simulate", given, tmp_path / "x.h5ad", "--out", tmp_path / "s.h5mu"], capsys,
             f"{given} is given without {missing}", field=missing)
    assert list(tmp_path.iterdir()) == []


def test_simulate_pair_outputs_must_differ(tmp_path, capsys):
    same = tmp_path / "x.h5ad"
    _refused(["simulate", "--rna-out", same, "--atac-out", same], capsys,
             "both --rna-out and --atac-out", field="--atac-out")


@pytest.mark.parametrize("command,opts,field,words", [
    ("motifs", ["--backgrounds", "0"], "--backgrounds", "at least 2"),
    ("motifs", ["--backgrounds", "1"], "--backgrounds", "at least 2"),
    ("motifs", ["--pvalue", "0"], "--pvalue", "in (0, 1)"),
    ("regulation", ["--all", "--window", "-5"], "--window", "more than 0"),
    ("regulation", ["--all", "--window", "0"], "--window", "more than 0"),
    ("regulation", ["--all", "--background", "0"], "--background", "at least 2"),
])
def test_analysis_sizes_out_of_range(tiny_h5mu, tmp_path, capsys, command, opts, field, words):
    out = ["--tsv", tmp_path / "t.tsv"] if command == "regulation" else ["--out", tmp_path / "o.h5mu"]
    _refused([command, "--mudata", tiny_h5mu, *opts, *out], capsys, words, field=field)
    assert list(tmp_path.glob("*")) == [tiny_h5mu]


def test_library_refuses_the_same_sizes(trained):
    from factvae.tl._motifs import motif_deviations
    from factvae.tl._regulation import infer_regulation

    with pytest.raises(FactVAEInputError, match="at least 2"):
        motif_deviations(trained, n_backgrounds=1)
    with pytest.raises(FactVAEInputError, match="window"):
        infer_regulation(trained, window=-5)
    with pytest.raises(FactVAEInputError, match="at least 2"):
        infer_regulation(trained, n_background=0)


def test_augment_unknown_gene_or_peak_is_an_error_not_zeros(trained_h5mu, trained, tmp_path,
                                                              capsys):
    from factvae.tl._augment import gene_activity

    table = tmp_path / "a.tsv"
    _refused(["augment", "--mudata", trained_h5mu, "--gene-activity", "NOPE", "--table", table],
             capsys, "NOPE", "not in the data", field="--gene-activity")
    _refused(["augment", "--mudata", trained_h5mu, "--peaks", "chrZ:1-2", "--table", table],
             capsys, "chrZ:1-2", "not in the data", field="--peaks")
    assert not table.exists()
    with pytest.raises(FactVAEInputError, match="NOPE"):
        gene_activity(trained, ["NOPE"])


def test_augment_refuses_nan_embeddings_instead_of_writing_nan(trained, tmp_path, capsys):
    bad = trained.copy()
    z = bad.mod["atac"].obsm["X_factvae"].copy()
    z[3] = np.nan
    bad.mod["atac"].obsm["X_factvae"] = z
    path = tmp_path / "nan.h5mu"
    bad.write(path)
    table = tmp_path / "a.tsv"
    line = _refused(["augment", "--mudata", path, "--peaks", bad.mod["atac"].var_names[0],
                     "--table", table], capsys, "NaN or infinite embeddings",
                    bad.obs_names[3], field="mod['atac'].obsm['X_factvae']")
    assert str(path) in line and not table.exists()


def test_regulation_of_a_gene_without_coordinates_is_refused(trained, tmp_path, capsys):
    m = trained.copy()
    gene = m.mod["rna"].var_names[m.mod["rna"].var["highly_variable"]][0]
    for col in ("chrom", "chromStart", "chromEnd"):
        m.mod["rna"].var[col] = m.mod["rna"].var[col].astype(object)
        m.mod["rna"].var.loc[gene, col] = None
    m.mod["rna"].var["chromStart"] = m.mod["rna"].var["chromStart"].astype(float)
    m.mod["rna"].var["chromEnd"] = m.mod["rna"].var["chromEnd"].astype(float)
    m.mod["rna"].var["chrom"] = m.mod["rna"].var["chrom"].astype(str)
    path = tmp_path / "nocoord.h5mu"
    m.write(path)
    tsv = tmp_path / "r.tsv"
    line = _refused(["regulation", "--mudata", path, "--gene", gene, "--tsv", tsv], capsys,
                    "without coordinates", gene)
    assert str(path) in line and not tsv.exists()


def test_duplicated_spot_names_inside_an_h5mu_are_named(tiny_mdata, tmp_path, capsys):
    import mudata as md

    names = list(tiny_mdata.obs_names)
    names[5] = names[4]
    mods = {}
    for m in ("rna", "atac"):
        mods[m] = tiny_mdata.mod[m].copy()
        mods[m].obs_names = names
    path = tmp_path / "dup.h5mu"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        md.MuData(mods).write(path)
    line = _refused(["check", "--mudata", path], capsys, "duplicated obs_names", names[4],
                    "obs_names_make_unique", field="rna.obs_names")
    assert str(path) in line


def test_an_impossible_count_is_named_with_its_spot(tmp_path, capsys):
    rna, atac = make_pair()
    X = atac.X.tolil()
    X[2, 5] = 1e38
    atac.X = X.tocsr()
    r, a = write_pair(tmp_path, rna, atac)
    _refused(["check", "--rna", r, "--atac", a], capsys, "1e+38", repr(atac.obs_names[2]),
             repr(atac.var_names[5]), field="atac.X")


def test_single_gene_is_a_clear_error(tmp_path, capsys):
    rna, atac = make_pair(genes=1)
    r, a = write_pair(tmp_path, rna, atac)
    _refused(["check", "--rna", r, "--atac", a], capsys, "only 1 gene", field="rna.var_names")
    _refused(["run", "--rna", r, "--atac", a, "--out", tmp_path / "o.h5mu", "--epochs", "1",
              *FAST], capsys, "only 1 gene")
    assert not (tmp_path / "o.h5mu").exists() and not (tmp_path / "o.model.pt").exists()


def _with_coords(tmp_path, xy):
    rna, atac = make_pair()
    rna.obsm["spatial"] = xy
    atac.obsm["spatial"] = xy
    return write_pair(tmp_path, rna, atac)


def test_nan_coordinates_name_obsm_spatial(tmp_path, capsys):
    from PIL import Image

    xy = np.c_[np.linspace(10, 50, 30), np.linspace(10, 50, 30)]
    xy[4, 1] = np.nan
    r, a = _with_coords(tmp_path, xy)
    line = _refused(["check", "--rna", r, "--atac", a], capsys, "NaN", "'s4'",
                    field="obsm['spatial']")
    assert "outside" not in line and str(r) in line
    Image.fromarray(np.full((60, 60, 3), 200, np.uint8)).save(tmp_path / "he.png")
    line = _refused(["check", "--rna", r, "--atac", a, "--image", tmp_path / "he.png"], capsys,
                    "NaN", field="obsm['spatial']")
    assert "outside" not in line


def test_non_numeric_coordinates_name_obsm_spatial(tmp_path):
    xy = np.array([[f"x{i}", "3"] for i in range(30)], dtype=object)
    r, a = _with_coords(tmp_path, xy)
    with pytest.raises(FactVAEInputError, match="not numbers") as e:
        load_paired(rna=r, atac=a)
    assert e.value.field == "obsm['spatial']" and "x0" in str(e.value)


@pytest.mark.parametrize("flag", ["--spatial-weight", "--refine"])
def test_all_spots_at_one_position_with_spatial_options(tmp_path, capsys, flag):
    res = _fake_result(tmp_path, coords=lambda xy: np.full_like(xy, 7.0))
    value = "0.5" if flag == "--spatial-weight" else "1"
    _refused(["domains", "--mudata", res, flag, value, "--out", tmp_path / "d.h5mu"], capsys,
             "one position", flag, field="obsm['spatial']")
    assert not (tmp_path / "d.h5mu").exists()


def test_peak_ending_before_its_start_is_refused(tmp_path, capsys):
    from factvae.pp._genome import peak_coordinates

    rna, atac = make_pair()
    names = list(atac.var_names)
    names[3] = "chr1:9000-100"
    atac.var_names = names
    r, a = write_pair(tmp_path, rna, atac)
    _refused(["check", "--rna", r, "--atac", a], capsys, "'chr1:9000-100'", "end before",
             field="atac.var_names")
    var = pd.DataFrame({"chrom": ["chr1", "chr1"], "start": [10, 500], "end": [20, 400]},
                       index=["p1", "p2"])
    with pytest.raises(FactVAEInputError, match="first: 'p2'"):
        peak_coordinates(var)


def test_more_genes_than_peaks_warns_in_one_line(tmp_path, capsys):
    rna, atac = make_pair(genes=60, peaks=40)
    r, a = write_pair(tmp_path, rna, atac)
    assert main(["check", "--rna", str(r), "--atac", str(a)]) == 0
    lines = [ln for ln in capsys.readouterr().err.splitlines() if "swapped" in ln]
    assert len(lines) == 1 and lines[0].startswith("factvae: warning:")
    with pytest.warns(FactVAEDataWarning, match="more genes than peaks"):
        load_paired(rna=r, atac=a)


def test_16_bit_and_float_images_are_rescaled_not_white_or_black(tmp_path):
    import tifffile
    from PIL import Image

    from factvae.io._spatial import read_image

    ramp = np.arange(60 * 80).reshape(60, 80)
    images = {"grey16.png": lambda p: Image.fromarray((ramp % 4096).astype(np.uint16)).save(p),
              "unit.tif": lambda p: Image.fromarray((ramp / ramp.max()).astype(np.float32)).save(p),
              "float.tif": lambda p: Image.fromarray((ramp * 7.5).astype(np.float32)).save(p),
              "rgb16.tif": lambda p: tifffile.imwrite(p, np.stack([ramp % 4096] * 3, -1)
                                                      .astype(np.uint16)),
              # PIL cannot open a float32 RGB TIFF at all: it was refused as not a TIFF
              "rgb_float.tif": lambda p: tifffile.imwrite(
                  p, np.stack([ramp / ramp.max()] * 3, -1).astype(np.float32),
                  photometric="rgb")}
    for name, save in images.items():
        save(tmp_path / name)
        img = read_image(tmp_path / name)
        assert img.dtype == np.uint8, name
        assert img.min() < 20 and img.max() > 235 and 60 < img.mean() < 200, (name, img.mean())
    rna, atac = make_pair()
    r, a = write_pair(tmp_path, rna, atac)
    m = load_paired(rna=r, atac=a, image=tmp_path / "rgb16.tif", image_scale=0.6)
    stored = next(iter(m.uns["spatial"].values()))["images"]["hires"]
    assert stored.dtype == np.uint8 and stored.shape == (60, 80, 3) and stored.std() > 30


def test_a_folder_as_input_says_it_is_a_folder(tmp_path, capsys):
    folder = tmp_path / "data.h5mu"
    folder.mkdir()
    line = _refused(["check", "--mudata", folder], capsys, "is a folder")
    assert "HDF5" not in line
    rna, atac = make_pair()
    r, a = write_pair(tmp_path, rna, atac)
    _refused(["check", "--rna", r, "--atac", a, "--image", folder], capsys, "is a folder",
             field="image")


def test_duplicated_spots_inside_an_h5mu_read_like_the_h5ad_path(tmp_path, capsys):
    import mudata

    rna, atac = make_pair()
    names = list(rna.obs_names)
    names[1] = names[0]
    rna.obs_names = names
    atac.obs_names = names
    path = tmp_path / "dup.h5mu"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # mudata's own chatter while writing the bad file
        mudata.MuData({"rna": rna, "atac": atac}).write(path)
    r, a = write_pair(tmp_path, rna, atac)
    h5ad = _refused(["check", "--rna", r, "--atac", a], capsys, "duplicated obs_names")
    code = main(["check", "--mudata", str(path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == EXIT_INPUT and len(err) == 1, err  # no library chatter before it
    assert err[0].split("rna.obs_names:")[1] == h5ad.split("rna.obs_names:")[1]


def test_counts_layer_in_one_modality_says_which_lacks_it(tmp_path, capsys):
    rna, atac = make_pair()
    rna.layers["raw"] = rna.X.copy()
    r, a = write_pair(tmp_path, rna, atac)
    _refused(["check", "--rna", r, "--atac", a, "--counts-layer", "raw"], capsys,
             "only rna has it", str(a), field="atac.layers['raw']")


def _cli_options(command):
    from factvae.cli._parser import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return {o for a in sub.choices[command]._actions for o in a.option_strings}


@pytest.mark.parametrize("case", ["two spots", "all-zero RNA"])
def test_check_rejects_what_run_rejects(tmp_path, capsys, case):
    rna, atac = make_pair()
    if case == "two spots":
        rna, atac = rna[:2].copy(), atac[:2].copy()
    else:
        rna.X = sp.csr_matrix(rna.shape, dtype=np.float32)
    r, a = write_pair(tmp_path, rna, atac)
    checked = _refused(["check", "--rna", r, "--atac", a], capsys)
    ran = _refused(["run", "--rna", r, "--atac", a, "--out", tmp_path / "o.h5mu", "--epochs", "1",
                    *FAST], capsys)
    assert checked == ran
    fix = checked.split("Fix:")[1]
    named = {w.strip(".,()") for w in fix.split() if w.startswith("--")}
    assert named and named <= _cli_options("check") and "min_spots" not in fix
    assert not (tmp_path / "o.h5mu").exists()


def test_genome_index_is_not_written_beside_the_users_fasta(tmp_path, monkeypatch):
    from factvae.tl._motif_scan import peak_sequences

    cache = tmp_path / "cache"
    monkeypatch.setenv("FACTVAE_CACHE", str(cache))
    genome = tmp_path / "genome"
    genome.mkdir()
    rng = np.random.default_rng(0)
    seq = "".join(rng.choice(list("ACGT"), 200_500))
    (genome / "g.fa").write_text(">chr1\n" + "\n".join(seq[i:i + 80] for i in range(0, len(seq), 80))
                                 + "\n")
    rna, atac = make_pair()
    m = load_paired(rna=write_pair(tmp_path, rna, atac)[0], atac=tmp_path / "atac.h5ad")
    seqs = peak_sequences(m, genome / "g.fa")
    assert seqs[1] == seq[5000:5500]
    assert [p.name for p in genome.iterdir()] == ["g.fa"]
    assert len(list(cache.rglob("*.fai"))) == 1
    # a user's own index beside the FASTA is used as it is
    (genome / "g.fa.fai").write_text(f"chr1\t{len(seq)}\t6\t80\t81\n")
    stamp = (genome / "g.fa.fai").stat().st_mtime_ns
    assert peak_sequences(m, genome / "g.fa")[1] == seq[5000:5500]
    assert (genome / "g.fa.fai").stat().st_mtime_ns == stamp


def test_library_chatter_does_not_reach_the_user(tmp_path, capsys):
    from factvae.cli._messages import _one_line_warnings

    res = _fake_result(tmp_path)
    assert main(["domains", "--mudata", str(res), "--n-domains", "3", "--markers",
                 str(tmp_path / "m.tsv"), "--out", str(tmp_path / "d.h5mu")]) == 0
    assert "warning" not in capsys.readouterr().err
    with warnings.catch_warnings():
        warnings.resetwarnings()
        _one_line_warnings()
        warnings.warn_explicit("'n_jobs' is not a valid key!", SyntaxWarning,
                               "docrep/decorators.py", 43, module="docrep.decorators")
        warnings.warn("a real warning about the data", FactVAEDataWarning)
    err = capsys.readouterr().err
    assert "n_jobs" not in err and "factvae: warning: a real warning" in err


def test_squidpy_import_chatter_is_silenced():
    pytest.importorskip("squidpy")
    script = ("from factvae.cli._messages import _one_line_warnings; _one_line_warnings(); "
              "import squidpy")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0 and "valid key" not in out.stderr, out.stderr


# --- already-fixed faults that had no command-line test -------------------------------------------
@pytest.mark.parametrize("opts,field,words", [
    (["--lr", "-1"], "--lr", "out of range"),
    (["--latent", "0"], "--latent", "out of range"),
    (["--batch-size", "0"], "--batch-size", "out of range"),
    (["--alpha", "nan"], "--alpha", "out of range"),
    (["--epochs", "-1"], "--epochs", "at least 1"),
    (["--threads", "-1"], "--threads", "at least 1"),
    (["--spatial-neighbors", "0"], "--spatial-neighbors", "out of range"),
    (["--checkpoint-minutes", "-1"], "--checkpoint-minutes", "at least 0"),
    (["--promoter", "-100"], "--promoter", "at least 0"),
    (["--patience", "0"], "--patience", "out of range"),
])
def test_model_options_are_refused_before_loading_and_named_by_flag(tiny_h5mu, tmp_path, capsys,
                                                                      monkeypatch, opts, field,
                                                                      words):
    import factvae.cli._commands as cli

    def loaded(*a, **k):  # refused before any work: the data are never read
        raise AssertionError("the input was loaded before the options were checked")

    monkeypatch.setattr(cli, "_load", loaded)
    before = _files(tmp_path)
    _refused(["train", "--mudata", tiny_h5mu, "--out", tmp_path / "r.h5mu", "--epochs", "1",
              "--threads", "1", *opts], capsys, words, field=field)
    assert _files(tmp_path) == before


def test_unknown_device_is_one_line(trained_h5mu, tmp_path, capsys):
    _refused(["train", "--mudata", trained_h5mu, "--out", tmp_path / "r.h5mu", "--epochs", "1",
              *FAST, "--device", "nonsense"], capsys, "unknown device 'nonsense'")
    assert not (tmp_path / "r.h5mu").exists() and not (tmp_path / "r.model.pt").exists()


def test_resume_with_fewer_epochs_than_saved(trained_h5mu, tmp_path, capsys):
    out = tmp_path / "a.h5mu"
    assert main(["train", "--mudata", str(trained_h5mu), "--out", str(out), "--epochs", "2",
                 *FAST]) == 0
    capsys.readouterr()
    _refused(["train", "--mudata", trained_h5mu, "--resume", tmp_path / "a.model.pt", "--epochs",
              "1", "--out", tmp_path / "b.h5mu", "--threads", "1"], capsys,
             "trained 2 epochs already", field="--epochs")
    assert not (tmp_path / "b.h5mu").exists()


@pytest.mark.parametrize("embedding,words", [(lambda n: np.full((n, 4), np.nan), "NaN"),
                                             (lambda n: np.zeros((n, 0)), "no columns")])
def test_domains_on_a_nan_or_empty_embedding(tmp_path, capsys, embedding, words):
    import mudata

    res = _fake_result(tmp_path)
    m = mudata.read_h5mu(res)
    m.obsm["X_factvae"] = embedding(m.n_obs)
    m.write(res)
    _refused(["domains", "--mudata", res, "--n-domains", "3", "--out", tmp_path / "d.h5mu"],
             capsys, words, field="embedding")
    assert not (tmp_path / "d.h5mu").exists()


def test_a_leftover_checkpoint_is_not_overwritten(tiny_h5mu, tmp_path, capsys):
    ckpt = tmp_path / "r.checkpoint.pt"
    ckpt.write_bytes(b"an interrupted run")
    _refused(["train", "--mudata", tiny_h5mu, "--out", tmp_path / "r.h5mu", "--epochs", "1",
              *FAST], capsys, "a checkpoint of an interrupted run", f"--resume {ckpt}",
             field="checkpoint")
    assert ckpt.read_bytes() == b"an interrupted run" and not (tmp_path / "r.h5mu").exists()


def test_regulation_unknown_gene_names_the_flag(trained_h5mu, tmp_path, capsys):
    _refused(["regulation", "--mudata", trained_h5mu, "--gene", "NOPE", "--tsv",
              tmp_path / "r.tsv"], capsys, "NOPE", "not in the data", field="--gene")
    assert not (tmp_path / "r.tsv").exists()


@pytest.mark.parametrize("argv,field,words", [
    (["check"], "arguments", "no input given"),
    (["check", "--mudata", "{rna}"], "modalities", "is a single AnnData"),
    (["regulation", "--mudata", "{in}", "--tsv", "t.tsv"], "arguments", "no gene given"),
    (["augment", "--mudata", "{in}", "--table", "t.tsv"], "arguments", "nothing requested"),
    (["simulate"], "arguments", "no output given"),
    (["motifs", "--mudata", "{in}", "--tsv", "m.tsv"], "obs['factvae_domain']",
     "no domains to compare motifs between"),
])
def test_argument_checks(tiny_h5mu, tiny_h5ad_pair, tmp_path, capsys, argv, field, words):
    paths = {"{in}": str(tiny_h5mu), "{rna}": str(tiny_h5ad_pair[0])}
    argv = [paths.get(a, str(tmp_path / a) if a.endswith(".tsv") else a) for a in argv]
    before = _files(tmp_path)
    _refused(argv, capsys, words, field=field)
    assert _files(tmp_path) == before


def test_gene_without_linked_peaks_warns(trained):
    from factvae.tl._augment import gene_activity
    from factvae.pp._prior import PRIOR_PAIRS_KEY

    pairs = trained.uns[PRIOR_PAIRS_KEY]
    gene = pairs["gene"].iloc[0]
    trained.uns[PRIOR_PAIRS_KEY] = pairs[pairs["gene"] != gene]
    with pytest.warns(FactVAEDataWarning, match=f"gene {gene} has no peak"):
        act = gene_activity(trained, gene)
    assert (act[gene] == 0).all()


def test_demo_does_not_replace_an_earlier_demo_unasked(tmp_path, capsys):
    out = tmp_path / "demo"
    out.mkdir()
    (out / "result.h5mu").write_text("an earlier result")
    _refused(["demo", "--out-dir", out], capsys, "already holds a demo", "result.h5mu",
             "--overwrite", field="--out-dir")
    assert (out / "result.h5mu").read_text() == "an earlier result"
    assert sorted(p.name for p in out.iterdir()) == ["result.h5mu"]


def test_spatial_weight_without_coordinates_is_refused_before_training(tmp_path, capsys,
                                                                       monkeypatch):
    import factvae.model

    rna, atac = make_pair()
    del rna.obsm["spatial"], atac.obsm["spatial"]  # cells, or spots without coordinates
    r, a = write_pair(tmp_path, rna, atac)

    def trained(*args, **kw):
        raise AssertionError("a model was built before the domain options were checked")

    monkeypatch.setattr(factvae.model.FactVAE, "__init__", trained)
    _refused(["run", "--rna", r, "--atac", a, "--out", tmp_path / "o.h5mu", "--epochs", "1",
              "--spatial-weight", "0.3", *FAST], capsys, "no coordinates", "--spatial-weight",
             field="obsm['spatial']")
    assert not (tmp_path / "o.h5mu").exists()


def test_the_demo_runs_to_its_results(tmp_path, capsys):
    """The README's first command: the demo parses a real `run` command and must reach its
    results (it broke once when `run` gained several inputs)."""
    from factvae.cli import main

    out = tmp_path / "demo"
    assert main(["demo", "--out-dir", str(out), "--epochs", "2", "--threads", "1"]) == 0
    assert (out / "result.h5mu").exists() and (out / "result.png").exists()
    assert "internal error" not in capsys.readouterr().err
