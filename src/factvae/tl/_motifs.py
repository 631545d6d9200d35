"""Motif activity: a motif x peak annotation, chromVAR-style deviations per spot on raw and on
augmented accessibility, and domain-specific motifs.

Annotation sources: `atac.varm['motif']` (names in `atac.uns['motif_names']`), a file exported by
Signac/ArchR/chromVAR (peaks x motifs: .h5ad, or .csv/.tsv with peak names in the first column),
or a scan of the peak sequences in a genome FASTA with JASPAR matrices (Biopython's log-odds PSSM
with a p-value threshold; `pyjaspar` ships the database).

Deviations (Schep et al. 2017): for spot i and motif m, with peak expectations e (share of all
counts) and spot depth N_i, dev = (obs - N_i e.M) / (N_i e.M); background peak sets matched on GC
content (when sequences are known) and mean accessibility give dev_b; the z-score is
(dev - mean_b dev_b) / sd_b dev_b. Spots are processed in blocks, so augmented accessibility is
never held for all spots at once.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import FactVAEInputError
from ..keys import (
    DOMAIN_KEY,
    DOMAIN_MOTIFS_KEY,
    GC_KEY,
    MOTIF_KEY,
    MOTIF_NAMES_KEY,
    MOTIF_SCAN_KEY,
    MOTIF_Z_KEY,
    MOTIF_Z_RAW_KEY,
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


# --- deviations ------------------------------------------------------------------------------
def background_peaks(mean_access: np.ndarray, gc: np.ndarray | None, n_iterations: int = 50,
                     n_bins: int = 20, seed: int = 0) -> np.ndarray:
    """peaks x n_iterations indices: for each peak, peaks from the same bin of (GC content, log
    mean accessibility) quantiles, drawn with replacement (chromVAR's matched backgrounds)."""
    rng = np.random.default_rng(seed)
    n = mean_access.size

    def qbin(v, k):
        ranks = np.argsort(np.argsort(v, kind="stable"), kind="stable")
        return (ranks * k // n).astype(np.int64)

    key = qbin(np.log1p(mean_access), n_bins)
    if gc is not None:
        key = key * n_bins + qbin(gc, n_bins)
    out = np.empty((n, n_iterations), np.int64)
    for b in np.unique(key):
        members = np.flatnonzero(key == b)
        out[members] = rng.choice(members, (members.size, n_iterations))
    return out


def _blocks_raw(X: sp.csr_matrix, block: int):
    for s in range(0, X.shape[0], block):
        yield slice(s, min(s + block, X.shape[0])), X[s:s + block]


def _blocks_augmented(mdata, block: int):
    from ._augment import _parts

    z, W, lse, log_size = _parts(mdata)
    W = np.nan_to_num(W)
    for s in range(0, z.shape[0], block):
        sl = slice(s, min(s + block, z.shape[0]))
        yield sl, np.exp(z[sl] @ W.T + (log_size[sl] - lse[sl])[:, None]).astype(np.float32)


def _dense(a) -> np.ndarray:
    return a.toarray() if sp.issparse(a) else np.asarray(a)


def deviations(blocks, n_spots: int, M: sp.csr_matrix, bg: np.ndarray, peak_share: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    """(z-scores, bias-corrected deviations), spots x motifs, from row blocks of accessibility."""
    K, B = M.shape[1], bg.shape[1]
    e_M = peak_share @ M                                   # expected share of each motif's peaks
    # background motif matrices side by side: column b*K + m holds motif m's background set b
    P = M.shape[0]
    Mb = sp.hstack([sp.csr_matrix((np.ones(P, np.float32), (bg[:, b], np.arange(P))),
                                  shape=(P, P)) @ M for b in range(B)], format="csr")
    e_Mb = (peak_share @ Mb).reshape(B, K)
    z = np.empty((n_spots, K), np.float32)
    dev_out = np.empty((n_spots, K), np.float32)
    for sl, Xb in blocks:
        depth = np.asarray(Xb.sum(axis=1)).reshape(-1, 1)
        depth = np.maximum(depth, 1e-12)
        obs = _dense(Xb @ M)
        dev = (obs - depth * e_M) / np.maximum(depth * e_M, 1e-12)
        obs_b = _dense(Xb @ Mb).reshape(-1, B, K)
        exp_b = depth[:, :, None] * e_Mb[None]
        dev_b = (obs_b - exp_b) / np.maximum(exp_b, 1e-12)
        mu, sd = dev_b.mean(axis=1), dev_b.std(axis=1, ddof=1)
        dev_out[sl] = dev - mu
        z[sl] = (dev - mu) / np.maximum(sd, 1e-12)
    return z, dev_out


def motif_deviations(mdata, *, n_backgrounds: int = 50, block: int = 512, seed: int = 0,
                     augmented: bool = True, raw: bool = True, store: bool = True,
                     key_added: str = MOTIF_Z_KEY) -> dict:
    """chromVAR-style deviation z-scores per spot and motif, on raw and augmented accessibility.

    Raw counts: `atac.obsm['factvae_motif_z_raw']`; augmented: `atac.obsm['factvae_motif_z']`;
    the motifs (columns) in `atac.uns['factvae_motif_z_names']`: those that match at least one
    peak (a motif with no hit has no deviation and is left out, with a warning). Returns
    {'raw': z, 'augmented': z}; with `store=False` nothing is written and the return also holds
    what `store_motif_deviations` writes (a GUI computes in a worker, stores on its main thread).
    `key_added` (default 'factvae_motif_z'): obsm[key] augmented, obsm[key + '_raw'] raw,
    uns[key + '_names'] the motifs, uns[key]['params'], all in `mdata.mod['atac']`.

    The motif annotation is `atac.varm['motif']` (`read_motif_matrix`, `scan_motifs`, or the
    user's own). Background peak sets are matched on mean accessibility and, when
    `atac.var['gc_content']` is known (`scan_motifs` adds it), GC content. Spots are processed
    in blocks, so augmented accessibility is never held for all spots at once.

    Parameters
    ----------
    mdata : MuData
        With a motif annotation; a trained result for `augmented`.
    n_backgrounds : int, default 50
        Background peak sets per peak (at least 2: the z-score divides by their spread).
    block : int, default 512
        Spots per block.
    seed : int, default 0
        Seed of the background draws.
    augmented : bool, default True
        Compute the deviations on augmented accessibility.
    raw : bool, default True
        Compute the deviations on raw counts.
    store : bool, default True
        Write the result into `mdata.mod['atac']`.
    key_added : str, default 'factvae_motif_z'
        The key of the augmented deviations; the others are derived from it.

    Returns
    -------
    dict
        {'raw': z, 'augmented': z} (those computed; each spots x motifs, float32); with
        `store=False` also 'names', 'params' and 'key_added'.

    Raises
    ------
    FactVAEInputError
        If `n_backgrounds` is not a whole number of at least 2, there is no motif annotation,
        or (augmented) the trained results are missing.

    Warns
    -----
    UserWarning
        When motifs match no peak (they are skipped).

    Notes
    -----
    With `store`, sets in `mdata.mod['atac']`: `obsm[key_added]` (augmented) and
    `obsm[key_added + '_raw']` (raw), `uns[key_added + '_names']` and
    `uns[key_added]['params']` ('n_backgrounds', 'seed', 'gc_matched', 'raw', 'augmented').
    """
    atac = mdata.mod["atac"]
    if not isinstance(n_backgrounds, (int, np.integer)) or n_backgrounds < 2:
        # the z-score divides by the spread of the background sets: it needs two at least
        raise FactVAEInputError(f"the number of background peak sets must be at least 2, got "
                                f"{n_backgrounds}.", field="n_backgrounds",
                                fix="use e.g. 50 (chromVAR's default).")
    M, names = motif_matrix(mdata)
    keep = np.asarray(M.sum(axis=0)).ravel() > 0
    if not keep.all():
        warnings.warn(f"{int((~keep).sum())} motifs match no peak and are skipped.", stacklevel=2)
        M, names = M[:, keep], [n for n, k in zip(names, keep) if k]
    gc = atac.var[GC_KEY].to_numpy(float) if GC_KEY in atac.var else None
    X = sp.csr_matrix(atac.X)
    out = {}
    targets = ([("raw", MOTIF_Z_RAW_KEY)] if raw else []) + ([("augmented", MOTIF_Z_KEY)] if augmented else [])
    for kind, key in targets:
        if kind == "raw":
            col = np.asarray(X.sum(axis=0)).ravel().astype(np.float64)
            make_blocks = lambda: _blocks_raw(X, block)  # noqa: E731
        else:
            col = np.zeros(atac.n_vars)
            for _, Xb in _blocks_augmented(mdata, block):
                col += Xb.sum(axis=0)
            make_blocks = lambda: _blocks_augmented(mdata, block)  # noqa: E731
        share = col / max(col.sum(), 1e-12)
        bg = background_peaks(col / atac.n_obs, gc, n_backgrounds, seed=seed)
        z, _ = deviations(make_blocks(), atac.n_obs, M, bg, share)
        out[kind] = z
    out["names"] = list(names)
    out["params"] = {"n_backgrounds": n_backgrounds, "seed": seed, "gc_matched": gc is not None,
                     "raw": bool(raw), "augmented": bool(augmented)}
    out["key_added"] = key_added
    if store:
        store_motif_deviations(mdata, out)
        return {k: v for k, v in out.items() if k in ("raw", "augmented")}
    return out


def store_motif_deviations(mdata, result: dict) -> None:
    """Write what `motif_deviations(store=False)` returned into `mdata.mod['atac']`."""
    atac = mdata.mod["atac"]
    key = result.get("key_added", MOTIF_Z_KEY)
    for kind, name in (("raw", f"{key}_raw"), ("augmented", key)):
        if kind in result:
            atac.obsm[name] = result[kind]
    atac.uns[f"{key}_names"] = list(result["names"])
    atac.uns[key] = {"params": dict(result["params"])}


def domain_motifs(mdata, *, groupby: str = DOMAIN_KEY, n_top: int = 10,
                  key_added: str = DOMAIN_MOTIFS_KEY, key: str | None = None,
                  motif_key: str = MOTIF_Z_KEY) -> pd.DataFrame:
    """Domain-specific motifs by Wilcoxon test on raw and augmented deviation z-scores.

    With the log2 fold change of the mean z-shifted score; columns: domain, source, motif, score,
    log2fc, pval_adj, rank, shared (in the top n of both raw and augmented). Groups from
    `mdata.obs[groupby]` (`key`: its old name), deviations from
    `motif_deviations(key_added=motif_key)`; stored in `mdata.uns[key_added]` as
    {'params', 'table'}.

    Each source (raw, augmented) is tested when its deviations are present.

    Parameters
    ----------
    mdata : MuData
        With domains in `mdata.obs[groupby]` and motif deviations; changed in place.
    groupby : str, default 'factvae_domain'
        The obs column of the groups.
    n_top : int, default 10
        The top n of each domain and source that `shared` compares (every motif is ranked).
    key_added : str, default 'factvae_domain_motifs'
        Where to store the result in `mdata.uns`.
    key : str, optional
        The old name of `groupby`; when given, it wins.
    motif_key : str, default 'factvae_motif_z'
        The `key_added` of `motif_deviations`: `atac.obsm[motif_key]` (augmented),
        `atac.obsm[motif_key + '_raw']` (raw), `atac.uns[motif_key + '_names']`.

    Returns
    -------
    pandas.DataFrame
        Columns domain, source ('raw' or 'augmented'), motif, score, log2fc, pval_adj, rank
        and shared.

    Raises
    ------
    FactVAEInputError
        If `mdata.obs` has no column `groupby`, or no motif deviations were computed.

    Notes
    -----
    Sets `mdata.uns[key_added]` (default `mdata.uns['factvae_domain_motifs']`) =
    {'params': {'groupby', 'n_top', 'method': 'wilcoxon', 'motif_key'}, 'table': the table}.
    """
    key = groupby if key is None else key
    import anndata as ad
    import scanpy as sc

    atac = mdata.mod["atac"]
    if key not in mdata.obs:
        raise FactVAEInputError("is missing: find domains first.", field=f"obs['{key}']",
                                fix="run factvae.find_domains(mdata) / factvae domains.")
    names = list(atac.uns.get(f"{motif_key}_names", []))
    groups = pd.Categorical(mdata.obs[key].astype(str))
    tables = []
    for source, zkey in (("raw", f"{motif_key}_raw"), ("augmented", motif_key)):
        if zkey not in atac.obsm:
            continue
        Z = np.asarray(atac.obsm[zkey], np.float32)
        tmp = ad.AnnData(Z, obs=pd.DataFrame({"g": groups}, index=mdata.obs_names),
                         var=pd.DataFrame(index=pd.Index(names)))
        with warnings.catch_warnings(), contextlib.ExitStack() as stack:
            warnings.simplefilter("ignore")
            # scanpy's own log lines ("... groups with fewer than ...") say nothing to our users
            stack.enter_context(sc.settings.verbosity.override(0))
            sc.tl.rank_genes_groups(tmp, "g", method="wilcoxon", use_raw=False, n_genes=len(names))
        df = sc.get.rank_genes_groups_df(tmp, group=None).rename(
            columns={"group": "domain", "names": "motif", "scores": "score", "pvals_adj": "pval_adj"})
        # z-scores are signed: fold change of the mean after shifting to a positive scale
        shift = Z - Z.min() + 1.0
        means = pd.DataFrame(shift, columns=names).groupby(np.asarray(groups), observed=True).mean()
        rest = {d: pd.DataFrame(shift[np.asarray(groups) != d], columns=names).mean()
                for d in groups.categories}
        df["log2fc"] = [np.log2(means.loc[d, m] / rest[d][m]) for d, m in zip(df["domain"], df["motif"])]
        df["source"] = source
        df["rank"] = df.groupby("domain", observed=True).cumcount() + 1
        tables.append(df[["domain", "source", "motif", "score", "log2fc", "pval_adj", "rank"]])
    if not tables:
        raise FactVAEInputError("no motif deviations computed.", field=f"obsm['{motif_key}_raw']",
                                fix="run factvae.motif_deviations(mdata) first.")
    out = pd.concat(tables, ignore_index=True)
    top = out[out["rank"] <= n_top]
    sets = {s: set(zip(t["domain"], t["motif"])) for s, t in top.groupby("source")}
    both = sets.get("raw", set()) & sets.get("augmented", set())
    out["shared"] = [(d, m) in both for d, m in zip(out["domain"], out["motif"])]
    mdata.uns[key_added] = {"params": {"groupby": key, "n_top": n_top, "method": "wilcoxon",
                                       "motif_key": motif_key}, "table": out}
    return out
