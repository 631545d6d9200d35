"""The scverse-shaped API: factvae.pp / tl / pl, the same functions as the top-level names."""

import subprocess
import sys

import numpy as np
import pytest

import factvae


def test_namespaces_hold_the_engine_functions():
    from factvae import domains, io, model, motifs

    pre = sys.modules["factvae.preprocess"]  # the attribute `factvae.preprocess` is the function
    assert factvae.pp.preprocess is pre.preprocess is factvae.preprocess
    assert factvae.pp.load_paired is io.load_paired is factvae.load_paired
    assert factvae.tl.find_domains is domains.find_domains is factvae.find_domains
    assert factvae.tl.train is model.train and factvae.tl.domain_motifs is motifs.domain_motifs
    for name in factvae.tl.__all__:
        assert callable(getattr(factvae.tl, name)), name
    with pytest.raises(AttributeError):
        factvae.tl.nope


def test_tools_namespace_loads_torch_only_when_used():
    code = ("import sys, factvae.tl, factvae.pp, factvae.pl; "
            "print('torch' in sys.modules); factvae.tl.train; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]


def test_plots_return_axes(trained):
    import matplotlib.pyplot as plt

    factvae.tl.find_domains(trained, n_domains=3)
    ax = factvae.pl.domains(trained)
    assert len(ax.collections[0].get_offsets()) == trained.n_obs
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["0", "1", "2"]
    fig, axes = plt.subplots(1, 2)
    gene = str(trained.mod["rna"].var_names[0])
    out = factvae.pl.feature(trained, "gene (normalised)", gene, ax=axes[0])
    assert out is axes[0]
    values = out.collections[0].get_array()
    assert np.allclose(values, factvae.values.spot_values(trained, "gene (normalised)", gene))
    ax = factvae.pl.loss(trained, ax=axes[1])
    terms = {line.get_label() for line in ax.get_lines()}
    assert {"joint", "nll_rna", "nll_atac"} <= terms and "seconds" not in terms
    plt.close("all")
    del trained.uns["factvae"]
    with pytest.raises(factvae.FactVAEInputError, match="no training history"):
        factvae.pl.loss(trained)
