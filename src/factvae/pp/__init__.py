"""Preprocessing, scanpy-style: `factvae.pp.load_paired`, `.preprocess`, `.add_gene_peak_prior`.

Each step works on a MuData in place (or returns a new one where it filters) and records its
parameters in `uns`; the same functions stay importable from `factvae` itself.

Private modules: `_preprocess` (QC, normalisation, LSI, highly variable genes), `_genome` (gene
and peak coordinates, annotation files), `_prior` (the gene-peak prior, G2P)."""

from .._lazy import lazy_names, table

_WHERE = table(
    _preprocess="PreprocessParams lsi preprocess tfidf log_normalize",
    _prior="add_gene_peak_prior g2p_matrix",
    _genome="gene_coordinates_from_var peak_coordinates read_gene_annotation",
)
_WHERE.update({"load_paired": "..io._load", "write_h5mu": "..io._write"})  # kept here: 0.1 API
__all__ = ["load_paired", "write_h5mu", "preprocess", "PreprocessParams", "lsi",
           "add_gene_peak_prior", "g2p_matrix"]
__getattr__, __dir__ = lazy_names(__name__, _WHERE)
