"""The built-in simulator: a paired spatial ATAC + RNA tissue section with known truth.

`simulate()` lays spots on a hexagonal grid inside an irregular tissue outline, splits the tissue
into spatial domains of different shapes and sizes (an outer rim band plus anisotropic, weighted
Voronoi regions inside), places genes and peaks on made-up chromosomes, plants transcription-factor
motifs whose activity differs by domain (they drive peak accessibility) and cis-regulatory links
(peaks whose accessibility drives a nearby gene), draws zero-inflated negative-binomial counts
(ATAC far sparser than RNA) and renders an H&E-like image registered to the spots in the scanpy
convention. The truth is stored in the object:

- `mdata.obs['domain']` (categorical; colours in `uns['domain_colors']`);
- `mdata.uns['simulation']['links']`: gene, peak, TSS distance, kind, whether in the G2P prior,
  effect size and activity program (links are drawn with a probability falling with distance);
- `mdata.uns['simulation']['peak_program']`: each peak's spot-level activity program and loading;
- `mdata.uns['simulation']['motif_activity']` (domains x motifs) and `['domain_motifs']`;
- `atac.varm['motif']` (peaks x motifs, sparse 0/1) with names in `atac.uns['motif_names']`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import FactVAEInputError
from ..keys import PALETTE
from ._genome import _genome, _links, _programs

PITCH_FULLRES = 100.0       # spot centre-to-centre distance in full-resolution pixels (Visium-like)


SPOT_DIAMETER_RATIO = 0.55  # Visium: 55 um spots, 100 um apart


def _outline(rng):
    """An irregular tissue outline: radius as a function of angle, and an x elongation."""
    amp = rng.uniform([0.08, 0.05, 0.03], [0.14, 0.09, 0.05])
    phase = rng.uniform(0, 2 * np.pi, 3)
    stretch = rng.uniform(1.15, 1.45)

    def rho(x, y):
        theta = np.arctan2(y, x / stretch)
        r = (1 + amp[0] * np.sin(2 * theta + phase[0]) + amp[1] * np.cos(3 * theta + phase[1])
             + amp[2] * np.sin(5 * theta + phase[2]))
        return np.hypot(x / stretch, y) / r

    return rho, stretch


def _spots(n_spots, rho, stretch, rng):
    """Exactly n_spots hexagonal-grid positions inside the outline (unit coordinates)."""
    area = np.pi * stretch
    pitch = np.sqrt(area * 1.15 / (n_spots * np.sqrt(3) / 2))
    for _ in range(60):
        nx = int(np.ceil(2 * stretch * 1.3 / pitch)) + 2
        ny = int(np.ceil(2 * 1.3 / (pitch * np.sqrt(3) / 2))) + 2
        j, i = np.mgrid[0:ny, 0:nx]
        x = (i + 0.5 * (j % 2)) * pitch - nx * pitch / 2
        y = j * pitch * np.sqrt(3) / 2 - ny * pitch * np.sqrt(3) / 4
        x, y, row, col = x.ravel(), y.ravel(), j.ravel(), i.ravel()
        r = rho(x, y)
        inside = np.flatnonzero(r < 1.0)
        if inside.size >= n_spots:
            keep = inside[np.argsort(r[inside], kind="stable")[:n_spots]]
            keep = np.sort(keep)
            return np.c_[x[keep], y[keep]], pitch, row[keep], col[keep]
        pitch *= 0.96
    raise RuntimeError("could not place spots")  # pragma: no cover


def _domains(xy, rho, n_domains, rng):
    """An outer rim band, then anisotropic weighted Voronoi regions inside."""
    r = rho(xy[:, 0], xy[:, 1])
    n = len(xy)
    rim = r > np.quantile(r, 0.8)
    min_size = max(3, int(0.03 * n))
    for _ in range(200):
        k = n_domains - 1
        centres = []
        while len(centres) < k:
            c = rng.uniform(-1.4, 1.4, 2)
            if rho(c[:1], c[1:])[0] < 0.7:
                centres.append(c)
        centres = np.array(centres)
        weight = rng.uniform(0.6, 1.5, k)
        angle = rng.uniform(0, np.pi, k)
        ratio = rng.uniform(1.0, 2.8, k)
        d = np.empty((n, k))
        for m in range(k):
            rot = np.array([[np.cos(angle[m]), -np.sin(angle[m])],
                            [np.sin(angle[m]), np.cos(angle[m])]])
            q = (xy - centres[m]) @ rot
            d[:, m] = weight[m] * np.hypot(q[:, 0], q[:, 1] * ratio[m])
        label = np.where(rim, 0, 1 + d.argmin(axis=1))
        if np.bincount(label, minlength=n_domains).min() >= min_size:
            return label
    raise FactVAEInputError(f"{n} spots are too few for {n_domains} domains of at least "
                            f"{min_size} spots each.", field="n_spots / n_domains",
                            fix="simulate more spots or fewer domains.")


def _zinb(mean, theta, pi, rng):
    """Zero-inflated negative-binomial draws (gamma-Poisson, then structural zeros)."""
    lam = rng.gamma(theta, mean / theta)
    x = rng.poisson(lam)
    x[rng.random(x.shape) < pi] = 0
    return x


def _counts(log_mean, depth, theta, pi, rng, chunk=2000):
    """Counts spot-chunk by spot-chunk so memory stays bounded; returns CSR float32."""
    blocks = []
    for s in range(0, len(depth), chunk):
        lm = log_mean(slice(s, s + chunk))
        lm -= lm.max(axis=1, keepdims=True)
        prop = np.exp(lm)
        prop /= prop.sum(axis=1, keepdims=True)
        x = _zinb(prop * depth[s:s + chunk, None], theta, pi, rng)
        blocks.append(sp.csr_matrix(x.astype(np.float32)))
    X = sp.vstack(blocks, format="csr")
    X.sort_indices()
    return X


def _render_image(xy_full, domain, rho_full, n_domains, scalef, size, rng):
    """An H&E-like RGB image: off-white background, pink eosin tissue tinted per domain, purple
    haematoxylin nuclei whose density differs by domain, texture and blur."""
    from scipy import ndimage
    from scipy.spatial import cKDTree

    h, w = size
    yy, xx = np.mgrid[0:h, 0:w]
    full_x, full_y = (xx + 0.5) / scalef, (yy + 0.5) / scalef
    tissue = rho_full(full_x, full_y) < 1.02
    _, nearest = cKDTree(xy_full).query(np.c_[full_x[tissue], full_y[tissue]])
    dom_px = np.full((h, w), -1)
    dom_px[tissue] = domain[nearest]

    img = np.empty((h, w, 3), np.float32)
    img[:] = (242, 238, 236)
    tints = np.array([[236, 168, 196], [222, 150, 190], [240, 182, 205], [214, 140, 178],
                      [228, 160, 200], [232, 176, 190], [218, 156, 196], [238, 160, 186]],
                     np.float32)
    tint = tints[rng.permutation(len(tints))][np.arange(n_domains) % len(tints)]
    img[tissue] = tint[dom_px[tissue]]
    texture = ndimage.gaussian_filter(rng.normal(0, 1, (h, w)), 6)
    texture /= max(texture.std(), 1e-6)
    img += (texture * 9 * tissue)[..., None]
    density = rng.uniform(0.004, 0.03, n_domains)
    nuclei = (rng.random((h, w)) < density[np.clip(dom_px, 0, None)]) & tissue
    nuc = ndimage.gaussian_filter(nuclei.astype(np.float32), 1.1) * 5.5
    alpha = np.clip(nuc, 0, 1)[..., None]
    img = img * (1 - alpha) + np.array([88, 52, 128], np.float32) * alpha
    img = ndimage.gaussian_filter(img, (0.6, 0.6, 0))
    img += rng.normal(0, 3, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def simulate(n_spots: int = 1500, n_genes: int = 1000, n_peaks: int = 8000, *, n_domains: int = 5,
             n_motifs: int = 20, rna_depth: float | None = None, atac_depth: float | None = None,
             domain_effect: float = 1.0, enhancer_activity: float = 1.0, image_size: int = 800,
             seed: int = 0,
             library_id: str = "simulated_tissue"):
    """A paired spatial ATAC + RNA MuData with known domains, links and motifs (see module doc).

    Spots lie on a hexagonal grid inside an irregular tissue outline, split into spatial
    domains (an outer rim band plus anisotropic, weighted Voronoi regions inside); genes and
    peaks lie on made-up chromosomes; planted motifs drive peak accessibility by domain and
    cis-regulatory links let peaks drive nearby genes; counts are zero-inflated negative
    binomial (ATAC far sparser than RNA); an H&E-like image is registered to the spots in the
    scanpy convention.

    Parameters
    ----------
    n_spots : int, default 1500
        Matrix sizes (spots x genes for 'rna', spots x peaks for 'atac'): the spots.
    n_genes : int, default 1000
        The genes.
    n_peaks : int, default 8000
        The peaks.
    n_domains : int, default 5
        Spatial domains (>= 2): an outer rim band and n_domains - 1 inner regions.
    n_motifs : int, default 20
        Planted TF motifs; each domain gets its own strongly active motifs.
    rna_depth, atac_depth : float, optional
        Median counts per spot; by default 1.2 per gene and 0.075 per peak, which keeps the
        density of spatial ATAC-RNA-seq (RNA ~40 %, ATAC ~5 % non-zero) at any size.
    domain_effect : float, default 1.0
        Scales every domain effect on expression and accessibility (1.0: RNA alone separates the
        domains well, ATAC alone less so, as in real data; larger is easier).
    enhancer_activity : float, default 1.0
        Scales the spot-to-spot variation of enhancer activity that reaches the linked genes
        (12 activity programs; 0 switches it off: links then act through domains only).
    image_size : int, default 800
        Longest side of the rendered H&E-like image in pixels.
    seed : int, default 0
        Everything is deterministic for a seed.
    library_id : str, default 'simulated_tissue'
        The library of the image in `mdata.uns['spatial']`.

    Returns
    -------
    MuData
        Modalities 'rna' (gene coordinates in `var`: chrom, chromStart, chromEnd, strand) and
        'atac' (peaks), raw counts in `X`; spot centres in full-resolution pixels in
        `mdata.obsm['spatial']` (100 px apart) and the image in `mdata.uns['spatial']`. The
        truth: `mdata.obs['domain']` (categorical, 'D1'..; colours in
        `uns['domain_colors']`); `mdata.uns['simulation']` with 'params', 'links' (gene, peak,
        TSS distance, kind, whether in the G2P prior, effect size and activity program),
        'peak_program' (each peak's spot-level activity program and loading),
        'motif_activity' (domains x motifs), 'gene_effect' (each domain's planted effect on
        log expression) and 'domain_motifs'; `atac.varm['motif']` (peaks x motifs, sparse 0/1)
        with names in `atac.uns['motif_names']`.

    Raises
    ------
    FactVAEInputError
        If `n_domains` is below 2, a size is below 1, or the spots are too few for
        `n_domains` domains of at least max(3, 3 % of the spots) spots each.
    """
    import anndata as ad

    from ..io._assemble import assemble
    from ..pp._prior import build_g2p, gene_loci, overlap_pairs

    if n_domains < 2:
        raise FactVAEInputError(f"must be at least 2, got {n_domains}.", field="n_domains",
                                fix="simulate 2 or more domains (an outer rim and inner regions).")
    for name, value in (("n_spots", n_spots), ("n_genes", n_genes), ("n_peaks", n_peaks),
                        ("n_motifs", n_motifs)):
        if value < 1:
            raise FactVAEInputError(f"must be at least 1, got {value}.", field=name,
                                    fix="give a positive size.")
    rna_depth = 1.2 * n_genes if rna_depth is None else rna_depth
    atac_depth = 0.075 * n_peaks if atac_depth is None else atac_depth
    rng = np.random.default_rng(seed)
    rho, stretch = _outline(rng)
    xy, pitch, row, col = _spots(n_spots, rho, stretch, rng)
    domain = _domains(xy, rho, n_domains, rng)

    genes, peaks = _genome(n_genes, n_peaks, rng)
    links = _links(genes, peaks, rng)

    # motifs: each peak carries a motif with a motif-specific probability
    motif_names = [f"MOTIF{m + 1:02d}" for m in range(n_motifs)]
    freq = rng.uniform(0.03, 0.12, n_motifs)
    motif = sp.csr_matrix((rng.random((n_peaks, n_motifs)) < freq).astype(np.float32))
    activity = rng.normal(0, 0.1, (n_domains, n_motifs))
    per_domain = max(1, min(2, n_motifs // n_domains))
    order = rng.permutation(n_motifs)
    domain_motifs = []
    for d in range(n_domains):
        for m in order[d * per_domain:(d + 1) * per_domain] if (d + 1) * per_domain <= n_motifs else []:
            activity[d, m] += 0.8
            domain_motifs.append((d, m))

    # domain effects on log accessibility and log expression
    peak_own = rng.normal(0, 0.3, (n_domains, n_peaks)) * (rng.random(n_peaks) < 0.2)
    peak_eff = np.asarray(motif @ activity.T).T + peak_own
    peak_base = rng.normal(0, 0.8, n_peaks)
    gene_eff = rng.normal(0, 0.8, (n_domains, n_genes)) * (rng.random(n_genes) < 0.4)
    if len(links):  # a linked gene follows its peaks' domain effects, each by its link's effect
        drive = np.zeros((n_domains, n_genes))
        gi, pj, beta = (links["gene_idx"].to_numpy(), links["peak_idx"].to_numpy(),
                        links["effect"].to_numpy())
        np.add.at(drive.T, gi, (beta[:, None] * peak_eff[:, pj].T))
        linked = np.bincount(gi, minlength=n_genes) > 0
        gene_eff[:, linked] = drive[:, linked] + rng.normal(0, 0.15, (n_domains, int(linked.sum())))
    gene_base = rng.normal(0, 1.2, n_genes)

    # spot-level variation: a low-rank random effect and spot depth with a spatial gradient
    n_lat = 5
    u = rng.normal(0, 1, (n_spots, n_lat))
    v_rna, v_atac = rng.normal(0, 0.2, (n_lat, n_genes)), rng.normal(0, 0.2, (n_lat, n_peaks))
    gradient = 1 + 0.25 * (xy[:, 0] - xy[:, 0].mean()) / (np.ptp(xy[:, 0]) + 1e-9)
    rna_lib = rna_depth * rng.lognormal(0, 0.35, n_spots) * gradient
    atac_lib = atac_depth * rng.lognormal(0, 0.35, n_spots) * gradient

    # spots near a boundary mix their neighbours' domains (a spot covers several cells)
    from scipy.spatial import cKDTree

    _, nn = cKDTree(xy).query(xy, k=7)
    mix = np.stack([(domain[nn] == d).mean(axis=1) for d in range(n_domains)], axis=1)
    gene_eff, peak_eff = domain_effect * gene_eff, domain_effect * peak_eff
    # spot-to-spot enhancer activity, reaching each linked gene through its link's effect
    fields, program, loading = _programs(xy, n_peaks, links, rng)
    loading = enhancer_activity * loading
    has = program >= 0
    peak_prog = sp.csr_matrix((loading[has], (program[has], np.flatnonzero(has))),
                              shape=(fields.shape[1], n_peaks))
    gene_prog = np.zeros((fields.shape[1], n_genes))
    if len(links):
        np.add.at(gene_prog, (program[pj], gi), beta * loading[pj])
    X_rna = _counts(lambda s: gene_base + mix[s] @ gene_eff + u[s] @ v_rna + fields[s] @ gene_prog,
                    rna_lib, rng.uniform(3, 10, n_genes), rng.uniform(0.02, 0.15, n_genes), rng)
    X_atac = _counts(lambda s: (peak_base + mix[s] @ peak_eff + u[s] @ v_atac
                                + np.asarray((peak_prog.T @ fields[s].T).T)),
                     atac_lib, rng.uniform(1, 4, n_peaks), rng.uniform(0.1, 0.4, n_peaks), rng)

    # full-resolution pixel frame and the image
    margin = 3 * PITCH_FULLRES
    to_full = PITCH_FULLRES / pitch
    offset = np.array([stretch * 1.2, 1.2])
    xy_full = (xy + offset) * to_full + margin
    extent = np.array([2 * stretch * 1.2, 2 * 1.2]) * to_full + 2 * margin
    scalef = image_size / extent.max()
    size = (int(np.ceil(extent[1] * scalef)), int(np.ceil(extent[0] * scalef)))

    def rho_full(fx, fy):
        return rho((fx - margin) / to_full - offset[0], (fy - margin) / to_full - offset[1])

    image = _render_image(xy_full, domain, rho_full, n_domains, scalef, size, rng)

    spot_names = [f"spot{i + 1:05d}" for i in range(n_spots)]
    labels = [f"D{d + 1}" for d in range(n_domains)]
    obs = pd.DataFrame({"array_row": row, "array_col": col}, index=spot_names)
    rna = ad.AnnData(X_rna, obs=obs.copy(), var=genes[["chrom", "chromStart", "chromEnd", "strand"]])
    atac = ad.AnnData(X_atac, obs=obs.copy(), var=peaks.copy())
    atac.varm["motif"] = motif
    atac.uns["motif_names"] = motif_names
    library = (library_id, {
        "images": {"hires": image},
        "scalefactors": {"tissue_hires_scalef": float(scalef),
                         "spot_diameter_fullres": float(SPOT_DIAMETER_RATIO * PITCH_FULLRES)},
        "metadata": {"source": "factvae.datasets.simulate", "seed": int(seed)}})
    mdata = assemble(rna, atac, coords=xy_full, library=library)
    mdata.obs["domain"] = pd.Categorical.from_codes(domain, categories=labels)
    mdata.uns["domain_colors"] = PALETTE[:n_domains] if n_domains <= len(PALETTE) else [
        PALETTE[i % len(PALETTE)] for i in range(n_domains)]

    # which planted links the G2P prior (gene body + 2 kb promoter) covers
    g2p, _ = build_g2p(genes.rename(columns={"chromStart": "start", "chromEnd": "end"}),
                       peaks.rename(columns={"chromStart": "start", "chromEnd": "end"}),
                       genes.index, warn=False)
    in_prior = np.asarray(g2p[links["gene_idx"].to_numpy(), links["peak_idx"].to_numpy()]).ravel() > 0
    gpos, ppos = links["gene_idx"].to_numpy(), links["peak_idx"].to_numpy()
    body = np.array([overlap_pairs(gene_loci(
        genes.iloc[[g]].rename(columns={"chromStart": "start", "chromEnd": "end"}), 0),
        peaks.iloc[[p]].rename(columns={"chromStart": "start", "chromEnd": "end"}))[0].size > 0
        for g, p in zip(gpos, ppos)], dtype=bool) if len(links) else np.zeros(0, bool)
    kind = np.where(body, "body", np.where(in_prior, "promoter", "distal"))
    mdata.uns["simulation"] = {
        "params": {"n_spots": n_spots, "n_genes": n_genes, "n_peaks": n_peaks,
                   "n_domains": n_domains, "n_motifs": n_motifs, "rna_depth": rna_depth,
                   "enhancer_activity": float(enhancer_activity),
                   "atac_depth": atac_depth, "seed": seed},
        "links": pd.DataFrame({"gene": genes.index[gpos].astype(str),
                               "peak": peaks.index[ppos].astype(str),
                               "tss_distance": links["tss_distance"].to_numpy(),
                               "kind": kind, "in_prior": in_prior,
                               "effect": links["effect"].to_numpy(),
                               "program": program[ppos] if len(links) else np.zeros(0, int)}),
        # each peak's activity program (-1: none) and loading: the spot-level truth
        "peak_program": pd.DataFrame({"program": program, "loading": loading},
                                     index=peaks.index.astype(str)),
        "motif_activity": pd.DataFrame(activity, index=labels, columns=motif_names),
        # each domain's planted effect on log expression (the markers a test should find)
        "gene_effect": pd.DataFrame(gene_eff, index=labels, columns=genes.index.astype(str)),
        "domain_motifs": pd.DataFrame({"domain": [labels[d] for d, _ in domain_motifs],
                                       "motif": [motif_names[m] for _, m in domain_motifs]}),
    }
    return mdata
