"""FactVAE engine for paired spatial ATAC + RNA: loading, preprocessing, the gene-peak prior,
the model and its analyses. Headless: never imports napari, Qt or magicgui."""

from .datasets import simulate
from .errors import FactVAEDataWarning, FactVAEInputError
from .io import load_paired, write_h5mu
from .preprocess import preprocess
from .prior import add_gene_peak_prior, g2p_matrix

__version__ = "0.1.0"

__all__ = ["FactVAEDataWarning", "FactVAEInputError", "add_gene_peak_prior", "g2p_matrix",
           "load_paired", "preprocess", "simulate", "write_h5mu"]
