"""Long work off the GUI thread. napari's workers already relay exceptions and warnings to its
notifications; here we also re-enable the widget and keep errors from being re-raised."""

from __future__ import annotations

from napari.qt.threading import create_worker


def start(func, *args, on_return=None, on_yield=None, on_error=None, on_finish=None,
          on_abort=None, **kwargs):
    connect = {"errored": on_error or (lambda e: None)}
    if on_abort is not None:  # the worker was quit (napari does so when the viewer closes)
        connect["aborted"] = on_abort
    if on_return is not None:
        connect["returned"] = on_return
    if on_yield is not None:
        connect["yielded"] = on_yield
    if on_finish is not None:
        connect["finished"] = on_finish
    return create_worker(func, *args, _connect=connect, _start_thread=False, **kwargs)
