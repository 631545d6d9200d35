"""Small hand-made RNA + ATAC pairs for validation tests."""

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp


def make_pair(n=30, genes=20, peaks=40, seed=0):
    rng = np.random.default_rng(seed)
    spots = [f"s{i}" for i in range(n)]
    rna = ad.AnnData(sp.csr_matrix(rng.poisson(2.0, (n, genes)).astype(np.float32)),
                     obs=pd.DataFrame(index=spots),
                     var=pd.DataFrame({"chrom": "chr1", "chromStart": np.arange(genes) * 10_000,
                                       "chromEnd": np.arange(genes) * 10_000 + 5_000,
                                       "strand": "+"}, index=[f"G{i}" for i in range(genes)]))
    atac = ad.AnnData(sp.csr_matrix(rng.poisson(0.3, (n, peaks)).astype(np.float32)),
                      obs=pd.DataFrame(index=spots),
                      var=pd.DataFrame(index=[f"chr1:{i * 5000}-{i * 5000 + 500}"
                                              for i in range(peaks)]))
    xy = np.c_[rng.uniform(10, 90, n), rng.uniform(10, 90, n)]
    rna.obsm["spatial"] = xy
    atac.obsm["spatial"] = xy
    return rna, atac


def write_pair(tmp_path, rna, atac):
    r, a = tmp_path / "rna.h5ad", tmp_path / "atac.h5ad"
    rna.write_h5ad(r)
    atac.write_h5ad(a)
    return r, a
