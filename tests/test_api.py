"""The scverse-shaped API: factvae.pp / tl / pl, the same functions as the top-level names."""

import subprocess
import sys

import numpy as np
import pytest

import factvae


def test_namespaces_hold_the_engine_functions():
    from factvae.io import _load
    from factvae.model import _model
    from factvae.pp import _preprocess
    from factvae.tl import _domains, _motifs

    assert factvae.pp.preprocess is _preprocess.preprocess is factvae.preprocess
    assert factvae.pp.load_paired is _load.load_paired is factvae.load_paired
    assert factvae.io.load_paired is factvae.load_paired
    assert factvae.tl.find_domains is _domains.find_domains is factvae.find_domains
    assert factvae.tl.train is _model.train and factvae.tl.domain_motifs is _motifs.domain_motifs
    assert factvae.get.spot_values is factvae.values.spot_values
    for name in factvae.tl.__all__:
        assert callable(getattr(factvae.tl, name)), name
    with pytest.raises(AttributeError):
        factvae.tl.nope


@pytest.mark.parametrize("old, name, new", [
    ("domains", "find_domains", "factvae.tl"), ("sdata", "read_sdata", "factvae.io"),
    ("preprocess", "lsi", "factvae.pp"), ("trainer", "pick_device", "factvae.model"),
    ("regulation_null", "bh_qvalues", "factvae.tl"), ("plotting", "plot_domains", "factvae.pl"),
])
def test_old_module_paths_still_import_with_a_warning_naming_the_new_home(old, name, new):
    code = ("import warnings, importlib, factvae\n"
            "with warnings.catch_warnings(record=True) as w:\n"
            "    warnings.simplefilter('always')\n"
            f"    m = importlib.import_module('factvae.{old}')\n"
            f"    value = getattr(m, {name!r})\n"
            "print(w[0].category.__name__, '|', w[0].message)\n"
            f"print(value.__module__)\n"
            "print(callable(factvae.preprocess))\n"
            "with warnings.catch_warnings(record=True) as w:\n"
            "    warnings.simplefilter('always')\n"
            # an old path not seen yet, imported by code in a file of its own
            "    exec(compile('from factvae.augment import augment_atac', 'user.py', 'exec'))\n"
            "print(w[0].filename)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    lines = out.stdout.splitlines()
    assert lines[0].startswith("DeprecationWarning |") and f"import from {new}" in lines[0]
    assert lines[1].startswith(new.rsplit(".", 1)[0] + ".")  # defined in the new package
    assert lines[2] == "True"  # the function `factvae.preprocess` survives its old module path
    assert lines[3] == "user.py"  # the warning names the importing code, not importlib


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
