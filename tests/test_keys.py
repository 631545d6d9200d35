"""One home for every key: `factvae.keys`. A result key spelled as a literal anywhere else (the
engine or the plugin) is a second home that can drift, so this test fails on it."""

import ast
import re
from pathlib import Path

import pytest

import factvae

SRC = Path(factvae.__file__).parent.parent
KEY = re.compile(r"^(X_)?factvae(_[a-z_]+)?$")
HOME = SRC / "factvae" / "keys.py"


def _docstrings(tree):
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                yield body[0].value


def key_literals(path: Path, root: Path = SRC) -> list[str]:
    tree = ast.parse(path.read_text())
    docs = {id(c) for c in _docstrings(tree)}
    return [f"{path.relative_to(root)}:{node.lineno}: {node.value!r}" for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in docs and KEY.match(node.value) and node.value != "factvae"]


def test_no_key_is_spelled_outside_the_keys_module():
    files = [p for pkg in ("factvae", "napari_factvae") for p in (SRC / pkg).rglob("*.py")
             if p != HOME]
    found = [hit for p in files for hit in key_literals(p)]
    assert found == [], "keys spelled outside factvae/keys.py:\n" + "\n".join(found)


def test_the_check_finds_a_literal(tmp_path):
    (tmp_path / "m.py").write_text('"""factvae_domain in a docstring is fine."""\n'
                                   'x = adata.obs["factvae_domain"]\n')
    assert key_literals(tmp_path / "m.py", root=tmp_path) == ["m.py:2: 'factvae_domain'"]


@pytest.mark.parametrize("name", ["FEATURE_KINDS", "PALETTE", "DOMAIN_KEY", "SDATA_KEY"])
def test_the_keys_module_holds_keys_colours_and_feature_kinds(name):
    assert hasattr(factvae.keys, name)
