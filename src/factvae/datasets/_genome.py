"""The simulated genome: genes and peaks on a few chromosomes, gene-peak links drawn with a
probability that falls with distance (~1/d), and spot-level enhancer programs."""

from __future__ import annotations

import numpy as np
import pandas as pd


def _genome(n_genes, n_peaks, rng, n_chrom=5):
    """Genes (with strands) and peaks on made-up chromosomes; peaks at promoters, in gene bodies,
    near genes (distal) and scattered."""
    chrom_of_gene = np.sort(rng.integers(0, n_chrom, n_genes))
    starts, ends = np.empty(n_genes, np.int64), np.empty(n_genes, np.int64)
    for c in range(n_chrom):
        idx = np.flatnonzero(chrom_of_gene == c)
        gaps = rng.exponential(80_000, idx.size).astype(np.int64) + 5_000
        lengths = np.clip(rng.lognormal(np.log(20_000), 0.8, idx.size), 1_500, 300_000).astype(np.int64)
        pos = 100_000 + np.cumsum(gaps + np.r_[0, lengths[:-1]])
        starts[idx], ends[idx] = pos, pos + lengths
    strand = np.where(rng.random(n_genes) < 0.5, "+", "-")
    genes = pd.DataFrame({"chrom": [f"chr{c + 1}" for c in chrom_of_gene], "chromStart": starts,
                          "chromEnd": ends, "strand": strand},
                         index=[f"Gene{i + 1:05d}" for i in range(n_genes)])
    tss = np.where(strand == "+", starts, ends)
    genes["tss"] = tss

    n_prom = min(n_peaks // 3, int(0.7 * n_genes))
    n_body = min(n_peaks // 5, int(0.5 * n_genes))
    n_distal = min(n_peaks // 3, n_genes)
    n_rand = max(n_peaks - n_prom - n_body - n_distal, 0)
    g_prom = rng.choice(n_genes, n_prom, replace=False)
    g_body = rng.choice(n_genes, n_body, replace=True)
    g_dist = rng.choice(n_genes, n_distal, replace=True)
    centre = np.concatenate([
        tss[g_prom] + np.where(strand[g_prom] == "+", -1, 1) * rng.integers(0, 1_500, n_prom),
        starts[g_body] + (rng.random(n_body) * (ends[g_body] - starts[g_body])).astype(np.int64),
        tss[g_dist] + rng.choice([-1, 1], n_distal) * rng.integers(10_000, 140_000, n_distal)])
    chrom = np.concatenate([chrom_of_gene[g_prom], chrom_of_gene[g_body], chrom_of_gene[g_dist]])
    chrom_max = np.array([ends[chrom_of_gene == c].max() if (chrom_of_gene == c).any() else 1_000_000
                          for c in range(n_chrom)]) + 200_000
    rc = rng.integers(0, n_chrom, n_rand)
    centre = np.concatenate([centre, (rng.random(n_rand) * chrom_max[rc]).astype(np.int64)])
    chrom = np.concatenate([chrom, rc])
    centre = np.maximum(centre, 1_000)
    width = rng.integers(300, 800, centre.size)
    pstart = centre - width // 2
    peaks = pd.DataFrame({"c": chrom, "chromStart": pstart, "chromEnd": pstart + width})
    peaks = peaks.sort_values(["c", "chromStart"]).drop_duplicates(["c", "chromStart"])
    while len(peaks) < n_peaks:  # top up after de-duplication
        c = int(rng.integers(0, n_chrom))
        s = int(rng.random() * chrom_max[c])
        peaks.loc[len(peaks) + 10 ** 9] = (c, s, s + 500)
        peaks = peaks.drop_duplicates(["c", "chromStart"])
    peaks = peaks.sort_values(["c", "chromStart"]).iloc[:n_peaks]
    peaks["chrom"] = [f"chr{c + 1}" for c in peaks["c"]]
    peaks.index = [f"{c}:{s}-{e}" for c, s, e in zip(peaks["chrom"], peaks["chromStart"],
                                                      peaks["chromEnd"])]
    return genes, peaks[["chrom", "chromStart", "chromEnd"]]


def _links(genes, peaks, rng, frac_linked=0.5, window=150_000):
    """Planted cis-regulatory links: for a fraction of genes, 1-3 peaks within `window` of the
    TSS, each drawn with a probability that falls with distance as contact does in Hi-C (a power
    law, flat below 5 kb), so proximal peaks regulate more often, as in CRISPRi screens; each link
    gets its own effect size."""
    rows = []
    pchrom = peaks["chrom"].to_numpy()
    pmid = ((peaks["chromStart"] + peaks["chromEnd"]) // 2).to_numpy()
    for g in rng.permutation(len(genes))[: int(frac_linked * len(genes))]:
        tss = genes["tss"].iat[g]
        cand = np.flatnonzero((pchrom == genes["chrom"].iat[g]) & (np.abs(pmid - tss) <= window))
        if cand.size == 0:
            continue
        k = min(cand.size, int(rng.integers(1, 4)))
        weight = 1.0 / np.maximum(np.abs(pmid[cand] - tss), 5_000)
        for p in rng.choice(cand, k, replace=False, p=weight / weight.sum()):
            rows.append((g, p, int(pmid[p] - tss)))
    links = pd.DataFrame(rows, columns=["gene_idx", "peak_idx", "tss_distance"])
    links = links.sort_values(["gene_idx", "peak_idx"]).reset_index(drop=True)
    links["effect"] = rng.lognormal(np.log(0.8), 0.5, len(links))  # effects that vary
    return links


def _programs(xy, n_peaks, links, rng, n_programs=12, share=0.3, smooth=0.5):
    """Spot-to-spot variation of enhancer activity: `n_programs` per-spot activity fields (half
    spatially smooth, half spot-level noise, unit variance), each peak of a link and a share of
    the other peaks following one of them with its own loading. Returns the fields (spots x
    programs), each peak's program (-1: none) and loading."""
    n = len(xy)
    scale = np.ptp(xy, axis=0).max() + 1e-9
    freq = rng.normal(0, 1, (n_programs, 8, 2)) * 3.0 / scale  # random Fourier features
    phase = rng.uniform(0, 2 * np.pi, (n_programs, 8))
    smooth_part = np.cos(np.einsum("pkd,nd->npk", freq, xy) + phase).sum(axis=2)
    smooth_part = (smooth_part - smooth_part.mean(0)) / np.maximum(smooth_part.std(0), 1e-9)
    fields = np.sqrt(smooth) * smooth_part + np.sqrt(1 - smooth) * rng.normal(0, 1, (n, n_programs))
    program = np.where(rng.random(n_peaks) < share, rng.integers(0, n_programs, n_peaks), -1)
    linked = links["peak_idx"].to_numpy()
    program[linked] = rng.integers(0, n_programs, linked.size)
    loading = np.where(program >= 0, rng.uniform(0.3, 0.8, n_peaks), 0.0)
    return fields, program, loading
