"""Per-spot values, as `scanpy.get`: `spot_values(mdata, kind, name)` is what an overlay paints
(a gene's expression, a peak's raw or augmented accessibility, a motif's activity) and
`feature_names(mdata, kind)` what can be asked for.

Private module: `_values`."""

from .._lazy import lazy_names, table

_WHERE = table(_values="KINDS feature_names spot_values")
__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_names(__name__, _WHERE)
