"""FactVAE engine for paired spatial ATAC + RNA: loading, preprocessing, the gene-peak prior,
the model and its analyses. Headless: never imports napari, Qt or magicgui.

In the scverse shape: `factvae.io` (read and write), `factvae.pp` (preprocess, prior),
`factvae.tl` (train, domains, regulation, augmentation, motifs), `factvae.get` (per-spot values),
`factvae.pl` (plots returning an Axes), `factvae.datasets` (the simulator); `factvae.model` the
network and its training; `factvae.pipeline` the whole job the CLI and the widgets share; result
keys, colours and feature kinds in `factvae.keys`. The names below also stay at the top level.

Names are imported on first use, so `import factvae.io` (the plugin's reader) or `factvae --help`
do not pay for torch and scanpy. The flat module paths of 0.1 (`factvae.domains`,
`factvae.sdata`, ...) still import, with a DeprecationWarning that names the new home."""

import sys

from . import _moved
from ._lazy import lazy_names, table

__version__ = "0.1.0"

_WHERE = table(**{
    "tl._augment": "augment_atac gene_activity iter_augmented_atac",
    "config": "FactVAEConfig",
    "datasets._simulate": "simulate",
    "tl._domains": "find_domains",
    "errors": "FactVAEDataWarning FactVAEInputError",
    "io._load": "load_paired load_sections",
    "io._write": "write_h5mu",
    "model._model": "FactVAE train",
    "tl._motifs": "motif_deviations",
    "pp._prior": "add_gene_peak_prior g2p_matrix",
    "tl._regulation": "infer_regulation",
    "tl._regions": "region_markers",
    "io._spatialdata_write": "write_spatialdata to_spatialdata",
})
_WHERE["preprocess"] = ".pp._preprocess"

__all__ = sorted(_WHERE)
_SUBPACKAGES = ("io", "pp", "tl", "get", "pl", "datasets", "model", "cli", "pipeline", "keys",
                "config", "errors")

# the old flat modules resolve, with a warning, to their new homes (see _moved.py)
if not any(isinstance(f, _moved.MovedModules) for f in sys.meta_path):
    sys.meta_path.append(_moved.MovedModules(__name__))

_names, __dir__ = lazy_names(__name__, _WHERE)


def __getattr__(name):
    if name in _WHERE:
        return _names(name)
    if name in _SUBPACKAGES or name in _moved.MOVED:  # factvae.tl, or an old path
        from importlib import import_module

        return import_module(f".{name}", __name__)
    raise AttributeError(f"module 'factvae' has no attribute {name!r}")
