"""FactVAE engine for paired spatial ATAC + RNA: loading, preprocessing, the gene-peak prior,
the model and its analyses. Headless: never imports napari, Qt or magicgui."""

from .datasets import simulate
from .errors import FactVAEDataWarning, FactVAEInputError
from .augment import augment_atac, iter_augmented_atac
from .io import load_paired, write_h5mu
from .config import FactVAEConfig
from .model import FactVAE, train
from .preprocess import preprocess
from .prior import add_gene_peak_prior, g2p_matrix

__version__ = "0.1.0"

__all__ = ["FactVAE", "FactVAEConfig", "train", "FactVAEDataWarning", "FactVAEInputError", "add_gene_peak_prior", "augment_atac", "g2p_matrix", "iter_augmented_atac",
           "load_paired", "preprocess", "simulate", "write_h5mu"]
