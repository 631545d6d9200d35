"""Screenshots for the README (docs/images/*.png): each dock widget on the built-in simulated
tissue, then the domain map of two files opened with the plugin's reader: a 9,215-spot
DBiT-like grid without image or spot diameter, and a 2,187-spot tissue with an H&E-like image
and spots half the pitch wide.

    xvfb-run -a python docs/make_screenshots.py
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / "images"


def dbit_grid(path, n_domains=8, seed=0):
    """A 100 x 100 grid at a 20 um pitch cut to 9,215 spots, micrometre coordinates, no image,
    no spot diameter; Voronoi domains (`factvae.datasets.dbit_grid`, as the tests use)."""
    from factvae.datasets._dbit import dbit_grid as grid

    grid(n_domains, seed).write_h5ad(path)


def tissue_with_image(path):
    """The simulator at 2,187 spots, its image kept, spots half the pitch wide (as DBiT)."""
    import factvae
    from factvae.datasets._simulate import PITCH_FULLRES

    m = factvae.simulate(n_spots=2187, n_domains=6, seed=3)
    lib = next(iter(m.uns["spatial"].values()))
    lib["scalefactors"]["spot_diameter_fullres"] = 0.5 * PITCH_FULLRES
    m.write(path)


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
    from napari_factvae._qt._domains_widget import DomainsWidget
    from napari_factvae._qt._load_widget import LoadWidget
    from napari_factvae._qt._overlay_widget import OverlayWidget
    from napari_factvae._qt._regulation_widget import RegulationWidget
    from napari_factvae._qt._train_widget import TrainWidget

    OUT.mkdir(exist_ok=True)
    sim = Path("/tmp/factvae_screenshot_sim.h5mu")
    factvae.simulate(seed=0).write(sim)
    viewer = napari.Viewer(show=True)
    viewer.window.resize(1500, 950)
    app = QApplication.instance()

    def settle(seconds=0.5):
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            app.processEvents()
            time.sleep(0.02)

    def save(name):
        Image.fromarray(viewer.screenshot(canvas_only=False, flash=False)).save(OUT / f"{name}.png")

    def legend_widget():  # the Legend dock opens by itself with the first domain map
        return next(d.inner_widget() for k, d in viewer.window._wrapped_dock_widgets.items()
                    if k.startswith("Legend"))

    def shot(name, widget):
        dock = viewer.window.add_dock_widget(widget, name=name, area="right")
        settle()
        save(name)
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

    legend = legend_widget()
    legend.mode.value = "tiling spots"  # the overlays take the spots' size: tiles read best
    for layer in viewer.layers:  # side by side: raw | augmented, each with its colour bar
        layer.visible = False
    overlays = OverlayWidget(viewer)
    peak = train.mdata.uns["simulation"]["links"]["peak"].iloc[0]
    overlays.kind.value, overlays.search.value, overlays.side_by_side.value = "peak (augmented)", peak, True
    overlays.paint()
    shot("4_overlays", overlays)
    viewer.canvas.grid.enabled = False
    for layer in list(viewer.layers):
        if layer.name.startswith("peak"):
            viewer.layers.remove(layer)
        else:
            layer.visible = True
    legend.mode.value = "regions + spots"
    viewer.reset_view()

    reg = RegulationWidget(viewer)
    reg.gene.value = train.mdata.uns["simulation"]["links"]["gene"].iloc[0]
    reg.run()
    wait(app, lambda: reg.run_button.enabled and reg.result is not None)
    reg.table.selectRow(0)
    reg.paint_row(0)
    shot("5_regulation", reg)

    # region markers: a polygon around one simulated domain, its top gene painted
    from shapely.geometry import MultiPoint

    from napari_factvae._qt._region_widget import RegionMarkersWidget

    for layer in list(viewer.layers):
        if layer.name.startswith("peak"):
            viewer.layers.remove(layer)
    spots = next(layer for layer in viewer.layers if "factvae_mudata" in layer.metadata)
    from shapely import contains_xy

    def hull_of(d):  # the simulated domain whose outline holds fewest spots of others
        inside = (train.mdata.obs["domain"] == d).to_numpy()
        hull = MultiPoint(spots.data[inside]).convex_hull.buffer(3)
        return int((contains_xy(hull, *spots.data.T) & ~inside).sum()), hull

    hull = min((hull_of(d) for d in train.mdata.obs["domain"].cat.categories),
               key=lambda t: t[0])[1]
    regions = RegionMarkersWidget(viewer)
    drawn = regions.draw()
    drawn.add_polygons([np.asarray(hull.exterior.coords)])
    drawn.mode = "pan_zoom"
    regions.run()
    wait(app, lambda: regions.run_button.enabled and regions.result is not None)
    regions.kind.value = "gene (normalised)"
    regions.table.selectRow(0)
    regions.paint_row(0)
    viewer.layers.move(viewer.layers.index(drawn), len(viewer.layers))  # the outline on top
    shot("9_region_markers", regions)
    for layer in list(viewer.layers):
        if layer.name.startswith("gene") or layer is drawn:
            viewer.layers.remove(layer)

    # the domain map of files opened with the reader, as a new user would
    for name, make in (("6_grid_no_image", dbit_grid), ("7_tissue_image", tissue_with_image)):
        path = Path(f"/tmp/factvae_screenshot_{name}" + (".h5ad" if make is dbit_grid else ".h5mu"))
        make(path)
        viewer.layers.clear()
        viewer.open(str(path), plugin="napari-factvae")
        settle(1.5)
        viewer.reset_view()
        settle()
        save(name)
    # the legend: one domain highlighted, another hidden
    legend = legend_widget()
    legend.highlight([legend.names[1]])
    legend.set_hidden(legend.names[3], True)
    settle()
    save("8_legend_highlight")
    viewer.close()
    print(f"wrote {sorted(p.name for p in OUT.glob('*.png'))}")


if __name__ == "__main__":
    main()
