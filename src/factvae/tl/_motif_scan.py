"""Which peaks hold which motifs: a peaks x motifs matrix a user brings (.h5ad/.csv/.tsv), or
one scanned from a genome FASTA with JASPAR position weight matrices (Biopython), cached."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import FactVAEInputError
from ..keys import (
    GC_KEY,
    MOTIF_KEY,
    MOTIF_NAMES_KEY,
    MOTIF_SCAN_KEY,
)


# --- the annotation ------------------------------------------------------------------------
def set_motif_matrix(mdata, matrix, names) -> None:
    """Store a peaks x motifs 0/1 matrix and its motif names."""
    atac = mdata.mod["atac"]
    M = sp.csr_matrix(matrix, dtype=np.float32)
    if M.shape != (atac.n_vars, len(names)):
        raise FactVAEInputError(f"motif matrix is {M.shape}, expected ({atac.n_vars}, {len(names)}).",
                                field="motif matrix", fix="give one row per peak, one column per motif.")
    M.data[:] = 1.0
    atac.varm[MOTIF_KEY] = M
    atac.uns[MOTIF_NAMES_KEY] = [str(n) for n in names]


def read_motif_matrix(mdata, path) -> None:
    """Read a peaks x motifs matrix and align it to the data's peaks.

    The file is an .h5ad with peaks as obs, or a .csv/.tsv[.gz] with peak names in the first
    column; peaks of the data absent from it get no motif.

    Any value above 0 is a match. Files exported by Signac, ArchR or chromVAR have this form.

    Parameters
    ----------
    mdata : MuData
        Changed in place.
    path : str or Path
        A .h5ad, .csv, .tsv or .txt file (optionally gzipped); peak names as in
        `atac.var_names`.

    Returns
    -------
    None

    Raises
    ------
    FactVAEInputError
        If the file is missing, a folder, of an unknown format or unreadable, or none of its
        peak names match the data's.

    Notes
    -----
    Sets `atac.varm['motif']` (peaks x motifs, sparse 0/1) and `atac.uns['motif_names']`.
    """
    path = Path(path)
    if not path.exists():
        raise FactVAEInputError("file not found.", file=str(path), field="motif matrix",
                                fix="give a peaks x motifs .h5ad, .csv or .tsv.")
    if path.is_dir():
        raise FactVAEInputError("is a folder, not a file.", file=str(path), field="motif matrix",
                                fix="give the peaks x motifs file inside it.")
    name = path.name.lower().removesuffix(".gz")
    try:
        if name.endswith(".h5ad"):
            import anndata as ad

            a = ad.read_h5ad(path)
            M, peaks, motifs = sp.csr_matrix(a.X), a.obs_names, a.var_names
        elif name.endswith((".csv", ".tsv", ".txt")):
            df = pd.read_csv(path, sep="," if name.endswith(".csv") else "\t", index_col=0)
            M, peaks, motifs = sp.csr_matrix(df.to_numpy(np.float32) > 0), df.index, df.columns
        else:
            raise FactVAEInputError("unknown motif matrix format.", file=str(path),
                                    field="motif matrix", fix="use .h5ad, .csv or .tsv.")
    except FactVAEInputError:
        raise
    except Exception as err:
        raise FactVAEInputError(f"cannot be read ({type(err).__name__}: {err}).", file=str(path),
                                field="motif matrix", fix="give a peaks x motifs table.") from None
    atac_peaks = mdata.mod["atac"].var_names
    pos = pd.Index(peaks.astype(str)).get_indexer(atac_peaks)
    if (pos >= 0).sum() == 0:
        raise FactVAEInputError(f"none of its {len(peaks)} peak names match the data's peaks "
                                f"(e.g. {list(peaks[:2])} vs {list(atac_peaks[:2])}).",
                                file=str(path), field="peak names",
                                fix="use the same peak naming as atac.var_names.")
    rows = sp.csr_matrix((np.ones(int((pos >= 0).sum())), (np.flatnonzero(pos >= 0), pos[pos >= 0])),
                         shape=(len(atac_peaks), len(peaks)))
    set_motif_matrix(mdata, rows @ (M > 0).astype(np.float32), list(motifs))


def motif_matrix(mdata) -> tuple[sp.csr_matrix, list[str]]:
    atac = mdata.mod["atac"]
    if MOTIF_KEY not in atac.varm:
        raise FactVAEInputError("no motif annotation.", field=f"mod['atac'].varm['{MOTIF_KEY}']",
                                fix="give a motif matrix (--motif-matrix FILE) or a genome FASTA "
                                    "to scan with JASPAR (--genome FASTA).")
    names = list(atac.uns.get(MOTIF_NAMES_KEY, [f"motif{i}" for i in range(atac.varm[MOTIF_KEY].shape[1])]))
    return sp.csr_matrix(atac.varm[MOTIF_KEY], dtype=np.float32), names


def cache_dir() -> Path:
    """Where factvae keeps files it makes for itself: $FACTVAE_CACHE, else
    $XDG_CACHE_HOME/factvae, else ~/.cache/factvae."""
    if os.environ.get("FACTVAE_CACHE"):
        return Path(os.environ["FACTVAE_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "factvae"


def fasta_index_paths(fasta) -> dict:
    """pyfaidx index paths for a FASTA: the user's own `.fai` (and `.gzi`) beside it when present,
    else files in the cache folder, so that nothing is written beside the user's genome. The
    cache name follows the FASTA's path, size and time, so an edited FASTA gets a new index."""
    import hashlib
    import tempfile

    path = Path(fasta).resolve()
    beside = Path(str(path) + ".fai")
    if beside.exists():
        return {}
    stat = path.stat()
    key = hashlib.sha1(f"{path}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    folder = cache_dir() / "fasta-index"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:  # no writable home: a private temporary folder
        folder = Path(tempfile.gettempdir()) / f"factvae-fasta-index-{getattr(os, 'getuid', int)()}"
        folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"{path.name}.{key}"
    out = {"indexname": str(stem) + ".fai"}
    if path.name.lower().endswith((".gz", ".bgz")) and not Path(str(path) + ".gzi").exists():
        out["gzi_indexname"] = str(stem) + ".gzi"
    return out


def peak_sequences(mdata, fasta) -> list[str]:
    """Upper-case sequences of every peak from a genome FASTA (pyfaidx); records GC content."""
    import pyfaidx

    from ..pp._genome import peak_coordinates

    path = Path(fasta)
    if not path.exists():
        raise FactVAEInputError("file not found.", file=str(path), field="genome FASTA",
                                fix="give the genome FASTA of the peaks' build.")
    if path.is_dir():
        raise FactVAEInputError("is a folder, not a file.", file=str(path), field="genome FASTA",
                                fix="give the genome FASTA file inside it.")
    peaks = peak_coordinates(mdata.mod["atac"].var)
    try:
        genome = pyfaidx.Fasta(str(path), sequence_always_upper=True, rebuild=False,
                               **fasta_index_paths(path))
    except Exception as err:
        raise FactVAEInputError(f"cannot be read as FASTA ({err}).", file=str(path),
                                field="genome FASTA", fix="give a plain or bgzipped FASTA.") from None
    missing = sorted(set(peaks["chrom"]) - set(genome.keys()))
    if missing:
        raise FactVAEInputError(f"has no sequence for {len(missing)} peak chromosome(s), e.g. "
                                f"{missing[:3]}.", file=str(path), field="chromosome names",
                                fix="use the FASTA of the same build with the same chromosome "
                                    "names (e.g. 'chr1', not '1').")
    seqs = [str(genome[c][max(int(s), 0):int(e)]) for c, s, e in
            zip(peaks["chrom"], peaks["start"], peaks["end"])]
    gc = np.array([(q.count("G") + q.count("C")) / max(len(q) - q.count("N"), 1) for q in seqs])
    mdata.mod["atac"].var[GC_KEY] = gc
    return seqs


def jaspar_motifs(collection: str = "CORE", tax_group: str = "vertebrates", release: str | None = None):
    """Position frequency matrices from the JASPAR database shipped with pyjaspar."""
    from pyjaspar import jaspardb

    db = jaspardb(release=release) if release else jaspardb()
    return db.fetch_motifs(collection=collection, tax_group=[tax_group], all_versions=False)


def scan_motifs(mdata, fasta, motifs=None, *, pvalue: float = 5e-5, pseudocount: float = 0.8) -> None:
    """Annotate peaks with motif matches found in their genome sequences.

    Biopython log-odds PSSMs (background: the peaks' base composition), a score threshold per
    motif at the given false-positive rate, both strands. All peaks are scanned as one
    N-separated sequence per motif (Biopython's C scorer).

    Peak sequences are read with pyfaidx (its index: the user's `.fai` beside the FASTA when
    present, else one in factvae's cache folder, so nothing is written beside the genome).

    Parameters
    ----------
    mdata : MuData
        Changed in place; peak coordinates from `atac.var` or the peak names.
    fasta : str or Path
        The genome FASTA of the peaks' build (plain or bgzipped), with the same chromosome
        names.
    motifs : iterable of Bio.motifs.Motif, optional
        Default: JASPAR CORE vertebrates, as shipped with pyjaspar.
    pvalue : float, default 5e-5
        The false-positive rate of each motif's score threshold.
    pseudocount : float, default 0.8
        Added to the counts of each motif before the PSSM is made.

    Returns
    -------
    None

    Raises
    ------
    FactVAEInputError
        If the FASTA is missing, a folder or unreadable, or has no sequence for a peak's
        chromosome.

    Notes
    -----
    Sets `atac.varm['motif']` (peaks x motifs, sparse 0/1), `atac.uns['motif_names']`
    ('MATRIXID_NAME'), `atac.var['gc_content']` (each peak's GC content) and
    `atac.uns['factvae_motif_scan']` ('pvalue', 'pseudocount', 'n_motifs', 'fasta',
    'background').
    """
    from Bio.Seq import Seq

    seqs = peak_sequences(mdata, fasta)
    if motifs is None:
        motifs = jaspar_motifs()
    joined = "N".join(seqs)
    comp = {b: max(joined.count(b), 1) for b in "ACGT"}
    total = sum(comp.values())
    background = {b: comp[b] / total for b in "ACGT"}
    starts = np.cumsum([0] + [len(q) + 1 for q in seqs[:-1]])  # offset of each peak
    ends = starts + np.array([len(q) for q in seqs])
    sequence = Seq(joined)
    rows, cols, names = [], [], []
    for j, motif in enumerate(motifs):
        pssm = motif.counts.normalize(pseudocounts=pseudocount).log_odds(background)
        threshold = pssm.distribution(background=background, precision=10 ** 3).threshold_fpr(pvalue)
        hit = np.zeros(len(sequence) - pssm.length + 1, bool) if len(sequence) >= pssm.length else np.zeros(0, bool)
        for m in (pssm, pssm.reverse_complement()):
            scores = np.asarray(m.calculate(sequence), dtype=np.float64).reshape(-1)
            hit |= np.nan_to_num(scores, nan=-np.inf) >= threshold
        pos = np.flatnonzero(hit)
        peak = np.searchsorted(starts, pos, side="right") - 1
        inside = (peak >= 0) & (pos + pssm.length <= ends[np.clip(peak, 0, None)])
        hits = np.unique(peak[inside])
        rows.append(hits)
        cols.append(np.full(hits.size, j))
        names.append(f"{motif.matrix_id}_{motif.name}")
    r = np.concatenate(rows) if rows else np.zeros(0, int)
    c = np.concatenate(cols) if cols else np.zeros(0, int)
    M = sp.csr_matrix((np.ones(r.size, np.float32), (r, c)), shape=(len(seqs), len(names)))
    set_motif_matrix(mdata, M, names)
    mdata.mod["atac"].uns[MOTIF_SCAN_KEY] = {"pvalue": pvalue, "pseudocount": pseudocount,
                                           "n_motifs": len(names), "fasta": str(fasta),
                                           "background": background}
