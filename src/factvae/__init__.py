"""FactVAE engine for paired spatial ATAC + RNA: loading, preprocessing, the gene-peak prior,
the model and its analyses. Headless: never imports napari, Qt or magicgui.

In the scverse shape: `factvae.pp` (load, preprocess, prior), `factvae.tl` (train, domains,
regulation, augmentation, motifs), `factvae.pl` (plots returning an Axes); result keys in
`factvae.keys`. The names below also stay at the top level.

Names are imported on first use, so `import factvae.spatial` (the plugin's reader) or
`factvae --help` do not pay for torch and scanpy."""

from importlib import import_module

__version__ = "0.1.0"

_WHERE = {
    "augment_atac": "augment", "gene_activity": "augment", "iter_augmented_atac": "augment",
    "FactVAEConfig": "config", "simulate": "datasets", "find_domains": "domains",
    "FactVAEDataWarning": "errors", "FactVAEInputError": "errors", "load_paired": "io",
    "write_h5mu": "io", "FactVAE": "model", "train": "model", "motif_deviations": "motifs",
    "preprocess": "preprocess", "add_gene_peak_prior": "prior", "g2p_matrix": "prior",
    "infer_regulation": "regulation", "region_markers": "regions",
    "write_spatialdata": "sdata", "to_spatialdata": "sdata",
}

__all__ = sorted(_WHERE)

# `preprocess` is both a submodule and a function: bind the function now, or the first import of
# the submodule (by the engine itself) would put the module object under this name
from .preprocess import preprocess  # noqa: E402,F401  (cheap: numpy and scipy only)


def __getattr__(name):
    if name in _WHERE:
        value = getattr(import_module(f".{_WHERE[name]}", __name__), name)
        globals()[name] = value
        return value
    try:  # a submodule, e.g. factvae.motifs
        return import_module(f".{name}", __name__)
    except ModuleNotFoundError:
        raise AttributeError(f"module 'factvae' has no attribute {name!r}") from None


def __dir__():
    return sorted(list(globals()) + __all__)
