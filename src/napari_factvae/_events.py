"""What happened to a dataset, for every widget that shows it. Qt-free (psygnal only): the
widgets that compute store their results on the main thread, then say so here; the widgets
that list features (genes with embeddings, motifs) refresh, so nothing stays stale when a
dataset changes without a layer being added."""

from __future__ import annotations

from psygnal import Signal


class DatasetEvents:
    # (the MuData, what changed: 'results' after training or loading a model, 'motifs')
    changed = Signal(object, str)


events = DatasetEvents()


def follow(widget, callback) -> None:
    """Connect `callback(mdata, what)` for the lifetime of a magicgui/Qt widget."""
    events.changed.connect(callback)
    widget.native.destroyed.connect(lambda *_: events.changed.disconnect(callback))
