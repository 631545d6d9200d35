"""Genomic coordinates of peaks and genes: from `var` columns, peak names, or an annotation file.

All intervals are returned as (chrom, start, end[, strand]) tables indexed by feature name. Starts
and ends are taken as written; overlap is tested half-open (start < other_end and end > other_start),
so a 1-based BED start (as in GENCODE-derived BEDs) shifts a boundary by at most one base.
"""

from __future__ import annotations

import gzip
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import FactVAEDataWarning, FactVAEInputError

# chr1:100-200, chr1-100-200, chr1_100_200 (the chromosome itself may contain '_' or '.')
_PEAK_NAME = re.compile(r"^(?P<chrom>.+?)[:_-](?P<start>\d+)[-_](?P<end>\d+)$")


_COLUMN_SETS = (("chrom", "chromStart", "chromEnd"), ("chrom", "start", "end"),
                ("chr", "start", "end"), ("seqnames", "start", "end"))


def _from_columns(var: pd.DataFrame) -> pd.DataFrame | None:
    for chrom, start, end in _COLUMN_SETS:
        if {chrom, start, end} <= set(var.columns):
            out = pd.DataFrame({"chrom": var[chrom].astype(str),
                                "start": pd.to_numeric(var[start], errors="coerce"),
                                "end": pd.to_numeric(var[end], errors="coerce")}, index=var.index)
            if "strand" in var.columns:
                out["strand"] = var["strand"].astype(str)
            return out
    return None


def peak_coordinates(var: pd.DataFrame, *, file: str | None = None) -> pd.DataFrame:
    """Peak intervals from `var` columns (chrom/chromStart/chromEnd or chrom/start/end), else
    parsed from the peak names (`chr1:100-200`, `chr1-100-200`, `chr1_100_200`)."""
    cols = _from_columns(var)
    if cols is not None:
        bad = cols[["start", "end"]].isna().any(axis=1)
        if bad.any():
            raise FactVAEInputError(
                f"{int(bad.sum())} peaks have missing or non-numeric start/end "
                f"(first: {bad[bad].index[0]!r}).", file=file, field="atac.var coordinates",
                fix="fill in the coordinate columns or remove those peaks.")
        return _checked_intervals(cols.astype({"start": np.int64, "end": np.int64}), file,
                                  "atac.var coordinates")
    parsed = pd.Series(var.index, index=var.index).astype(str).str.extract(_PEAK_NAME)
    bad = parsed["chrom"].isna()
    if bad.any():
        examples = ", ".join(repr(n) for n in list(var.index[bad.to_numpy()])[:3])
        raise FactVAEInputError(
            f"{int(bad.sum())} of {len(var)} peak names cannot be read as coordinates "
            f"(e.g. {examples}) and there are no coordinate columns.",
            file=file, field="atac.var_names",
            fix="name peaks like 'chr1:100-200' (or chr1-100-200, chr1_100_200), or add "
                "var columns chrom, chromStart, chromEnd.")
    out = pd.DataFrame({"chrom": parsed["chrom"],
                        "start": parsed["start"].astype(np.int64),
                        "end": parsed["end"].astype(np.int64)}, index=var.index)
    return _checked_intervals(out, file, "atac.var_names")


def _checked_intervals(peaks: pd.DataFrame, file: str | None, field: str) -> pd.DataFrame:
    """Refuse peaks that end before they start (or start below 0): they would silently overlap
    nothing, or the wrong genes."""
    bad = (peaks["start"] > peaks["end"]) | (peaks["start"] < 0)
    if bad.any():
        first = peaks.index[np.flatnonzero(bad.to_numpy())[0]]
        row = peaks.loc[first]
        raise FactVAEInputError(
            f"{int(bad.sum())} peaks end before they start or start below 0 (first: {first!r}, "
            f"start {row['start']}, end {row['end']}).", file=file, field=field,
            fix="check the peak coordinates (start <= end, 0-based); swap or remove those peaks.")
    return peaks


def gene_coordinates_from_var(var: pd.DataFrame) -> pd.DataFrame | None:
    """Gene intervals from `var` columns, or None when the columns are absent. A missing strand
    column is read as '+' with a warning (the promoter side depends on it)."""
    cols = _from_columns(var)
    if cols is None:
        return None
    if "strand" not in cols.columns:
        warnings.warn("rna.var has gene coordinates but no 'strand' column; promoters are "
                      "placed as if every gene were on '+'.", FactVAEDataWarning, stacklevel=2)
        cols["strand"] = "+"
    return cols.dropna(subset=["start", "end"]).astype({"start": np.int64, "end": np.int64})


def _open_text(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt")
    return open(path, "rt")


_GTF_NAME = re.compile(r'gene_name "([^"]+)"')


_GTF_ID = re.compile(r'gene_id "([^"]+)"')


_GFF_ATTR = re.compile(r"(?:^|;)\s*(Name|gene_name|gene|ID)=([^;]+)")


def read_gene_annotation(path: str | Path) -> pd.DataFrame:
    """Read gene intervals (chrom, start, end, strand; indexed by gene name) from a GTF, GFF3 or
    BED file (optionally gzipped). For a name on several rows the first row is kept."""
    path = Path(path)
    if not path.exists():
        raise FactVAEInputError("file not found.", file=str(path), field="gene annotation",
                                fix="give an existing GTF, GFF3 or BED file.")
    if path.is_dir():
        raise FactVAEInputError("is a folder, not a file.", file=str(path), field="gene annotation",
                                fix="give the GTF, GFF3 or BED file inside it.")
    name = path.name.lower().removesuffix(".gz")
    kind = ("gtf" if name.endswith(".gtf") else "gff" if name.endswith((".gff", ".gff3"))
            else "bed" if name.endswith(".bed") else None)
    if kind is None:
        raise FactVAEInputError("unknown annotation format.", file=str(path), field="file name",
                                fix="use a file ending in .gtf, .gff3, .gff or .bed (optionally .gz).")
    rows = []
    try:
        with _open_text(path) as fh:
            for line in fh:
                if not line.strip() or line.startswith(("#", "track", "browser")):
                    continue
                parts = line.rstrip("\n").split("\t")
                if kind == "bed":
                    if len(parts) < 4:
                        parts = line.split()
                    if len(parts) < 4:
                        continue
                    strand = parts[5] if len(parts) > 5 else "+"
                    rows.append((parts[3], parts[0], parts[1], parts[2], strand))
                    continue
                if len(parts) < 9 or parts[2] != "gene":
                    continue
                if kind == "gtf":
                    m = _GTF_NAME.search(parts[8]) or _GTF_ID.search(parts[8])
                    gene = m.group(1) if m else None
                else:
                    attrs = dict(_GFF_ATTR.findall(parts[8]))
                    gene = (attrs.get("Name") or attrs.get("gene_name") or attrs.get("gene")
                            or attrs.get("ID"))
                if gene:
                    rows.append((gene, parts[0], parts[3], parts[4], parts[6]))
    except (OSError, UnicodeDecodeError) as err:
        raise FactVAEInputError(f"cannot be read as text ({err}).", file=str(path),
                                field="gene annotation", fix="give a plain or gzipped GTF/GFF3/BED.")
    if not rows:
        raise FactVAEInputError(f"no gene records found in this {kind.upper()} file.",
                                file=str(path), field="gene annotation",
                                fix="for GTF/GFF3, rows with feature type 'gene' are read; for "
                                    "BED, columns chrom, start, end, name[, score, strand].")
    table = pd.DataFrame(rows, columns=["name", "chrom", "start", "end", "strand"])
    table["start"] = pd.to_numeric(table["start"], errors="coerce")
    table["end"] = pd.to_numeric(table["end"], errors="coerce")
    table = table.dropna(subset=["start", "end"])
    table = table.drop_duplicates("name", keep="first").set_index("name")
    table.index.name = None
    table["strand"] = table["strand"].where(table["strand"].isin(["+", "-"]), "+")
    return table.astype({"start": np.int64, "end": np.int64})
