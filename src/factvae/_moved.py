"""The flat module paths of version 0.1, kept importable after the move to subpackages.

`import factvae.domains` (or `from factvae.sdata import read_sdata`) gives a module that forwards
every name to the new private modules and warns once, with the new public home, so scripts
written for 0.1 keep working while they are updated."""

from __future__ import annotations

import importlib.abc
import importlib.util
import types
import warnings
from importlib import import_module

# old name -> (where users should import from now, the modules that hold its names)
MOVED: dict[str, tuple[str, tuple[str, ...]]] = {
    "augment": ("factvae.tl", ("tl._augment",)),
    "domains": ("factvae.tl", ("tl._domains", "tl._cluster", "tl._graph", "tl._markers",
                               "keys")),
    "neighbors": ("factvae.tl", ("tl._graph",)),
    "motifs": ("factvae.tl", ("tl._motifs", "tl._motif_scan")),
    "regions": ("factvae.tl", ("tl._regions",)),
    "regulation": ("factvae.tl", ("tl._regulation",)),
    "regulation_scores": ("factvae.tl", ("tl._regulation_scores",)),
    "regulation_null": ("factvae.tl", ("tl._regulation_null",)),
    "preprocess": ("factvae.pp", ("pp._preprocess",)),
    "prior": ("factvae.pp", ("pp._prior",)),
    "genome": ("factvae.pp", ("pp._genome",)),
    "sdata": ("factvae.io", ("io._spatialdata", "io._spatialdata_write", "io._store")),
    "images": ("factvae.io", ("io._images",)),
    "spatial": ("factvae.io", ("io._spatial",)),
    "values": ("factvae.get", ("get._values",)),
    "plotting": ("factvae.pl", ("pl._plots",)),
    "trainer": ("factvae.model", ("model._trainer", "model._data", "model._device")),
    "module": ("factvae.model", ("model._module",)),
    "zinb": ("factvae.model", ("model._zinb",)),
}


class _MovedModule(types.ModuleType):
    """An old path: names resolve in the new modules. `factvae.preprocess` is also the
    function, so this module can be called as the function was."""

    def __getattr__(self, name):
        if name.startswith("__") or "_homes" not in self.__dict__:  # import machinery probing
            raise AttributeError(name)
        for mod in self.__dict__["_homes"]:
            module = import_module(mod)
            if hasattr(module, name):
                return getattr(module, name)
        raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")

    def __call__(self, *args, **kwargs):
        from .pp._preprocess import preprocess

        if self.__name__ != "factvae.preprocess":
            raise TypeError(f"module {self.__name__!r} is not callable")
        return preprocess(*args, **kwargs)


class MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds `factvae.<old name>` after the real finders did not."""

    def __init__(self, package: str):
        self.package = package

    def find_spec(self, fullname, path=None, target=None):
        head, _, leaf = fullname.rpartition(".")
        if head == self.package and leaf in MOVED:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        return _MovedModule(spec.name)

    def exec_module(self, module):
        leaf = module.__name__.rpartition(".")[2]
        public, homes = MOVED[leaf]
        module._homes = tuple(f"{self.package}.{h}" for h in homes)
        module.__all__ = sorted({n for h in module._homes for n in vars(import_module(h))
                                 if not n.startswith("_")})
        warnings.warn(f"{module.__name__} moved: import from {public} (the module paths of "
                      "0.1 will be removed in a later version)", DeprecationWarning,
                      stacklevel=2)  # warn skips importlib's frames: 2 is the importer
