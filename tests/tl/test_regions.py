"""Region markers: a polygon drawn around a simulated domain finds that domain's planted
markers; the same from the CLI (GeoJSON) and from a Shapes layer in the dock widget."""

import json

import numpy as np
import pandas as pd
import pytest

import factvae
from factvae.errors import FactVAEInputError
from factvae.tl._regions import KINDS, region_mask, region_markers


def _inner_domain(m):
    """(domain, its convex hull) for the inner domain whose hull holds the fewest other spots."""
    from shapely import contains_xy
    from shapely.geometry import MultiPoint

    xy, best = m.obsm["spatial"], None
    for d in m.obs["domain"].cat.categories:
        inside = (m.obs["domain"] == d).to_numpy()
        hull = MultiPoint(xy[inside]).convex_hull.buffer(5.0)  # no spot on the edge
        others = int((contains_xy(hull, xy[:, 0], xy[:, 1]) & ~inside).sum())
        if best is None or others < best[2]:
            best = (d, hull, others)
    return best[0], best[1]


@pytest.fixture(scope="module")
def with_motifs(trained_mdata):
    m = trained_mdata.copy()
    factvae.motif_deviations(m, n_backgrounds=10)
    return m


def test_polygon_around_a_domain_finds_its_planted_markers(with_motifs):
    m = with_motifs
    domain, hull = _inner_domain(m)
    table = region_markers(m, hull, n_top=10)
    assert set(table["kind"]) == set(KINDS)  # trained, motifs, prior: every kind tested
    effect = m.uns["simulation"]["gene_effect"]
    planted = effect.loc[domain] - effect.drop(index=domain).mean()
    genes = table[table["kind"] == "gene (normalised)"]
    assert (planted[genes["name"]] > 0.3).sum() >= 8, genes
    assert (genes["logfoldchange"] > 0).all() and genes["statistic"].is_monotonic_decreasing
    truth = m.uns["simulation"]["domain_motifs"]
    top_motif = table.loc[table["kind"] == "motif (augmented)", "name"].iloc[0]
    assert top_motif in set(truth.loc[truth["domain"] == domain, "motif"])
    assert table["pval_adj"].between(0, 1).all() and table["logfoldchange"].notna().any()
    assert table.loc[table["kind"].str.startswith("motif"), "logfoldchange"].isna().all()
    stored = m.uns["factvae_region_markers"]
    assert stored["params"]["n_region"] == int(region_mask(m, hull).sum())
    # the same spots as a mask, as vertices, as a list of polygons: the same table
    mask = region_mask(m, hull)
    vertices = np.asarray(hull.exterior.coords)
    for region in (mask, vertices, [vertices]):
        again = region_markers(m, region, kinds=["gene (normalised)"], n_top=10, key_added="x")
        assert list(again["name"]) == list(genes["name"])


def test_second_region_and_bad_regions(with_motifs):
    m = with_motifs
    domain, hull = _inner_domain(m)
    other = (m.obs["domain"] != domain).to_numpy() & (m.obs["domain"] != m.obs["domain"].iloc[0])
    table = region_markers(m, hull, reference=other, kinds=["gene (normalised)"], n_top=None,
                           key_added="vs")
    assert m.uns["vs"]["params"]["reference"] == "region"
    assert m.uns["vs"]["params"]["n_reference"] == int((other & ~region_mask(m, hull)).sum())
    assert len(table) == m.mod["rna"].n_vars
    with pytest.raises(FactVAEInputError, match="holds 0 spot"):
        region_markers(m, np.array([[0, 0], [1, 0], [0, 1]]))
    # a region holding every spot: the rest is empty, and the line says so (no reference given)
    everything = np.ones(m.n_obs, bool)
    with pytest.raises(FactVAEInputError, match="rest of the tissue") as err:
        region_markers(m, everything)
    assert err.value.field == "region" and "reference holds" not in str(err.value)
    # a reference equal to the region: it lies inside the region
    with pytest.raises(FactVAEInputError, match="lies inside the region") as err:
        region_markers(m, hull, reference=hull)
    assert err.value.field == "reference"
    with pytest.raises(FactVAEInputError, match="3 or more"):
        region_markers(m, np.array([[0, 0], [1, 0]]))
    with pytest.raises(FactVAEInputError, match="unknown kind"):
        region_markers(m, hull, kinds=["genes"])
    bare = m.copy()
    del bare.mod["atac"].obsm["factvae_motif_z"]
    with pytest.raises(FactVAEInputError, match="motif deviations not computed"):
        region_markers(bare, hull, kinds=["motif (augmented)"])
    assert "motif (augmented)" not in set(region_markers(bare, hull)["kind"])  # skipped, said
    assert any("motif (augmented)" in s for s in bare.uns["factvae_region_markers"]["params"]
               ["skipped"])


def test_cli_markers_from_geojson(with_motifs, tmp_path, capsys):
    from factvae.cli import main
    from factvae.io._write import write_h5mu

    m = with_motifs.copy()
    domain, hull = _inner_domain(m)
    data = write_h5mu(m, tmp_path / "result.h5mu")
    poly = tmp_path / "region.geojson"
    poly.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": hull.__geo_interface__}]}))
    out = tmp_path / "markers.tsv"
    assert main(["markers", "--mudata", str(data), "--region", str(poly), "--tsv", str(out),
                 "--n-top", "5"]) == 0
    table = pd.read_csv(out, sep="\t")
    assert len(table) == 5 * len(KINDS) and set(table["kind"]) == set(KINDS)
    assert list(table.columns) == ["kind", "name", "mean_region", "mean_reference",
                                   "logfoldchange", "statistic", "pval", "pval_adj", "rank"]
    bad = tmp_path / "bad.geojson"
    bad.write_text(json.dumps({"type": "Point", "coordinates": [1, 2]}))
    assert main(["markers", "--mudata", str(data), "--region", str(bad), "--tsv",
                 str(tmp_path / "b.tsv")]) != 0
    err = capsys.readouterr().err
    assert "bad.geojson" in err and "holds no polygon" in err and "Traceback" not in err


@pytest.mark.gui
def test_region_widget_draw_find_paint_export(make_napari_viewer, with_motifs, qtbot, tmp_path):
    from napari_factvae._qt._region_widget import RegionMarkersWidget
    from napari_factvae._qt._show_dataset import show_dataset

    viewer = make_napari_viewer()
    m = with_motifs.copy()
    spots = show_dataset(viewer, m, "tiny")[-1]
    domain, hull = _inner_domain(m)
    w = RegionMarkersWidget(viewer)
    layer = w.draw()
    assert layer.mode == "add_polygon" and w.region.value == layer.name
    s = m.uns["spatial"]["simulated_tissue"]["scalefactors"]["tissue_hires_scalef"]
    layer.add_polygons([np.asarray(hull.exterior.coords)[:, ::-1] * s])  # (row, col) pixels
    mask = region_mask(m, hull)
    from napari_factvae._core._shapes import shapes_mask

    assert (shapes_mask(spots, layer) == mask).all()
    w.run()
    qtbot.waitUntil(lambda: w.run_button.enabled, timeout=120_000)
    assert w.table.rowCount() == len(w.result) > 0
    assert m.uns["factvae_region_markers"]["table"] is w.result  # stored on the main thread
    w.kind.value = "gene (normalised)"
    assert w.table.rowCount() == (w.result["kind"] == "gene (normalised)").sum()
    painted = w.paint_row(0)
    assert painted.name == f"gene (normalised): {w.shown['name'].iloc[0]}"
    w.export_file.value = tmp_path / "region.tsv"
    w.export()
    assert len(pd.read_csv(tmp_path / "region.tsv", sep="\t")) == len(w.result)
