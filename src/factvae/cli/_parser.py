"""The argument parser: one sub-parser per command, the model's flags taken from FactVAEConfig."""

from __future__ import annotations

import argparse

from ..keys import REGION_KINDS
from ._training import CHECKPOINT_MINUTES

DEMO_EPOCHS = 100  # the simulated tissue converges well before the authors' 300


def _add_input_args(p: argparse.ArgumentParser, required: bool = True) -> None:
    src = p.add_argument_group("input (one .h5mu, one SpatialData .zarr, or two .h5ad files; "
                               "several of one kind for several tissue sections)")
    src.add_argument("--mudata", nargs="+", metavar="DATA.h5mu",
                     help="MuData with modalities 'rna' and 'atac' (several: one per section)")
    src.add_argument("--sdata", nargs="+", metavar="DATA.zarr",
                     help="SpatialData store: spots (shapes or points), tables 'rna' and 'atac' "
                          "(or one with var['modality']), image (several: one per section)")
    src.add_argument("--tables", nargs=2, metavar=("RNA", "ATAC"),
                     help="with --sdata: the names of the RNA and ATAC tables")
    src.add_argument("--image-element", metavar="NAME", help="with --sdata: which image element")
    src.add_argument("--coordinate-system", metavar="CS",
                     help="with --sdata: the coordinate system joining spots and image")
    src.add_argument("--rna", nargs="+", metavar="RNA.h5ad", help="RNA counts (spots x genes)")
    src.add_argument("--atac", nargs="+", metavar="ATAC.h5ad", help="ATAC counts (spots x peaks)")
    src.add_argument("--sample-names", nargs="+", metavar="NAME",
                     help="with several inputs: the sections' names, in order (default: the "
                          "files' names); stored in obs['sample']")
    src.add_argument("--join", choices=("inner", "outer"), default="inner",
                     help="with several inputs: keep the genes and merged peaks every section "
                          "has (inner, default) or all of them (outer: zero where a section "
                          "lacks one)")
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


def _add_model_args(p: argparse.ArgumentParser) -> None:
    """The model options, generated from FactVAEConfig's field metadata (flag, help, range):
    a new parameter there appears here and in the Train widget."""
    from ..config import FactVAEConfig

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


def _add_declared(g, option, **extra) -> None:
    """One flag from a declared parameter (`factvae._options`): its type, default, help."""
    kind = {int: int, float: float}.get(type(option.default), None)
    if option.choices is not None:
        extra.setdefault("choices", list(option.choices))
    elif option.default is None and option.min is not None:  # an optional number
        kind = float if isinstance(option.min, float) or option.above else int
    g.add_argument(option.flag, type=kind, default=option.default, help=option.help,
                   metavar=option.metavar if option.choices is None else None, **extra)


def _add_domain_args(p: argparse.ArgumentParser) -> None:
    from ..tl._params import DomainParams

    g = p.add_argument_group("spatial domains (from the joint embedding)")
    x = g.add_mutually_exclusive_group()
    for o in DomainParams.options():
        _add_declared(x if o.name in ("n_domains", "resolution") else g, o)


def _add_simulate(sub) -> None:
    """The sub-command `simulate`."""
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
    p.set_defaults(func="simulate")



def _add_check(sub) -> None:
    """The sub-command `check`."""
    p = sub.add_parser("check", help="validate an input and summarise it")
    _add_input_args(p)
    p.set_defaults(func="check")



def _add_run_and_train(sub) -> None:
    """The sub-command `run` (the whole job) and `train` (no domains)."""
    for name, text in (
            ("run", "validate, preprocess, build the prior, train; write RESULT.h5mu, "
                    "RESULT.model.pt and RESULT.png"),
            ("train", "validate, preprocess (unless done), build the prior, train; "
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
        p.set_defaults(func=name)



def _add_domains(sub) -> None:
    """The sub-command `domains`."""
    p = sub.add_parser("domains", help="Leiden spatial domains on a trained result")
    p.add_argument("--mudata", required=True, metavar="RESULT.h5mu")
    _add_domain_args(p)
    p.add_argument("--markers", metavar="MARKERS.tsv", help="write domain marker genes/peaks/motifs")
    p.add_argument("--picture", metavar="DOMAINS.png", help="draw the domains on the tissue")
    p.add_argument("--out", metavar="OUT.h5mu", help="write the result with the domains")
    p.add_argument("--seed", type=int, default=None,
                   help="clustering seed (default: the training seed stored in the file)")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func="domains")



def _add_markers(sub) -> None:
    """The sub-command `markers`."""
    p = sub.add_parser("markers", help="what marks a region drawn on the tissue (GeoJSON "
                                       "polygons in obsm['spatial'] units) against the rest")
    p.add_argument("--mudata", metavar="RESULT.h5mu")
    p.add_argument("--sdata", metavar="RESULT.zarr")
    p.add_argument("--region", required=True, metavar="POLYGON.geojson",
                   help="Polygon/MultiPolygon/Feature(Collection), (x, y) as in obsm['spatial']")
    p.add_argument("--reference", metavar="POLYGON.geojson",
                   help="a second region to compare with (default: the rest of the tissue)")
    p.add_argument("--kinds", nargs="+", metavar="KIND",
                   help="what to test (default: all the data has): "
                        + ", ".join(f"'{k}'" for k in REGION_KINDS))
    p.add_argument("--n-top", type=int, default=50, help="rows per kind (0: all; default 50)")
    p.add_argument("--tsv", required=True, metavar="MARKERS.tsv")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func="markers")



def _add_regulation(sub) -> None:
    """The sub-command `regulation`."""
    from ..tl._params import RegulationParams

    p = sub.add_parser("regulation", help="rank candidate regulatory peaks of genes")
    p.add_argument("--mudata", required=True, metavar="RESULT.h5mu")
    x = p.add_mutually_exclusive_group()
    x.add_argument("--gene", action="append", metavar="GENE", help="a gene (repeatable)")
    x.add_argument("--all", action="store_true", help="every modelled gene (stored in uns)")
    for o in RegulationParams.options():
        _add_declared(p, o)
    p.add_argument("--genes", metavar="GENES.gtf|.bed", help="gene annotation (default rna.var)")
    p.add_argument("--tsv", required=True, metavar="TABLE.tsv")
    p.add_argument("--bedpe", metavar="LINKS.bedpe", help="also write the links as BEDPE "
                   "(IGV, WashU browser)")
    p.add_argument("--out", metavar="OUT.h5mu", help="also write the result (the table in uns)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func="regulation")



def _add_motifs(sub) -> None:
    """The sub-command `motifs`."""
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
    p.set_defaults(func="motifs")



def _add_augment(sub) -> None:
    """The sub-command `augment`."""
    p = sub.add_parser("augment", help="augmented accessibility of peaks, or gene activity")
    p.add_argument("--mudata", required=True, metavar="RESULT.h5mu")
    p.add_argument("--peaks", nargs="+", metavar="PEAK")
    p.add_argument("--gene-activity", nargs="+", metavar="GENE",
                   help="summed accessibility of each gene's body + promoter peaks")
    p.add_argument("--raw", action="store_true", help="add the raw values beside")
    p.add_argument("--table", required=True, metavar="TABLE.tsv|.csv")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func="augment")



def _add_demo(sub) -> None:
    """The sub-command `demo`."""
    p = sub.add_parser("demo", help="the main job on the built-in simulated tissue")
    p.add_argument("--out-dir", default="factvae-demo", metavar="DIR")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier demo there")
    _add_model_args(p)
    p.add_argument("--n-domains", type=int, default=5, metavar="K")
    p.set_defaults(func="demo", epochs=DEMO_EPOCHS)



def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="factvae", description="FactVAE for paired spatial ATAC + RNA (headless engine).")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (_add_simulate, _add_check, _add_run_and_train, _add_domains, _add_markers,
                _add_regulation, _add_motifs, _add_augment, _add_demo):
        add(sub)
    return parser
