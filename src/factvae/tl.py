"""Tools, scanpy-style: train the model, then the analyses that read its results.

`factvae.tl.train`, `.FactVAE`, `.find_domains`, `.rename_domains`, `.domain_markers`,
`.suggest_n_domains`, `.infer_regulation`, `.augment_atac`, `.iter_augmented_atac`,
`.gene_activity`, `.motif_deviations`, `.domain_motifs`, `.scan_motifs`, `.region_markers`. Functions that add a
result take `key_added` where a user may want two side by side (domains, markers, motifs)."""

from importlib import import_module

_WHERE = {
    "train": "model", "FactVAE": "model", "FactVAEConfig": "config",
    "find_domains": "domains", "rename_domains": "domains", "domain_markers": "domains",
    "suggest_n_domains": "domains", "infer_regulation": "regulation",
    "augment_atac": "augment", "iter_augmented_atac": "augment", "gene_activity": "augment",
    "motif_deviations": "motifs", "domain_motifs": "motifs", "scan_motifs": "motifs",
    "read_motif_matrix": "motifs", "region_markers": "regions",
}
__all__ = sorted(_WHERE)


def __getattr__(name):  # torch and scanpy load on first use, as in `factvae`
    if name in _WHERE:
        value = getattr(import_module(f"factvae.{_WHERE[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'factvae.tl' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
