"""Built-in data: `simulate` a paired spatial ATAC + RNA tissue with known domains, gene-peak
links and enhancer programs (the truth in `uns['simulation']`); `dbit_grid` a DBiT-seq-like grid.

Private modules: `_simulate` (the tissue), `_genome` (its genome, links and enhancer
programs), `_dbit` (the grid), `_sections` (`technical_copy`: a second section made from a
first, with its own depth, feature capture and orientation)."""

from .._lazy import lazy_names, table

_WHERE = table(_simulate="simulate PITCH_FULLRES SPOT_DIAMETER_RATIO", _dbit="dbit_grid",
               _sections="technical_copy")
__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_names(__name__, _WHERE)
