"""Static pictures (matplotlib; the Agg backend unless one is chosen, so it works on a headless
node): functions that draw into an Axes and return it (`factvae.pl`), and the CLI's picture file."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..io._images import small_view
from ..io._spatial import as_display_uint8
from ..io._write import write_atomically
from ..keys import DOMAIN_COLUMNS, domain_colours


def _colour_key(mdata) -> str | None:
    for key in DOMAIN_COLUMNS:
        if key in mdata.obs.columns:
            return key
    return None


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)  # headless unless a backend was chosen already
    import matplotlib.pyplot as plt

    return plt


def _spots_axes(ax, fig_size=(7, 6)):
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=fig_size, dpi=110)
    return ax


def _marker_size(ax, view) -> float:
    return max(2.0, (view.drawn_diameter * 72 / ax.figure.dpi) ** 2 * 0.6)


def _finish_tissue(ax, view):
    if view.image is None:
        ax.invert_yaxis()
        ax.set_aspect("equal")
    ax.set_axis_off()


def domains(mdata, *, key: str | None = None, ax=None, title: str | None = None, legend: bool = True):
    """Plot the spots on the tissue, coloured by their domain (a categorical obs column).

    Spots coloured by a categorical obs column (default: factvae_domain, else domain), drawn on
    the tissue image when there is one; colours from `uns[f'{key}_colors']` when present, else
    `factvae.keys.palette` (as napari draws them). Returns the matplotlib Axes (scanpy's
    `sc.pl.*(show=False)` habit).

    The image is shown at most 2,000 px on a side. Without such a column the spots are
    coloured by log1p of their RNA counts; without spot coordinates the Axes says so.

    Parameters
    ----------
    mdata : MuData
        The data.
    key : str, optional
        The obs column; default: 'factvae_domain', else 'domain', when present.
    ax : matplotlib.axes.Axes, optional
        Where to draw; default: a new figure.
    title : str, optional
        Default: '<key> on the tissue'.
    legend : bool, default True
        Draw a legend of the categories.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn into.
    """
    _pyplot()  # a backend that needs no display, before the first figure
    from matplotlib.lines import Line2D

    key = key or _colour_key(mdata)
    view = small_view(mdata)
    ax = _spots_axes(ax)
    if view is None:  # non-spatial: nothing to place spots on
        ax.text(0.5, 0.5, "no spatial coordinates", ha="center", va="center")
        ax.set_axis_off()
    else:
        if view.image is not None:  # a stored 16-bit or float image would show white or black
            ax.imshow(as_display_uint8(view.image))
        xy = view.spots_xy
        size = _marker_size(ax, view)
        if key is not None:
            cat = mdata.obs[key].astype("category")
            colours = domain_colours(mdata.uns, key, len(cat.cat.categories))
            codes = cat.cat.codes.to_numpy()
            ax.scatter(xy[:, 0], xy[:, 1], c=np.asarray(colours)[codes], s=size, linewidths=0)
            if legend:
                handles = [Line2D([], [], marker="o", ls="", color=c, label=str(n))
                           for n, c in zip(cat.cat.categories, colours)]
                ax.legend(handles=handles, title=key, loc="center left", bbox_to_anchor=(1, 0.5),
                          frameon=False)
        else:
            total = np.asarray(mdata.mod["rna"].X.sum(axis=1)).ravel()
            sc = ax.scatter(xy[:, 0], xy[:, 1], c=np.log1p(total), s=size, cmap="viridis",
                            linewidths=0)
            ax.figure.colorbar(sc, ax=ax, label="log1p RNA counts")
        _finish_tissue(ax, view)
    ax.set_title(title or (f"{key} on the tissue" if key else "spots on the tissue"))
    return ax


def feature(mdata, kind: str, name: str, *, ax=None, cmap: str = "magma", title: str | None = None):
    """Plot one feature's per-spot values on the tissue.

    One feature on the tissue, as the overlays show it: `kind` is one of
    `factvae.get.KINDS` ("gene (normalised)", "peak (augmented)", "motif (augmented)", ...).
    Returns the matplotlib Axes.

    The values are those of `factvae.get.spot_values`; without spot coordinates their
    histogram is drawn instead.

    Parameters
    ----------
    mdata : MuData
        The data.
    kind : str
        One of `factvae.get.KINDS`.
    name : str
        The gene, peak or motif.
    ax : matplotlib.axes.Axes, optional
        Where to draw; default: a new figure.
    cmap : str, default 'magma'
        The colormap.
    title : str, optional
        Default: '<name> (<kind>)'.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn into.

    Raises
    ------
    FactVAEInputError
        If `spot_values` cannot give the values (unknown kind or name, results missing).
    """
    from ..get._values import spot_values

    values = spot_values(mdata, kind, name)
    view = small_view(mdata)
    ax = _spots_axes(ax)
    if view is None:
        ax.hist(values, bins=50)
        ax.set_xlabel(f"{name}: {kind}")
    else:
        if view.image is not None:
            ax.imshow(as_display_uint8(view.image))
        xy = view.spots_xy
        sc = ax.scatter(xy[:, 0], xy[:, 1], c=values, s=_marker_size(ax, view), cmap=cmap,
                        linewidths=0)
        ax.figure.colorbar(sc, ax=ax, label=kind)
        _finish_tissue(ax, view)
    ax.set_title(title or f"{name} ({kind})")
    return ax


def loss(mdata, *, ax=None, relative: bool = True):
    """Plot the per-epoch loss terms of the training.

    The per-epoch loss terms of the training recorded in `uns['factvae']['history']` (every
    term the module returned), relative to the first epoch on a log scale by default. Returns
    the matplotlib Axes.

    Parameters
    ----------
    mdata : MuData
        A trained result.
    ax : matplotlib.axes.Axes, optional
        Where to draw; default: a new figure.
    relative : bool, default True
        Divide each term by the magnitude of its first finite non-zero value and use a log
        scale; False: the values as recorded.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn into.

    Raises
    ------
    FactVAEInputError
        If there is no training history.
    """
    import pandas as pd

    from ..keys import UNS_KEY

    rec = mdata.uns.get(UNS_KEY, {}) if hasattr(mdata, "uns") else {}
    hist = rec.get("history") if isinstance(rec, dict) else None
    if hist is None:
        from ..errors import FactVAEInputError

        raise FactVAEInputError("no training history.", field=f"uns['{UNS_KEY}']['history']",
                                fix="train FactVAE first (factvae.train / factvae run).")
    hist = pd.DataFrame(hist)
    ax = _spots_axes(ax, fig_size=(5, 3.2))
    x = hist["epoch"] if "epoch" in hist else np.arange(1, len(hist) + 1)
    for term in [c for c in hist.columns if c not in ("epoch", "seconds", "step")]:
        y = hist[term].to_numpy(float)
        finite = y[np.isfinite(y) & (y != 0)]
        if relative and finite.size:
            y = y / abs(finite[0])
        ax.plot(x, y, label=term, lw=1)
    if relative:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss / first epoch" if relative else "loss")
    ax.legend(fontsize=7, ncol=2)
    return ax


def section_grid(mdata, *, key: str | None = None, ncols: int | None = None,
                 title: str | None = None):
    """`domains` of every tissue section side by side, each on its own image, one legend.

    Parameters
    ----------
    mdata : MuData
        With several sections (`factvae.tl.section_key`); each section's image is
        `uns['spatial'][section]` when present.
    key : str, optional
        As for `domains`.
    ncols : int, optional
        Sections per row; default: up to 3.
    title : str, optional
        The figure's title; default: '<key> in N sections'.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (one Axes per section).
    """
    from types import SimpleNamespace

    from matplotlib.lines import Line2D

    from ..io._layout import section_view
    from ..keys import colors_key
    from ..tl._sections import section_key

    plt = _pyplot()
    batch = section_key(mdata)
    names = [str(c) for c in mdata.obs[batch].astype("category").cat.categories]
    key = key or _colour_key(mdata)
    ncols = ncols or min(3, len(names))
    nrows = int(np.ceil(len(names) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols + 1.5, 4.0 * nrows), dpi=110,
                             squeeze=False)
    sections = mdata.obs[batch].astype(str).to_numpy()
    for ax, name in zip(axes.ravel(), names):
        # the section alone, as `domains` reads it, without copying the MuData
        mask = sections == name
        part = section_view(mdata, name, mask)
        part.obs = mdata.obs[mask]
        part.mod = {"rna": SimpleNamespace(X=mdata.mod["rna"].X[mask])}
        if key is not None and colors_key(key) in mdata.uns:
            part.uns[colors_key(key)] = mdata.uns[colors_key(key)]
        domains(part, key=key, ax=ax, title=name, legend=False)
    for ax in axes.ravel()[len(names):]:
        ax.set_axis_off()
    if key is not None:
        cat = mdata.obs[key].astype("category")
        colours = domain_colours(mdata.uns, key, len(cat.cat.categories))
        handles = [Line2D([], [], marker="o", ls="", color=c, label=str(n))
                   for n, c in zip(cat.cat.categories, colours)]
        fig.legend(handles=handles, title=key, loc="center right", frameon=False)
        fig.subplots_adjust(right=0.85)
    fig.suptitle(title or f"{key or 'spots'} in {len(names)} sections")
    return fig


def plot_domains(mdata, path: str | Path, *, key: str | None = None, title: str | None = None) -> Path:
    """`domains` written to a picture file (the format from its suffix), atomically; several
    sections as `section_grid`."""
    import matplotlib

    from ..tl._sections import section_key

    plt = _pyplot()
    if section_key(mdata) is not None:
        fig = section_grid(mdata, key=key, title=title)
    else:
        fig = domains(mdata, key=key, title=title).figure
    if section_key(mdata) is None:
        fig.tight_layout()
    path = Path(path)
    try:  # the format from the real name: the file is written as NAME.partial, then renamed
        fmt = path.suffix[1:].lower() or matplotlib.rcParams["savefig.format"]
        write_atomically(path, lambda tmp: fig.savefig(tmp, format=fmt), field="picture")
    finally:
        plt.close(fig)
    return path
