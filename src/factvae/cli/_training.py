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


def run_pipeline(mdata, args, ckpt: Path | None = None):
    """Preprocess (unless done), build the prior (unless present), train (checkpointing to
    `ckpt`), with `factvae.pipeline.train` as the Train widget does; results into mdata.
    Returns (mdata, model)."""
    import signal
    import threading

    from .. import pipeline
    from ..model._trainer import TrainingDiverged

    params = _given_model_params(args)
    if args.resume:  # a resumed model keeps its own; the seed and prior weight still prepare,
        # and the run's own settings (early stopping) apply
        params = {k: v for k, v in params.items()
                  if k in ("seed", "alpha") + pipeline.RESUME_OPTIONS}
    stop = threading.Event()
    t0 = time.perf_counter()
    preview_every = getattr(args, "preview_every", 0) or 0
    if preview_every < 0:
        raise FactVAEInputError(f"must be 0 (off) or more, got {preview_every}.",
                                field="--preview-every", fix="use e.g. --preview-every 10.")
    preview = {"n_domains": getattr(args, "n_domains", None), "method": getattr(args, "method",
                                                                                 "leiden")}
    events = pipeline.train(mdata, params, epochs=args.epochs, device=args.device,
                            n_threads=args.threads, resume=args.resume, genes=args.genes,
                            promoter=args.promoter, cancel=stop.is_set,
                            preview_every=preview_every, preview=preview)

    def on_signal(signum, frame):
        if stop.is_set():  # a second Ctrl-C: stop at once
            raise KeyboardInterrupt
        stop.set()
        _say("\nfactvae: stopping after this mini-batch (Ctrl-C again to stop at once)")

    minutes = getattr(args, "checkpoint_minutes", CHECKPOINT_MINUTES)
    state = {"last": time.perf_counter(), "model": None, "bar": None}
    handlers = {}

    def on_event(kind, value):
        if kind == "prepared":
            TIMES["preprocess"] = time.perf_counter() - t0
            _say(f"factvae: preprocessed {_summary(value)} in {TIMES['preprocess']:.1f} s")
        elif kind == "model":
            state["model"] = value
            _describe(value, args)
            state["bar"] = value.progress_bar(args.epochs)
            # Ctrl-C and SIGTERM from here on: stop after the mini-batch, keep the epoch
            if threading.current_thread() is threading.main_thread():
                for sig in (signal.SIGINT, signal.SIGTERM):
                    handlers[sig] = signal.signal(sig, on_signal)
        elif kind == "preview":
            state["bar"].bar.write("factvae: preview at " + pipeline.describe_preview(
                value, state.get("preview")), file=sys.stderr)
            state["preview"] = value
        elif kind == "progress":
            if not state.get("estimated") and (value.step >= 3 or value.epoch_done):
                state["estimated"] = True
                state["bar"].bar.write("factvae: " + pipeline.estimate_line(value, state["model"]),
                                       file=sys.stderr)
            state["bar"].show(value)
            if ckpt is not None and value.epoch_done and minutes > 0 and \
                    time.perf_counter() - state["last"] >= 60 * minutes:
                state["model"].save(ckpt, overwrite=True)
                state["last"] = time.perf_counter()

    try:
        mdata, model = pipeline.drive(events, on_event)
    except TrainingDiverged as err:
        model = state["model"]
        if ckpt is not None and model is not None and model.epochs_done > 0:
            model.save(ckpt, overwrite=True)
            raise FactVAEInputError(f"{err.problem} Epoch {model.epochs_done} is saved in {ckpt}.",
                                    field=err.field, fix=err.fix) from None
        raise
    except FactVAEInputError as err:
        if err.field == "epochs":  # the resumed model has more epochs: name the flag
            raise FactVAEInputError(
                err.problem.replace(f"the {args.epochs} asked for", f"--epochs {args.epochs}"),
                file=err.file, field="--epochs",
                fix=(err.fix or "").replace("ask for", "use --epochs")) from None
        raise
    finally:
        if state["bar"] is not None:
            state["bar"].close()
        for sig, h in handlers.items():
            signal.signal(sig, h)
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
