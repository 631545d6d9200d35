"""Preprocessing, scanpy-style: `factvae.pp.load_paired`, `.preprocess`, `.add_gene_peak_prior`.

Each step works on a MuData in place (or returns a new one where it filters) and records its
parameters in `uns`; the same functions stay importable from `factvae` itself."""

from .io import load_paired, write_h5mu  # noqa: F401
from .preprocess import PreprocessParams, lsi, preprocess  # noqa: F401
from .prior import add_gene_peak_prior, g2p_matrix  # noqa: F401

__all__ = ["load_paired", "write_h5mu", "preprocess", "PreprocessParams", "lsi",
           "add_gene_peak_prior", "g2p_matrix"]
