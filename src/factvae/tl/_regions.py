"""Markers of a region drawn on the tissue: what distinguishes the spots inside one polygon (or
several, or any mask) from the rest of the tissue, or from a second region.

The test is Welch's t-test per feature, computed from per-group sums and sums of squares, so
sparse matrices stay sparse and augmented accessibility is streamed in peak chunks (nothing
spots x peaks is ever dense). Values tested, per kind (the overlay kinds of `factvae.values`):
- 'gene (normalised)': log1p(1e4 x counts / total), or the stored log-normalised layer;
- 'peak (raw)': the same transform of the ATAC counts;
- 'peak (augmented)': log1p of FactVAE's augmented accessibility (exp(sf) * mu);
- 'motif (raw)', 'motif (augmented)': the deviation z-scores, as they are;
- 'gene activity (raw)' / '(augmented)': log1p of the summed accessibility of each gene's
  linked peaks (the gene-peak prior; raw counts normalised as peaks).
`logfoldchange` is log2 of the ratio of the group means on the count scale (scanpy's
convention: expm1 of the mean log value); NaN for motif z-scores, which are not counts.
Adjusted p: Benjamini-Hochberg within each kind.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import FactVAEInputError
from ..keys import (
    LOGNORM_KEY,
    MOTIF_Z_KEY,
    MOTIF_Z_NAMES_KEY,
    MOTIF_Z_RAW_KEY,
    PRIOR_PAIRS_KEY,
    REGION_KINDS,
    REGION_MARKERS_KEY,
)
from ..pp._preprocess import log_normalize

KINDS = REGION_KINDS  # the name of 0.1


MIN_SPOTS = 3


def read_geojson(path: str | Path):
    """The polygons of a GeoJSON file (Polygon, MultiPolygon, Feature, FeatureCollection) as one
    shapely geometry; coordinates in the units of obsm['spatial'] (x, y)."""
    from shapely.geometry import shape
    from shapely.ops import unary_union

    path = Path(path)
    if not path.is_file():
        raise FactVAEInputError("not found.", file=str(path), field="region",
                                fix="give a GeoJSON file with the region's polygon(s).")
    try:
        data = json.loads(path.read_text())
        if data.get("type") == "FeatureCollection":
            geoms = [shape(f["geometry"]) for f in data["features"]]
        elif data.get("type") == "Feature":
            geoms = [shape(data["geometry"])]
        else:
            geoms = [shape(data)]
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise FactVAEInputError(f"is not GeoJSON with polygons ({err}).", file=str(path),
                                field="region",
                                fix="give a Polygon, MultiPolygon, Feature or FeatureCollection "
                                    "in obsm['spatial'] coordinates (x, y).") from None
    polys = [g for g in geoms if g.geom_type in ("Polygon", "MultiPolygon")]
    if not polys:
        raise FactVAEInputError(f"holds no polygon (found {[g.geom_type for g in geoms]}).",
                                file=str(path), field="region", fix="draw the region as a polygon.")
    return unary_union(polys)


def region_mask(mdata, region, *, field: str = "region") -> np.ndarray:
    """Spots inside `region`: a boolean mask (n_spots), a polygon (K x 2 vertices (x, y) in
    obsm['spatial'] units), a list of polygons, a shapely geometry, or a GeoJSON file path."""
    n = mdata.n_obs
    if isinstance(region, (str, Path)):
        region = read_geojson(region)
    if hasattr(region, "geom_type"):  # shapely
        from shapely import contains_xy

        xy = _coords(mdata, field)
        return np.asarray(contains_xy(region, xy[:, 0], xy[:, 1]), bool)
    arr = np.asarray(region) if not isinstance(region, list) else None
    if arr is not None and arr.dtype == bool:
        if arr.shape != (n,):
            raise FactVAEInputError(f"a mask must have one value per spot ({n}), got shape "
                                    f"{arr.shape}.", field=field, fix="give a boolean per spot.")
        return arr
    polygons = [np.asarray(p, float) for p in region] if isinstance(region, list) else [arr]
    from matplotlib.path import Path as MplPath

    xy = _coords(mdata, field)
    mask = np.zeros(n, bool)
    for poly in polygons:
        if poly.ndim != 2 or poly.shape[1] != 2 or len(poly) < 3:
            raise FactVAEInputError(f"a polygon needs 3 or more (x, y) vertices, got shape "
                                    f"{poly.shape}.", field=field,
                                    fix="give a K x 2 array of (x, y) in obsm['spatial'] units.")
        mask |= MplPath(poly).contains_points(xy)
    return mask


def _coords(mdata, field):
    if "spatial" not in mdata.obsm:
        raise FactVAEInputError("a polygon needs spot coordinates.", field="obsm['spatial']",
                                fix=f"store spot centres, or give {field} as a boolean mask.")
    return np.asarray(mdata.obsm["spatial"], float)[:, :2]


class _Moments:
    """Per-feature count, sum and sum of squares of two groups of rows."""

    def __init__(self, a: np.ndarray, b: np.ndarray):
        self.a, self.b = a, b
        self.parts = []

    def add(self, X, names) -> None:
        stats = []
        for rows in (self.a, self.b):
            sub = X[rows]
            if sp.issparse(sub):
                s = np.asarray(sub.sum(axis=0)).ravel()
                q = np.asarray(sub.multiply(sub).sum(axis=0)).ravel()
            else:
                sub = np.asarray(sub, np.float64)
                s, q = sub.sum(axis=0), (sub * sub).sum(axis=0)
            stats.append((float(rows.sum()), s.astype(np.float64), q.astype(np.float64)))
        self.parts.append((list(map(str, names)), stats))

    def table(self, kind: str, counts: bool) -> pd.DataFrame:
        from scipy import stats as st

        names = [n for part in self.parts for n in part[0]]
        def joined(group, i):
            return np.concatenate([stats[group][i] for _, stats in self.parts])

        n1, n0 = self.parts[0][1][0][0], self.parts[0][1][1][0]
        s1, q1, s0, q0 = joined(0, 1), joined(0, 2), joined(1, 1), joined(1, 2)
        m1, m0 = s1 / n1, s0 / n0
        v1 = np.maximum(q1 / n1 - m1 ** 2, 0) * n1 / max(n1 - 1, 1)
        v0 = np.maximum(q0 / n0 - m0 ** 2, 0) * n0 / max(n0 - 1, 1)
        se2 = v1 / n1 + v0 / n0
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(se2 > 0, (m1 - m0) / np.sqrt(se2), 0.0)
            dof = se2 ** 2 / ((v1 / n1) ** 2 / max(n1 - 1, 1) + (v0 / n0) ** 2 / max(n0 - 1, 1))
        dof = np.where(np.isfinite(dof) & (dof > 0), dof, 1.0)
        p = np.where(se2 > 0, 2 * st.t.sf(np.abs(t), dof), 1.0)
        ok = np.isfinite(m1) & np.isfinite(m0)  # unmodelled peaks (NaN embeddings) are left out
        lfc = (np.log2(np.expm1(m1) + 1e-9) - np.log2(np.expm1(m0) + 1e-9)) if counts else \
            np.full(len(m1), np.nan)
        df = pd.DataFrame({"kind": kind, "name": names, "mean_region": m1,
                           "mean_reference": m0, "logfoldchange": lfc, "statistic": t,
                           "pval": p})[ok]
        df["pval_adj"] = st.false_discovery_control(df["pval"].to_numpy()) if len(df) else []
        return df


def _gene_peak_matrix(mdata):
    """(peaks x linked genes 0/1 CSC, their names) from the gene-peak prior."""
    from ..pp._prior import g2p_matrix

    P = g2p_matrix(mdata).T.tocsc()
    linked = np.diff(P.indptr) > 0
    P = P[:, linked]
    P.data[:] = 1.0
    return P, mdata.mod["rna"].var_names[linked]


def _kind_available(mdata, kind: str) -> str | None:
    """None when `kind` can be tested on `mdata`, else why not."""
    atac = mdata.mod["atac"]
    if "augmented" in kind and not kind.startswith("motif"):
        from ..keys import EMBEDDING_KEY

        if EMBEDDING_KEY not in atac.obsm:
            return "no trained model"
    if kind.startswith("motif"):
        key = MOTIF_Z_KEY if "augmented" in kind else MOTIF_Z_RAW_KEY
        if key not in atac.obsm:
            return "motif deviations not computed"
    if kind.startswith("gene activity") and PRIOR_PAIRS_KEY not in mdata.uns:
        return "no gene-peak prior"
    return None


def _test_kind(mdata, kind, a, b) -> pd.DataFrame:
    rna, atac = mdata.mod["rna"], mdata.mod["atac"]
    mom = _Moments(a, b)
    counts = not kind.startswith("motif")
    if kind == "gene (normalised)":
        mom.add(rna.layers[LOGNORM_KEY] if LOGNORM_KEY in rna.layers else log_normalize(rna.X),
                rna.var_names)
    elif kind == "peak (raw)":
        mom.add(log_normalize(atac.X), atac.var_names)
    elif kind == "peak (augmented)":
        from ._augment import iter_augmented_atac

        for pos, block in iter_augmented_atac(mdata):
            mom.add(np.log1p(block), atac.var_names[pos])
    elif kind.startswith("motif"):
        key = MOTIF_Z_KEY if "augmented" in kind else MOTIF_Z_RAW_KEY
        mom.add(np.asarray(atac.obsm[key]), atac.uns[MOTIF_Z_NAMES_KEY])
    elif kind == "gene activity (raw)":
        P, genes = _gene_peak_matrix(mdata)
        total = np.asarray(atac.X.sum(axis=1)).ravel()
        act = sp.diags(1e4 / np.maximum(total, 1)) @ (sp.csr_matrix(atac.X) @ P)
        act = sp.csr_matrix(act, dtype=np.float32)
        act.data = np.log1p(act.data)
        mom.add(act, genes)
    elif kind == "gene activity (augmented)":
        from ._augment import augment_atac

        P, genes = _gene_peak_matrix(mdata)
        for s in range(0, len(genes), 512):  # a block of genes and only their peaks at a time
            block = P[:, s:s + 512]
            peaks = np.unique(block.indices)
            aug = augment_atac(mdata, peaks.tolist())
            act = np.nan_to_num(aug) @ block[peaks].toarray()
            mom.add(np.log1p(act), genes[s:s + 512])
    return mom.table(kind, counts)


def check_kinds(kinds, field: str = "kinds") -> list[str]:
    """The kinds asked for (all by default), or one error naming the unknown ones."""
    asked = list(KINDS) if kinds is None else list(kinds)
    unknown = [k for k in asked if k not in KINDS]
    if unknown:
        raise FactVAEInputError(f"unknown kind(s) {unknown}.", field=field,
                                fix="use some of: " + ", ".join(f"'{k}'" for k in KINDS))
    return asked


def compute_region_markers(mdata, region, *, reference=None, kinds=None,
                           n_top: int | None = 50) -> tuple[pd.DataFrame, dict]:
    """(table, params) of `region_markers`, storing nothing (a GUI worker returns them; the
    main thread stores them)."""
    a = region_mask(mdata, region, field="region")
    drawn = None if reference is None else region_mask(mdata, reference, field="reference")
    b = ~a if drawn is None else drawn & ~a
    if a.sum() < MIN_SPOTS:
        raise FactVAEInputError(f"holds {int(a.sum())} spot(s); at least {MIN_SPOTS} are needed "
                                "to test.", field="region", fix="draw it around more spots.")
    if b.sum() < MIN_SPOTS:  # say why the reference came out (nearly) empty
        if drawn is None:
            problem = (f"holds {int(a.sum())} of the {len(a)} spots, so the rest of the tissue "
                       f"({int(b.sum())} spots) is too small to compare with")
            fix = "draw the region around fewer spots, or give a reference region."
        elif drawn.sum() >= MIN_SPOTS:
            problem = (f"lies inside the region ({int(drawn.sum())} of its spots are in the "
                       f"region too, and spots in both count for the region), leaving "
                       f"{int(b.sum())} to compare with")
            fix = "draw the reference apart from the region, or compare with the rest."
        else:
            problem = f"holds {int(b.sum())} spot(s); at least {MIN_SPOTS} are needed to test"
            fix = "draw it around more spots, or compare with the rest of the tissue."
        raise FactVAEInputError(problem + ".", field="reference" if drawn is not None
                                else "region", fix=fix)
    asked = check_kinds(kinds)
    skipped = {k: why for k in asked if (why := _kind_available(mdata, k))}
    if kinds is not None and skipped:
        k, why = next(iter(skipped.items()))
        raise FactVAEInputError(f"'{k}' cannot be tested: {why}.", field="kinds",
                                fix="train / compute motifs / build the prior first, or leave "
                                    "it out.")
    tables = []
    for kind in asked:
        if kind in skipped:
            continue
        df = _test_kind(mdata, kind, a, b).sort_values("statistic", ascending=False)
        df = df if n_top is None else df.head(n_top)
        df["rank"] = np.arange(1, len(df) + 1)
        tables.append(df)
    params = {"n_region": int(a.sum()), "n_reference": int(b.sum()),
              "reference": "rest" if reference is None else "region",
              "kinds": [k for k in asked if k not in skipped],
              "skipped": [f"{k}: {why}" for k, why in skipped.items()],
              "n_top": -1 if n_top is None else int(n_top), "test": "welch_t"}
    return pd.concat(tables, ignore_index=True), params


def region_markers(mdata, region, *, reference=None, kinds=None, n_top: int | None = 50,
                   key_added: str = REGION_MARKERS_KEY) -> pd.DataFrame:
    """Markers of the spots in a drawn region, against the rest of the tissue or a second one.

    What marks the spots in `region` against the rest of the tissue (or against `reference`,
    a second region). `region`/`reference`: a boolean mask, a polygon (K x 2, (x, y) in
    obsm['spatial'] units), a list of polygons, a shapely geometry or a GeoJSON path. `kinds`:
    some of `KINDS` (default: every kind the data has). Returns one long table (kind, name,
    mean_region, mean_reference, logfoldchange, statistic, pval, pval_adj, rank), the `n_top`
    highest statistics per kind (None: all), stored in `mdata.uns[key_added]` as
    {'params', 'table'}. Spots in both regions count for `region` only.

    The test is Welch's t-test per feature; adjusted p-values are Benjamini-Hochberg within
    each kind; `logfoldchange` is NaN for the motif kinds (z-scores are not counts). The
    values tested per kind are those of the module.

    Parameters
    ----------
    mdata : MuData
        The data (spot coordinates in obsm['spatial'] for polygons); changed in place.
    region : array_like or shapely geometry or str or Path
        A boolean mask (one value per spot), a polygon (K x 2, (x, y) in obsm['spatial']
        units), a list of polygons, a shapely geometry or a GeoJSON path.
    reference : array_like or shapely geometry or str or Path, optional
        A second region (any form `region` takes) to compare with; default: the rest of the
        tissue.
    kinds : sequence of str, optional
        Some of `KINDS` ('gene (normalised)', 'peak (raw)', 'peak (augmented)', 'motif (raw)',
        'motif (augmented)', 'gene activity (raw)', 'gene activity (augmented)'); default:
        every kind the data has (the others are skipped and named in the params).
    n_top : int or None, default 50
        Rows kept per kind, highest statistic first; None: all.
    key_added : str, default 'factvae_region_markers'
        Where to store the result in `mdata.uns`.

    Returns
    -------
    pandas.DataFrame
        Columns kind, name, mean_region, mean_reference, logfoldchange, statistic, pval,
        pval_adj and rank.

    Raises
    ------
    FactVAEInputError
        If the region or the reference holds fewer than 3 spots (the message says why), a
        mask or polygon is malformed, a polygon is given without spot coordinates, a kind is
        unknown, or a kind asked for cannot be tested on this data.

    Notes
    -----
    Sets `mdata.uns[key_added]` (default `mdata.uns['factvae_region_markers']`) =
    {'params': {'n_region', 'n_reference', 'reference' ('rest' or 'region'), 'kinds',
    'skipped', 'n_top' (-1: all), 'test': 'welch_t'}, 'table': the table}.
    """
    table, params = compute_region_markers(mdata, region, reference=reference, kinds=kinds,
                                           n_top=n_top)
    mdata.uns[key_added] = {"params": params, "table": table}
    return table
