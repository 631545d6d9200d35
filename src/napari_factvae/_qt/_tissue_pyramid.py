"""A large single-scale tissue image opened with File > Open: its pyramid built once in a
worker and the tissue layer added under the spots when it is ready (the reader returns at once)."""

from __future__ import annotations

from .._core._layers import image_layer


def build_tissue_later(pending, name: str, placement: dict | None = None):
    """A large single-scale image opened with File > Open: its pyramid is built once in a
    worker (the window stays usable; the spots and domains show at once) and the tissue is
    added under them when it is ready. Several sections: `pending` is a list of (pending,
    name, placement) (`_core._layers.spot_layers`), each built so and put at its place."""
    if isinstance(pending, list):
        for args in pending:
            build_tissue_later(*args)
        return
    try:
        import napari
        from napari.utils.notifications import show_info
        from qtpy.QtCore import QTimer
    except ImportError:  # pragma: no cover - the reader is a napari contribution
        return
    viewer = napari.current_viewer()
    if viewer is None:
        return
    from factvae.io._images import store_levels

    from . import _workers
    from ._show_dataset import suggest_async_rendering

    def add(levels):
        data, kwargs, _ = image_layer(levels, name)
        layer = viewer.add_image(data, **kwargs, **(placement or {}))
        viewer.layers.move(viewer.layers.index(layer), 0)  # under the domains and spots
        show_info(f"{name}: image pyramid ready (cached for next time).")
        suggest_async_rendering()

    def start():
        show_info(f"{name}: building the image pyramid once, in the background; the tissue "
                  "appears when it is ready.")
        # dropped if the viewer was closed meanwhile (owner)
        worker = _workers.start(store_levels, pending.store, pending.image, owner=viewer,
                                on_return=add)
        build_tissue_later.workers.append(worker)  # kept alive until it finishes
        worker.finished.connect(lambda: build_tissue_later.workers.remove(worker))
        worker.start()

    QTimer.singleShot(0, start)  # after napari has added the spots


build_tissue_later.workers = []
