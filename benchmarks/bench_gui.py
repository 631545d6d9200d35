"""GUI responsiveness: the domain map, legend and overlays at 50,000 spots (main-thread time of
each action and the longest stall of the Qt event loop around it), the longest stall while
FactVAE trains in a napari thread worker (a 10 ms QTimer records the gaps), and the stalls while
the widgets save the .h5mu, save a model and load it (workers since 2026-11).

    xvfb-run -a python benchmarks/bench_gui.py [--sections map train files image many]

`image`: a 30,000 x 30,000 RGB single-scale image in a SpatialData store (made once in
benchmarks/cache/): the first open (pyramid built and cached beside the store), a second open
(cache read), panning at full resolution and zoomed out, peak memory. `many`: the domain map and
legend at 200,000 spots.

Results: benchmarks/results/gui.json and a summary on stdout. Under Xvfb the canvas is drawn by
Mesa's llvmpipe on the CPU: `redraw_*` rows give the cost of one redraw alone, for comparison.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def pump(app, seconds):
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        app.processEvents()
        time.sleep(0.001)


class GapMeter:
    """A 10 ms QTimer that records the gaps between its ticks: the event loop's stalls."""

    def __init__(self):
        from qtpy.QtCore import QElapsedTimer, QTimer

        self.clock = QElapsedTimer()
        self.clock.start()
        self.last, self.gaps = self.clock.elapsed(), []
        self.timer = QTimer()
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _tick(self):
        now = self.clock.elapsed()
        self.gaps.append(now - self.last)
        self.last = now

    def stop(self) -> float:
        self.timer.stop()
        return float(max(self.gaps))


def stall(app, op, settle=0.5):
    """Run `op` from the event loop; (its own time, the longest gap between 10 ms timer ticks
    from just before it until `settle` s after it, redraws included), in ms."""
    from qtpy.QtCore import QTimer

    spent = []

    def run():
        t0 = time.perf_counter()
        op()
        spent.append(1000 * (time.perf_counter() - t0))

    meter = GapMeter()
    pump(app, 0.1)
    meter.gaps.clear()
    QTimer.singleShot(0, run)
    while not spent:
        app.processEvents()
    pump(app, settle)
    return {"op_ms": round(spent[0], 1), "gap_ms": meter.stop()}


def stall_until(app, op, done, timeout=300.0, settle=0.3):
    """As `stall`, for an action whose work runs in a worker: pump until `done()`."""
    meter = GapMeter()
    pump(app, 0.1)
    meter.gaps.clear()
    t0 = time.perf_counter()
    op()
    op_ms = 1000 * (time.perf_counter() - t0)
    while not done() and time.perf_counter() - t0 < timeout:
        app.processEvents()
        time.sleep(0.001)
    total = time.perf_counter() - t0
    pump(app, settle)
    return {"op_ms": round(op_ms, 1), "total_s": round(total, 2), "gap_ms": meter.stop()}


def main():
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--sections", nargs="+", default=["map", "train", "files"],
                        choices=["map", "train", "files", "image", "many"])
    parser.add_argument("--async-slicing", action="store_true",
                        help="napari's experimental asynchronous slicing (Preferences > "
                             "Experimental > Render Images Asynchronously)")
    args = parser.parse_args()
    sections = args.sections
    if args.async_slicing:
        from napari.settings import get_settings

        get_settings().experimental.async_ = True
    import napari
    from qtpy.QtWidgets import QApplication

    out = {}
    viewer = napari.Viewer(show=True)
    viewer.window.resize(1400, 900)
    app = QApplication.instance()

    # 1. the domain map, legend and overlays at 50,000 spots
    if "map" in sections:
        map_section(app, viewer, out)
    if "train" in sections or "files" in sections:
        train_section(app, viewer, out, measure_gaps="train" in sections)
    if "files" in sections:
        files_section(app, viewer, out)
    if "image" in sections:
        image_section(app, viewer, out)
    if "many" in sections:
        many_section(app, viewer, out)
    viewer.close()
    name = "gui.json" if set(sections) == {"map", "train", "files"} else f"gui_{'_'.join(sections)}.json"
    if args.async_slicing:
        name = name.replace(".json", "_async.json")
    path = ROOT / "benchmarks" / "results" / name
    path.write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))


def map_section(app, viewer, out):
    import factvae
    from napari_factvae._core._layers import spot_layers
    from napari_factvae._qt._legend_widget import LegendWidget
    from napari_factvae._qt._overlay_widget import OverlayWidget
    from napari_factvae._qt._show_dataset import show_dataset

    big = factvae.simulate(n_spots=50_000, n_genes=100, n_peaks=500, n_domains=8, image_size=1500)
    t0 = time.perf_counter()
    layers = spot_layers(big)  # what the Load/Train workers and the reader do off the GUI thread
    out["layers_50k_prepare_s"] = time.perf_counter() - t0
    ops = {}
    ops["open (add image, raster, spots; fit; legend)"] = stall(
        app, lambda: show_dataset(viewer, big, "big", layers), settle=2.0)
    legend = next(w for w in (d.inner_widget() for d in viewer.window._wrapped_dock_widgets.values())
                  if isinstance(w, LegendWidget))
    camera = viewer.scene.camera

    def pan():
        camera.center = tuple(np.asarray(camera.center) + 1.0)

    ops["redraw_regions (pan)"] = stall(app, pan)
    ops["rename a domain"] = stall(app, lambda: legend.rename("D1", "cortex"))
    ops["merge two domains"] = stall(app, lambda: legend.rename("D2", "cortex"))
    ops["recolour a domain"] = stall(app, lambda: legend.set_colour("cortex", "#ff0000"))
    ops["hide a domain"] = stall(app, lambda: legend.set_hidden("D3", True))
    ops["highlight a domain"] = stall(app, lambda: legend.highlight(["D4"]))
    ops["show all"] = stall(app, legend.reset)
    ops["region opacity"] = stall(app, lambda: setattr(legend.opacity, "value", 0.7))
    ops["mode: regions + spots"] = stall(app, lambda: setattr(legend.mode, "value", "regions + spots"))
    ops["redraw_regions_and_spots (pan)"] = stall(app, pan)
    ops["mode: tiling spots"] = stall(app, lambda: setattr(legend.mode, "value", "tiling spots"))
    ops["spot size"] = stall(app, lambda: setattr(legend.spot_size, "value", 0.8))
    ops["mode: regions"] = stall(app, lambda: setattr(legend.mode, "value", "regions"))
    overlay = OverlayWidget(viewer)
    gene = big.mod["rna"].var_names[0]
    overlay.kind.value, overlay.search.value = "gene (raw)", gene

    ops["overlay (paint 50k values, colour bar)"] = stall(app, overlay.paint)
    ops["redraw_overlay (pan)"] = stall(app, pan)
    lo, hi = overlay.limits.value
    ops["overlay contrast limits"] = stall(app, lambda: setattr(overlay.limits, "value",
                                                                (lo, (lo + hi) / 2)))
    ops["overlay again (update in place)"] = stall(app, overlay.paint)
    out["map_50k_ms"] = ops
    interactive = {k: v for k, v in ops.items() if not k.startswith(("open", "redraw"))}
    out["map_50k_summary"] = {
        "max_op_ms": max(v["op_ms"] for v in interactive.values()),
        "max_gap_ms": max(v["gap_ms"] for v in interactive.values()),
        "max_gap_ms_regions_mode": max(v["gap_ms"] for k, v in interactive.items()
                                       if "overlay" not in k and "spot" not in k),
        "recolour_ms": ops["recolour a domain"]}
    viewer.layers.clear()


def train_section(app, viewer, out, measure_gaps=True):
    """2. event-loop gaps while training (default simulated tissue, 1,500 spots)."""
    import factvae
    from qtpy.QtCore import QElapsedTimer, QTimer

    from napari_factvae._qt._show_dataset import show_dataset
    from napari_factvae._qt._train_widget import TrainWidget

    m = factvae.simulate(seed=0)
    show_dataset(viewer, m, "sim")
    w = TrainWidget(viewer)
    viewer.window.add_dock_widget(w)
    w.epochs.value = 15 if measure_gaps else 2
    w.device.value = "cpu"
    out["_train_widget"] = w
    gaps = []
    clock = QElapsedTimer()
    clock.start()
    last = [clock.elapsed()]

    stamps = []

    def tick():
        now = clock.elapsed()
        gaps.append(now - last[0])
        stamps.append((now, w.status.value[:40]))
        last[0] = now

    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(tick)
    timer.start()
    w.start()
    t0 = time.perf_counter()
    while not w.start_button.enabled and time.perf_counter() - t0 < 600:
        app.processEvents()
        time.sleep(0.001)
    timer.stop()
    if not measure_gaps:
        return
    g = np.asarray(gaps[5:], float)  # skip the first ticks (preprocessing start-up)
    worst = np.argsort(g)[-5:][::-1]
    out["worst_gaps"] = [{"ms": float(g[i]), "at_ms": int(stamps[i + 5][0]),
                          "status": stamps[i + 5][1]} for i in worst]
    out["training_event_loop_gap_ms"] = {"max": float(g.max()), "p99": float(np.percentile(g, 99)),
                                         "median": float(np.median(g)), "ticks": int(g.size),
                                         "train_seconds": float(w.model.train_seconds),
                                         "epochs": int(w.model.epochs_done)}


def files_section(app, viewer, out):
    """3. saving the dataset (.h5mu), saving and loading the model, from the widgets."""
    import tempfile

    from napari_factvae._qt._load_widget import LoadWidget

    w = out.pop("_train_widget")
    mdata = w.mdata
    folder = Path(tempfile.mkdtemp())
    ops = {}
    lw = LoadWidget(viewer)
    lw.save_file.value = folder / "result.h5mu"
    ops["save .h5mu (Load widget)"] = stall_until(app, lw.save, lambda: lw.save_button.enabled)
    w.model_file.value = folder / "model.pt"
    ops["save model (Train widget)"] = stall_until(app, w.save_model, lambda: w.save_button.enabled)
    ops["load model (Train widget)"] = stall_until(app, w.load_model, lambda: w.load_button.enabled)
    # the same work on the GUI thread, as the widgets did before 2026-11, for comparison
    from factvae.io._write import write_h5mu
    from factvae.model._model import FactVAE

    ops["before: save .h5mu on the GUI thread"] = stall(
        app, lambda: write_h5mu(mdata, folder / "again.h5mu", overwrite=True))
    ops["before: save model on the GUI thread"] = stall(
        app, lambda: w.model.save(folder / "again.pt", overwrite=True))
    ops["before: load model on the GUI thread"] = stall(
        app, lambda: FactVAE.load(folder / "model.pt", mdata, device="cpu").write_results())
    ops["_sizes_mb"] = {p.name: round(p.stat().st_size / 1e6, 1) for p in folder.iterdir()}
    ops["_data"] = f"{mdata.n_obs} spots, {mdata.mod['rna'].n_vars} genes, {mdata.mod['atac'].n_vars} peaks"
    out["files_ms"] = ops



def _peak_rss_gb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def big_image_store(side: int = 30_000) -> Path:
    """A SpatialData store with a side x side RGB single-scale image (a tissue-like texture,
    written chunk by chunk, never whole in memory) and 5,000 simulated spots across it."""
    path = ROOT / "benchmarks" / "cache" / f"image_{side}.zarr"
    if path.is_dir():
        return path
    import warnings

    import dask.array as da
    from spatialdata.models import Image2DModel

    import factvae
    from factvae.io._spatialdata_write import to_spatialdata

    m = factvae.simulate(n_spots=5000, n_genes=50, n_peaks=200, n_domains=6, image_size=200)
    xy = m.obsm["spatial"] - m.obsm["spatial"].min(axis=0)
    m.obsm["spatial"] = 500 + xy * ((side - 1000) / xy.max())
    m.uns.pop("spatial")
    sdata = to_spatialdata(m)

    def texture(block_info=None):
        (c0, c1), (y0, y1), (x0, x1) = block_info[None]["array-location"]
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        rng = np.random.default_rng(y0 * 7 + x0)
        base = 170 + 40 * np.sin(xx / 900) * np.cos(yy / 700) + rng.normal(0, 6, yy.shape)
        return np.stack([base + 30, base - 20, base + 10])[c0:c1].clip(0, 255).astype(np.uint8)

    image = da.map_blocks(texture, dtype=np.uint8, chunks=((3,), (1024,) * (side // 1024) +
                                                          ((side % 1024,) if side % 1024 else ()),
                                                          (1024,) * (side // 1024) +
                                                          ((side % 1024,) if side % 1024 else ())))
    sdata.images["he"] = Image2DModel.parse(image, dims=("c", "y", "x"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sdata.write(path)
    return path


def image_section(app, viewer, out):
    """3. a 30,000 x 30,000 RGB image: open (cold: pyramid built; warm: cached), pan."""
    import shutil

    from factvae.io._images import cache_dir
    t0 = time.perf_counter()
    path = big_image_store()
    res = {"store_made_s": round(time.perf_counter() - t0, 1)}
    shutil.rmtree(cache_dir(path, "he").parent, ignore_errors=True)

    def has_image():
        return any(layer._type_string == "image" for layer in viewer.layers)

    for label in ("cold (pyramid built)", "warm (pyramid cached)"):
        # File > Open: the reader runs on the GUI thread; a missing pyramid is built in a worker
        meter = GapMeter()
        pump(app, 0.1)
        meter.gaps.clear()
        t0 = time.perf_counter()
        viewer.open(str(path), plugin="napari-factvae")
        spots_s = time.perf_counter() - t0
        app.processEvents()
        n_open = len(meter.gaps)  # the gap of the open call itself (synchronous in napari)
        while not has_image() and time.perf_counter() - t0 < 600:
            app.processEvents()
            time.sleep(0.001)
        image_s = time.perf_counter() - t0
        pump(app, 1.0)
        res[f"open {label}"] = {"spots_shown_s": round(spots_s, 2),
                                "tissue_shown_s": round(image_s, 2),
                                "max_gap_ms_after_spots": float(max(meter.gaps[n_open:] or [0])),
                                "max_gap_ms": meter.stop(),
                                "peak_rss_gb_so_far": round(_peak_rss_gb(), 2)}
        if label.startswith("cold"):
            viewer.layers.clear()
            pump(app, 0.5)
    image = next(layer for layer in viewer.layers if layer._type_string == "image")
    res["levels"] = [list(map(int, lv.shape)) for lv in image.data]
    camera = viewer.scene.camera
    pans = {}
    for zoom_label, zoom in (("whole tissue", None), ("full resolution", 1.0),
                             ("level 2 (1/4)", 0.25)):
        if zoom is None:
            viewer.reset_view()
        else:
            camera.zoom = zoom
            camera.center = (15_000, 15_000)
        pump(app, 1.0)
        steps = []
        for i in range(6):  # pan by half a screen each time: new tiles come into view
            shift = 500 / camera.zoom

            def pan():
                camera.center = (camera.center[-2] + shift * 0.3, camera.center[-1] + shift)
            steps.append(stall(app, pan, settle=0.6))
        pans[zoom_label] = {"max_gap_ms": max(s["gap_ms"] for s in steps),
                            "gaps_ms": [s["gap_ms"] for s in steps],
                            "data_level": int(image.data_level)}
    res["pan"] = pans
    res["peak_rss_gb"] = round(_peak_rss_gb(), 2)
    out["image_30k"] = res
    viewer.layers.clear()


def many_section(app, viewer, out):
    """4. the domain map and legend at 200,000 spots (no image)."""
    import factvae
    from napari_factvae._core._layers import spot_layers
    from napari_factvae._qt._legend_widget import LegendWidget
    from napari_factvae._qt._show_dataset import show_dataset

    t0 = time.perf_counter()
    big = factvae.simulate(n_spots=200_000, n_genes=20, n_peaks=50, n_domains=8, image_size=2000)
    big.uns.pop("spatial")
    big.obs["factvae_domain"] = big.obs["domain"]
    big.uns["factvae_domain_colors"] = list(big.uns["domain_colors"])
    res = {"simulate_s": round(time.perf_counter() - t0, 1)}
    t0 = time.perf_counter()
    layers = spot_layers(big)
    res["layers_prepare_s"] = round(time.perf_counter() - t0, 2)
    ops = {"open": stall(app, lambda: show_dataset(viewer, big, "many", layers), settle=2.0)}
    legend = next(w for w in (d.inner_widget() for d in viewer.window._wrapped_dock_widgets.values())
                  if isinstance(w, LegendWidget))
    ops["recolour a domain"] = stall(app, lambda: legend.set_colour("D1", "#ff0000"))
    ops["rename a domain"] = stall(app, lambda: legend.rename("D2", "cortex"))
    ops["merge two domains"] = stall(app, lambda: legend.rename("D3", "cortex"))
    ops["hide a domain"] = stall(app, lambda: legend.set_hidden("D4", True))
    ops["show all"] = stall(app, legend.reset)
    ops["mode: regions + spots"] = stall(app, lambda: setattr(legend.mode, "value",
                                                              "regions + spots"))
    ops["recolour with spots shown"] = stall(app, lambda: legend.set_colour("D5", "#00ff00"))
    res["ops"] = ops
    res["mode_at_open"] = "regions"
    out["many_200k"] = res
    viewer.layers.clear()


if __name__ == "__main__":
    main()
