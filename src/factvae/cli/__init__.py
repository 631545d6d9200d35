"""The `factvae` command: a thin layer over `factvae.pipeline` and the tools."""

from ._main import main  # noqa: F401
