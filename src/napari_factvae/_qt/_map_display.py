"""When the domain map is shown: the first time a dataset's map is drawn (fit the view, open the
Legend dock, recolour hidden spots once they are shown again) and, for spots layers that the
reader or sample data add, on the event-loop turn after they arrive. The drawing itself is
`napari_factvae._core._map_paint`."""

from __future__ import annotations

from qtpy.QtCore import QTimer

from .._core import _map_paint
from .._core._map_state import MAP_KEY, MUDATA_KEY, domain_key


def show(viewer, spots) -> None:
    """Draw the domain map of a spots layer (on open, after domains are found): the raster
    under the spots, the display mode and colours; the first time, fit the view to the tissue
    and open the legend."""
    _map_paint.draw(viewer, spots)
    state = spots.metadata[MAP_KEY]
    if not state.shown:
        state.shown = True
        spots.events.visible.connect(lambda e: state.stale and _map_paint.recolour_spots(spots))
        _warm_up()
        if domain_key(spots.metadata[MUDATA_KEY]) is not None:
            _open_legend(viewer)
        viewer.reset_view()
        _later(lambda: _quietly(viewer.reset_view))  # again once a new dock narrowed the canvas


def _open_legend(viewer) -> None:
    window = getattr(viewer, "window", None)
    if window is None:
        return
    try:  # returns the open one if there is one
        window.add_plugin_dock_widget("napari-factvae", "Legend")
    except Exception:  # noqa: BLE001 - a missing dock never stops the map from showing
        pass


def _warm_up() -> None:
    """Import the engine's domain code (it pulls in torch, ~2 s) in the background, so that a
    first rename in the legend does not freeze the viewer."""
    import sys
    import threading

    if "factvae.tl._domains" not in sys.modules:
        threading.Thread(target=__import__, args=("factvae.tl._domains",), daemon=True).start()


def _quietly(func) -> None:
    try:
        func()
    except RuntimeError:  # the viewer was closed in the meantime
        pass


def _later(func) -> None:
    QTimer.singleShot(0, func)


def watch(viewer) -> None:
    """Show the domain map of spots layers that the reader or sample data add to `viewer`.
    Deferred to the next event-loop turn: adding a layer inside the layer list's own
    `inserted` event would confuse the other listeners."""
    if viewer is None or getattr(viewer.layers, "_factvae_watched", False):
        return
    viewer.layers._factvae_watched = True
    import weakref

    ref = weakref.ref(viewer)

    def later(spots):
        viewer = ref()
        state = spots.metadata.get(MAP_KEY)
        if viewer is not None and spots in viewer.layers and not state.shown:
            show(viewer, spots)

    def inserted(event):
        layer = event.value
        if MAP_KEY in getattr(layer, "metadata", {}):
            _later(lambda: later(layer))

    viewer.layers.events.inserted.connect(inserted)
