"""Marker genes and peaks of each domain."""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
import pandas as pd

from ..errors import FactVAEInputError
from ..keys import DOMAIN_KEY, LOGNORM_KEY, MOTIF_Z_KEY, MOTIF_Z_NAMES_KEY
from ..keys import DOMAIN_MARKERS_KEY as MARKERS_KEY
from ._sections import section_key


def domain_markers(mdata, *, groupby: str = DOMAIN_KEY, n_top: int = 20,
                   key_added: str = MARKERS_KEY, by_section: bool = False,
                   key: str | None = None) -> pd.DataFrame:
    """Marker genes, peaks and motifs of each domain, by Wilcoxon test.

    Per domain (`mdata.obs[groupby]`; `key`: its old name), the top genes (log-normalised
    RNA), peaks (log-normalised ATAC) and motifs (augmented deviation z-scores, when computed)
    by Wilcoxon test (scanpy's rank_genes_groups). Returns one long table (domain, kind, name,
    score, logfoldchange, pval_adj, rank) and stores it in `mdata.uns[key_added]` as
    {'params', 'table'}.

    Genes are tested on `rna.layers['factvae_lognorm']` (else `rna.X`), peaks on the
    log-normalised ATAC counts, motifs on `atac.obsm['factvae_motif_z']` (named by
    `atac.uns['factvae_motif_z_names']`) when `motif_deviations` has run.

    Parameters
    ----------
    mdata : MuData
        With domains in `mdata.obs[groupby]`; changed in place.
    groupby : str, default 'factvae_domain'
        The obs column of the groups.
    n_top : int, default 20
        Features kept per domain and kind.
    key_added : str, default 'factvae_domain_markers'
        Where to store the result in `mdata.uns`.
    by_section : bool, default False
        With several sections (`factvae.tl.section_key`): also each domain against the rest of
        its own section, section by section (column 'section'; 'all' for all sections
        together). Domains with fewer than 2 spots in a section are left out there.
    key : str, optional
        The old name of `groupby`; when given, it wins.

    Returns
    -------
    pandas.DataFrame
        Columns domain, kind ('gene', 'peak' or 'motif'), name, score, logfoldchange,
        pval_adj and rank (1 = best within its domain and kind); with `by_section` also
        section.

    Raises
    ------
    FactVAEInputError
        If `mdata.obs` has no column `groupby` (find domains first).

    Notes
    -----
    Sets `mdata.uns[key_added]` (default `mdata.uns['factvae_domain_markers']`) =
    {'params': {'groupby', 'n_top', 'method': 'wilcoxon', 'by_section': the section column
    or ''}, 'table': the table}.
    """
    key = groupby if key is None else key
    from ..pp._preprocess import log_normalize

    if key not in mdata.obs:
        raise FactVAEInputError("is missing: find domains first.", field=f"obs['{key}']",
                                fix="run factvae.find_domains(mdata) / factvae domains.")
    groups = mdata.obs[key].astype("category").to_numpy()
    rna, atac = mdata.mod["rna"], mdata.mod["atac"]
    atac_norm = log_normalize(atac.X)
    sources = [("gene", rna.layers.get(LOGNORM_KEY, rna.X), rna.var_names),
               ("peak", atac_norm, atac.var_names)]
    if MOTIF_Z_KEY in atac.obsm:
        # the deviations' own names: motifs without a hit have no column
        sources.append(("motif", np.asarray(atac.obsm[MOTIF_Z_KEY]), atac.uns[MOTIF_Z_NAMES_KEY]))
    parts = [("all", np.ones(mdata.n_obs, bool))]
    batch = section_key(mdata) if by_section else None
    if batch is not None:
        sections = mdata.obs[batch].astype(str).to_numpy()
        parts += [(name, sections == name) for name in pd.unique(sections)]
    tables = []
    for section, rows in parts:
        table = _ranked(groups[rows], mdata.obs_names[rows], sources, rows, n_top)
        if batch is not None:
            table.insert(0, "section", section)
        tables.append(table)
    out = pd.concat(tables, ignore_index=True)
    out["domain"] = out["domain"].astype(str)
    mdata.uns[key_added] = {"params": {"groupby": key, "n_top": n_top, "method": "wilcoxon",
                                       "by_section": batch or ""},
                            "table": out}
    return out


def _ranked(groups, spots, sources, rows, n_top) -> pd.DataFrame:
    """scanpy's Wilcoxon ranking of each group against the rest, for every kind of feature, on
    the spots `rows`; groups with fewer than 2 spots are left out."""
    import anndata as ad
    import scanpy as sc

    counts = pd.Series(groups).value_counts()
    keep = [str(g) for g in counts.index if counts[g] >= 2]
    tables = []
    for kind, X, names in sources:
        tmp = ad.AnnData(X=X[rows] if not rows.all() else X,
                         obs=pd.DataFrame({"g": pd.Categorical(groups.astype(str))}, index=spots),
                         var=pd.DataFrame(index=pd.Index(list(map(str, names)))))
        with warnings.catch_warnings(), contextlib.ExitStack() as stack:
            warnings.simplefilter("ignore")
            # scanpy's own log lines ("... groups with fewer than ...") say nothing to our users
            stack.enter_context(sc.settings.verbosity.override(0))
            sc.tl.rank_genes_groups(tmp, "g", groups=keep if len(keep) < len(counts) else "all",
                                    method="wilcoxon", n_genes=n_top, use_raw=False)
        df = sc.get.rank_genes_groups_df(tmp, group=None)
        if "group" not in df:  # one group asked for: scanpy leaves the column out
            df.insert(0, "group", keep[0])
        df = df.rename(columns={"group": "domain", "names": "name", "scores": "score",
                                "logfoldchanges": "logfoldchange", "pvals_adj": "pval_adj"})
        df["kind"] = kind
        df["rank"] = df.groupby("domain", observed=True).cumcount() + 1
        tables.append(df[["domain", "kind", "name", "score", "logfoldchange", "pval_adj", "rank"]])
    return pd.concat(tables, ignore_index=True)
