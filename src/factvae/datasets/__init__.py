"""Built-in data: `simulate` a paired spatial ATAC + RNA tissue with known domains, gene-peak
links and enhancer programs (the truth in `uns['simulation']`); `dbit_grid` a DBiT-seq-like grid.

Private module: `_simulate`."""

from .._lazy import lazy_names, table

_WHERE = table(_simulate="simulate dbit_grid PITCH_FULLRES SPOT_DIAMETER_RATIO")
__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_names(__name__, _WHERE)
