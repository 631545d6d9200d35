"""A small simulated tissue, preprocessed with its gene-peak prior: the input the model tests
train on (each test module picks its own size and seed)."""

import factvae


def prepared_tissue(*, n_spots=240, n_genes=150, n_peaks=900, n_domains=4, n_motifs=8, seed=1,
                    n_pcs=20, enhancer_activity=1.0):
    m = factvae.simulate(n_spots=n_spots, n_genes=n_genes, n_peaks=n_peaks, n_domains=n_domains,
                         n_motifs=n_motifs, image_size=200, seed=seed,
                         enhancer_activity=enhancer_activity)
    m = factvae.preprocess(m, n_top_genes=100, n_pcs=n_pcs, n_lsi=n_pcs)
    factvae.add_gene_peak_prior(m)
    return m
