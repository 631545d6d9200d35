"""Inputs on the command line: one section (one .h5mu, one .zarr or an .h5ad pair) or several
(`--mudata a.h5mu b.h5mu`, `--sdata a.zarr b.zarr`, `--rna r1 r2 --atac a1 a2`)."""

from __future__ import annotations

from ..errors import FactVAEInputError

INPUT_FLAGS = ("mudata", "sdata", "rna", "atac")


def normalise(args) -> None:
    """After parsing: a flag given one path holds that path (as before several sections
    existed); several paths go to `args.sections` (a list of inputs, one per section) and the
    flag holds them joined by spaces, for messages."""
    args.sections = None
    lists = {f: getattr(args, f, None) for f in INPUT_FLAGS}
    lists = {f: v for f, v in lists.items() if isinstance(v, list)}
    if not lists:
        return
    several = {f: v for f, v in lists.items() if len(v) > 1}
    for f, v in lists.items():
        setattr(args, f, " ".join(v))
    names = getattr(args, "sample_names", None)
    if not several:
        if names:
            raise FactVAEInputError("names samples, but one input was given.",
                                    field="--sample-names",
                                    fix="give several inputs, or leave --sample-names out.")
        return
    if {"rna", "atac"} & set(lists):
        rna, atac = lists.get("rna", []), lists.get("atac", [])
        if len(rna) != len(atac):
            raise FactVAEInputError(f"{len(rna)} RNA files and {len(atac)} ATAC files.",
                                    field="--rna / --atac",
                                    fix="give one --atac file per --rna file, in the same order.")
        if set(lists) - {"rna", "atac"}:
            raise FactVAEInputError("several sections from mixed input kinds.", field="arguments",
                                    fix="give all sections as --mudata, as --sdata, or as "
                                        "--rna/--atac pairs.")
        args.sections = list(zip(rna, atac))
    elif len(lists) > 1:
        raise FactVAEInputError("several sections from mixed input kinds.", field="arguments",
                                fix="give all sections as --mudata, as --sdata, or as --rna/--atac "
                                    "pairs.")
    else:
        args.sections = next(iter(several.values()))
    if names:  # said before anything is read
        from ..io._sections import _names

        _names(names, len(args.sections), [None] * len(args.sections))


def input_paths(args) -> list[str]:
    """Every input file given (for the checks that an output does not replace an input)."""
    if getattr(args, "sections", None):
        return [str(p) for item in args.sections
                for p in (item if isinstance(item, tuple) else (item,))]
    return [getattr(args, f, None) for f in INPUT_FLAGS]


def load_sections(args):
    """The sections of `args.sections` in one MuData, with the report as one warning line."""
    import warnings

    from ..errors import FactVAEDataWarning
    from ..io._load import load_sections
    from ..io._sections import describe_sections
    from ..keys import SECTIONS_KEY

    for flag in ("image", "tables", "image_element", "coordinate_system"):
        if getattr(args, flag, None):
            raise FactVAEInputError("applies to one section only.",
                                    field="--" + flag.replace("_", "-"),
                                    fix="store each section's image in its own input, or give "
                                        "one input.")
    mdata = load_sections(args.sections, getattr(args, "sample_names", None),
                          join=getattr(args, "join", "inner"), counts_layer=args.counts_layer)
    warnings.warn(describe_sections(mdata.uns[SECTIONS_KEY]), FactVAEDataWarning, stacklevel=2)
    return mdata
