"""Plots, scanpy-style: each draws into `ax` (a new figure when None) and returns the Axes.

`factvae.pl.domains(mdata)`, `.feature(mdata, "peak (augmented)", "chr1:100-600")`,
`.loss(mdata)`; `palette(n)` the domain colours napari uses too.

Private module: `_plots` (the colours live in `factvae.keys`)."""

from .._lazy import lazy_names, table

_WHERE = table(_plots="domains feature loss plot_domains section_grid")
_WHERE.update(PALETTE="..keys", palette="..keys")  # one home: factvae.keys
__all__ = ["domains", "feature", "loss", "palette"]
__getattr__, __dir__ = lazy_names(__name__, _WHERE)
