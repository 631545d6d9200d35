"""What the command says: one line on stderr per message, warnings on one line, the exit codes,
the one-line summary of a dataset."""

from __future__ import annotations

import sys
import warnings

from ..keys import PRIOR_INFO_KEY

EXIT_INPUT = 2
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


def _summary(mdata) -> str:
    rna, atac = mdata.mod["rna"], mdata.mod["atac"]
    text = f"{mdata.n_obs} spots, {rna.n_vars} genes, {atac.n_vars} peaks"
    info = mdata.uns.get(PRIOR_INFO_KEY)
    if info:
        text += (f", {info['n_pairs']} gene-peak pairs ({info['n_genes_linked']} genes, "
                 f"{info['n_peaks_linked']} peaks linked)")
    return text
