"""napari's sample-data menu: the built-in simulated tissue (factvae.datasets.simulate)."""

from __future__ import annotations

from ._layers import spot_layers


def simulated_tissue():
    from factvae.datasets import simulate

    return spot_layers(simulate(seed=0), name="simulated")
