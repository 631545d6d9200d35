"""A DBiT-seq-like square grid of spots (its pitch in micrometres), for layouts other than Visium."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp


def dbit_grid(n_domains: int = 8, seed: int = 0, pitch: float = 20.0):
    """A 9,215-spot DBiT-like result, with domains but no counts, to look at and draw on.

    A 9,215-spot DBiT-like result to look at and test drawing with: a 100 x 100 grid at a
    `pitch` um pitch cut to an irregular outline, coordinates in micrometres, no image and no
    spot diameter, Voronoi domains in `obs['factvae_domain']` with colours (an AnnData, 4 empty
    genes: no counts to model).

    Parameters
    ----------
    n_domains : int, default 8
        Voronoi domains, named 'D1'...
    seed : int, default 0
        Seed of the domains' centres.
    pitch : float, default 20.0
        Spot centre-to-centre distance in micrometres.

    Returns
    -------
    AnnData
        9,215 spots x 4 genes (all zero); spot centres in `obsm['spatial']`, the domains in
        `obs['factvae_domain']` (categorical) and their colours in
        `uns['factvae_domain_colors']` (`palette(n_domains)`).
    """
    import anndata as ad

    from ..keys import DOMAIN_KEY, colors_key, palette

    yy, xx = np.mgrid[0:100, 0:100]
    xy = np.c_[xx.ravel(), yy.ravel()] * float(pitch)
    u, v = xy.T / (49.5 * pitch) - 1
    r = np.hypot(1.1 * u, v) + 0.06 * np.sin(3 * np.arctan2(v, u))
    xy = xy[np.sort(np.argsort(r)[:9215])]
    seeds = np.random.default_rng(seed).uniform(10 * pitch, 90 * pitch, (n_domains, 2))
    domain = np.argmin(((xy[:, None] - seeds[None]) ** 2).sum(-1), 1)
    a = ad.AnnData(sp.csr_matrix((len(xy), 4), dtype=np.float32),
                   obs=pd.DataFrame(index=[f"spot{i:05d}" for i in range(len(xy))]))
    a.obs[DOMAIN_KEY] = pd.Categorical.from_codes(domain, [f"D{i + 1}" for i in range(n_domains)])
    a.uns[colors_key(DOMAIN_KEY)] = palette(n_domains)
    a.obsm["spatial"] = xy
    return a
