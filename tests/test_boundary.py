"""The engine (`factvae`) never imports napari, Qt or magicgui: it must run on a headless node."""

import pkgutil
import subprocess
import sys

import factvae

BLOCKED = ("napari", "qtpy", "magicgui", "PyQt5", "PyQt6", "PySide2", "PySide6", "superqt",
           "napari_factvae")

SCRIPT = """
import importlib, sys
BLOCKED = {blocked!r}
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in BLOCKED:
            raise ImportError('blocked GUI import: ' + name)
sys.meta_path.insert(0, Block())
for name in {modules!r}:
    importlib.import_module(name)
print('imported', len({modules!r}))
"""


def engine_modules():
    names = ["factvae"]
    for info in pkgutil.walk_packages(factvae.__path__, "factvae."):
        names.append(info.name)
    return names


def test_every_engine_module_imports_without_gui_packages():
    modules = engine_modules()
    assert "factvae.io" in modules and "factvae.cli" in modules
    out = subprocess.run([sys.executable, "-c", SCRIPT.format(blocked=BLOCKED, modules=modules)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert f"imported {len(modules)}" in out.stdout


def test_the_blocker_really_blocks():
    out = subprocess.run([sys.executable, "-c", SCRIPT.format(blocked=BLOCKED,
                                                               modules=["napari_factvae._reader"])],
                         capture_output=True, text=True)
    assert out.returncode != 0 and "blocked GUI import" in out.stderr
