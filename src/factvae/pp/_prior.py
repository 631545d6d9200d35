"""The gene-peak prior G2P: gene i is linked to peak j when peak j overlaps gene i's body plus a
strand-aware promoter (default 2 kb upstream of the TSS). Always sparse (genes x peaks CSR)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import FactVAEDataWarning
from ..keys import PRIOR_INFO_KEY, PRIOR_PAIRS_KEY

# Below these the regulatory loss pulls on too few features to shape the embeddings.
MIN_LINKED_PAIRS = 20


MIN_LINKED_GENE_FRACTION = 0.05


@dataclass
class PriorSummary:
    n_pairs: int
    n_genes_linked: int
    n_peaks_linked: int
    n_genes: int
    n_peaks: int
    n_genes_without_coordinates: int

    def as_dict(self) -> dict:
        return dict(self.__dict__)

    def __str__(self) -> str:
        return (f"{self.n_pairs} gene-peak pairs link {self.n_genes_linked}/{self.n_genes} genes "
                f"and {self.n_peaks_linked}/{self.n_peaks} peaks")


def gene_loci(genes: pd.DataFrame, promoter: int = 2000) -> pd.DataFrame:
    """Gene body extended `promoter` bases upstream of the TSS (start on '+', end on '-')."""
    minus = genes["strand"].astype(str).to_numpy() == "-"
    start = genes["start"].to_numpy(np.int64).copy()
    end = genes["end"].to_numpy(np.int64).copy()
    start[~minus] -= promoter
    end[minus] += promoter
    return pd.DataFrame({"chrom": genes["chrom"].astype(str).to_numpy(),
                         "start": np.maximum(start, 0), "end": end}, index=genes.index)


def overlap_pairs(loci: pd.DataFrame, peaks: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Row positions (into `loci`, into `peaks`) of every overlapping pair, half-open intervals.
    Per chromosome: peaks sorted by start, then two binary searches per locus."""
    gi_all, pj_all = [], []
    peak_chrom = peaks["chrom"].astype(str).to_numpy()
    pstart_all = peaks["start"].to_numpy(np.int64)
    pend_all = peaks["end"].to_numpy(np.int64)
    loc_chrom = loci["chrom"].to_numpy()
    for chrom in np.intersect1d(np.unique(loc_chrom), np.unique(peak_chrom)):
        pidx = np.flatnonzero(peak_chrom == chrom)
        order = np.argsort(pstart_all[pidx], kind="stable")
        pidx = pidx[order]
        pstart, pend = pstart_all[pidx], pend_all[pidx]
        max_width = int((pend - pstart).max())
        for gi in np.flatnonzero(loc_chrom == chrom):
            ls, le = loci["start"].iat[gi], loci["end"].iat[gi]
            lo = np.searchsorted(pstart, ls - max_width, side="left")
            hi = np.searchsorted(pstart, le, side="left")  # peaks starting before the locus ends
            cand = np.arange(lo, hi)
            cand = cand[pend[cand] > ls]
            if cand.size:
                gi_all.append(np.full(cand.size, gi))
                pj_all.append(pidx[cand])
    if not gi_all:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(gi_all), np.concatenate(pj_all)


def build_g2p(genes: pd.DataFrame, peaks: pd.DataFrame, gene_names, *, promoter: int = 2000,
              warn: bool = True) -> tuple[sp.csr_matrix, PriorSummary]:
    """G2P (len(gene_names) x len(peaks), CSR of 0/1) from gene intervals `genes` (chrom, start,
    end, strand; indexed by name) and peak intervals `peaks` (chrom, start, end).
    Genes in `gene_names` without coordinates get empty rows."""
    gene_names = pd.Index(gene_names)
    known = gene_names.isin(genes.index)
    coords = genes.loc[gene_names[known]]
    rows_known = np.flatnonzero(known)
    gi, pj = overlap_pairs(gene_loci(coords, promoter), peaks)
    g2p = sp.csr_matrix((np.ones(gi.size, np.float32), (rows_known[gi], pj)),
                        shape=(len(gene_names), len(peaks)))
    g2p.sum_duplicates()
    g2p.data[:] = 1.0
    summary = PriorSummary(
        n_pairs=int(g2p.nnz), n_genes_linked=int((g2p.getnnz(axis=1) > 0).sum()),
        n_peaks_linked=int((g2p.getnnz(axis=0) > 0).sum()), n_genes=len(gene_names),
        n_peaks=len(peaks), n_genes_without_coordinates=int((~known).sum()))
    if warn and (summary.n_pairs < MIN_LINKED_PAIRS
                 or summary.n_genes_linked < MIN_LINKED_GENE_FRACTION * max(len(gene_names), 1)):
        warnings.warn(
            f"The gene-peak prior is weak: {summary}. The regulatory loss will barely constrain "
            "the feature embeddings. Check that genes and peaks use the same genome build and "
            "chromosome names (e.g. 'chr1' vs '1'), or give a gene annotation file.",
            FactVAEDataWarning, stacklevel=2)
    return g2p, summary






def gene_intervals(mdata, annotation=None, *, file: str | None = None) -> pd.DataFrame:
    """Gene intervals: from an annotation file (GTF/GFF3/BED) when given, else `rna.var` columns."""
    from ..errors import FactVAEInputError
    from ._genome import gene_coordinates_from_var, read_gene_annotation

    if annotation is not None:
        return read_gene_annotation(annotation)
    genes = gene_coordinates_from_var(mdata.mod["rna"].var)
    if genes is None:
        raise FactVAEInputError(
            "no gene coordinates: rna.var has no chrom/chromStart/chromEnd (or chrom/start/end) "
            "columns and no gene annotation file was given.", file=file, field="rna.var",
            fix="pass a GTF, GFF3 or BED of the same genome build (--genes FILE), or add the "
                "coordinate and strand columns to rna.var.")
    return genes


def add_gene_peak_prior(mdata, annotation=None, *, promoter: int = 2000,
                        file: str | None = None) -> PriorSummary:
    """Build the gene-peak prior G2P of `mdata` and store it in `mdata.uns`.

    G2P for the genes and peaks of `mdata` is stored as a table of linked names in
    `mdata.uns['factvae_g2p']` (columns gene, peak) with a summary in `uns['factvae_prior']`.
    Names, not positions, so the prior survives subsetting and reordering.

    Gene i is linked to peak j when peak j overlaps gene i's body plus a strand-aware
    promoter (`promoter` bases upstream of the TSS). Peak intervals come from `atac.var`
    columns or the peak names (`chr1:100-200`, `chr1-100-200`, `chr1_100_200`).

    Parameters
    ----------
    mdata : MuData
        Modalities 'rna' and 'atac'; changed in place.
    annotation : str or Path, optional
        A GTF, GFF3 or BED file of gene coordinates (optionally gzipped); default: the
        coordinate and strand columns of `rna.var`.
    promoter : int, default 2000
        Bases upstream of the TSS added to each gene body.
    file : str, optional
        The data file, named in errors.

    Returns
    -------
    PriorSummary
        n_pairs, n_genes_linked, n_peaks_linked, n_genes, n_peaks and
        n_genes_without_coordinates (`as_dict()` for a dict; `str()` for one line).

    Raises
    ------
    FactVAEInputError
        If there are no gene coordinates (no annotation and no coordinate columns in
        `rna.var`), the annotation file is unusable, or the peak coordinates are.

    Warns
    -----
    FactVAEDataWarning
        When the prior is weak (fewer than 20 pairs, or fewer than 5 % of the genes linked),
        and when `rna.var` has coordinates but no strand (every gene is then read as '+').

    Notes
    -----
    Sets `mdata.uns['factvae_g2p']` (a DataFrame of linked names, columns 'gene' and 'peak')
    and `mdata.uns['factvae_prior']` (the summary's fields plus 'promoter' and 'annotation':
    the file, or 'rna.var').
    """
    from ._genome import peak_coordinates

    genes = gene_intervals(mdata, annotation, file=file)
    peaks = peak_coordinates(mdata.mod["atac"].var, file=file)
    gene_names = mdata.mod["rna"].var_names
    g2p, summary = build_g2p(genes, peaks, gene_names, promoter=promoter)
    coo = g2p.tocoo()
    mdata.uns[PRIOR_PAIRS_KEY] = pd.DataFrame({
        "gene": np.asarray(gene_names)[coo.row].astype(str),
        "peak": np.asarray(mdata.mod["atac"].var_names)[coo.col].astype(str)})
    mdata.uns[PRIOR_INFO_KEY] = {**summary.as_dict(), "promoter": int(promoter),
                                 "annotation": str(annotation) if annotation else "rna.var"}
    return summary


def g2p_matrix(mdata, genes=None, peaks=None) -> sp.csr_matrix:
    """The stored prior as a CSR matrix over `genes` x `peaks` (default: all of each modality).

    Read from `mdata.uns['factvae_g2p']`; pairs naming a gene or peak not in `genes` /
    `peaks` are left out.

    Parameters
    ----------
    mdata : MuData
        With the prior of `add_gene_peak_prior`.
    genes : sequence of str, optional
        The rows; default: `rna.var_names`.
    peaks : sequence of str, optional
        The columns; default: `atac.var_names`.

    Returns
    -------
    scipy.sparse.csr_matrix
        len(genes) x len(peaks), float32, 1 for a linked pair; all zeros when no prior is
        stored.
    """
    genes = pd.Index(mdata.mod["rna"].var_names if genes is None else genes)
    peaks = pd.Index(mdata.mod["atac"].var_names if peaks is None else peaks)
    pairs = mdata.uns.get(PRIOR_PAIRS_KEY)
    if pairs is None:
        return sp.csr_matrix((len(genes), len(peaks)), dtype=np.float32)
    gi = genes.get_indexer(pairs["gene"])
    pj = peaks.get_indexer(pairs["peak"])
    keep = (gi >= 0) & (pj >= 0)
    return sp.csr_matrix((np.ones(int(keep.sum()), np.float32), (gi[keep], pj[keep])),
                         shape=(len(genes), len(peaks)))
