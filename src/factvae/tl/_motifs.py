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
import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import FactVAEInputError
from ..keys import (
    DOMAIN_KEY,
    DOMAIN_MOTIFS_KEY,
    GC_KEY,
    MOTIF_Z_KEY,
    MOTIF_Z_RAW_KEY,
)
from ._motif_scan import motif_matrix


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
