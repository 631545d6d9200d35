"""The API reference (docs/api) builds from the docstrings with no warning: an RST error in a
numpydoc docstring fails here, as it would fail the docs build in CI."""

import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs" / "api"


@pytest.mark.slow
def test_api_reference_builds_without_warnings(tmp_path):
    out = tmp_path / "html"
    done = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html",
                           "-q", str(DOCS), str(out)], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    page = (out / "generated" / "factvae.tl.find_domains.html").read_text()
    assert "Parameters" in page and "n_domains" in page and "Returns" in page
