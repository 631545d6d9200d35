"""The domain map reads at a glance: regions that fill the tissue (with or without an image),
a legend that follows every rename, merge and recolour, overlays with a colour bar."""

import numpy as np
import pytest

PITCH = 20.0  # micrometres, DBiT-like


def dbit_grid(n_domains=8, seed=0):
    from factvae.datasets._dbit import dbit_grid as grid

    return grid(n_domains, seed, PITCH)


def test_spot_size_from_scale_factors_else_the_pitch(tiny_mdata):
    from napari_factvae._core._layers import spot_layers

    (_, kw, _), = spot_layers(dbit_grid())
    assert kw["size"] == pytest.approx(PITCH)  # no diameter given: neighbouring spots touch
    g = kw["metadata"]["factvae_map"].geometry
    assert g.square and g.pitch == pytest.approx(PITCH)
    lib = tiny_mdata.uns["spatial"]["simulated_tissue"]["scalefactors"]
    _, (_, kw, _) = spot_layers(tiny_mdata)
    assert kw["size"] == pytest.approx(lib["spot_diameter_fullres"] * lib["tissue_hires_scalef"])
    assert not kw["metadata"]["factvae_map"].geometry.square  # Visium-like hexagonal lattice


def test_palette_is_colour_blind_safe_to_10_and_distinct_to_30():
    from matplotlib.colors import to_rgb
    from skimage.color import deltaE_ciede2000, rgb2lab

    from factvae.keys import palette

    assert all(len(palette(n)) == n for n in (1, 10, 30, 45))

    def min_delta_e(rgb):
        lab = rgb2lab(np.clip(rgb, 0, 1)[None])[0]
        d = deltaE_ciede2000(lab[:, None], lab[None, :])
        return d[~np.eye(len(rgb), dtype=bool)].min()

    rgb = np.array([to_rgb(c) for c in palette(30)])
    assert min_delta_e(rgb) > 12
    # Machado et al. (2009) simulations at severity 1, on linear RGB: the three kinds claimed
    machado = {
        "protanopia": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                       [-0.003882, -0.048116, 1.051998]],
        "deuteranopia": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                         [-0.011820, 0.042940, 0.968881]],
        "tritanopia": [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602],
                       [0.004733, 0.691367, 0.303900]]}
    lin = np.where(rgb[:10] <= 0.04045, rgb[:10] / 12.92, ((rgb[:10] + 0.055) / 1.055) ** 2.4)
    for kind, matrix in machado.items():
        sim = np.clip(lin @ np.array(matrix).T, 0, 1)
        sim = np.where(sim <= 0.0031308, sim * 12.92, 1.055 * sim ** (1 / 2.4) - 0.055)
        assert min_delta_e(sim) > 10, kind


@pytest.mark.gui
def test_grid_without_image_fills_the_tissue(make_napari_viewer, qtbot, tmp_path, artifacts):
    """Opened through the reader, a 9k-spot grid with neither image nor spot diameter shows its
    domains as regions: measured on a canvas screenshot."""
    from matplotlib.colors import to_rgb
    from PIL import Image
    from scipy.spatial import cKDTree

    grid = dbit_grid()
    path = tmp_path / "dbit.h5ad"
    grid.write_h5ad(path)
    viewer = make_napari_viewer(show=True)
    viewer.window.resize(1200, 900)
    viewer.open(str(path), plugin="napari-factvae")
    qtbot.waitUntil(lambda: "dbit domains" in viewer.layers, timeout=10_000)
    qtbot.wait(300)
    viewer.reset_view()
    qtbot.wait(300)
    shot = viewer.screenshot(canvas_only=True, flash=False)[..., :3]
    Image.fromarray(shot).save(artifacts / "domain_map_grid9k.png")

    # canvas pixel -> world (y, x) through the camera; tissue = the grid cells of the spots
    h, w = shot.shape[:2]  # Xvfb: one screenshot pixel per canvas pixel
    cy, cx = viewer.scene.camera.center[-2:]
    zoom = viewer.scene.camera.zoom
    rows, cols = np.mgrid[0:h, 0:w]
    world = np.c_[(cols.ravel() + 0.5 - w / 2) / zoom + cx, (rows.ravel() + 0.5 - h / 2) / zoom + cy]
    xy = np.asarray(grid.obsm["spatial"])
    dist, nearest = cKDTree(xy).query(world, p=np.inf)
    tissue = dist <= PITCH / 2
    palette = np.array([to_rgb(c) for c in grid.uns["factvae_domain_colors"]]) * 255
    pixels = shot.reshape(-1, 3).astype(float)
    diff = np.abs(pixels[:, None, :] - palette[None]).max(-1)
    shows = diff.min(1) <= 30
    coverage = shows[tissue].mean()
    assert tissue.sum() > 0.3 * h * w  # the view fits the tissue
    assert coverage >= 0.99, coverage  # 99.6 % measured (docs/benchmarks.md 5)
    codes = grid.obs["factvae_domain"].cat.codes.to_numpy()
    right = (diff.argmin(1) == codes[nearest]) & shows
    assert right[tissue].mean() > 0.95  # each region in its own domain's colour
    per_domain = [right[tissue & (codes[nearest] == d)].mean() for d in range(len(palette))]
    assert min(per_domain) > 0.8, per_domain  # every domain visible
    print(f"area showing a domain colour: {coverage:.1%}")


@pytest.fixture
def domains_shown(make_napari_viewer, trained):
    from factvae.tl._domains import find_domains
    from napari_factvae._qt._show_dataset import show_dataset

    find_domains(trained, n_domains=4)
    viewer = make_napari_viewer()
    show_dataset(viewer, trained, "tiny")
    return viewer, trained


@pytest.mark.gui
def test_legend_follows_rename_merge_colour_and_visibility(domains_shown, qtbot):
    from qtpy.QtCore import Qt

    from napari_factvae._core._map_state import DIM
    from napari_factvae._qt._domains_widget import DomainsWidget
    from napari_factvae._qt._legend_widget import LegendWidget

    viewer, mdata = domains_shown
    spots, raster = viewer.layers["tiny spots"], viewer.layers["tiny domains"]
    legend = LegendWidget(viewer)
    domains = DomainsWidget(viewer)
    domains.mdata = mdata
    domains._fill_table()
    assert legend.names == ["0", "1", "2", "3"] and legend.table.rowCount() == 4
    counts = [int(legend.table.item(r, 2).text().replace(",", "")) for r in range(4)]
    assert sum(counts) == mdata.n_obs
    colours = list(mdata.uns["factvae_domain_colors"])

    legend.table.item(0, 1).setText("cortex")  # rename in the legend
    qtbot.waitUntil(lambda: legend.names[0] == "cortex", timeout=5000)
    assert list(mdata.obs["factvae_domain"].cat.categories) == ["cortex", "1", "2", "3"]
    assert list(mdata.uns["factvae_domain_colors"]) == colours
    assert domains.table.item(0, 0).text() == "cortex"  # the Domains widget follows
    assert set(spots.features["factvae_domain"]) == {"cortex", "1", "2", "3"}

    legend.table.item(1, 1).setText("cortex")  # a second domain of that name: merged
    qtbot.waitUntil(lambda: len(legend.names) == 3, timeout=5000)
    assert legend.names == ["cortex", "2", "3"] and domains.table.rowCount() == 3
    assert len(np.unique(np.round(spots.face_color, 4), axis=0)) == 3
    assert set(np.unique(raster.data)) == {0, 1, 2, 3}
    assert int(legend.table.item(0, 2).text().replace(",", "")) == counts[0] + counts[1]

    legend.set_colour("cortex", "#ff0000")  # recolour: uns, spots and raster
    assert mdata.uns["factvae_domain_colors"][0] == "#ff0000"
    cortex = (mdata.obs["factvae_domain"] == "cortex").to_numpy()
    np.testing.assert_allclose(spots.face_color[cortex][:, :3], [[1, 0, 0]] * cortex.sum())
    np.testing.assert_allclose(raster.colormap.map(np.array([1]))[0][:3], [1, 0, 0])

    legend.table.item(1, 0).setCheckState(Qt.CheckState.Unchecked)  # hide "2"
    two = (mdata.obs["factvae_domain"] == "2").to_numpy()
    qtbot.waitUntil(lambda: (spots.face_color[two, 3] == 0).all(), timeout=5000)
    assert (spots.face_color[two, 3] == 0).all() and (spots.face_color[~two, 3] == 1).all()
    assert raster.colormap.map(np.array([2]))[0][3] == 0
    legend.table.selectRow(0)  # highlight "cortex": the rest dimmed
    qtbot.waitUntil(lambda: np.allclose(spots.face_color[~cortex & ~two, 3], DIM), timeout=5000)
    assert np.allclose(spots.face_color[cortex, 3], 1)
    assert np.allclose(spots.face_color[~cortex & ~two, 3], DIM)
    legend.reset()
    assert np.allclose(spots.face_color[:, 3], 1)


@pytest.mark.gui
def test_display_modes_and_spot_size(domains_shown):
    from napari_factvae._qt._legend_widget import LegendWidget

    viewer, mdata = domains_shown
    spots, raster = viewer.layers["tiny spots"], viewer.layers["tiny domains"]
    pitch = spots.metadata["factvae_map"].geometry.pitch
    legend = LegendWidget(viewer)
    assert legend.mode.value == "regions + spots" and raster.visible and spots.visible
    assert viewer.layers.index(raster) == viewer.layers.index(spots) - 1  # under the spots
    legend.mode.value = "tiling spots"
    assert not raster.visible and np.allclose(spots.size, pitch)
    assert legend.spot_size.value == pytest.approx(1.0)
    legend.spot_size.value = 0.5
    assert np.allclose(spots.size, 0.5 * pitch)
    legend.mode.value = "regions"
    assert raster.visible and not spots.visible
    legend.opacity.value = 0.3
    assert raster.opacity == pytest.approx(0.3)


@pytest.mark.gui
def test_overlay_has_colour_bar_limits_and_hover(domains_shown):
    from napari_factvae._qt._overlay_widget import OverlayWidget

    viewer, mdata = domains_shown
    w = OverlayWidget(viewer)
    gene = mdata.mod["rna"].var_names[3]
    w.kind.value, w.search.value = "gene (normalised)", gene
    (layer,) = w.paint()
    assert layer.name == f"gene (normalised): {gene}"
    assert layer.face_colorbar.visible
    values = layer.features["value"].to_numpy()
    assert w.limits.enabled and w.limits.range == pytest.approx((values.min(), values.max()))
    w.limits.value = (values.min(), values.max() / 2)
    assert layer.face_contrast_limits == pytest.approx((values.min(), values.max() / 2), rel=1e-2)
    # hovering a spot: its name, domain and the overlay's value
    i = 7
    status = layer.get_status(layer.data[i], world=True)["coordinates"]
    assert mdata.obs_names[i] in status and f"value: {values[i]:.3g}"[:9] in status
    assert f"domain: {mdata.obs['factvae_domain'].iloc[i]}" in status
    spots = viewer.layers["tiny spots"]
    status = spots.get_status(spots.data[i], world=True)["coordinates"]
    assert mdata.obs_names[i] in status and "factvae_domain" in status and "overlay" in status
