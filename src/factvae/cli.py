"""The `factvae` command line. Bad input ends in one line on stderr and a non-zero exit;
`--debug` shows the traceback instead."""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

from .errors import FactVAEInputError
from .keys import DOMAIN_KEY, PREPROCESS_KEY, PRIOR_INFO_KEY

EXIT_INPUT = 2
DEMO_EPOCHS = 100  # the simulated tissue converges well before the authors' 300
EXIT_INTERNAL = 1


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _one_line_warnings() -> None:
    def show(message, category, filename, lineno, file=None, line=None):
        _say(f"factvae: warning: {message}")

    warnings.showwarning = show
    # library chatter that says nothing about the user's data
    for module in ("anndata", "mudata", "scanpy", "numba", "umap", "dask", "torch"):
        warnings.filterwarnings("ignore", category=FutureWarning, module=module)
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=module)
    # squidpy's docstring templates (docrep) say "'n_jobs' is not a valid key!" on import
    warnings.filterwarnings("ignore", message="'.*' is not a valid key", category=SyntaxWarning,
                            module="docrep")


def _add_input_args(p: argparse.ArgumentParser, required: bool = True) -> None:
    src = p.add_argument_group("input (one .h5mu, one SpatialData .zarr, or two .h5ad files)")
    src.add_argument("--mudata", metavar="DATA.h5mu", help="MuData with modalities 'rna' and 'atac'")
    src.add_argument("--sdata", metavar="DATA.zarr", help="SpatialData store: spots (shapes or "
                     "points), tables 'rna' and 'atac' (or one with var['modality']), image")
    src.add_argument("--tables", nargs=2, metavar=("RNA", "ATAC"),
                     help="with --sdata: the names of the RNA and ATAC tables")
    src.add_argument("--image-element", metavar="NAME", help="with --sdata: which image element")
    src.add_argument("--coordinate-system", metavar="CS",
                     help="with --sdata: the coordinate system joining spots and image")
    src.add_argument("--rna", metavar="RNA.h5ad", help="RNA counts (spots x genes)")
    src.add_argument("--atac", metavar="ATAC.h5ad", help="ATAC counts (spots x peaks)")
    src.add_argument("--image", metavar="IMAGE", help="tissue image (PNG/JPEG/TIFF); replaces any "
                     "image stored in the files")
    src.add_argument("--image-scale", type=float, default=1.0, metavar="S",
                     help="image pixels per unit of obsm['spatial'] (default 1.0)")
    src.add_argument("--counts-layer", metavar="LAYER", help="layer holding raw counts "
                     "(default: layers['counts'] if present, else X)")
    src.add_argument("--genes", metavar="GENES.gtf|.gff3|.bed",
                     help="gene annotation for the gene-peak prior (default: rna.var columns)")
    src.add_argument("--promoter", type=int, default=2000, metavar="BP",
                     help="promoter length upstream of the TSS in the prior (default 2000)")


def _load(args):
    from .io import load_paired

    sdata = getattr(args, "sdata", None)
    given = [f for f, v in (("--mudata", args.mudata), ("--sdata", sdata)) if v]
    if not (given or args.rna or args.atac):
        raise FactVAEInputError("no input given.", field="arguments",
                                fix="pass --mudata DATA.h5mu, --sdata DATA.zarr, or --rna "
                                    "RNA.h5ad --atac ATAC.h5ad.")
    if len(given) > 1 or (given and (args.rna or args.atac)):
        raise FactVAEInputError(f"several inputs given ({', '.join(given)}"
                                f"{', --rna/--atac' if args.rna or args.atac else ''}).",
                                field="arguments",
                                fix="pass one .h5mu, one .zarr, or the two .h5ad files.")
    if not given and not (args.rna and args.atac):
        missing = "--atac" if args.rna else "--rna"
        raise FactVAEInputError(f"{missing} is missing.", field="arguments",
                                fix="pass both --rna RNA.h5ad and --atac ATAC.h5ad.")
    if not sdata:
        for flag in ("tables", "image_element", "coordinate_system"):
            if getattr(args, flag, None):
                raise FactVAEInputError("is only for a SpatialData input.",
                                        field="--" + flag.replace("_", "-"),
                                        fix="pass --sdata DATA.zarr, or leave it out.")
    return load_paired(args.mudata, rna=args.rna, atac=args.atac, image=args.image,
                       image_scale=args.image_scale, counts_layer=args.counts_layer, sdata=sdata,
                       tables=getattr(args, "tables", None),
                       image_element=getattr(args, "image_element", None),
                       coordinate_system=getattr(args, "coordinate_system", None))


def _write_any(mdata, out, overwrite: bool):
    """RESULT.zarr: a SpatialData store (the input store's elements kept); else .h5mu."""
    from .io import write_h5mu
    from .sdata import write_spatialdata

    if Path(out).suffix == ".zarr":
        return write_spatialdata(mdata, out, overwrite=overwrite)
    return write_h5mu(mdata, out, overwrite=overwrite)


def _check_output(path: str | Path, overwrite: bool, flag: str = "--out") -> Path:
    path = Path(path)
    if path.exists() and not overwrite:
        raise FactVAEInputError("already exists.", file=str(path), field=flag,
                                fix="choose another path or pass --overwrite.")
    return path


def _summary(mdata) -> str:
    rna, atac = mdata.mod["rna"], mdata.mod["atac"]
    text = f"{mdata.n_obs} spots, {rna.n_vars} genes, {atac.n_vars} peaks"
    info = mdata.uns.get(PRIOR_INFO_KEY)
    if info:
        text += (f", {info['n_pairs']} gene-peak pairs ({info['n_genes_linked']} genes, "
                 f"{info['n_peaks_linked']} peaks linked)")
    return text


def cmd_simulate(args) -> int:
    from .datasets import simulate
    from .io import write_h5ad_pair

    if bool(args.rna_out) != bool(args.atac_out):  # one half of a pair is not a dataset
        given, missing = (("--rna-out", "--atac-out") if args.rna_out
                          else ("--atac-out", "--rna-out"))
        raise FactVAEInputError(f"{given} is given without {missing}.", field=missing,
                                fix="pass both --rna-out RNA.h5ad and --atac-out ATAC.h5ad "
                                    "(or --out SIM.h5mu).")
    if args.out is None and not (args.rna_out and args.atac_out):
        raise FactVAEInputError("no output given.", field="arguments",
                                fix="pass --out SIM.h5mu, or --rna-out and --atac-out.")
    for flag, value, least in (("--n-spots", args.n_spots, 1), ("--n-genes", args.n_genes, 1),
                               ("--n-peaks", args.n_peaks, 1), ("--n-domains", args.n_domains, 2),
                               ("--n-motifs", args.n_motifs, 1)):
        _at_least(flag, value, least)
    _check_outputs({"--out": args.out, "--rna-out": args.rna_out, "--atac-out": args.atac_out},
                   [], args.overwrite)
    try:
        mdata = simulate(n_spots=args.n_spots, n_genes=args.n_genes, n_peaks=args.n_peaks,
                         n_domains=args.n_domains, n_motifs=args.n_motifs, seed=args.seed)
    except FactVAEInputError as err:  # the simulator's parameter names, as the flags
        flags = err.field and " / ".join("--" + f.strip().replace("_", "-")
                                         for f in err.field.split("/"))
        raise FactVAEInputError(err.problem, field=flags, fix=err.fix) from None
    if args.out:
        _say(f"factvae: wrote {_write_any(mdata, args.out, args.overwrite)}")
    if args.rna_out and args.atac_out:
        r, a = write_h5ad_pair(mdata, args.rna_out, args.atac_out, overwrite=args.overwrite)
        _say(f"factvae: wrote {r} and {a}")
    print(_summary(mdata))
    return 0


def _at_least(flag: str, value, least, *, fix: str | None = None) -> None:
    """A numeric option below its minimum (or NaN): one line naming the flag."""
    if not value >= least:
        raise FactVAEInputError(f"must be at least {least:g}, got {value:g}.", field=flag,
                                fix=fix or f"use {flag} {least:g} or more.")


# the preprocessing QC (min_spots_per_gene/peak): a feature must be seen in this many spots
MIN_SPOTS = 3


def _check_trainable(mdata, args) -> None:
    """What preprocessing and training would refuse, said before any work and by `check` too,
    with a fix the user can act on from the command line."""
    import numpy as np

    src = args.mudata or f"{args.rna} / {args.atac}"
    if mdata.n_obs < MIN_SPOTS:
        raise FactVAEInputError(
            f"only {mdata.n_obs} spot(s) in both modalities; FactVAE needs at least {MIN_SPOTS} "
            f"(a gene or peak is kept when seen in {MIN_SPOTS} spots).", file=src, field="spots",
            fix="give the whole dataset (check that --rna and --atac, or the modalities of "
                "--mudata, name the same spots).")
    for name, kind in (("rna", "genes"), ("atac", "peaks")):
        mod = mdata.mod[name]
        if mod.n_vars < 2:
            raise FactVAEInputError(f"has only {mod.n_vars} {kind[:-1]}; FactVAE needs at least 2 "
                                    f"{kind}.", file=src, field=f"{name}.var_names",
                                    fix=f"give the full {name} matrix (all {kind}).")
        seen = np.asarray(mod.X.getnnz(axis=0)).ravel() >= MIN_SPOTS
        if not seen.any():
            empty = ("is all zeros" if mod.X.nnz == 0
                     else f"has no {kind[:-1]} seen in {MIN_SPOTS} spots")
            raise FactVAEInputError(
                f"{empty}, so preprocessing would remove every {kind[:-1]}.", file=src,
                field=f"{name}.X",
                fix=f"check that {name} holds the raw counts of these spots (if they are in a "
                    "layer, name it with --counts-layer LAYER).")


def cmd_check(args) -> int:
    from .prior import add_gene_peak_prior

    mdata = _load(args)
    _check_trainable(mdata, args)
    add_gene_peak_prior(mdata, args.genes, promoter=args.promoter)
    print(f"ok: {_summary(mdata)}")
    return 0


def _add_model_args(p: argparse.ArgumentParser) -> None:
    """The model options, generated from FactVAEConfig's field metadata (flag, help, range):
    a new parameter there appears here and in the Train widget."""
    from .config import FactVAEConfig

    g = p.add_argument_group("model and training (defaults: the FactVAE authors')")
    for o in FactVAEConfig.options("cli"):
        shown = next((k for k, v in (o.choices or {}).items() if v == o.default), o.default)
        help_ = f"{o.help} (default {shown})"
        # None = not given: the default, or the saved model's value with --resume
        default = o.default if o.run_level else None
        if o.choices:
            g.add_argument(o.flag, choices=list(o.choices), default=default, help=help_)
        elif o.type is bool:
            g.add_argument(o.flag, action=argparse.BooleanOptionalAction, default=default,
                           help=help_)
        else:
            g.add_argument(o.flag, type=o.type, default=default, metavar=o.metavar, help=help_)
    g.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, mps")
    g.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    g.add_argument("--resume", metavar="MODEL.pt", help="continue training a saved model or a "
                   "checkpoint (--epochs is the total)")
    g.add_argument("--checkpoint-minutes", type=float, default=CHECKPOINT_MINUTES, metavar="M",
                   help=f"save RESULT.checkpoint.pt every M minutes of training (default "
                        f"{CHECKPOINT_MINUTES:g}; 0: only on Ctrl-C); removed once the model is saved")


def _given_model_params(args) -> dict:
    """{config field: value} of the model options given on the command line (not epochs)."""
    from .config import FactVAEConfig

    out = {}
    for o in FactVAEConfig.options("cli"):
        value = getattr(args, o.dest, None)
        if o.name == "epochs" or value is None:
            continue
        out[o.name] = o.choices[value] if o.choices else value
    return out


def _flag_of_field(name: str) -> str:
    from .config import FactVAEConfig

    return next((o.flag for o in FactVAEConfig.options("cli") if o.name == name), name)


def _check_model_args(args) -> None:
    """The model options, checked by FactVAEConfig before the data are loaded and preprocessed
    (the model checks them again), and named by their flags."""
    from .config import FactVAEConfig

    if args.threads is not None:
        _at_least("--threads", args.threads, 1,
                  fix="leave --threads out to use every available CPU.")
    _at_least("--checkpoint-minutes", getattr(args, "checkpoint_minutes", 0), 0,
              fix="use e.g. --checkpoint-minutes 5, or 0 to checkpoint only on Ctrl-C.")
    # a negative promoter shrinks every gene's locus from its TSS end: the prior loses pairs
    _at_least("--promoter", getattr(args, "promoter", 0), 0,
              fix="use e.g. --promoter 2000 (bp upstream of the TSS), or 0 for gene bodies only.")
    if args.resume:  # a resumed model keeps its own parameters; what differs is refused on load
        return
    try:
        FactVAEConfig().updated(**_given_model_params(args), epochs=args.epochs).validate()
    except FactVAEInputError as err:
        raise FactVAEInputError(err.problem, field=_flag_of_field(err.field),
                                fix=err.fix) from None


class TrainingInterrupted(Exception):
    """Ctrl-C or SIGTERM during training: the last finished epoch was saved."""


CHECKPOINT_MINUTES = 5.0  # a checkpoint costs ~0.1-1 s: well under 1 % of training time


def checkpoint_path(out: Path) -> Path:
    return out.with_name(out.stem + ".checkpoint.pt")


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


class SaveFirst:
    """Between the end of training and the model on disk, SIGINT/SIGTERM are held: the model
    is saved first and the command then stops with a line naming what was saved."""

    _held: dict = {}
    _got: list = []

    @classmethod
    def hold(cls, originals: dict) -> None:
        import signal

        cls._held, cls._got = dict(originals), []
        for sig in originals:
            signal.signal(sig, lambda signum, frame: cls._got.append(signum))

    @classmethod
    def release(cls) -> bool:
        """Restore the handlers; whether a signal came while they were held."""
        import signal

        for sig, h in cls._held.items():
            signal.signal(sig, h)
        got, cls._held, cls._got = bool(cls._got), {}, []
        return got


def run_pipeline(mdata, args, ckpt: Path | None = None):
    """Preprocess (unless done), build the prior (unless present), train (checkpointing to
    `ckpt`), with `factvae.pipeline.train` as the Train widget does; results into mdata.
    Returns (mdata, model)."""
    import signal
    import threading

    from . import pipeline
    from .trainer import TrainingDiverged

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
        from .pipeline import RESUME_OPTIONS

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


def _add_domain_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("spatial domains (from the joint embedding)")
    g.add_argument("--method", choices=("leiden", "kmeans", "gmm"), default="leiden",
                   help="Leiden (default), K-means or a Gaussian mixture")
    x = g.add_mutually_exclusive_group()
    x.add_argument("--n-domains", type=int, metavar="K", help="number of domains (Leiden: the "
                   "resolution is searched; without it K-means and gmm suggest one by silhouette)")
    x.add_argument("--resolution", type=float, metavar="R", help="Leiden resolution (default 1.0)")
    g.add_argument("--refine", type=int, default=0, metavar="ROUNDS",
                   help="rounds of spatial majority refinement (default 0: off)")
    g.add_argument("--spatial-weight", type=float, default=0.0, metavar="W",
                   help="weight of the spatial neighbour graph in [0, 1] (default 0: off)")
    g.add_argument("--neighbors", type=int, default=15, help="kNN graph size (default 15)")


PICTURE_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg")


def _check_domain_args(args) -> None:
    """The domain options, checked before any work (the library checks some of them only after
    the graph is built, or with the library's parameter names)."""
    if args.n_domains is not None:
        _at_least("--n-domains", args.n_domains, 1, fix="use e.g. --n-domains 5, or leave it out.")
    if args.resolution is not None and not args.resolution > 0:
        raise FactVAEInputError(f"must be positive, got {args.resolution:g}.", field="--resolution",
                                fix="use e.g. --resolution 1.0 (larger: more domains).")
    # the kNN graph counts the spot itself: one neighbour would leave every spot alone
    _at_least("--neighbors", args.neighbors, 2, fix="use e.g. --neighbors 15 (the default).")
    _at_least("--refine", args.refine, 0, fix="use --refine 0 (off) or 1.")
    if not 0 <= args.spatial_weight <= 1:
        raise FactVAEInputError(f"must be in [0, 1], got {args.spatial_weight:g}.",
                                field="--spatial-weight", fix="use e.g. --spatial-weight 0.3, or 0 "
                                "(off).")


def _check_domain_data(mdata, args) -> None:
    """Spatial options need spots at more than one place."""
    import numpy as np

    if not (args.spatial_weight > 0 or args.refine > 0):
        return
    flags = " and ".join(f for f, v in (("--spatial-weight", args.spatial_weight),
                                       ("--refine", args.refine)) if v > 0)
    if "spatial" not in mdata.obsm:  # said before training, not after it as a write failure
        raise FactVAEInputError(f"the spots have no coordinates, so {flags} has no spatial "
                                "neighbours to use.", file=args.mudata or args.rna or args.sdata,
                                field="obsm['spatial']",
                                fix="give coordinates (obsm['spatial']), or use --spatial-weight 0 "
                                    "--refine 0.")
    xy = np.asarray(mdata.obsm["spatial"], dtype=np.float64)
    if len(xy) and np.isfinite(xy).all() and (np.ptp(xy[:, :2], axis=0) == 0).all():
        raise FactVAEInputError(f"all {len(xy)} spots are at one position, so {flags} has no "
                                "spatial neighbours to use.", file=args.mudata,
                                field="obsm['spatial']",
                                fix="check the coordinates, or use --spatial-weight 0 --refine 0.")


# seconds of each stage of the running command, for its last line
TIMES: dict[str, float] = {}


def _stage_line(t_start: float) -> str:
    parts = ", ".join(f"{k} {v:.1f} s" for k, v in TIMES.items())
    return f"factvae: done in {time.perf_counter() - t_start:.1f} s ({parts})"


def _domains(mdata, args) -> None:
    from .domains import find_domains

    t0 = time.perf_counter()
    rec = find_domains(mdata, n_domains=args.n_domains, resolution=args.resolution,
                       method=args.method, refine=args.refine,
                       spatial_weight=args.spatial_weight, n_neighbors=args.neighbors,
                       seed=getattr(args, "seed", 0))
    how = (f"resolution {rec['resolution']:.3g}, spatial weight {rec['spatial_weight']:g}"
           if rec["method"] == "leiden" else rec["method"])
    if rec.get("suggested_by"):
        how += f", number suggested by the {rec['suggested_by']}"
    if rec["refine"]:
        how += f", {rec['refine']} refinement round(s)"
    TIMES["domains"] = time.perf_counter() - t0
    _say(f"factvae: {rec['reached']} domains ({how}) in {TIMES['domains']:.1f} s")


def model_path(out: Path) -> Path:
    return out.with_name(out.stem + ".model.pt")


def _check_outputs(outputs: dict, inputs: list, overwrite: bool, sdata_in=None) -> None:
    """Every output path: new (or --overwrite), not a folder, in a folder we can write, and
    different from every input and from every other output. Checked before any work."""
    import os

    seen = {}
    ins = {Path(p).resolve(): p for p in inputs if p}
    for flag, path in outputs.items():
        if path is None:
            continue
        path = Path(path)
        real = path.resolve()
        store = path.suffix == ".zarr"  # a SpatialData store is a folder
        if store and overwrite and sdata_in and real == Path(sdata_in).resolve():
            seen[real] = flag  # results into the store read from: only its tables are replaced
            continue
        if real in ins:
            raise FactVAEInputError(f"is also the input {ins[real]}; writing it would destroy "
                                    "the input.", file=str(path), field=flag,
                                    fix="choose another output path.")
        if real in seen:
            raise FactVAEInputError(f"is given for both {seen[real]} and {flag}.",
                                    file=str(path), field=flag, fix="give each output its own path.")
        seen[real] = flag
        if path.is_dir() and not store:
            raise FactVAEInputError("is a folder.", file=str(path), field=flag,
                                    fix="give a file name inside it.")
        if path.is_dir() and store and overwrite:
            from .sdata import is_spatialdata_store

            if not is_spatialdata_store(path):  # --overwrite replaces results, not any folder
                raise FactVAEInputError("is a folder that is not a SpatialData store; "
                                        "--overwrite would delete it.", file=str(path),
                                        field=flag, fix="choose another output path.")
        if path.exists() and not overwrite:
            raise FactVAEInputError("already exists.", file=str(path), field=flag,
                                    fix="choose another path or pass --overwrite.")
        parent = path.parent if str(path.parent) else Path(".")
        probe = parent
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        if not os.access(probe, os.W_OK | os.X_OK):
            raise FactVAEInputError(f"cannot be written: {probe} is not writable.",
                                    file=str(path), field=flag, fix="choose a writable folder.")


class OutputLock:
    """An exclusive lock on `OUT.lock` beside an output for the whole command, so a second run
    writing the same output is refused up front instead of training for nothing (fcntl; where
    there is none, no lock)."""

    def __init__(self, out: Path):
        self.path = out.with_name(out.name + ".lock")
        self.fh = None

    def __enter__(self):
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            return self
        try:
            self.fh = open(self.path, "a+")
        except OSError:  # no such folder, or not writable: the output checks say so
            return self
        try:
            fcntl.flock(self.fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.fh.seek(0)
            holder = self.fh.read().strip() or "another process"
            self.fh.close()
            self.fh = None
            raise FactVAEInputError(f"is being written by another factvae command ({holder}).",
                                    file=str(self.path.with_name(self.path.name[:-5])),
                                    field="--out", fix="wait for it to finish, or choose another "
                                    "--out.") from None
        self.fh.seek(0)
        self.fh.truncate()
        import os

        self.fh.write(f"pid {os.getpid()}")
        self.fh.flush()
        return self

    def __exit__(self, *exc):
        if self.fh is not None:
            self.fh.close()
            self.path.unlink(missing_ok=True)
        return False


def cmd_train(args, *, picture: bool = False) -> int:
    with OutputLock(Path(args.out)):
        return _train_command(args, picture=picture)


def _train_command(args, *, picture: bool = False) -> int:
    from .plotting import plot_domains

    # an untrained model is not a result (with --resume, --epochs is the total: checked on load)
    _at_least("--epochs", args.epochs, 1, fix="use e.g. --epochs 300 (with --resume: the total, "
              "at least the saved model's epochs).")
    _check_model_args(args)
    if picture:
        _check_domain_args(args)
    out = Path(args.out)
    model_file, ckpt = model_path(out), checkpoint_path(out)
    outputs = {"--out": out, "model file": model_file}
    if picture:
        outputs["picture"] = out.with_suffix(".png")
    # resuming a model into its own file (with --overwrite) continues it in place: allowed
    resume_in_place = args.resume and Path(args.resume).resolve() == model_file.resolve()
    _check_outputs(outputs, [args.mudata, args.sdata, args.rna, args.atac, args.image, args.genes,
                             None if resume_in_place else args.resume], args.overwrite,
                   sdata_in=args.sdata)
    if ckpt.exists() and Path(args.resume or "").resolve() != ckpt.resolve() and not args.overwrite:
        raise FactVAEInputError("a checkpoint of an interrupted run is here.", file=str(ckpt),
                                field="checkpoint",
                                fix=f"resume it with --resume {ckpt}, or pass --overwrite to "
                                    "start again.")
    TIMES.clear()
    t_start = time.perf_counter()
    mdata = _load(args)
    TIMES["load"] = time.perf_counter() - t_start
    if PREPROCESS_KEY not in mdata.uns:
        _check_trainable(mdata, args)
    if picture:
        _check_domain_data(mdata, args)
    mdata, model = run_pipeline(mdata, args, ckpt)
    # save first: the trained model is on disk before anything else can fail (a Ctrl-C in the
    # meantime waits for it, then stops with the line that says how to finish)
    try:
        model.save(model_file, overwrite=args.overwrite)
    finally:
        interrupted = SaveFirst.release()
    if ckpt.exists() and ckpt.resolve() != model_file.resolve():
        ckpt.unlink()  # the model file holds everything the checkpoint did
    _say(f"factvae: model saved to {model_file}")
    if interrupted:
        raise TrainingInterrupted(
            f"interrupted after training; the model is saved to {model_file}, nothing else was "
            f"written. Finish with: {_resume_command(args, model_file, epochs=model.epochs_done)}")
    before = {p: p.exists() for p in (out, out.with_suffix(".png"))}  # what this run did not make
    try:
        model.write_results()
        if picture:
            _domains(mdata, args)
        t_write = time.perf_counter()
        _write_any(mdata, out, args.overwrite)
        print(f"results: {out}")
        print(f"model: {model_file}")
        if picture:
            print(f"picture: {plot_domains(mdata, out.with_suffix('.png'))}")
        TIMES["write"] = time.perf_counter() - t_write
        _say(_stage_line(t_start))
    except BaseException as err:
        done = [str(model_file)] + [str(p) for p, existed in before.items()
                                    if p.exists() and not existed]
        kept = [str(p) for p, existed in before.items() if existed and p.exists()]
        finish = _resume_command(args, model_file, epochs=model.epochs_done)
        why = "interrupted" if isinstance(err, KeyboardInterrupt) else str(err) or type(err).__name__
        msg = (f"the model is saved, but writing the results failed ({why}). Written: "
               f"{', '.join(done)}.")
        if kept:  # an output that existed before (a store written in place): not this run's
            msg += (f" {', '.join(kept)} existed before and may hold the old results or part "
                    "of the new ones.")
        if isinstance(err, KeyboardInterrupt):
            raise TrainingInterrupted(f"interrupted after training. {msg} Finish with: {finish}") from None
        raise FactVAEInputError(msg, field="results", fix=f"finish with: {finish}") from None
    return 0


def cmd_run(args) -> int:
    return cmd_train(args, picture=True)


def cmd_demo(args) -> int:
    from .datasets import simulate
    from .io import write_h5mu

    out_dir = Path(args.out_dir)
    sim_path = out_dir / "simulated.h5mu"
    result = out_dir / "result.h5mu"
    written = [p for p in (sim_path, result, model_path(result), result.with_suffix(".png"))
               if p.exists()]
    if written and not args.overwrite:  # no command replaces outputs without being asked
        raise FactVAEInputError(f"already holds a demo ({', '.join(p.name for p in written)}).",
                                file=str(out_dir), field="--out-dir",
                                fix="pass --overwrite to run it again there, or choose another "
                                    "--out-dir.")
    t0 = time.perf_counter()
    write_h5mu(simulate(seed=args.seed), sim_path, overwrite=True)
    _say(f"factvae: simulated tissue written to {sim_path} ({time.perf_counter() - t0:.1f} s)")
    args.mudata, args.rna, args.atac, args.image = str(sim_path), None, None, None
    args.sdata = args.tables = args.image_element = args.coordinate_system = None
    args.image_scale, args.counts_layer, args.genes, args.promoter = 1.0, None, None, 2000
    args.out, args.overwrite = str(out_dir / "result.h5mu"), True
    args.resume, args.resolution, args.spatial_weight, args.neighbors = None, None, 0.0, 15
    args.method, args.refine, args.command = "leiden", 0, "run"
    args.n_domains = args.n_domains or 5
    return cmd_run(args)


def _load_result(args):
    """A file written by factvae (or any valid input) for the analysis subcommands."""
    args.rna = args.atac = args.image = args.counts_layer = None
    args.image_scale = 1.0
    return _load(args)


def _write_result(mdata, args) -> None:
    if args.out:
        _write_any(mdata, args.out, args.overwrite)
        print(f"results: {args.out}")


def _write_table(df, path, overwrite: bool, flag: str) -> None:
    from .io import write_atomically

    path = _check_output(path, overwrite, flag)
    sep = "," if path.suffix == ".csv" else "\t"
    write_atomically(path, lambda tmp: df.to_csv(tmp, sep=sep, index=False), field=flag)
    print(f"table: {path}")


def cmd_domains(args) -> int:
    from .domains import domain_markers
    from .plotting import plot_domains

    outputs = {"--out": args.out, "--markers": args.markers, "--picture": args.picture}
    if not any(outputs.values()):
        raise FactVAEInputError("no output given, so nothing would be written.", field="arguments",
                                fix="pass --out OUT.h5mu, --markers MARKERS.tsv and/or --picture "
                                    "DOMAINS.png.")
    if args.picture and Path(args.picture).suffix.lower() not in PICTURE_SUFFIXES:
        raise FactVAEInputError(f"a picture must end in {', '.join(PICTURE_SUFFIXES)}.",
                                file=args.picture, field="--picture",
                                fix="name it e.g. DOMAINS.png.")
    _check_domain_args(args)
    _check_outputs(outputs, [args.mudata], args.overwrite)
    mdata = _load_result(args)
    _check_domain_data(mdata, args)
    _domains(mdata, args)
    if args.markers:
        _write_table(domain_markers(mdata), args.markers, args.overwrite, "--markers")
    if args.picture:
        picture = _check_output(args.picture, args.overwrite, "--picture")
        print(f"picture: {plot_domains(mdata, picture)}")
    _write_result(mdata, args)
    return 0


def cmd_markers(args) -> int:
    from .regions import check_kinds, read_geojson, region_markers

    if bool(args.mudata) == bool(args.sdata):
        raise FactVAEInputError("give one result: --mudata RESULT.h5mu or --sdata RESULT.zarr.",
                                field="arguments", fix="pass exactly one of them.")
    check_kinds(args.kinds, "--kinds")  # before the data are read
    _check_outputs({"--tsv": args.tsv}, [args.mudata, args.sdata, args.region, args.reference],
                   args.overwrite)
    region = read_geojson(args.region)  # a bad polygon file fails before the data are read
    reference = read_geojson(args.reference) if args.reference else None
    mdata = _load_result(args)
    table = region_markers(mdata, region, reference=reference, kinds=args.kinds,
                           n_top=args.n_top or None)
    params = mdata.uns["factvae_region_markers"]["params"]
    _say(f"factvae: {params['n_region']} spots in the region against {params['n_reference']} "
         f"({'the second region' if reference is not None else 'the rest'})"
         + (f"; skipped {', '.join(params['skipped'])}" if params["skipped"] else ""))
    _write_table(table, args.tsv, args.overwrite, "--tsv")
    return 0


def cmd_regulation(args) -> int:
    from .regulation import infer_regulation, summarize, to_bedpe, with_provenance

    if not args.all and not args.gene:
        raise FactVAEInputError("no gene given.", field="arguments",
                                fix="pass --gene NAME (repeatable) or --all.")
    if not args.window > 0:  # a window of 0 holds only the TSS base
        raise FactVAEInputError(f"must be more than 0 bp, got {args.window}.", field="--window",
                                fix="use e.g. --window 150000 (150 kb around the TSS).")
    if args.background is not None:  # the z-score divides by the spread of the background
        _at_least("--background", args.background, 2, fix="leave it out (the default of each "
                  "score) or use e.g. --background 200.")
    _check_outputs({"--tsv": args.tsv, "--bedpe": args.bedpe, "--out": args.out},
                   [args.mudata, args.genes], args.overwrite)
    mdata = _load_result(args)
    unknown = [g for g in args.gene or [] if g not in mdata.mod["rna"].var_names]
    if unknown:
        raise FactVAEInputError(f"gene(s) not in the data: {unknown[:3]}.", file=args.mudata,
                                field="--gene", fix="use names from mod['rna'].var_names (e.g. "
                                f"{list(mdata.mod['rna'].var_names[:2])}).")
    try:
        table = infer_regulation(mdata, None if args.all else args.gene, score=args.score,
                                 window=args.window, domain=args.domain, annotation=args.genes,
                                 n_background=args.background, seed=args.seed,
                                 store=bool(args.out) or None)
    except FactVAEInputError as err:
        raise err.with_file(args.mudata)
    _say("factvae: " + summarize(table))
    _write_table(with_provenance(table), args.tsv, args.overwrite, "--tsv")
    if args.bedpe:
        from .io import write_atomically

        path = _check_output(args.bedpe, args.overwrite, "--bedpe")
        write_atomically(path, lambda tmp: to_bedpe(table, mdata, tmp, annotation=args.genes),
                         field="--bedpe")
        print(f"links: {path}")
    _write_result(mdata, args)
    return 0


def cmd_motifs(args) -> int:
    from .motifs import domain_motifs, motif_deviations, read_motif_matrix, scan_motifs

    # chromVAR's z-score divides by the spread of the background sets: two at least
    _at_least("--backgrounds", args.backgrounds, 2, fix="use e.g. --backgrounds 50 (the default).")
    if not 0 < args.pvalue < 1:
        raise FactVAEInputError(f"must be in (0, 1), got {args.pvalue:g}.", field="--pvalue",
                                fix="use e.g. --pvalue 5e-5 (the default).")
    _check_outputs({"--tsv": args.tsv, "--out": args.out},
                   [args.mudata, args.motif_matrix, args.genome], args.overwrite)
    mdata = _load_result(args)
    if args.tsv and DOMAIN_KEY not in mdata.obs:  # before the deviations, not after
        raise FactVAEInputError("no domains to compare motifs between.",
                                file=args.mudata, field=f"obs['{DOMAIN_KEY}']",
                                fix="run factvae domains first, or drop --tsv.")
    if args.motif_matrix:
        read_motif_matrix(mdata, args.motif_matrix)
    elif args.genome:
        scan_motifs(mdata, args.genome, pvalue=args.pvalue)
    t0 = time.perf_counter()
    motif_deviations(mdata, n_backgrounds=args.backgrounds, seed=args.seed)
    _say(f"factvae: motif deviations in {time.perf_counter() - t0:.1f} s")
    if args.tsv:
        _write_table(domain_motifs(mdata), args.tsv, args.overwrite, "--tsv")
    _write_result(mdata, args)
    return 0


def cmd_augment(args) -> int:
    import pandas as pd

    from .augment import augment_atac, gene_activity

    if not args.peaks and not args.gene_activity:
        raise FactVAEInputError("nothing requested.", field="arguments",
                                fix="pass --peaks NAME ... and/or --gene-activity GENE ...")
    _check_outputs({"--table": args.table}, [args.mudata], args.overwrite)
    mdata = _load_result(args)
    # unknown names: one line naming them, before any work (not a column of zeros)
    for flag, names, mod in (("--peaks", args.peaks, "atac"), ("--gene-activity",
                                                              args.gene_activity, "rna")):
        unknown = [n for n in names or [] if n not in mdata.mod[mod].var_names]
        if unknown:
            kind = "peak" if mod == "atac" else "gene"
            raise FactVAEInputError(f"{len(unknown)} {kind}(s) not in the data: {unknown[:3]}.",
                                    file=args.mudata, field=flag,
                                    fix=f"use {kind} names from mod['{mod}'].var_names (e.g. "
                                        f"{list(mdata.mod[mod].var_names[:2])}).")
    parts = []
    try:
        from .augment import _parts

        _parts(mdata)  # a NaN embedding is refused before any table is made
    except FactVAEInputError as err:
        raise err.with_file(args.mudata) from None
    if args.peaks:
        aug = augment_atac(mdata, args.peaks)
        parts.append(pd.DataFrame(aug, index=mdata.obs_names,
                                  columns=[f"{p}:augmented" for p in args.peaks]))
        if args.raw:
            pos = mdata.mod["atac"].var_names.get_indexer(args.peaks)
            parts.append(pd.DataFrame(mdata.mod["atac"].X[:, pos].toarray(), index=mdata.obs_names,
                                      columns=[f"{p}:raw" for p in args.peaks]))
    for g in args.gene_activity or []:
        parts.append(gene_activity(mdata, g).add_suffix(":activity_augmented"))
        if args.raw:
            parts.append(gene_activity(mdata, g, augmented=False).add_suffix(":activity_raw"))
    table = pd.concat(parts, axis=1)
    table.insert(0, "spot", table.index)
    _write_table(table, args.table, args.overwrite, "--table")
    return 0



def build_parser() -> argparse.ArgumentParser:
    from .regulation import DEFAULT_SCORE, SCORE_HELP, SCORES

    parser = argparse.ArgumentParser(
        prog="factvae", description="FactVAE for paired spatial ATAC + RNA (headless engine).")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("simulate", help="write the built-in simulated tissue")
    p.add_argument("--out", metavar="SIM.h5mu|.zarr", help="MuData, or a SpatialData store")
    p.add_argument("--rna-out", metavar="RNA.h5ad")
    p.add_argument("--atac-out", metavar="ATAC.h5ad")
    p.add_argument("--n-spots", type=int, default=1500)
    p.add_argument("--n-genes", type=int, default=1000)
    p.add_argument("--n-peaks", type=int, default=8000)
    p.add_argument("--n-domains", type=int, default=5)
    p.add_argument("--n-motifs", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("check", help="validate an input and summarise it")
    _add_input_args(p)
    p.set_defaults(func=cmd_check)

    for name, func, text in (
            ("run", cmd_run, "validate, preprocess, build the prior, train; write RESULT.h5mu, "
                             "RESULT.model.pt and RESULT.png"),
            ("train", cmd_train, "validate, preprocess (unless done), build the prior, train; "
                                 "write RESULT.h5mu and RESULT.model.pt")):
        p = sub.add_parser(name, help=text)
        _add_input_args(p)
        _add_model_args(p)
        if name == "run":
            _add_domain_args(p)
            p.add_argument("--preview-every", type=int, default=0, metavar="N",
                           help="every N epochs, find domains in the current embedding and log "
                                "how many and how far they still move (default 0: off)")
        p.add_argument("--out", required=True, metavar="RESULT.h5mu|.zarr",
                       help="results as MuData, or as SpatialData (.zarr; with --sdata the input "
                            "store's elements are kept; --sdata X --out X --overwrite replaces "
                            "only its tables)")
        p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
        p.set_defaults(func=func)

    p = sub.add_parser("domains", help="Leiden spatial domains on a trained result")
    p.add_argument("--mudata", required=True, metavar="RESULT.h5mu")
    _add_domain_args(p)
    p.add_argument("--markers", metavar="MARKERS.tsv", help="write domain marker genes/peaks/motifs")
    p.add_argument("--picture", metavar="DOMAINS.png", help="draw the domains on the tissue")
    p.add_argument("--out", metavar="OUT.h5mu", help="write the result with the domains")
    p.add_argument("--seed", type=int, default=None,
                   help="clustering seed (default: the training seed stored in the file)")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=cmd_domains)

    p = sub.add_parser("markers", help="what marks a region drawn on the tissue (GeoJSON "
                                       "polygons in obsm['spatial'] units) against the rest")
    p.add_argument("--mudata", metavar="RESULT.h5mu")
    p.add_argument("--sdata", metavar="RESULT.zarr")
    p.add_argument("--region", required=True, metavar="POLYGON.geojson",
                   help="Polygon/MultiPolygon/Feature(Collection), (x, y) as in obsm['spatial']")
    p.add_argument("--reference", metavar="POLYGON.geojson",
                   help="a second region to compare with (default: the rest of the tissue)")
    p.add_argument("--kinds", nargs="+", metavar="KIND",
                   help="what to test (default: all the data has): 'gene (normalised)', "
                        "'peak (raw)', 'peak (augmented)', 'motif (raw)', 'motif (augmented)', "
                        "'gene activity (raw)', 'gene activity (augmented)'")
    p.add_argument("--n-top", type=int, default=50, help="rows per kind (0: all; default 50)")
    p.add_argument("--tsv", required=True, metavar="MARKERS.tsv")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=cmd_markers)

    p = sub.add_parser("regulation", help="rank candidate regulatory peaks of genes")
    p.add_argument("--mudata", required=True, metavar="RESULT.h5mu")
    x = p.add_mutually_exclusive_group()
    x.add_argument("--gene", action="append", metavar="GENE", help="a gene (repeatable)")
    x.add_argument("--all", action="store_true", help="every modelled gene (stored in uns)")
    p.add_argument("--score", choices=SCORES, default=DEFAULT_SCORE,
                   help="; ".join(f"{k}: {v}" for k, v in SCORE_HELP.items())
                   + f" (default {DEFAULT_SCORE})")
    p.add_argument("--domain", metavar="DOMAIN", help="score with this domain's spots only "
                   "(its activity and correlation; obs['factvae_domain'])")
    p.add_argument("--window", type=int, default=150_000, help="bp around the TSS (default 150 kb)")
    p.add_argument("--genes", metavar="GENES.gtf|.bed", help="gene annotation (default rna.var)")
    p.add_argument("--background", type=int, default=None,
                   help="null draws: matched peaks per candidate (correlation scores, default "
                        "200) or random pairs (paper, default 100000)")
    p.add_argument("--tsv", required=True, metavar="TABLE.tsv")
    p.add_argument("--bedpe", metavar="LINKS.bedpe", help="also write the links as BEDPE "
                   "(IGV, WashU browser)")
    p.add_argument("--out", metavar="OUT.h5mu", help="also write the result (the table in uns)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=cmd_regulation)

    p = sub.add_parser("motifs", help="chromVAR-style motif deviations, raw and augmented")
    p.add_argument("--mudata", required=True, metavar="RESULT.h5mu")
    x = p.add_mutually_exclusive_group()
    x.add_argument("--motif-matrix", metavar="FILE", help="peaks x motifs (.h5ad/.csv/.tsv)")
    x.add_argument("--genome", metavar="GENOME.fa", help="scan peaks with JASPAR CORE vertebrates")
    p.add_argument("--pvalue", type=float, default=5e-5, help="motif match p-value (with --genome)")
    p.add_argument("--backgrounds", type=int, default=50, help="background peak sets")
    p.add_argument("--tsv", metavar="DOMAIN_MOTIFS.tsv", help="domain-specific motifs table")
    p.add_argument("--out", metavar="OUT.h5mu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=cmd_motifs)

    p = sub.add_parser("augment", help="augmented accessibility of peaks, or gene activity")
    p.add_argument("--mudata", required=True, metavar="RESULT.h5mu")
    p.add_argument("--peaks", nargs="+", metavar="PEAK")
    p.add_argument("--gene-activity", nargs="+", metavar="GENE",
                   help="summed accessibility of each gene's body + promoter peaks")
    p.add_argument("--raw", action="store_true", help="add the raw values beside")
    p.add_argument("--table", required=True, metavar="TABLE.tsv|.csv")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=cmd_augment)

    p = sub.add_parser("demo", help="the main job on the built-in simulated tissue")
    p.add_argument("--out-dir", default="factvae-demo", metavar="DIR")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier demo there")
    _add_model_args(p)
    p.add_argument("--n-domains", type=int, default=5, metavar="K")
    p.set_defaults(func=cmd_demo, epochs=DEMO_EPOCHS)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # for the resume line
    if not args.debug:
        _one_line_warnings()
    try:
        return args.func(args)
    except FactVAEInputError as err:
        if args.debug:
            raise
        _say(f"factvae: error: {err}")
        return EXIT_INPUT
    except TrainingInterrupted as err:
        _say(f"factvae: {err}")
        return 130
    except KeyboardInterrupt:
        _say("factvae: interrupted")
        return 130
    except Exception as err:  # noqa: BLE001 - the last line of defence for the command line
        if args.debug:
            raise
        _say(f"factvae: internal error: {type(err).__name__}: {err} (run with --debug for the "
             "traceback, and please report it)")
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
