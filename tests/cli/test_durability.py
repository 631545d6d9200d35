"""A trained model is never lost: save first, checkpoints, clean interrupts, outputs checked up
front (issue: durability)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from factvae.cli import main
from factvae.cli._messages import EXIT_INPUT

FAST = ["--batch-size", "64", "--threads", "1", "--latent", "8"]


def test_outputs_equal_to_inputs_or_each_other_are_refused_up_front(tiny_h5mu, tmp_path, capsys):
    before = tiny_h5mu.stat().st_mtime_ns
    # the input as the output
    assert main(["run", "--mudata", str(tiny_h5mu), "--out", str(tiny_h5mu), "--overwrite",
                 "--epochs", "1", *FAST]) == EXIT_INPUT
    assert "destroy the input" in capsys.readouterr().err
    # the picture would be the results file
    out = tmp_path / "res.png"
    assert main(["run", "--mudata", str(tiny_h5mu), "--out", str(out), "--epochs", "1",
                 *FAST]) == EXIT_INPUT
    assert "both" in capsys.readouterr().err and not out.exists()
    # a folder as the output
    folder = tmp_path / "folder"
    folder.mkdir()
    assert main(["train", "--mudata", str(tiny_h5mu), "--out", str(folder), "--epochs", "1",
                 *FAST]) == EXIT_INPUT
    assert "is a folder" in capsys.readouterr().err
    assert tiny_h5mu.stat().st_mtime_ns == before and not list(folder.iterdir())


def test_read_only_folder_is_refused_before_training(tiny_h5mu, tmp_path, capsys, monkeypatch):
    """A folder the user may not write into: one line, before the data are read. Root may write
    anywhere (and CI runs as root), so the folder's permission is what os.access reports for an
    ordinary user; as an ordinary user the chmod alone makes it read-only."""
    import factvae.cli._commands as cli

    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == ro
                        else real_access(p, mode, **kw))

    def loaded(*a, **k):
        raise AssertionError("the input was read before the output was checked")

    monkeypatch.setattr(cli, "_load", loaded)
    try:
        assert main(["train", "--mudata", str(tiny_h5mu), "--out", str(ro / "r.h5mu"),
                     "--epochs", "50", *FAST]) == EXIT_INPUT
        err = capsys.readouterr().err
        assert "not writable" in err and "--out" in err and "Traceback" not in err
        assert list(ro.iterdir()) == []
    finally:
        ro.chmod(0o755)


def test_model_is_saved_first_and_a_failed_results_write_says_how_to_finish(
        tiny_h5mu, tmp_path, capsys, monkeypatch):
    import factvae.io._write

    def broken(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(factvae.io._write, "write_h5mu", broken)
    out = tmp_path / "res.h5mu"
    assert main(["train", "--mudata", str(tiny_h5mu), "--out", str(out), "--epochs", "2",
                 *FAST]) == EXIT_INPUT
    err = capsys.readouterr().err
    model = tmp_path / "res.model.pt"
    assert model.exists() and not out.exists() and not (tmp_path / "res.h5mu.partial").exists()
    assert "the model is saved" in err and f"--resume {model}" in err
    monkeypatch.undo()
    # the printed command finishes the job without training again
    cmd = err.split("finish with: ")[1].strip().split()
    assert cmd[0] == "factvae"
    assert main(cmd[1:] + ["--threads", "1"]) == 0
    import mudata

    assert mudata.read_h5mu(out).uns["factvae"]["epochs_done"] == 2


def test_diverged_training_stops_with_one_clear_line_and_keeps_the_last_good_epoch(
        tiny_h5mu, tmp_path, capsys, monkeypatch):
    from factvae.model._module import FactVAEModule

    real = FactVAEModule.joint_loss
    calls = {"n": 0}

    def poisoned(self, batch, pairs, weights):
        terms = real(self, batch, pairs, weights)
        calls["n"] += 1
        if calls["n"] > 7:  # 3 batches an epoch: epoch 3 goes to NaN
            terms["nll_atac"] = terms["nll_atac"] * float("nan")
        return terms

    monkeypatch.setattr(FactVAEModule, "joint_loss", poisoned)
    out = tmp_path / "res.h5mu"
    assert main(["train", "--mudata", str(tiny_h5mu), "--out", str(out), "--epochs", "10",
                 *FAST]) == EXIT_INPUT
    err = [ln for ln in capsys.readouterr().err.splitlines() if "factvae: error" in ln][0]
    assert "diverged in epoch 3" in err and "non-finite nll_atac" in err
    assert "Fix: lower the learning rate" in err and not out.exists()
    ckpt = tmp_path / "res.checkpoint.pt"
    import torch

    state = torch.load(ckpt, weights_only=False)
    assert state["trainer"]["epoch"] == 2
    assert all(np.isfinite(v).all() for v in state["trainer"]["module"].values())


def test_resume_refuses_options_it_would_ignore(trained_h5mu, tmp_path, capsys):
    out = tmp_path / "a.h5mu"
    assert main(["train", "--mudata", str(trained_h5mu), "--out", str(out), "--epochs", "1",
                 *FAST]) == 0
    capsys.readouterr()
    assert main(["train", "--mudata", str(trained_h5mu), "--resume", str(tmp_path / "a.model.pt"),
                 "--epochs", "3", "--latent", "20", "--out", str(tmp_path / "b.h5mu")]) == EXIT_INPUT
    err = capsys.readouterr().err
    assert "--latent differ" in err and "keeps its own" in err


def _cli(*args):
    return [sys.executable, "-m", "factvae.cli", *map(str, args)]


def test_sigint_saves_the_last_epoch_and_resuming_equals_an_uninterrupted_run(tiny_h5mu, tmp_path):
    import mudata

    common = ["--mudata", tiny_h5mu, "--epochs", 300, *FAST, "--spatial", "off"]
    out = tmp_path / "int.h5mu"
    proc = subprocess.Popen(_cli("train", *common, "--out", out), stderr=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    ckpt = tmp_path / "int.checkpoint.pt"
    seen = ""
    import re

    # interrupt once the progress bar shows a finished epoch (not after a guessed time)
    while time.time() < deadline and not re.search(r"\| *([1-9]\d*)/300", seen):
        char = proc.stderr.read(1)
        if not char:
            break
        seen += char
    assert re.search(r"\| *([1-9]\d*)/300", seen), seen
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    last = err.strip().splitlines()[-1]
    assert "interrupted" in last and str(ckpt) in last and "Traceback" not in err
    assert ckpt.exists() and not out.exists()
    resume = last.split("Resume with: ")[1].split()
    assert resume[:2] == ["factvae", "train"]
    # every option the user gave is kept, not only the model's
    assert " --spatial off" in " ".join(resume) and " --threads 1" in " ".join(resume)
    done = subprocess.run([sys.executable, "-m", "factvae.cli", *resume[1:], "--threads", "1"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "resuming" in done.stderr and not ckpt.exists()
    straight = tmp_path / "straight.h5mu"
    ref = subprocess.run(_cli("train", *common, "--out", straight), capture_output=True,
                         text=True, timeout=300)
    assert ref.returncode == 0, ref.stderr
    a = mudata.read_h5mu(out).obsm["X_factvae"]
    b = mudata.read_h5mu(straight).obsm["X_factvae"]
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_results_write_with_pandas_future_string_dtype(tiny_h5mu, tmp_path):
    """pandas' future default string dtype (what lost two GPU runs' results) writes and reads."""
    import mudata
    import pandas as pd

    out = tmp_path / "res.h5mu"
    with pd.option_context("future.infer_string", True):
        assert main(["run", "--mudata", str(tiny_h5mu), "--out", str(out), "--epochs", "1",
                     "--n-domains", "3", *FAST]) == 0
    res = mudata.read_h5mu(out)
    assert res.obs["factvae_domain"].nunique() == 3 and res.n_obs == 240


def test_resume_line_keeps_every_option_given():
    from factvae.cli._training import _resume_command
    from factvae.cli._parser import build_parser

    argv = ["run", "--mudata", "in.h5mu", "--n-domains", "12", "--threads", "1", "--epochs", "300",
            "--out", "r.h5mu", "--resume", "old.pt"]
    args = build_parser().parse_args(argv)
    args.argv = argv
    line = _resume_command(args, Path("r.checkpoint.pt"))
    assert line == ("factvae run --mudata in.h5mu --n-domains 12 --threads 1 --out r.h5mu "
                    "--resume r.checkpoint.pt --epochs 300 --overwrite")


def test_a_second_run_writing_the_same_output_is_refused_up_front(tiny_h5mu, tmp_path, capsys,
                                                                   monkeypatch):
    import factvae.cli._commands as cli

    out = tmp_path / "res.h5mu"

    def loaded(*a, **k):
        raise AssertionError("the second run read its input")

    with cli.OutputLock(out):  # the first run, still writing
        monkeypatch.setattr(cli, "_load", loaded)
        assert main(["run", "--mudata", str(tiny_h5mu), "--out", str(out), "--epochs", "1",
                     *FAST]) == EXIT_INPUT
        err = capsys.readouterr().err
        assert "being written by another factvae command (pid" in err and "--out" in err
    assert not (tmp_path / "res.h5mu.lock").exists() and not out.exists()


def test_ctrl_c_between_training_and_the_model_write_saves_the_model_first(
        tiny_h5mu, tmp_path, capsys, monkeypatch):
    import factvae.model

    real_save = factvae.model.FactVAE.save

    def interrupted_save(self, path, **kw):
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C just as the model is being written
        return real_save(self, path, **kw)

    monkeypatch.setattr(factvae.model.FactVAE, "save", interrupted_save)
    out = tmp_path / "res.h5mu"
    # the handler this process started with: Python's default, or SIG_IGN when the suite runs
    # as a background job of a non-interactive shell
    handler = signal.getsignal(signal.SIGINT)
    assert main(["train", "--mudata", str(tiny_h5mu), "--out", str(out), "--epochs", "2",
                 *FAST]) == 130
    err = capsys.readouterr().err
    model = tmp_path / "res.model.pt"
    assert model.exists() and not out.exists()
    assert f"the model is saved to {model}" in err and "Finish with: factvae train" in err
    assert signal.getsignal(signal.SIGINT) is handler  # handlers restored


def test_a_full_disk_while_the_model_is_written_is_the_disk_full_line(tmp_path):
    """A file-size limit makes the write fail as a full disk does (in a child process: the
    limit is per process); the model write then fails with one line and leaves nothing."""
    script = f"""
import resource, signal, sys
sys.path.insert(0, {str(Path(__file__).parents[1])!r})  # tests/: the shared helpers
import factvae
from factvae.errors import FactVAEInputError
from _tissue import prepared_tissue
m = prepared_tissue()
model = factvae.FactVAE(m, device="cpu", n_threads=1, n_latent=8, batch_size=64)
model.train(1)
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails (EFBIG), the process lives
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))
try:
    model.save({str(tmp_path / 'm.pt')!r})
except FactVAEInputError as err:
    print("REFUSED", err)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=300)
    assert "REFUSED" in out.stdout, out.stderr
    assert "cannot be written (File too large); nothing was left behind" in out.stdout
    assert "m.pt" in out.stdout and "PytorchStreamWriter" not in out.stdout + out.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_results_write_names_what_this_run_wrote(tiny_h5mu, tmp_path, capsys,
                                                                monkeypatch):
    import factvae.cli._commands as cli

    out = tmp_path / "res.h5mu"
    out.write_text("an earlier result")  # replaced in place with --overwrite

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "write", interrupted)
    assert main(["train", "--mudata", str(tiny_h5mu), "--out", str(out), "--epochs", "1",
                 "--overwrite", *FAST]) == 130
    err = capsys.readouterr().err
    assert "()" not in err and "writing the results failed (interrupted)" in err
    written = err.split("Written: ")[1].split(". ")[0]
    assert str(tmp_path / "res.model.pt") in written and str(out) not in written
    assert f"{out} existed before" in err and "Finish with: factvae train" in err
