"""What the domain map of a dataset is, apart from its layers: the layer-metadata keys that tie
layers to their MuData, the display modes, the per-spots-layer `MapState` (geometry, mode,
hidden and highlighted domains, colours last drawn) and the signal that says a dataset's domains
(names, colours, visibility) changed."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from factvae.keys import (
    DOMAIN_KEY,
    LAYER_DOMAINS_OF_KEY,
    LAYER_MAP_KEY,
    LAYER_MUDATA_KEY,
    LAYER_VALUES_OF_KEY,
)
from psygnal import Signal

from ._geometry import MapGeometry, map_geometry

MUDATA_KEY = LAYER_MUDATA_KEY      # layer.metadata key under which the widgets find the data
MAP_KEY = LAYER_MAP_KEY            # spots layer metadata: its MapState
RASTER_KEY = LAYER_DOMAINS_OF_KEY  # raster layer metadata: the MuData it shows
VALUES_KEY = LAYER_VALUES_OF_KEY   # value (overlay) layer metadata: the MuData it shows
DOMAIN_KEYS = (DOMAIN_KEY, "domain")
MODES = ("regions + spots", "regions", "tiling spots")
# Above this, "regions" by default: a spot is then a few screen pixels, and in software OpenGL
# one redraw of 50,000 markers takes ~10x as long as the raster's (175 vs 18 ms).
MANY_SPOTS = 20_000
DIM = 0.15  # alpha of the domains that are not highlighted


@dataclass
class MapState:
    geometry: MapGeometry
    mode: str
    opacity: float                                  # of the raster
    hidden: set = field(default_factory=set)        # domain names not drawn
    highlight: set = field(default_factory=set)     # when set, the others are dimmed
    codes: np.ndarray | None = None                 # per-spot codes last drawn
    cats: list | None = None                        # and their names
    colours: np.ndarray | None = None               # per-spot RGBA last computed
    stale: bool = False                             # spots hidden since: recolour when shown
    shown: bool = False


class _Events:
    changed = Signal(object)  # the MuData whose domains (names, colours, visibility) changed


events = _Events()


def domain_key(obj) -> str | None:
    return next((k for k in DOMAIN_KEYS if k in obj.obs.columns), None)


def new_state(xy: np.ndarray, spot_diameter: float | None, has_image: bool) -> MapState:
    """The map of spots at `xy`: the assay's diameter when known (else the pitch, so that
    spots touch); translucent regions over an image, opaque ones on an empty canvas."""
    geometry = map_geometry(xy, spot_diameter)
    mode = MODES[1] if len(xy) > MANY_SPOTS else MODES[0]
    return MapState(geometry, mode, 0.5 if has_image else 1.0)
