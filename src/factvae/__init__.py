"""FactVAE engine for paired spatial ATAC + RNA: loading, preprocessing, the gene-peak prior,
the model and its analyses. Headless: never imports napari, Qt or magicgui."""

from .augment import augment_atac, gene_activity, iter_augmented_atac
from .config import FactVAEConfig
from .datasets import simulate
from .domains import find_domains
from .errors import FactVAEDataWarning, FactVAEInputError
from .io import load_paired, write_h5mu
from .model import FactVAE, train
from .motifs import motif_deviations
from .preprocess import preprocess
from .prior import add_gene_peak_prior, g2p_matrix
from .regulation import infer_regulation

__version__ = "0.1.0"

__all__ = ["FactVAE", "FactVAEConfig", "FactVAEDataWarning", "FactVAEInputError",
           "add_gene_peak_prior", "augment_atac", "find_domains", "g2p_matrix", "gene_activity",
           "infer_regulation", "iter_augmented_atac", "load_paired", "motif_deviations",
           "preprocess", "simulate", "train", "write_h5mu"]
