"""Screenshots of each dock widget for the README (docs/images/*.png), on the built-in
simulated tissue:

    xvfb-run -a python docs/make_screenshots.py
"""

from __future__ import annotations

import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "images"


def wait(app, predicate, timeout=600):
    t0 = time.perf_counter()
    while not predicate() and time.perf_counter() - t0 < timeout:
        app.processEvents()
        time.sleep(0.01)


def main():
    import napari
    from PIL import Image
    from qtpy.QtWidgets import QApplication

    import factvae
    from napari_factvae._domains_widget import DomainsWidget
    from napari_factvae._load_widget import LoadWidget
    from napari_factvae._overlay_widget import OverlayWidget
    from napari_factvae._regulation_widget import RegulationWidget
    from napari_factvae._train_widget import TrainWidget

    OUT.mkdir(exist_ok=True)
    sim = Path("/tmp/factvae_screenshot_sim.h5mu")
    factvae.simulate(seed=0).write(sim)
    viewer = napari.Viewer(show=True)
    viewer.window.resize(1500, 950)
    app = QApplication.instance()

    def shot(name, widget):
        dock = viewer.window.add_dock_widget(widget, name=name, area="right")
        app.processEvents()
        time.sleep(0.3)
        app.processEvents()
        Image.fromarray(viewer.screenshot(canvas_only=False, flash=False)).save(OUT / f"{name}.png")
        viewer.window.remove_dock_widget(dock)

    load = LoadWidget(viewer)
    load.mudata_file.value = sim
    load.load()
    wait(app, lambda: load.load_button.enabled and "spots" in load.info.value)
    shot("1_load", load)

    train = TrainWidget(viewer)
    train.epochs.value = 60
    dock = viewer.window.add_dock_widget(train, name="2_train", area="right")
    train.start()
    wait(app, lambda: train.start_button.enabled)
    app.processEvents()
    Image.fromarray(viewer.screenshot(canvas_only=False, flash=False)).save(OUT / "2_train.png")
    viewer.window.remove_dock_widget(dock)

    domains = DomainsWidget(viewer)
    domains.n_domains.value = 5
    domains.compute()
    wait(app, lambda: domains.compute_button.enabled and "domains" in domains.info.value)
    shot("3_domains", domains)

    overlays = OverlayWidget(viewer)
    peak = train.mdata.uns["simulation"]["links"]["peak"].iloc[0]
    overlays.kind.value, overlays.search.value, overlays.side_by_side.value = "peak (augmented)", peak, True
    overlays.paint()
    shot("4_overlays", overlays)
    viewer.grid.enabled = False
    for layer in list(viewer.layers):
        if layer.name.startswith("peak"):
            viewer.layers.remove(layer)

    reg = RegulationWidget(viewer)
    reg.gene.value = train.mdata.uns["simulation"]["links"]["gene"].iloc[0]
    reg.run()
    wait(app, lambda: reg.run_button.enabled and reg.result is not None)
    reg.table.selectRow(0)
    reg.paint_row(0)
    shot("5_regulation", reg)
    viewer.close()
    print(f"wrote {sorted(p.name for p in OUT.glob('*.png'))}")


if __name__ == "__main__":
    main()
