"""The domain map drawn on a viewer's layers: spots coloured by domain over a filled label
raster, in one of three display modes, with domains hidden or highlighted. Every change of names,
colours or visibility goes through here, which repaints spots, raster and value layers and tells
the legend and the Domains widget (`events.changed`). Layer operations only: when the map is
first shown (docks, timers) is `napari_factvae._qt._map_display`'s part."""

from __future__ import annotations

import numpy as np

from ._colours import category_colours
from ._map_state import DIM, MAP_KEY, MUDATA_KEY, RASTER_KEY, MapState, domain_key, events, new_state
from ._viewer_datasets import raster_of, spots_of, value_layers


def draw(viewer, spots) -> None:
    """Draw the domain map of a spots layer (on open, after domains are found): the raster
    under the spots, the display mode and colours."""
    mdata = spots.metadata[MUDATA_KEY]
    state = spots.metadata.get(MAP_KEY)
    if state is None:  # a spots layer made elsewhere
        state = spots.metadata[MAP_KEY] = new_state(spots.data[:, ::-1], float(np.mean(spots.size)),
                                                    False)
    key = domain_key(mdata)
    state.hidden.clear()  # new domains, or a new dataset: names of old ones mean nothing here
    state.highlight.clear()
    raster, g = raster_of(viewer, mdata), state.geometry
    if raster is not None and key is None:  # a replaced dataset's raster, nothing to show now
        viewer.layers.remove(raster)
    elif raster is not None and raster.metadata.get("geometry") is not g:  # reused: new frame
        raster.data = np.zeros_like(g.nearest, np.uint8)
        raster.scale, raster.translate = (g.pixel, g.pixel), g.origin
    elif key is not None and raster is None:
        name = f"{spots.name.removesuffix('spots').rstrip()} domains".strip()
        raster = viewer.add_labels(np.zeros_like(g.nearest, np.uint8), name=name,
                                   scale=(g.pixel, g.pixel), translate=g.origin,
                                   opacity=state.opacity, metadata={RASTER_KEY: mdata})
        raster.editable = False  # a view of obs, not something to paint on
        viewer.layers.move(viewer.layers.index(raster), viewer.layers.index(spots))
        viewer.layers.selection.active = spots  # the widgets work on the selected dataset
    if raster is not None and key is not None:
        raster.metadata["geometry"] = g
        state.codes = None  # labels drawn afresh by paint
    set_mode(viewer, spots, state.mode)
    paint(viewer, mdata)
    recolour_spots(spots, force=True)  # from the reader's colour cycle to direct colours, once


def paint(viewer, mdata) -> None:
    """Colour spots and raster by domain (hidden ones transparent, others dimmed while some are
    highlighted); keep the domain column of the spot and value layers' features current."""
    from napari.utils.colormaps import DirectLabelColormap

    spots, key = spots_of(viewer, mdata), domain_key(mdata)
    if spots is None or key is None:
        return
    state = spots.metadata[MAP_KEY]
    codes, rgba, cats = category_colours(mdata, key)
    alpha = [0.0 if c in state.hidden else DIM if state.highlight and c not in state.highlight
             else 1.0 for c in cats]
    rgba = np.vstack([rgba, np.zeros(4)])  # code -1 (no domain) picks the transparent row
    rgba[:-1, 3] *= alpha
    raster = raster_of(viewer, mdata)
    if state.cats != cats or state.codes is None or not np.array_equal(state.codes, codes):
        names = mdata.obs[key].astype(str).to_numpy()  # renamed or merged: names and labels
        for layer in [spots, *value_layers(viewer, mdata)]:
            # in place: only the status bar reads this column, and setting `features` would
            # recompute every marker (~0.1 s at 50,000 spots)
            layer.features[key if layer is spots else "domain"] = names
        if raster is not None:
            raster.data = state.geometry.labels(codes)
        state.codes, state.cats = codes, cats
    state.colours = rgba[codes]
    recolour_spots(spots)
    if raster is not None:
        colours = {0: np.zeros(4), None: np.zeros(4)}
        colours.update({i + 1: c for i, c in enumerate(rgba[:-1])})
        raster.colormap = DirectLabelColormap(color_dict=colours)
    events.changed.emit(mdata)


def recolour_spots(spots, force: bool = False) -> None:
    """Set the spots' colours, unless the layer is hidden: for 50,000 spots that costs ~0.1 s
    (napari redoes every marker), so it waits until the layer is shown again."""
    state = spots.metadata[MAP_KEY]
    state.stale = not (spots.visible or force)
    if not state.stale and state.colours is not None:
        spots.face_color = state.colours


def set_mode(viewer, spots, mode: str) -> None:
    state = spots.metadata[MAP_KEY]
    state.mode = mode
    raster = raster_of(viewer, spots.metadata[MUDATA_KEY])
    if raster is not None:
        raster.visible = mode != "tiling spots"
    spots.visible = mode != "regions" or raster is None
    tiling = mode == "tiling spots"
    g = state.geometry
    set_spot_size(viewer, spots, g.pitch if tiling else g.spot_size,
                  "square" if tiling and g.square else "disc")


def set_spot_size(viewer, spots, size: float, symbol: str | None = None) -> None:
    """Spots and their value layers share one size (and symbol)."""
    for layer in [spots, *value_layers(viewer, spots.metadata[MUDATA_KEY])]:
        current = layer.symbol[0].value if len(layer.symbol) else None
        if symbol is not None and current != symbol:
            layer.symbol = symbol
        if not np.allclose(layer.size, size):
            layer.size = size


def set_opacity(viewer, mdata, value: float) -> None:
    spots = spots_of(viewer, mdata)
    if spots is not None:
        spots.metadata[MAP_KEY].opacity = value
    raster = raster_of(viewer, mdata)
    if raster is not None:
        raster.opacity = value


def rename(viewer, mdata, mapping: dict) -> None:
    """Rename domains (one name for two merges them) through the engine, which keeps the
    colours in uns in step; hidden/highlighted follow their new names."""
    from factvae.tl._domains import rename_domains

    key = domain_key(mdata)
    rename_domains(mdata, mapping, groupby=key)
    state = _state(viewer, mdata)
    if state is not None:
        state.hidden = {str(mapping.get(c, c)) for c in state.hidden}
        state.highlight = {str(mapping.get(c, c)) for c in state.highlight}
    paint(viewer, mdata)


def set_colour(viewer, mdata, name: str, colour) -> None:
    from matplotlib.colors import to_hex

    key = domain_key(mdata)
    _, rgba, cats = category_colours(mdata, key)
    colours = [to_hex(c) for c in rgba]
    colours[cats.index(str(name))] = to_hex(colour)
    mdata.uns[f"{key}_colors"] = colours
    paint(viewer, mdata)


def set_hidden(viewer, mdata, name: str, hidden: bool) -> None:
    state = _state(viewer, mdata)
    (state.hidden.add if hidden else state.hidden.discard)(str(name))
    paint(viewer, mdata)


def set_highlight(viewer, mdata, names) -> None:
    _state(viewer, mdata).highlight = {str(n) for n in names}
    paint(viewer, mdata)


def _state(viewer, mdata) -> MapState | None:
    spots = spots_of(viewer, mdata)
    return None if spots is None else spots.metadata[MAP_KEY]
