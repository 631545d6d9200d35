"""Gene-peak regulation: candidate peaks within a window around each gene's TSS, a score per pair
(see `regulation_scores` for each score) and, where the score has one, a p-value from a null the
pair was never trained to beat (see `regulation_null`).

The gene-peak prior's pairs were trained by the regulatory loss; under a score computed from the
model they are marked `trained` and not tested (pval and qval are NaN): their score restates the
training objective. `raw_correlation` and `distance` never see the model, so they test every pair.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import FactVAEInputError
from ._params import (  # noqa: F401  (SCORES, SPOT_SCORES, SCORE_HELP: read here by 0.1 code)
    DEFAULT_MATCHED, DEFAULT_PAIRS, DEFAULT_SCORE, MODEL_SCORES, SCORE_HELP, SCORES,
    SPOT_SCORES, RegulationParams)
from ..keys import DOMAIN_KEY, EMBEDDING_KEY, FEATURE_KEY, REGULATION_KEY
from ..pp._genome import peak_coordinates
from ..pp._prior import PRIOR_PAIRS_KEY, gene_intervals
from . import _regulation_null as null
from . import _regulation_scores as rs
from ._regulation_null import bh_qvalues  # noqa: F401  (re-exported: older code imports it here)


def candidate_pairs(genes: pd.DataFrame, peaks: pd.DataFrame, window: int) -> pd.DataFrame:
    """Every (gene, peak) whose peak lies within `window` bp of the gene's TSS (interval distance,
    signed: negative upstream, positive downstream, 0 when the peak covers the TSS). `tss` is the
    TSS position as written in the annotation (start on '+', end on '-')."""
    rows = []
    pchrom = peaks["chrom"].astype(str).to_numpy()
    for chrom in np.intersect1d(genes["chrom"].astype(str).unique(), np.unique(pchrom)):
        pidx = np.flatnonzero(pchrom == chrom)
        order = np.argsort(peaks["start"].to_numpy()[pidx], kind="stable")
        pidx = pidx[order]
        ps, pe = peaks["start"].to_numpy()[pidx], peaks["end"].to_numpy()[pidx]
        max_w = int((pe - ps).max())
        g = genes[genes["chrom"].astype(str) == chrom]
        minus = g["strand"].astype(str).to_numpy() == "-"
        tss = np.where(minus, g["end"].to_numpy(), g["start"].to_numpy())
        for name, t, neg in zip(g.index, tss, minus):
            lo = np.searchsorted(ps, t - window - max_w)
            hi = np.searchsorted(ps, t + window, side="right")
            cand = np.arange(lo, hi)
            gap = np.where(pe[cand] < t, pe[cand] - t, np.where(ps[cand] > t, ps[cand] - t, 0))
            keep = np.abs(gap) <= window
            if keep.any():
                sign = -1 if neg else 1  # upstream is negative on either strand
                rows.append(pd.DataFrame({"gene": name, "peak_pos": pidx[cand[keep]],
                                          "tss_distance": sign * gap[keep], "tss": int(t)}))
    if not rows:
        return pd.DataFrame({"gene": pd.Series([], dtype=object),
                             "peak_pos": pd.Series([], dtype=np.int64),
                             "tss_distance": pd.Series([], dtype=np.int64),
                             "tss": pd.Series([], dtype=np.int64)})
    return pd.concat(rows, ignore_index=True)


def _check_arguments(score, window, n_background, domain):
    RegulationParams(score=score, window=window, n_background=n_background,
                     domain=domain).validate()


def _domain_spots(mdata, domain, groupby):
    if domain is None:
        return None
    if groupby not in mdata.obs:
        raise FactVAEInputError("is missing: no domains to take the spots from.",
                                field=f"obs['{groupby}']", fix="find domains first "
                                "(factvae domains / factvae.find_domains), or leave the domain out.")
    labels = mdata.obs[groupby].astype(str)
    spots = (labels == str(domain)).to_numpy()
    if spots.sum() < 10:  # a correlation over fewer spots is noise
        raise FactVAEInputError(f"domain {domain!r} has {int(spots.sum())} spots; at least 10 "
                                "are needed.", field=f"obs['{groupby}']",
                                fix=f"pick one of {sorted(labels.unique())[:8]}.")
    return spots


def _wanted_genes(rna, genes, modelled, coords, need_model):
    if genes is None:
        return rna.var_names[modelled] if need_model else rna.var_names
    wanted = pd.Index([genes] if isinstance(genes, str) else list(genes))
    missing = wanted.difference(rna.var_names)
    if len(missing):
        raise FactVAEInputError(f"gene(s) not in the data: {list(missing[:3])}.", field="gene",
                                fix="use names from mdata.mod['rna'].var_names.")
    if need_model:
        unmodelled = wanted[~modelled[rna.var_names.get_indexer(wanted)]]
        if len(unmodelled):
            raise FactVAEInputError(f"gene(s) not modelled (not highly variable): "
                                    f"{list(unmodelled[:3])}.", field="gene",
                                    fix="pick a highly variable gene, or preprocess with more "
                                        "n_top_genes.")
    placeless = wanted.difference(coords.index)
    if len(placeless):
        raise FactVAEInputError(f"gene(s) without coordinates: {list(placeless[:3])}, so no "
                                "peak can be placed near them.", field="gene coordinates",
                                fix="give a gene annotation with them (--genes GENES.gtf), or add "
                                    "chrom/start/end/strand to rna.var.")
    return wanted


def infer_regulation(mdata, genes=None, *, score: str = DEFAULT_SCORE, window: int = 150_000,
                     domain=None, groupby: str = DOMAIN_KEY, n_background: int | None = None,
                     annotation=None, seed: int = 0, store: bool | None = None,
                     key_added: str = REGULATION_KEY) -> pd.DataFrame:
    """Rank the candidate regulatory peaks of `genes` (a name, a list, or None for all).

    Candidates are the peaks within `window` bp of each gene's TSS (interval distance). The
    scores (`SCORE_HELP`): 'contact_correlation' (the default), 'abc', 'correlation',
    'raw_correlation', 'paper' and 'distance'. Pairs of the gene-peak prior scored by a score
    computed from the model ('paper', 'correlation', 'abc', 'contact_correlation') are marked
    `trained` and not tested: their score restates the training objective.

    Parameters
    ----------
    mdata : MuData
        A trained result (MuData with 'rna' and 'atac').
    genes : str or list of str, optional
        Gene name(s); None scores every modelled gene (and stores the table).
    score : str, default 'contact_correlation'
        One of `SCORES` (see `SCORE_HELP`); the default is the best by measurement
        (docs/benchmarks.md, regulation).
    window : int, default 150000
        Peaks within this many bp of the TSS are candidates (more than 0, at most 10,000,000).
    domain : str, optional
        Score with this domain's spots only (its activity, its correlation); None: all spots.
        Only for the scores that use the spots; the domain needs at least 10 spots.
    groupby : str, default 'factvae_domain'
        The obs column `domain` is a value of.
    n_background : int, optional
        Random pairs (paper score) or matched peaks per candidate (correlation scores); None for
        the default of each (100,000 pairs; 200 matched peaks). At least 2.
    annotation : str or Path, optional
        A GTF/GFF3/BED of gene coordinates; default: the columns of rna.var.
    seed : int, default 0
        Seed of the background draws and metacells.
    store : bool, optional
        Also store {'params', 'table'} in `mdata.uns[key_added]` (default: when genes is None).
    key_added : str, default 'factvae_regulation'
        Where `store` puts the result.

    Returns
    -------
    pandas.DataFrame
        A table sorted by gene then score: gene, peak, score, z, pval, qval, tss_distance, tss,
        in_prior (the pair is in the gene-peak prior) and trained (in the prior and scored by
        the model that was trained on it: not tested, pval/qval NaN). Scores without a null
        (abc, distance) have NaN z, pval and qval; params (`table.attrs['params']`) say which
        null made the p-values.

    Raises
    ------
    FactVAEInputError
        For an unknown score, a window out of range, a background below 2, a domain with a
        score that does not use the spots (or a domain of fewer than 10 spots, or no
        `mdata.obs[groupby]`), missing feature embeddings (`varm['factvae_feature']`) for a
        score that needs the model, genes not in the data, not modelled or without
        coordinates, or no gene coordinates at all.

    Notes
    -----
    With `store` (default: when `genes` is None) sets `mdata.uns[key_added]` (default
    `mdata.uns['factvae_regulation']`) = {'params': the table's params, 'table': the table}.
    """
    _check_arguments(score, window, n_background, domain)
    rna, atac = mdata.mod["rna"], mdata.mod["atac"]
    need_model = score in MODEL_SCORES or score == "raw_correlation"  # metacells use the code
    for mod, name in ((rna, "rna"), (atac, "atac")):
        if need_model and FEATURE_KEY not in mod.varm:
            raise FactVAEInputError("is missing: no trained FactVAE feature embeddings.",
                                    field=f"mod['{name}'].varm['{FEATURE_KEY}']",
                                    fix="train first (factvae run / factvae.train).")
    if need_model:
        gemb = np.asarray(rna.varm[FEATURE_KEY], np.float64)
        pemb = np.asarray(atac.varm[FEATURE_KEY], np.float64)
        modelled, peak_ok = np.isfinite(gemb).all(axis=1), np.isfinite(pemb).all(axis=1)
    else:
        gemb = pemb = None
        modelled, peak_ok = np.ones(rna.n_vars, bool), np.ones(atac.n_vars, bool)
    spots = _domain_spots(mdata, domain, groupby)
    coords = gene_intervals(mdata, annotation)
    wanted = _wanted_genes(rna, genes, modelled, coords, need_model)
    peaks = peak_coordinates(atac.var)
    cand = candidate_pairs(coords[coords.index.isin(wanted)], peaks, window)
    cand = cand[peak_ok[cand["peak_pos"].to_numpy(np.int64)]].reset_index(drop=True)
    gpos = rna.var_names.get_indexer(cand["gene"])
    ppos = cand["peak_pos"].to_numpy(np.int64)
    prior = mdata.uns.get(PRIOR_PAIRS_KEY)
    prior_set = set(zip(prior["gene"], prior["peak"])) if prior is not None else set()
    peak_names = atac.var_names[ppos].astype(str)
    in_prior = np.fromiter(((g, p) in prior_set for g, p in zip(cand["gene"], peak_names)),
                           bool, len(cand))
    trained = in_prior & (score in MODEL_SCORES)
    params = {"score": score, "window": int(window), "seed": int(seed), "all_genes": genes is None,
              "n_spots": int(mdata.n_obs if spots is None else spots.sum())}
    if domain is not None:  # (no None in params: h5 files cannot hold it)
        params.update(domain=str(domain), groupby=groupby)
    ctx = _Context(mdata, gemb, pemb, modelled, peak_ok, spots, peaks, seed, n_background)
    values, z, pval = _SCORERS[score](ctx, cand, gpos, ppos, params)
    pval = np.where(trained, np.nan, pval)
    z = np.where(trained, np.nan, z)
    table = pd.DataFrame({
        "gene": cand["gene"].astype(str).to_numpy(), "peak": peak_names, "score": values,
        "z": z, "pval": pval, "qval": bh_qvalues(pval),
        "tss_distance": cand["tss_distance"].to_numpy(np.int64),
        "tss": cand["tss"].to_numpy(np.int64), "in_prior": in_prior, "trained": trained})
    table = table.sort_values(["gene", "score"], ascending=[True, False], ignore_index=True)
    params.update(n_pairs=len(table), n_trained=int(trained.sum()),
                  n_tested=int(np.isfinite(pval).sum()))
    table.attrs["params"] = params
    if store or (store is None and genes is None):
        mdata.uns[key_added] = {"params": params, "table": table}
    return table


def with_provenance(table: pd.DataFrame) -> pd.DataFrame:
    """The table with two constant columns saying which score and which null made it, for
    files that leave the MuData (TSV)."""
    params = table.attrs.get("params", {})
    out = table.copy()
    out["score_name"] = pd.Categorical([params.get("score", "")] * len(out))
    out["null"] = pd.Categorical([params.get("null", "")] * len(out))
    return out


def summarize(table: pd.DataFrame) -> str:
    """One line: how many pairs, which score and null, what was tested and what was not."""
    params = table.attrs.get("params", {})
    where = f" in domain {params['domain']}" if params.get("domain") else ""
    text = f"scored {len(table)} gene-peak pairs with '{params.get('score')}'{where}"
    if params.get("n_tested"):
        text += (f"; {int((table['qval'] < 0.05).sum())} of {params['n_tested']} tested with "
                 f"q < 0.05 (null: {params.get('null')})")
    elif "threshold" in params:
        text += f"; {int((table['score'] >= params['threshold']).sum())} at or above " \
                f"{params['threshold']:g} (no null: a ranking score)"
    if params.get("n_trained"):
        text += (f"; {params['n_trained']} prior pairs not tested (the model was trained on "
                 "them: marked 'trained')")
    return text


class _Context:
    """What the scorers share: the model's parts, the spots, the peaks and the background."""

    def __init__(self, mdata, gemb, pemb, modelled, peak_ok, spots, peaks, seed, n_background):
        self.mdata, self.gemb, self.pemb = mdata, gemb, pemb
        self.modelled, self.peak_ok, self.spots = modelled, peak_ok, spots
        self.peaks, self.seed, self.n_background = peaks, seed, n_background

    def matched(self, ppos, params):
        """Matched background peaks of each candidate (positions among all peaks)."""
        atac = self.mdata.mod["atac"]
        pool = np.flatnonzero(self.peak_ok)
        mean_access = np.asarray(atac.X[:, pool].mean(axis=0)).ravel()
        gc = atac.var["gc_content"].to_numpy(float)[pool] if "gc_content" in atac.var else None
        width = (self.peaks["end"] - self.peaks["start"]).to_numpy(float)[pool]
        bins = null.peak_bins(mean_access, gc, width)
        chrom = self.peaks["chrom"].astype(str).to_numpy()[pool]
        local = np.searchsorted(pool, ppos)
        n = self.n_background or DEFAULT_MATCHED
        bg, fallback = null.matched_background(bins, chrom, local, n, self.seed)
        params["null"] = ("matched background peaks on other chromosomes, same bin of mean "
                          "accessibility" + (", GC content" if gc is not None else "")
                          + " and width" + ("" if gc is not None else
                                            " (no GC content: atac.var has no 'gc_content'; "
                                            "factvae motifs --genome adds it)"))
        params.update(n_background=int(n), matched_on=["accessibility"] + (["gc"] if gc is not None
                                                                          else []) + ["width"],
                      n_same_chromosome_fallback=int(fallback))
        return pool[bg]


def _by_gene(gpos):
    order = np.argsort(gpos, kind="stable")
    bounds = np.flatnonzero(np.diff(gpos[order])) + 1
    return np.split(order, bounds)


def _correlation_scores(ctx, gpos, ppos, params, raw=False):
    """Correlation of each pair and of each pair's gene with the pair's matched peaks."""
    bg = ctx.matched(ppos, params) if len(ppos) else np.zeros((0, 2), np.int64)
    r = np.zeros(len(ppos))
    r_bg = np.zeros(bg.shape)
    if raw:
        corr = _metacell_correlation(ctx, params)
    else:
        moments = rs.denoised_moments(ctx.mdata, ctx.gemb, ctx.pemb, ctx.spots)
        sd = np.zeros(len(ctx.pemb))
        sd[ctx.peak_ok] = moments.peak_sd(ctx.pemb[ctx.peak_ok])

        def corr(g, peaks):
            return moments.correlation_with_peaks(ctx.gemb[g], ctx.pemb[peaks], sd[peaks])
    for rows in _by_gene(gpos) if len(gpos) else []:
        g = gpos[rows[0]]
        r[rows] = corr(g, ppos[rows])
        r_bg[rows] = corr(g, bg[rows].ravel()).reshape(len(rows), -1)
    z, p = null.z_from_background(r, r_bg) if len(r) else (r, r)
    return r, z, p


def _metacell_correlation(ctx, params):
    m = ctx.mdata
    if EMBEDDING_KEY not in m.obsm:
        raise FactVAEInputError("is missing: metacells are formed in the FactVAE embedding.",
                                field=f"obsm['{EMBEDDING_KEY}']", fix="train first.")
    labels = rs.metacells(np.asarray(m.obsm[EMBEDDING_KEY]), ctx.spots, seed=ctx.seed)
    G = rs.standardise_columns(rs.metacell_log_profiles(m.mod["rna"].X, labels))
    P = rs.standardise_columns(rs.metacell_log_profiles(m.mod["atac"].X, labels))
    params["n_metacells"] = int(labels.max() + 1)
    return lambda g, peaks: P[:, peaks].T @ G[:, g]


def _score_paper(ctx, cand, gpos, ppos, params):
    s = rs.cosine(ctx.gemb, ctx.pemb, gpos, ppos) if len(ppos) else np.zeros(0)
    genes_m, peaks_m = np.flatnonzero(ctx.modelled), np.flatnonzero(ctx.peak_ok)
    prior = ctx.mdata.uns.get(PRIOR_PAIRS_KEY)
    excluded = set()
    if prior is not None:
        gi = pd.Index(ctx.mdata.mod["rna"].var_names[genes_m]).get_indexer(prior["gene"])
        pj = pd.Index(ctx.mdata.mod["atac"].var_names[peaks_m]).get_indexer(prior["peak"])
        excluded = set(zip(gi[(gi >= 0) & (pj >= 0)], pj[(gi >= 0) & (pj >= 0)]))
    n = ctx.n_background or DEFAULT_PAIRS
    gi, pj = null.random_pairs_outside(len(genes_m), len(peaks_m), excluded, n, ctx.seed)
    bg = rs.cosine(ctx.gemb, ctx.pemb, genes_m[gi], peaks_m[pj])
    params.update(null="random gene-peak pairs outside the prior (never trained)",
                  n_background=int(bg.size), background_mean=float(bg.mean()),
                  background_sd=float(bg.std()))
    z = (s - bg.mean()) / max(bg.std(), 1e-12)
    return s, z, null.empirical_upper(s, bg)


def _score_correlation(ctx, cand, gpos, ppos, params):
    return _correlation_scores(ctx, gpos, ppos, params)


def _score_raw_correlation(ctx, cand, gpos, ppos, params):
    return _correlation_scores(ctx, gpos, ppos, params, raw=True)


def _abc(ctx, cand, gpos, ppos, params):
    activity = rs.mean_augmented(ctx.mdata, ppos, ctx.spots) if len(ppos) else np.zeros(0)
    value = activity * rs.contact(cand["tss_distance"].to_numpy())
    params.update(contact=f"power law: exp({rs.ABC_SCALE:.3f} - {rs.ABC_GAMMA:.3f} ln(d + 1)), "
                          f"d >= {rs.ABC_MIN_DISTANCE} bp (ABC, Fulco et al. 2019)",
                  activity="mean normalised augmented accessibility over the spots",
                  threshold=rs.ABC_THRESHOLD)
    codes = np.unique(gpos, return_inverse=True)[1] if len(gpos) else gpos
    return rs.share_of_gene(value, codes)


def _score_abc(ctx, cand, gpos, ppos, params):
    params["null"] = "none: ABC is a ranking score (Fulco et al. 2019 call links >= 0.02)"
    nan = np.full(len(ppos), np.nan)
    return _abc(ctx, cand, gpos, ppos, params), nan, nan


def _score_contact_correlation(ctx, cand, gpos, ppos, params):
    r, z, p = _correlation_scores(ctx, gpos, ppos, params)
    params["null"] += " (of the correlation)"
    params.update(contact=f"power law, d >= {rs.ABC_MIN_DISTANCE} bp (ABC's)",
                  correlation_weight=rs.CORRELATION_WEIGHT)
    return rs.contact_correlation(cand["tss_distance"].to_numpy(), r), z, p


def _score_distance(ctx, cand, gpos, ppos, params):
    params.update(null="none: distance is the baseline ranking",
                  contact=f"power law, d >= {rs.ABC_MIN_DISTANCE} bp (ABC's)")
    nan = np.full(len(ppos), np.nan)
    return rs.contact(cand["tss_distance"].to_numpy()), nan, nan


_SCORERS = {"paper": _score_paper, "correlation": _score_correlation,
            "raw_correlation": _score_raw_correlation, "abc": _score_abc,
            "contact_correlation": _score_contact_correlation, "distance": _score_distance}


def to_bedpe(table: pd.DataFrame, mdata, path=None, *, annotation=None) -> pd.DataFrame:
    """A table of `infer_regulation` as BEDPE links, optionally written to a file.

    Links as BEDPE (bedtools' columns; IGV and the WashU browser open it): the TSS base
    (0-based, one base) and the peak (0-based start, end exclusive, as peak names are written),
    name gene|peak, the score, strands '.', then z, qval, tss_distance, in_prior, trained.
    Written to `path` (tab-separated, one '#' header line) when given.

    Parameters
    ----------
    table : pandas.DataFrame
        A table of `infer_regulation` (at least gene, peak and score; the optional columns
        are copied when present).
    mdata : MuData
        The data the table was made from (peak coordinates from `atac.var` or the peak names,
        gene coordinates from `annotation` or `rna.var`).
    path : str or Path, optional
        A file to write (missing values as 'NA').
    annotation : str or Path, optional
        The GTF/GFF3/BED the table was made with; default: the columns of rna.var.

    Returns
    -------
    pandas.DataFrame
        Columns chrom1, start1, end1, chrom2, start2, end2, name, score, strand1, strand2,
        then those of z, qval, tss_distance, in_prior and trained the table has.

    Raises
    ------
    FactVAEInputError
        If a gene of the table has no coordinates.
    """
    peaks = peak_coordinates(mdata.mod["atac"].var)
    genes = gene_intervals(mdata, annotation)
    missing = pd.Index(table["gene"].unique()).difference(genes.index)
    if len(missing):
        raise FactVAEInputError(f"gene(s) without coordinates: {list(missing[:3])}.",
                                field="gene coordinates", fix="give the annotation the table "
                                "was made with (--genes).")
    g = genes.loc[table["gene"]]
    minus = g["strand"].astype(str).to_numpy() == "-"
    tss0 = np.where(minus, g["end"].to_numpy(np.int64) - 1, g["start"].to_numpy(np.int64))
    p = peaks.loc[table["peak"]]
    bed = pd.DataFrame({
        "chrom1": g["chrom"].astype(str).to_numpy(), "start1": tss0, "end1": tss0 + 1,
        "chrom2": p["chrom"].astype(str).to_numpy(), "start2": p["start"].to_numpy(np.int64),
        "end2": p["end"].to_numpy(np.int64),
        "name": (table["gene"].astype(str) + "|" + table["peak"].astype(str)).to_numpy(),
        "score": table["score"].to_numpy(), "strand1": ".", "strand2": "."})
    for col in ("z", "qval", "tss_distance", "in_prior", "trained"):
        if col in table:
            bed[col] = table[col].to_numpy()
    if path is not None:
        with open(Path(path), "w") as fh:
            fh.write("#" + "\t".join(bed.columns) + "\n")
            bed.to_csv(fh, sep="\t", header=False, index=False, na_rep="NA")
    return bed
