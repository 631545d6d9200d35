"""Static pictures for the command line (matplotlib, Agg backend: works on a headless node)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .io import write_atomically
from .spatial import as_display_uint8, tissue_view


def _colour_key(mdata) -> str | None:
    for key in ("factvae_domain", "domain"):
        if key in mdata.obs.columns:
            return key
    return None


def plot_domains(mdata, path: str | Path, *, key: str | None = None, title: str | None = None) -> Path:
    """Spots coloured by a categorical obs column (default: factvae_domain, else domain), drawn on
    the tissue image when there is one; colours from `uns[f'{key}_colors']` when present."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    key = key or _colour_key(mdata)
    view = tissue_view(mdata)
    fig, ax = plt.subplots(figsize=(7, 6), dpi=110)
    if view is None:  # non-spatial: nothing to place spots on
        ax.text(0.5, 0.5, "no spatial coordinates", ha="center", va="center")
        ax.set_axis_off()
    else:
        if view.image is not None:  # a stored 16-bit or float image would show white or black
            ax.imshow(as_display_uint8(view.image))
        xy = view.spots_xy
        size = max(2.0, (view.spot_diameter * 72 / fig.dpi) ** 2 * 0.6)
        if key is not None:
            cat = mdata.obs[key].astype("category")
            colours = list(mdata.uns.get(f"{key}_colors", []))
            if len(colours) < len(cat.cat.categories):
                cmap = plt.get_cmap("tab20")
                colours = [matplotlib.colors.to_hex(cmap(i % 20)) for i in
                           range(len(cat.cat.categories))]
            codes = cat.cat.codes.to_numpy()
            ax.scatter(xy[:, 0], xy[:, 1], c=np.asarray(colours)[codes], s=size, linewidths=0)
            handles = [Line2D([], [], marker="o", ls="", color=c, label=str(n))
                       for n, c in zip(cat.cat.categories, colours)]
            ax.legend(handles=handles, title=key, loc="center left", bbox_to_anchor=(1, 0.5),
                      frameon=False)
        else:
            total = np.asarray(mdata.mod["rna"].X.sum(axis=1)).ravel()
            sc = ax.scatter(xy[:, 0], xy[:, 1], c=np.log1p(total), s=size, cmap="viridis",
                            linewidths=0)
            fig.colorbar(sc, ax=ax, label="log1p RNA counts")
        if view.image is None:
            ax.invert_yaxis()
            ax.set_aspect("equal")
        ax.set_axis_off()
    ax.set_title(title or (f"{key} on the tissue" if key else "spots on the tissue"))
    fig.tight_layout()
    path = Path(path)
    try:  # the format from the real name: the file is written as NAME.partial, then renamed
        fmt = path.suffix[1:].lower() or matplotlib.rcParams["savefig.format"]
        write_atomically(path, lambda tmp: fig.savefig(tmp, format=fmt), field="picture")
    finally:
        plt.close(fig)
    return path
