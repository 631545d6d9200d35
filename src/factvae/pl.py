"""Plots, scanpy-style: each draws into `ax` (a new figure when None) and returns the Axes.

`factvae.pl.domains(mdata)`, `.feature(mdata, "peak (augmented)", "chr1:100-600")`,
`.loss(mdata)`."""

from .plotting import domains, feature, loss  # noqa: F401

__all__ = ["domains", "feature", "loss"]
