"""Reader and sample data: layers placed in the image's pixel frame, spot table as features."""

import numpy as np
import pytest

from napari_factvae._reader import get_reader
from napari_factvae._sample_data import simulated_tissue


def test_reader_declines_quickly(tmp_path):
    assert get_reader(str(tmp_path / "missing.h5mu")) is None
    (tmp_path / "a.txt").write_text("x")
    assert get_reader(str(tmp_path / "a.txt")) is None
    # a file named .h5mu/.h5ad is taken even when it is not one: reading it says what is
    # wrong (tests/napari/test_gui_faults.py::test_a_corrupt_or_mislabelled_file_is_one_clear_error)
    assert get_reader([str(tmp_path / "a.txt"), str(tmp_path / "b.txt")]) is None


def test_reader_places_spots_on_the_image(tiny_h5mu, tiny_mdata):
    reader = get_reader(str(tiny_h5mu))
    assert reader is not None
    layers = reader(str(tiny_h5mu))
    kinds = [t[2] for t in layers]
    assert kinds == ["image", "points"]
    image, (points, kw, _) = layers[0][0], layers[1]
    lib = tiny_mdata.uns["spatial"]["simulated_tissue"]
    s = lib["scalefactors"]["tissue_hires_scalef"]
    np.testing.assert_allclose(points[:, ::-1], tiny_mdata.obsm["spatial"] * s)
    assert kw["size"] == pytest.approx(lib["scalefactors"]["spot_diameter_fullres"] * s)
    assert len(kw["features"]) == tiny_mdata.n_obs and "domain" in kw["features"]
    assert kw["face_color"] == "domain" and image.shape[2] == 3


def test_reader_reads_a_single_h5ad(tiny_h5ad_pair):
    layers = get_reader(str(tiny_h5ad_pair[0]))(str(tiny_h5ad_pair[0]))
    assert [t[2] for t in layers] == ["image", "points"]


def test_sample_data_is_the_simulator():
    layers = simulated_tissue()
    assert [t[2] for t in layers] == ["image", "points"]
    points, kw, _ = layers[1]
    assert points.shape == (1500, 2) and kw["features"]["domain"].nunique() == 5
    assert kw["metadata"]["factvae_mudata"].mod["atac"].n_vars == 8000


@pytest.mark.gui
def test_open_in_viewer_draws_spots_coloured_by_domain(make_napari_viewer, tiny_h5mu):
    viewer = make_napari_viewer()
    layers = viewer.open(str(tiny_h5mu), plugin="napari-factvae")
    assert [type(layer).__name__ for layer in layers] == ["Image", "Points"]
    pts = layers[1]
    colours = np.unique(np.round(pts.face_color, 3), axis=0)
    assert len(colours) == 4  # four simulated domains, four colours
