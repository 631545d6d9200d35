"""The layout holds: no import cycle between the engine's modules (counting imports inside
functions too: a cycle hidden in a function is still two modules that need each other), no
module above 450 lines, no command-line function above 80 lines, no unused import or variable."""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import factvae

SRC = Path(factvae.__file__).parent


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path = SRC) -> dict[str, set[str]]:
    """module -> engine modules it imports (anywhere in the file, TYPE_CHECKING blocks aside;
    a package's `__init__` only names its modules lazily, so importing a package is an edge to
    the package alone)."""
    modules = {_module_name(p, root): p for p in root.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        is_pkg = path.name == "__init__.py"
        tree = ast.parse(path.read_text())
        skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                and "TYPE_CHECKING" in ast.unparse(node.test) for n in ast.walk(node)}
        out = set()
        for node in ast.walk(tree):
            if id(node) in skip or not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                if node.level:
                    base = base[:len(base) - node.level + 1]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in modules else mod
                           for a in node.names]
            out |= {t for t in targets if t in modules and t != name}
        graph[name] = out
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles_between_engine_modules():
    graph = import_graph()
    # the package itself and its lazy tables name everything: not dependencies
    for lazy in [m for m in graph if m == "factvae" or m.endswith(("._lazy", "._moved"))]:
        graph[lazy] = set()
    assert cycles(graph) == []


def test_the_cycle_check_finds_a_cycle(tmp_path):
    pkg = tmp_path / "factvae"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .b import x\n")
    (pkg / "b.py").write_text("def x():\n    from .a import y\n")
    assert cycles(import_graph(pkg)) == [["factvae.a", "factvae.b"]]


def test_no_module_above_450_lines_and_no_cli_function_above_80():
    long_modules = {str(p.relative_to(SRC.parent)): n for p in SRC.parent.rglob("*.py")
                    if (n := len(p.read_text().splitlines())) > 450}
    assert long_modules == {}
    long_functions = []
    for p in (SRC / "cli").glob("*.py"):
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if node.end_lineno - node.lineno + 1 > 80:
                    long_functions.append(f"{p.name}:{node.name}")
    assert long_functions == []


@pytest.mark.skipif(shutil.which("ruff") is None and not (Path(sys.executable).parent / "ruff").exists(),
                    reason="ruff is not installed")
def test_no_unused_imports_or_variables_in_the_package():
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    out = subprocess.run([ruff, "check", "--select", "F", "--output-format", "concise",
                          str(SRC), str(SRC.parent / "napari_factvae")],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout
