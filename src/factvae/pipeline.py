"""The steps every front end runs, in one place: the CLI (`factvae run/train`) and the napari
Train widget call these and repeat none of them.

    mdata = prepare(mdata, seed=0, alpha=1.0)      # preprocess (unless done), prior (if needed)
    model = FactVAE(mdata, device=..., n_threads=default_threads(), **params)
    for event in model.train_iter(...): ...        # progress, cancel
    model.write_results(); find_domains(mdata, ...)
"""

from __future__ import annotations

from typing import Callable

from .errors import FactVAEInputError
from .keys import PREPROCESS_KEY, PRIOR_PAIRS_KEY


def prepare(mdata, *, seed: int = 0, alpha: float = 1.0, genes=None, promoter: int = 2000,
            on_stage: Callable[[str], None] | None = None):
    """Preprocess (unless done; with the training seed) and build the gene-peak prior (unless
    present or `genes` is given). The prior is required while its weight `alpha` is above 0: a
    missing gene annotation is then one clear error whose fix names both ways out. Returns the
    (possibly new, filtered) MuData."""
    from .preprocess import preprocess
    from .prior import add_gene_peak_prior

    stage = on_stage or (lambda text: None)
    if PREPROCESS_KEY not in mdata.uns:
        stage("preprocessing")
        mdata = preprocess(mdata, seed=seed)
    if genes is not None or (alpha and PRIOR_PAIRS_KEY not in mdata.uns):
        stage("building the gene-peak prior")
        try:
            add_gene_peak_prior(mdata, genes, promoter=promoter)
        except FactVAEInputError as err:
            if genes is not None:
                raise
            raise FactVAEInputError(
                err.problem, file=err.file, field=err.field,
                fix=f"{err.fix.rstrip('.') if err.fix else 'give a gene annotation'}; or train "
                    "without the prior (alpha 0).") from None
    return mdata


def default_threads(*, leave_one: bool = False) -> int:
    """CPU threads for training: the CPUs this process may use, one fewer in a GUI so that the
    viewer stays responsive."""
    from .trainer import available_cpus

    n = available_cpus()
    return max(1, n - 1) if leave_one else n
