"""Names of a package imported on first use: `import factvae.io` or `factvae --help` must not pay
for torch and scanpy, and the napari reader must stay cheap to import."""

from __future__ import annotations

from importlib import import_module


def lazy_names(package: str, where: dict[str, str]):
    """`__getattr__` and `__dir__` for `package`: `where` maps a public name to the private
    module (relative to `package`) that defines it."""

    def __getattr__(name):
        if name in where:
            value = getattr(import_module(where[name], package), name)
            setattr(import_module(package), name, value)
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted(set(vars(import_module(package))) | set(where))

    return __getattr__, __dir__


def table(**modules: str) -> dict[str, str]:
    """{name: module} from module=' name name ...' keyword lists."""
    return {name: f".{mod}" for mod, names in modules.items() for name in names.split()}
