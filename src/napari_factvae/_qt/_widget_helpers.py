"""What the dock widgets share in Qt: a signal connection that lasts as long as the widget, and
a searchable (case-insensitive, substring) completer for a name field."""

from __future__ import annotations

from .._core import _dataset_model


def follow(widget, callback, signal=None) -> None:
    """Connect `callback` to `signal` for a magicgui widget's life; by default the session's
    `changed(mdata, what)` (see _core._dataset_model)."""
    signal = _dataset_model.events.changed if signal is None else signal
    signal.connect(callback)
    widget.native.destroyed.connect(lambda *_: signal.disconnect(callback))


def searchable(line_edit):
    """Attach a case-insensitive, substring-matching completer to a magicgui LineEdit; returns
    it (set the names with `completer.model().setStringList(names)`)."""
    from qtpy.QtCore import QStringListModel, Qt
    from qtpy.QtWidgets import QCompleter

    completer = QCompleter()
    completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
    completer.setFilterMode(Qt.MatchFlag.MatchContains)
    completer.setModel(QStringListModel())
    line_edit.native.setCompleter(completer)
    return completer
