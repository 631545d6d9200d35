"""The domain overlay is really drawn on the tissue: a screenshot of a shown viewer."""

import numpy as np
import pytest

pytestmark = pytest.mark.gui


def test_domain_overlay_is_drawn(make_napari_viewer, trained, qtbot, artifacts):
    from matplotlib.colors import to_rgb
    from PIL import Image

    from factvae.tl._domains import find_domains
    from napari_factvae._qt._domains_widget import DomainsWidget
    from napari_factvae._qt._show_dataset import show_dataset

    viewer = make_napari_viewer(show=True)
    show_dataset(viewer, trained, "tiny")
    find_domains(trained, n_domains=4)
    w = DomainsWidget(viewer)
    w.mdata = trained
    w.repaint()
    viewer.layers["tiny domains"].opacity = 1.0
    viewer.reset_view()
    qtbot.wait(200)
    shot = viewer.screenshot(canvas_only=True, flash=False)
    Image.fromarray(shot).save(artifacts / "domains_screenshot.png")
    rgb = shot[..., :3].astype(float)
    colours = [np.array(to_rgb(c)) * 255 for c in trained.uns["factvae_domain_colors"]]
    counts = [int((np.abs(rgb - c).max(axis=-1) < 12).sum()) for c in colours]
    assert sum(n > 200 for n in counts) >= 4, counts  # every domain visibly painted
    background = np.abs(rgb - rgb[2, 2]).max(axis=-1) < 12
    assert background.mean() < 0.9  # and the tissue fills a good part of the canvas
