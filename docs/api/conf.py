"""Sphinx configuration of the API reference: built from the numpydoc docstrings of the installed
`factvae` package (nothing is mocked). Build it with

    python -m sphinx -b html docs/api docs/api/_build

`tests/test_docs.py` builds it with `-W --keep-going`: any warning (an RST error in a docstring)
fails the test."""

import shutil
from pathlib import Path

project = "napari-factvae"
author = "napari-factvae developers"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
]

# one stub page per name of the autosummary tables in index.rst, written to generated/ (not in
# git). Made afresh on every build: a stub left from a name no longer in the tables would be a
# page in no toctree, a warning.
autosummary_generate = True
shutil.rmtree(Path(__file__).parent / "generated", ignore_errors=True)
templates_path = ["_templates"]  # autosummary/class.rst: a class page lists its methods
exclude_patterns = ["_build"]

# the docstrings are numpydoc
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_use_ivar = True  # an Attributes section as fields, not as objects of their own

# `name` in a docstring is code (the docstrings use single backticks for names and keys)
default_role = "literal"

autodoc_member_order = "bysource"
autodoc_typehints = "signature"

# unresolved references (numpy, pandas, MuData types) are not errors
nitpicky = False

# the built-in theme: needs no network
html_theme = "alabaster"
html_title = "napari-factvae API reference"
