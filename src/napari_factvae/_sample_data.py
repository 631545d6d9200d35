"""napari's sample-data menu: the built-in simulated tissue (factvae.datasets.simulate)."""

from __future__ import annotations

from ._core._layers import spot_layers
from ._reader import watch_current_viewer


def simulated_tissue():
    from factvae.datasets._simulate import simulate

    watch_current_viewer()
    return spot_layers(simulate(seed=0), name="simulated")
