"""Several tissue sections side by side in napari: one tissue layer per section at its place in a
grid, one spots layer for all of them, and the domain map, legend, drawn regions and writer
working on every section at once."""

from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.gui



def _single():
    import factvae

    return factvae.simulate(n_spots=200, n_genes=120, n_peaks=700, n_domains=3, seed=2,
                            image_size=150)


@pytest.fixture(scope="module")
def sections_mdata():
    """Two sections (b: a technical copy, mirrored left-right, its own image), trained briefly,
    with shared domains."""
    import factvae
    from factvae.datasets import technical_copy
    from factvae.io import concat_sections

    a = _single()
    m = concat_sections([a, technical_copy(a, seed=1)], ["a", "b"])
    m = factvae.preprocess(m)
    factvae.add_gene_peak_prior(m)
    factvae.train(m, epochs=2, device="cpu", n_threads=1)
    factvae.find_domains(m, n_domains=3)
    return m


@pytest.fixture
def sections(sections_mdata):
    return sections_mdata.copy()


def _extent(kwargs, data):
    """(y0, x0, y1, x1) of an image layer's data in world coordinates."""
    image = data[0] if isinstance(data, list) else data
    h, w = image.shape[:2]
    dy, dx = kwargs.get("translate", (0.0, 0.0))
    sy, sx = kwargs.get("scale", (1.0, 1.0))
    return dy, dx, dy + sy * h, dx + sx * w


def _inside(points, box):
    y0, x0, y1, x1 = box
    return ((points[:, 0] >= y0) & (points[:, 0] <= y1)
            & (points[:, 1] >= x0) & (points[:, 1] <= x1))


def test_each_section_is_on_its_own_image(sections):
    from napari_factvae._core._layers import spot_layers

    layers = spot_layers(sections)
    images = {kw["name"]: (data, kw) for data, kw, kind in layers if kind == "image"}
    assert set(images) == {"tissue a", "tissue b"}
    points, kwargs, kind = layers[-1]
    assert kind == "points" and kwargs["name"] == "spots" and len(points) == sections.n_obs
    sample = sections.obs["sample"].astype(str).to_numpy()
    boxes = {s: _extent(images[f"tissue {s}"][1], images[f"tissue {s}"][0]) for s in "ab"}
    for s, box in boxes.items():
        own = sample == s
        assert _inside(points[own], box).all()  # every spot of s on s's image
        assert not _inside(points[~own], box).any()  # and no spot of another section
        np.testing.assert_array_equal(images[f"tissue {s}"][0], sections.uns["spatial"][s]["images"]["hires"])
    # side by side: b to the right of a, a gap between them, on one row
    assert boxes["b"][1] > boxes["a"][3] and boxes["a"][0] == boxes["b"][0]
    # each section's spots sit where its own image puts them
    from factvae.io._layout import section_view
    from factvae.io._spatial import tissue_view

    for s in "ab":
        own = sample == s
        view = tissue_view(section_view(sections, s, own))
        dy, dx = images[f"tissue {s}"][1]["translate"]
        np.testing.assert_allclose(points[own], view.spots_xy[:, ::-1] + (dy, dx))
    labels = next(kw for _, kw, kind in layers if kw["name"] == "sections")
    assert list(labels["features"]["section"]) == ["a", "b"]


def test_layout_of_three_and_four_sections_is_a_grid():
    from factvae.datasets import technical_copy
    from factvae.io import concat_sections, section_layout

    a = _single()
    m = concat_sections([a] + [technical_copy(a, seed=s) for s in range(1, 5)],
                        list("abcde"))
    layout = section_layout(m)
    offsets = np.array([p.offset for p in layout.sections])
    assert len(set(offsets[:3, 0])) == 1 and len(set(offsets[3:, 0])) == 1  # 3 per row
    assert offsets[3, 0] > offsets[0, 0] and offsets[3, 1] == offsets[0, 1]
    for p in layout.sections:  # every section's spots inside its own cell
        xy = layout.spots_xy[p.index]
        h, w = p.extent
        assert (xy[:, 0] >= p.offset[1]).all() and (xy[:, 0] <= p.offset[1] + w).all()
        assert (xy[:, 1] >= p.offset[0]).all() and (xy[:, 1] <= p.offset[0] + h).all()


def test_one_section_layers_are_as_before():
    from factvae.io import section_layout
    from factvae.io._spatial import tissue_view
    from napari_factvae._core._layers import spot_layers

    a = _single()
    view = tissue_view(a)
    layout = section_layout(a)
    assert len(layout.sections) == 1 and layout.sections[0].offset == (0.0, 0.0)
    np.testing.assert_array_equal(layout.spots_xy, view.spots_xy)
    assert layout.spot_diameter == view.drawn_diameter
    layers = spot_layers(a)
    assert [(kw["name"], kind) for _, kw, kind in layers] == [("tissue", "image"),
                                                               ("spots", "points")]
    image, kwargs, _ = layers[0]
    assert "translate" not in kwargs and "scale" not in kwargs and "metadata" not in kwargs
    np.testing.assert_array_equal(image, view.image)
    np.testing.assert_array_equal(layers[1][0], view.spots_xy[:, ::-1])
    assert layers[1][1]["size"] == pytest.approx(view.drawn_diameter)


def test_domain_map_legend_and_regions_cover_both_sections(make_napari_viewer, sections):
    from napari_factvae._qt._legend_widget import LegendWidget
    from napari_factvae._qt._region_widget import RegionMarkersWidget
    from napari_factvae._qt._show_dataset import show_dataset

    viewer = make_napari_viewer()
    show_dataset(viewer, sections, "two")
    names = [layer.name for layer in viewer.layers]
    assert {"two tissue a", "two tissue b", "two sections", "two spots", "two domains"} <= set(names)
    spots, raster = viewer.layers["two spots"], viewer.layers["two domains"]
    # the raster holds each spot's domain under it, in both sections
    codes = sections.obs["factvae_domain"].cat.codes.to_numpy()
    world = spots._data_to_world(spots.data)
    pix = np.floor((world - np.asarray(raster.translate)) / np.asarray(raster.scale)
                   + 0.5).astype(int)
    under = raster.data[pix[:, 0], pix[:, 1]]
    sample = sections.obs["sample"].astype(str).to_numpy()
    for s in "ab":
        own = sample == s
        assert (under[own] == codes[own] + 1).mean() > 0.95, s
    # the legend lists the shared domains once
    legend = LegendWidget(viewer)
    assert legend.names == list(sections.obs["factvae_domain"].cat.categories)
    # a rectangle drawn over section b selects b's spots and no other
    tissue_b = viewer.layers["two tissue b"]
    (y0, x0), (y1, x1) = tissue_b._data_to_world(np.array([[0, 0], tissue_b.data.shape[:2]]))
    regions = RegionMarkersWidget(viewer)
    drawn = regions.draw()
    drawn.add_rectangles(np.array([[y0, x0], [y1, x1]]))
    _, region, _ = regions.masks()
    np.testing.assert_array_equal(region, sample == "b")


def test_replacing_the_dataset_removes_its_section_layers(make_napari_viewer, sections):
    from napari_factvae._qt._show_dataset import show_dataset

    viewer = make_napari_viewer()
    show_dataset(viewer, _single(), "data")
    assert "data tissue" in viewer.layers
    show_dataset(viewer, sections, "data")  # one section, then two: the old tissue goes
    names = {layer.name for layer in viewer.layers}
    assert {"data tissue a", "data tissue b", "data sections"} <= names
    assert "data tissue" not in names
    show_dataset(viewer, sections, "data")  # the same again: the layers reused, in place
    tissue_b = viewer.layers["data tissue b"]
    assert tuple(tissue_b.translate) != (0.0, 0.0)
    single = _single()
    show_dataset(viewer, single, "data")  # two, then one: the sections' layers go
    names = {layer.name for layer in viewer.layers}
    assert not names & {"data tissue a", "data tissue b", "data sections"}
    assert viewer.layers["data spots"].metadata["factvae_mudata"] is single
    assert tuple(viewer.layers["data tissue"].translate) == (0.0, 0.0)


def test_writer_round_trip_keeps_the_sections(make_napari_viewer, sections, tmp_path):
    import pandas as pd

    from napari_factvae._qt._show_dataset import show_dataset
    from napari_factvae._reader import get_reader
    from napari_factvae._writer import write_domains

    viewer = make_napari_viewer()
    spots = show_dataset(viewer, sections, "two")[-1]
    data, attributes, _ = spots.as_layer_data_tuple()
    path = tmp_path / "two.h5mu"
    assert write_domains(str(path), data, attributes) == [str(path)]
    layers = get_reader(str(path))(str(path))
    back = layers[-1][1]["metadata"]["factvae_mudata"]
    assert list(back.obs["sample"].astype(str)) == list(sections.obs["sample"].astype(str))
    assert [kw["name"] for _, kw, kind in layers if kind == "image"] == ["two tissue a",
                                                                          "two tissue b"]
    np.testing.assert_allclose(layers[-1][0], spots.data)
    csv = tmp_path / "two.csv"
    write_domains(str(csv), data, attributes)
    table = pd.read_csv(csv)
    assert list(table.columns[:4]) == ["spot", "sample", "x", "y"]
    assert list(table["sample"]) == list(sections.obs["sample"].astype(str))


def test_sections_screenshot(make_napari_viewer, sections, qtbot, artifacts):
    from matplotlib.colors import to_rgb
    from PIL import Image

    from napari_factvae._qt._show_dataset import show_dataset

    viewer = make_napari_viewer(show=True)
    viewer.window.resize(1500, 800)
    show_dataset(viewer, sections, "two")
    viewer.reset_view()
    qtbot.wait(300)
    shot = viewer.screenshot(canvas_only=True, flash=False)
    Image.fromarray(shot).save(artifacts / "sections_screenshot.png")
    rgb = shot[..., :3].astype(float)
    colours = [np.array(to_rgb(c)) * 255 for c in sections.uns["factvae_domain_colors"]]
    w = rgb.shape[1]
    for half in (rgb[:, : w // 2], rgb[:, w // 2:]):  # every domain painted in each section
        near = [np.abs(half - c).max(axis=-1) < 40 for c in colours]
        assert all(n.sum() > 50 for n in near), [int(n.sum()) for n in near]


def test_a_section_whose_pyramid_is_pending_is_added_at_its_place(make_napari_viewer, sections,
                                                                  monkeypatch, qtbot):
    """A store image without a cached pyramid (the reader, on the GUI thread): that section's
    tissue is built in a worker and added at its place in the grid when it is ready."""
    import factvae.io._images as images
    from napari_factvae._core import _layers
    from napari_factvae._core._layers import PENDING_IMAGE_KEY, spot_layers
    from napari_factvae._qt._tissue_pyramid import build_tissue_later

    real = _layers.tissue_levels
    hires_b = sections.uns["spatial"]["b"]["images"]["hires"]

    def levels(src, build=True):
        if "b" in src.uns.get("spatial", {}):
            raise images.PyramidPending(Path("b.zarr"), "b_image")
        return real(src, build=build)

    monkeypatch.setattr(_layers, "tissue_levels", levels)
    monkeypatch.setattr(images, "store_levels", lambda store, image, build=True: [hires_b])
    layers = spot_layers(sections, build_pyramid=False)
    assert [kw["name"] for _, kw, kind in layers if kind == "image"] == ["tissue a"]
    pending = layers[-1][1]["metadata"][PENDING_IMAGE_KEY]
    (wait, name, placement), = pending[0]
    assert name == "tissue b" and wait.image == "b_image"
    viewer = make_napari_viewer()
    build_tissue_later(*pending)
    qtbot.waitUntil(lambda: "tissue b" in viewer.layers, timeout=20_000)
    layer = viewer.layers["tissue b"]
    assert tuple(layer.translate) == tuple(placement["translate"]) != (0.0, 0.0)
    assert viewer.layers.index(layer) == 0  # under the spots
