"""Checks of the command line's arguments and data made before any work starts."""

from __future__ import annotations

from ..errors import FactVAEInputError


def _at_least(flag: str, value, least, *, fix: str | None = None) -> None:
    """A numeric option below its minimum (or NaN): one line naming the flag."""
    if not value >= least:
        raise FactVAEInputError(f"must be at least {least:g}, got {value:g}.", field=flag,
                                fix=fix or f"use {flag} {least:g} or more.")


def _check_trainable(mdata, args) -> None:
    """What preprocessing and training would refuse, said before any work (and by `check`)."""
    from ..pp._preprocess import check_trainable

    from ..tl._sections import section_key

    file = args.mudata or args.sdata or f"{args.rna} / {args.atac}"
    check_trainable(mdata, file=file)
    try:  # the section column, before preprocessing and training
        section_key(mdata, getattr(args, "batch_key", None))
    except FactVAEInputError as err:
        raise err.with_file(file) from None


def _given_model_params(args) -> dict:
    """{config field: value} of the model options given on the command line (not epochs)."""
    from ..config import FactVAEConfig

    out = {}
    for o in FactVAEConfig.options("cli"):
        value = getattr(args, o.dest, None)
        if o.name == "epochs" or value is None:
            continue
        out[o.name] = o.choices[value] if o.choices else value
    return out


def _flag_of_field(name: str) -> str:
    from ..config import FactVAEConfig

    return next((o.flag for o in FactVAEConfig.options("cli") if o.name == name), name)


def _check_model_args(args) -> None:
    """The model options, checked by FactVAEConfig before the data are loaded and preprocessed
    (the model checks them again), and named by their flags."""
    from ..config import FactVAEConfig

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


def _check_domain_args(args) -> None:
    """The domain options, checked before any work by the declaration `find_domains` checks
    with, and named by their flags."""
    from ..tl._params import DomainParams

    DomainParams(**{o.name: getattr(args, o.dest) for o in DomainParams.options()}).validate(
        by_flag=True)


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
