"""The training driver: Ctrl-C and SIGTERM, checkpoints, the resume command, the stage lines."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from ..errors import FactVAEInputError
from ._checks import _flag_of_field, _given_model_params
from ._messages import _say, _summary
from ._output import SaveFirst


class TrainingInterrupted(Exception):
    """Ctrl-C or SIGTERM during training: the last finished epoch was saved."""


CHECKPOINT_MINUTES = 5.0  # a checkpoint costs ~0.1-1 s: well under 1 % of training time


def _input_flags(args) -> str:
    if args.mudata:
        return f"--mudata {args.mudata}"
    if getattr(args, "sdata", None):
        return f"--sdata {args.sdata}"
    return f"--rna {args.rna} --atac {args.atac}"


def _resume_command(args, ckpt: Path, *, epochs: int | None = None) -> str:
    """The command the user ran, every option kept (domains, threads, ...), resuming from
    `ckpt` into the same outputs; `epochs`: the total to train (default: as asked)."""
    import shlex

    given = list(getattr(args, "argv", None) or [])
    if not given:  # called without main's record: the inputs and outputs alone
        given = [args.command, *_input_flags(args).split(), "--epochs", str(args.epochs),
                 "--out", str(args.out)]
    tokens, skip = [], False
    for i, t in enumerate(given):
        if skip:
            skip = False
            continue
        if t in ("--resume", "--epochs"):
            skip = True
            continue
        if t.startswith(("--resume=", "--epochs=")) or t == "--overwrite":
            continue
        tokens.append(t)
    tokens += ["--resume", str(ckpt), "--epochs", str(args.epochs if epochs is None else epochs),
               "--overwrite"]
    return "factvae " + shlex.join(tokens)


def _training_events(mdata, args, stop):
    """`factvae.pipeline.train`'s events for the command's options (a resumed model keeps its
    own parameters; the seed and prior weight still prepare, and the run's own settings apply)."""
    from .. import pipeline

    params = _given_model_params(args)
    if args.resume:
        params = {k: v for k, v in params.items()
                  if k in ("seed", "alpha") + pipeline.RESUME_OPTIONS}
    preview_every = getattr(args, "preview_every", 0) or 0
    if preview_every < 0:
        raise FactVAEInputError(f"must be 0 (off) or more, got {preview_every}.",
                                field="--preview-every", fix="use e.g. --preview-every 10.")
    preview = {"n_domains": getattr(args, "n_domains", None),
               "method": getattr(args, "method", "leiden")}
    return pipeline.train(mdata, params, epochs=args.epochs, device=args.device,
                          n_threads=args.threads, resume=args.resume, genes=args.genes,
                          promoter=args.promoter, cancel=stop.is_set,
                          preview_every=preview_every, preview=preview)


class _Reporter:
    """What the command shows while it trains (stage lines, the progress bar, previews, the
    first time estimate), the periodic checkpoint, and Ctrl-C / SIGTERM: the first stops after
    the mini-batch (the epoch is kept), a second at once."""

    def __init__(self, args, ckpt, stop, t0):
        self.args, self.ckpt, self.stop, self.t0 = args, ckpt, stop, t0
        self.minutes = getattr(args, "checkpoint_minutes", CHECKPOINT_MINUTES)
        self.last_save = time.perf_counter()
        self.model = self.bar = self.preview = None
        self.estimated = False
        self.handlers = {}

    def on_signal(self, signum, frame):
        if self.stop.is_set():
            raise KeyboardInterrupt
        self.stop.set()
        _say("\nfactvae: stopping after this mini-batch (Ctrl-C again to stop at once)")

    def __call__(self, kind, value):
        import signal
        import threading

        from .. import pipeline

        if kind == "prepared":
            TIMES["preprocess"] = time.perf_counter() - self.t0
            _say(f"factvae: preprocessed {_summary(value)} in {TIMES['preprocess']:.1f} s")
        elif kind == "model":
            self.model = value
            _describe(value, self.args)
            self.bar = value.progress_bar(self.args.epochs)
            if threading.current_thread() is threading.main_thread():
                for sig in (signal.SIGINT, signal.SIGTERM):
                    self.handlers[sig] = signal.signal(sig, self.on_signal)
        elif kind == "preview":
            self.bar.bar.write("factvae: preview at " + pipeline.describe_preview(
                value, self.preview), file=sys.stderr)
            self.preview = value
        elif kind == "progress":
            self._progress(value)

    def _progress(self, value):
        from .. import pipeline

        if not self.estimated and (value.step >= 3 or value.epoch_done):
            self.estimated = True
            self.bar.bar.write("factvae: " + pipeline.estimate_line(value, self.model),
                               file=sys.stderr)
        self.bar.show(value)
        if self.ckpt is not None and value.epoch_done and self.minutes > 0 and \
                time.perf_counter() - self.last_save >= 60 * self.minutes:
            self.model.save(self.ckpt, overwrite=True)
            self.last_save = time.perf_counter()

    def close(self):
        import signal

        if self.bar is not None:
            self.bar.close()
        for sig, h in self.handlers.items():
            signal.signal(sig, h)


def _named_failure(err, args, ckpt, model):
    """A training error, said with the command's flags (and the epoch saved, if it diverged)."""
    from ..model._trainer import TrainingDiverged

    if isinstance(err, TrainingDiverged):
        if ckpt is not None and model is not None and model.epochs_done > 0:
            model.save(ckpt, overwrite=True)
            return FactVAEInputError(f"{err.problem} Epoch {model.epochs_done} is saved in {ckpt}.",
                                     field=err.field, fix=err.fix)
        return err
    if err.field == "epochs":  # the resumed model has more epochs: name the flag
        return FactVAEInputError(
            err.problem.replace(f"the {args.epochs} asked for", f"--epochs {args.epochs}"),
            file=err.file, field="--epochs", fix=(err.fix or "").replace("ask for", "use --epochs"))
    return err


def _finish(model, args, ckpt, handlers):
    """After training: an interrupted run saves its last epoch and says how to resume; a
    finished one says how many epochs it trained and why it stopped."""
    if handlers:  # until the model is on disk, a Ctrl-C waits (see SaveFirst)
        SaveFirst.hold(handlers)
    if model.cancelled:
        SaveFirst.release()
        if ckpt is None:
            raise TrainingInterrupted(f"interrupted; {model.epochs_done} epochs were done "
                                      "(nothing saved: no output path).")
        model.save(ckpt, overwrite=True)
        raise TrainingInterrupted(
            f"interrupted; the last finished epoch ({model.epochs_done}) is saved in {ckpt}. "
            f"Resume with: {_resume_command(args, ckpt)}")
    stopped = ""
    if model.stopped_early:
        stopped = (f": stopped early, the held-out ELBO no better since epoch "
                   f"{model.trainer.stopping.best_epoch} (--no-early-stop trains all {args.epochs})")
    _say(f"factvae: trained {model.epochs_done} epochs in {model.train_seconds:.1f} s{stopped}")


def run_pipeline(mdata, args, ckpt: Path | None = None):
    """Preprocess (unless done), build the prior (unless present), train (checkpointing to
    `ckpt`), with `factvae.pipeline.train` as the Train widget does; results into mdata.
    Returns (mdata, model)."""
    import threading

    from .. import pipeline

    stop = threading.Event()
    t0 = time.perf_counter()
    events = _training_events(mdata, args, stop)
    reporter = _Reporter(args, ckpt, stop, t0)
    try:
        mdata, model = pipeline.drive(events, reporter)
    except FactVAEInputError as err:
        named = _named_failure(err, args, ckpt, reporter.model)
        if named is err:
            raise
        raise named from None
    finally:
        reporter.close()
    _finish(model, args, ckpt, reporter.handlers)
    TIMES["train"] = time.perf_counter() - t0 - TIMES.get("preprocess", 0.0)
    return mdata, model


def _describe(model, args) -> None:
    """The training line; with --resume, first refuse options the saved model does not share."""
    if args.resume:
        from ..pipeline import RESUME_OPTIONS

        # the run's own settings apply to the resumed run; the model's own must agree
        ignored = [_flag_of_field(k) for k, v in _given_model_params(args).items()
                   if k != "seed" and k not in RESUME_OPTIONS and v != getattr(model.config, k)]
        if ignored:
            raise FactVAEInputError(
                f"{', '.join(ignored)} differ from the saved model's, and a resumed model keeps "
                "its own.", file=str(args.resume), field=", ".join(ignored),
                fix="drop those options to resume, or train a new model without --resume.")
        _say(f"factvae: resuming {args.resume} at epoch {model.epochs_done} of {args.epochs}")
    mode = (f"spatial mode ({model.config.spatial_design}, {model.config.spatial_neighbors} "
            "neighbours)" if model.config.spatial else "no spatial context")
    threads = (f", {model.n_threads} thread{'' if model.n_threads == 1 else 's'}"
               if model.device.type == "cpu" else "")
    _say(f"factvae: training on {model.device}{threads} ({len(model.genes)} genes, "
         f"{len(model.peaks)} peaks, {args.epochs} epochs, {mode})")


# seconds of each stage of the running command, for its last line
TIMES: dict[str, float] = {}


def _stage_line(t_start: float) -> str:
    parts = ", ".join(f"{k} {v:.1f} s" for k, v in TIMES.items())
    return f"factvae: done in {time.perf_counter() - t_start:.1f} s ({parts})"
