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
        if not info.name.endswith(".__main__"):  # `python -m factvae.cli` runs the command
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


GUI_DISTRIBUTIONS = {"napari", "npe2", "magicgui", "qtpy", "pyqt5", "pyqt6", "pyside2", "pyside6",
                     "superqt", "app-model", "vispy"}


def _name(requirement: str) -> str:
    import re

    return re.split(r"[\s<>=!~;\[(]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_the_distribution_installs_the_engine_without_gui_packages():
    """`pip install napari-factvae` (no extra) must not pull napari or Qt: they sit in the
    `napari` extra, which `qt`, `all` and `testing` include."""
    from importlib.metadata import requires

    import re

    reqs = requires("napari-factvae")
    base = {_name(r) for r in reqs if "extra ==" not in r}
    assert "torch" in base and "scanpy" in base
    assert not base & GUI_DISTRIBUTIONS, base & GUI_DISTRIBUTIONS

    def extra(name):  # the build backend may expand `napari-factvae[napari]` in place
        names = {_name(r) for r in reqs if re.search(rf"extra == [\'\"]{name}[\'\"]", r)}
        return names | ({"napari", "magicgui", "qtpy", "npe2"} if "napari-factvae" in names else set())

    gui = {"napari", "magicgui", "qtpy", "npe2"}
    for name in ("napari", "qt", "all", "testing"):
        assert gui <= extra(name), name
    assert "pyqt6" in extra("qt") and "pyqt6" in extra("testing")


def test_factvae_run_works_where_napari_and_qt_cannot_be_imported(tmp_path):
    """The whole command-line job (simulate, train, domains, picture) with every GUI import
    failing, as on a node where they are not installed."""
    code = SCRIPT.format(blocked=BLOCKED, modules=["factvae.cli"]) + (
        "from factvae.cli import main\n"
        f"d = {str(tmp_path)!r}\n"
        "assert main(['simulate', '--out', d + '/sim.h5mu', '--n-spots', '150', '--n-genes', '200',"
        " '--n-peaks', '600']) == 0\n"
        "assert main(['run', '--mudata', d + '/sim.h5mu', '--out', d + '/res.h5mu', '--epochs', '2',"
        " '--n-domains', '3']) == 0  # also writes res.png and res.model.pt\n"
        "print('gui modules loaded:', sorted(m for m in sys.modules if m.split('.')[0] in BLOCKED))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "gui modules loaded: []" in out.stdout
    assert (tmp_path / "res.h5mu").stat().st_size > 0 and (tmp_path / "res.png").stat().st_size > 0


QT_BLOCKED = ("qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "magicgui", "superqt")


def test_the_plugin_core_imports_without_qt():
    """The plugin's session model and logic (`napari_factvae._core`) import with every Qt binding,
    qtpy and magicgui failing; its dock widgets (`napari_factvae._qt`) do not."""
    import napari_factvae._core

    modules = ["napari_factvae._core"] + [
        info.name for info in pkgutil.walk_packages(napari_factvae._core.__path__,
                                                    "napari_factvae._core.")]
    assert "napari_factvae._core._dataset_model" in modules
    assert "napari_factvae._core._map_paint" in modules
    out = subprocess.run([sys.executable, "-c", SCRIPT.format(blocked=QT_BLOCKED, modules=modules)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert f"imported {len(modules)}" in out.stdout
    widgets = subprocess.run([sys.executable, "-c", SCRIPT.format(
        blocked=QT_BLOCKED, modules=["napari_factvae._qt._legend_widget"])],
        capture_output=True, text=True)
    assert widgets.returncode != 0 and "blocked GUI import" in widgets.stderr
