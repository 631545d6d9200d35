"""The commands: each loads, calls the engine and writes, in a few lines."""

from __future__ import annotations

import time
from pathlib import Path

from ..errors import FactVAEInputError
from ..io._suffix import write
from ..keys import COMPOSITION_KEY, DOMAIN_KEY, PREPROCESS_KEY, REGION_MARKERS_KEY
from ._checks import (
    _at_least,
    _check_domain_args,
    _check_domain_data,
    _check_model_args,
    _check_trainable,
)
from ._inputs import input_paths, load_sections, normalise
from ._messages import _say, _summary
from ._output import (
    PICTURE_SUFFIXES,
    OutputLock,
    SaveFirst,
    _check_output,
    _check_outputs,
    _write_table,
    checkpoint_path,
    model_path,
)
from ._training import TIMES, TrainingInterrupted, _resume_command, _stage_line, run_pipeline


def _load(args):
    from ..io._load import load_paired

    if getattr(args, "sections", None):
        return load_sections(args)
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


def cmd_simulate(args) -> int:
    from ..datasets._simulate import simulate
    from ..io._write import write_h5ad_pair

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
        _say(f"factvae: wrote {write(mdata, args.out, overwrite=args.overwrite)}")
    if args.rna_out and args.atac_out:
        r, a = write_h5ad_pair(mdata, args.rna_out, args.atac_out, overwrite=args.overwrite)
        _say(f"factvae: wrote {r} and {a}")
    print(_summary(mdata))
    return 0


def cmd_check(args) -> int:
    from ..pp._prior import add_gene_peak_prior

    mdata = _load(args)
    _check_trainable(mdata, args)
    add_gene_peak_prior(mdata, args.genes, promoter=args.promoter)
    print(f"ok: {_summary(mdata)}")
    return 0


def _domains(mdata, args) -> None:
    from ..tl._domains import find_domains

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
    if COMPOSITION_KEY in mdata.uns and rec.get("batch_key"):
        table = mdata.uns[COMPOSITION_KEY]["table"].drop(columns="total")
        for name in table.columns:
            counts = ", ".join(f"{d}: {n}" for d, n in table[name].items() if n)
            _say(f"factvae:   section {name}: {counts}")


def cmd_train(args, *, picture: bool = False) -> int:
    with OutputLock(Path(args.out)):
        return _train_command(args, picture=picture)


def _train_command(args, *, picture: bool = False) -> int:
    from ..pl._plots import plot_domains

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
    _check_outputs(outputs, [*input_paths(args), args.image, args.genes,
                             None if resume_in_place else args.resume], args.overwrite,
                   sdata_in=None if getattr(args, "sections", None) else args.sdata)
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
        write(mdata, out, overwrite=args.overwrite)
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
    from ..datasets._simulate import simulate
    from ..io._write import write_h5mu

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
    from ._parser import build_parser

    # the demo is `factvae run` on the simulated tissue, with the demo's model options
    run = build_parser().parse_args(["run", "--mudata", str(sim_path), "--out", str(result),
                                     "--overwrite", "--n-domains", str(args.n_domains or 5)])
    given = {k: v for k, v in vars(args).items()
             if k in vars(run) and k not in ("command", "func", "n_domains", "overwrite")}
    vars(run).update(given, argv=None)
    args = run
    normalise(args)  # as main does for a command line: one input, its path as a string
    return cmd_run(args)


def _load_result(args):
    """A file written by factvae (or any valid input) for the analysis subcommands."""
    args.rna = args.atac = args.image = args.counts_layer = None
    args.image_scale = 1.0
    return _load(args)


def _write_result(mdata, args) -> None:
    if args.out:
        write(mdata, args.out, overwrite=args.overwrite)
        print(f"results: {args.out}")


def cmd_domains(args) -> int:
    from ..pl._plots import plot_domains
    from ..tl._markers import domain_markers

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
    from ..tl._regions import check_kinds, read_geojson, region_markers

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
    params = mdata.uns[REGION_MARKERS_KEY]["params"]
    _say(f"factvae: {params['n_region']} spots in the region against {params['n_reference']} "
         f"({'the second region' if reference is not None else 'the rest'})"
         + (f"; skipped {', '.join(params['skipped'])}" if params["skipped"] else ""))
    _write_table(table, args.tsv, args.overwrite, "--tsv")
    return 0


def cmd_regulation(args) -> int:
    from ..tl._regulation import infer_regulation, summarize, to_bedpe, with_provenance

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
        from ..io._write import write_atomically

        path = _check_output(args.bedpe, args.overwrite, "--bedpe")
        write_atomically(path, lambda tmp: to_bedpe(table, mdata, tmp, annotation=args.genes),
                         field="--bedpe")
        print(f"links: {path}")
    _write_result(mdata, args)
    return 0


def cmd_motifs(args) -> int:
    from ..tl._motif_scan import read_motif_matrix, scan_motifs
    from ..tl._motifs import domain_motifs, motif_deviations

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

    from ..tl._augment import augment_atac, gene_activity

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
        from ..tl._augment import _parts

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
