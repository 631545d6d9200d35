"""Several tissue sections in one MuData: each section's spots kept with their own coordinates
and image, genes matched by name, peaks merged where their intervals overlap (as Signac's and
ArchR's common peak sets), and a report of what was merged and dropped.

The result names each spot's section in `obs['sample']` (squidpy's `library_key`): its values
are the keys of `uns['spatial']`, one image per section.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import FactVAEDataWarning, FactVAEInputError
from ..keys import SAMPLE_KEY, SECTIONS_KEY
from ._spatial import first_library

JOINS = ("inner", "outer")


def merged_peaks(peak_tables: list[pd.DataFrame]) -> tuple[pd.DataFrame, list[np.ndarray]]:
    """One peak set from several: overlapping or touching intervals (of any section) merged
    into one (GenomicRanges' `reduce`).

    Parameters
    ----------
    peak_tables : list of pandas.DataFrame
        Per section, the peaks' 'chrom', 'start', 'end' (index: peak names).

    Returns
    -------
    merged : pandas.DataFrame
        'chrom', 'start', 'end', 'n_sources' (distinct source intervals) and 'sections' (how
        many sections have a peak in it); index: a source name where every source interval
        had that one name, else 'chrom:start-end'.
    assignment : list of numpy.ndarray
        Per section, each peak's row in `merged`.
    """
    rows = pd.concat([t[["chrom", "start", "end"]].assign(section=i, name=t.index.astype(str),
                                                           pos=np.arange(len(t)))
                      for i, t in enumerate(peak_tables)], ignore_index=True)
    rows = rows.sort_values(["chrom", "start", "end"], kind="stable").reset_index(drop=True)
    chrom = rows["chrom"].to_numpy()
    start, end = rows["start"].to_numpy(np.int64), rows["end"].to_numpy(np.int64)
    # a new merged interval starts where the chromosome changes or a gap opens after the
    # running end of the current one
    running_end = np.empty_like(end)
    group = np.zeros(len(rows), np.int64)
    g = 0
    for i in range(len(rows)):
        if i and (chrom[i] != chrom[i - 1] or start[i] > running_end[i - 1]):
            g += 1
            running_end[i] = end[i]
        else:
            running_end[i] = max(end[i], running_end[i - 1]) if i else end[i]
        group[i] = g
    rows["group"] = group
    agg = rows.groupby("group", sort=True).agg(
        chrom=("chrom", "first"), start=("start", "min"), end=("end", "max"),
        sections=("section", "nunique"), names=("name", "nunique"), first=("name", "first"))
    sources = rows.drop_duplicates(["group", "start", "end"]).groupby("group").size()
    agg["n_sources"] = sources.reindex(agg.index).to_numpy()
    default = agg["chrom"].astype(str) + ":" + agg["start"].astype(str) + "-" + agg["end"].astype(str)
    agg.index = np.where((agg["names"] == 1) & (agg["n_sources"] == 1), agg["first"], default)
    if agg.index.duplicated().any():  # a source name equal to a merged default name
        agg.index = default.to_numpy()
    assignment = []
    for i, t in enumerate(peak_tables):
        part = rows[rows["section"] == i].sort_values("pos")
        assignment.append(part["group"].to_numpy(np.int64))
    merged = agg[["chrom", "start", "end", "n_sources", "sections"]].copy()
    merged.index.name = None
    return merged, assignment


def _names(names, n: int, files) -> list[str]:
    if names is None:
        stems = [Path(f).name.split(".")[0] if f else f"section{i + 1}" for i, f in enumerate(files)]
        names = stems if len(set(stems)) == n else [f"section{i + 1}" for i in range(n)]
    names = [str(x) for x in names]
    if len(names) != n:
        raise FactVAEInputError(f"{len(names)} sample names for {n} inputs.",
                                field="--sample-names", fix="give one name per input, in order.")
    if len(set(names)) != n:
        raise FactVAEInputError(f"sample names repeat: {names}.", field="--sample-names",
                                fix="give every section its own name.")
    return names


def concat_sections(sections: list, names: list[str] | None = None, *, join: str = "inner",
                    files: list[str | None] | None = None):
    """One MuData from several sections' paired MuDatas (each as `load_paired` returns it).

    Parameters
    ----------
    sections : list of MuData
        One paired MuData ('rna', 'atac') per tissue section, raw counts in X.
    names : list of str, optional
        The sections' names; default: the files' stems, else section1, section2, ...
    join : str, default 'inner'
        'inner': the genes every section has, and the merged peaks every section has a peak
        in; 'outer': all genes and merged peaks, with zero counts where a section lacks one
        (it was not measured there: use with care).
    files : list of str, optional
        Where each section was read from, for the messages.

    Returns
    -------
    MuData
        Spots of all sections (names prefixed by the section where two sections share one),
        `obs['sample']` (categorical, in the given order), `obsm['spatial']` (each section's
        own coordinates), `uns['spatial']` {section: its image entry}, and
        `uns['factvae_sections']` (the report: spots, genes and peaks per section, genes
        dropped, peaks merged and dropped).

    Raises
    ------
    FactVAEInputError
        For fewer than two sections, names that do not fit, an input that already holds
        several sections, peaks without coordinates, or sections that share no gene or no
        peak.
    """
    import anndata as ad
    import mudata

    from ..pp._genome import peak_coordinates

    n = len(sections)
    files = list(files) if files is not None else [None] * n
    if n < 2:
        raise FactVAEInputError("several sections need at least two inputs.", field="inputs",
                                fix="give two or more inputs, or load one section as usual.")
    if join not in JOINS:
        raise FactVAEInputError(f"unknown join {join!r}.", field="join", fix="use 'inner' or 'outer'.")
    names = _names(names, n, files)
    for m, f in zip(sections, files):
        if SAMPLE_KEY in m.obs and m.obs[SAMPLE_KEY].nunique() > 1:
            raise FactVAEInputError(f"already holds {m.obs[SAMPLE_KEY].nunique()} sections in "
                                    f"obs['{SAMPLE_KEY}'].", file=f, field=f"obs['{SAMPLE_KEY}']",
                                    fix="give it alone (its sections are used as they are).")
    label = ", ".join(f or name for f, name in zip(files, names))
    # genes: by name
    gene_sets = [m.mod["rna"].var_names for m in sections]
    if join == "inner":
        genes = gene_sets[0]
        for g in gene_sets[1:]:
            genes = genes[genes.isin(g)]
    else:
        genes = pd.Index(pd.unique(np.concatenate([np.asarray(g) for g in gene_sets])))
    if len(genes) == 0:
        raise FactVAEInputError("the sections share no gene name.", file=label,
                                field="rna.var_names",
                                fix="use the same gene identifiers (symbols or Ensembl ids) in "
                                    "every section.")
    # peaks: intervals merged across sections
    tables = [peak_coordinates(m.mod["atac"].var, file=f) for m, f in zip(sections, files)]
    merged, assignment = merged_peaks(tables)
    keep = merged["sections"] == n if join == "inner" else np.ones(len(merged), bool)
    if not keep.any():
        raise FactVAEInputError("no peak interval is shared by every section.", file=label,
                                field="atac.var_names",
                                fix="check that the sections use one genome build, or use "
                                    "join='outer' (--join outer).")
    new_row = np.full(len(merged), -1, np.int64)
    new_row[np.flatnonzero(keep)] = np.arange(int(keep.sum()))
    peaks = merged[keep]

    rna_parts, atac_parts, obs_parts, coords, libraries = [], [], [], [], {}
    prefix = pd.Index(np.concatenate([np.asarray(m.obs_names) for m in sections])).duplicated().any()
    for m, name, assign in zip(sections, names, assignment):
        rna, atac = m.mod["rna"], m.mod["atac"]
        spots = pd.Index([f"{name}_{s}" for s in m.obs_names]) if prefix else m.obs_names
        col = rna.var_names.get_indexer(genes)  # -1: a gene this section lacks (outer)
        X = sp.csr_matrix(rna.X)
        has = col >= 0
        P = sp.csr_matrix((np.ones(has.sum(), np.float32), (col[has], np.flatnonzero(has))),
                          shape=(rna.n_vars, len(genes)))
        rna_parts.append(ad.AnnData(X=sp.csr_matrix(X @ P, dtype=np.float32),
                                    obs=rna.obs.set_axis(spots)))
        target = new_row[assign]
        ok = target >= 0
        Q = sp.csr_matrix((np.ones(ok.sum(), np.float32), (np.flatnonzero(ok), target[ok])),
                          shape=(atac.n_vars, len(peaks)))
        atac_parts.append(ad.AnnData(X=sp.csr_matrix(sp.csr_matrix(atac.X) @ Q, dtype=np.float32),
                                     obs=atac.obs.set_axis(spots)))
        obs_parts.append(m.obs.set_axis(spots))
        coords.append(np.asarray(m.obsm["spatial"], np.float64)[:, :2] if "spatial" in m.obsm
                      else None)
        lib = first_library(m.uns)
        if lib is not None:
            libraries[name] = lib[1]
    var_rna = sections[0].mod["rna"].var.reindex(genes)
    var_atac = pd.DataFrame({"chrom": peaks["chrom"].astype(str).to_numpy(),
                             "chromStart": peaks["start"].to_numpy(),
                             "chromEnd": peaks["end"].to_numpy()}, index=peaks.index)
    rna = ad.concat(rna_parts, join="outer", merge=None)
    rna.var = var_rna.loc[:, [c for c in var_rna.columns if var_rna[c].notna().all()]]
    atac = ad.concat(atac_parts, join="outer", merge=None)
    atac.var = var_atac
    with mudata.set_options(pull_on_update=False):
        out = mudata.MuData({"rna": rna, "atac": atac})
    top = pd.concat(obs_parts)
    for c in top.columns:
        if ":" not in c and c != SAMPLE_KEY and top[c].notna().all():
            out.obs[c] = top[c].to_numpy()
    section = pd.Categorical(np.repeat(names, [m.n_obs for m in sections]), categories=names)
    out.obs[SAMPLE_KEY] = section
    for mod in out.mod.values():
        mod.obs[SAMPLE_KEY] = section
    if all(c is not None for c in coords):
        out.obsm["spatial"] = np.concatenate(coords)
    elif any(c is not None for c in coords):
        missing = [n_ for n_, c in zip(names, coords) if c is None]
        warnings.warn(f"sections {missing} have no spot coordinates: the spots of no section "
                      "are placed in space.", FactVAEDataWarning, stacklevel=2)
    if libraries:
        out.uns["spatial"] = libraries
    report = {"sections": names, "files": [f or "" for f in files], "join": join,
              "spots": [int(m.n_obs) for m in sections],
              "genes_in": [int(len(g)) for g in gene_sets], "genes_kept": int(len(genes)),
              "peaks_in": [int(len(t)) for t in tables], "merged_intervals": int(len(merged)),
              "intervals_joining_several_peaks": int((merged["n_sources"] > 1).sum()),
              "peaks_kept": int(keep.sum()), "peaks_dropped_not_in_every_section":
                  int((~keep).sum()), "spot_names_prefixed": bool(prefix)}
    out.uns[SECTIONS_KEY] = report
    return out


def describe_sections(report: dict) -> str:
    """One paragraph for the command line: what was merged and dropped."""
    spots = ", ".join(f"{s} {n}" for s, n in zip(report["sections"], report["spots"]))
    genes = ", ".join(str(g) for g in report["genes_in"])
    peaks = ", ".join(str(p) for p in report["peaks_in"])
    return (f"{len(report['sections'])} sections ({spots} spots); genes {genes} -> "
            f"{report['genes_kept']} {'shared' if report['join'] == 'inner' else 'in all'}; "
            f"peaks {peaks} -> {report['merged_intervals']} merged intervals "
            f"({report['intervals_joining_several_peaks']} join overlapping peaks), "
            f"{report['peaks_kept']} kept, {report['peaks_dropped_not_in_every_section']} "
            f"dropped as not in every section"
            + ("; spot names prefixed by the section" if report["spot_names_prefixed"] else "")
            + ".")
