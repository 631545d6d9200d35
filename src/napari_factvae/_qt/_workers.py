"""Long work off the GUI thread, and what comes back from it.

- Results, events, errors and a stop reach the widget on the main thread (queued signals), and
  only while the widget (`owner`) exists and its viewer is open: a result whose widget or
  viewer is gone is dropped quietly instead of raising on deleted Qt objects.
- A failure ends in one notification: the widget's own text when its `on_error` returns one,
  else the engine's one line for bad input (FactVAEInputError), a sentence saying what to do
  for running out of memory or losing the GPU (`explain`), else napari's error notification
  with the traceback. (napari's worker classes mean to relay errors to its notifications, but
  their mixin is never initialised, so a failed worker used to say nothing at all.)
- A RuntimeError raised by a generator is passed on as an error: superqt takes any
  RuntimeError for "the worker was deleted" and drops it without `errored` or `finished`,
  which left the widget busy for ever (every CUDA error is a RuntimeError).
- A quit generator worker (napari quits them when its window closes, and waits for them when
  the application quits) closes its generator in the worker thread, so the generator's own
  clean-up runs even when no event loop is left to deliver signals; `on_abort_in_thread`
  runs right after, there too. Any quit worker then calls `on_abort` on the main thread when
  it ends (superqt drops the return value of a quit worker)."""

from __future__ import annotations

import functools
import inspect

from napari.qt.threading import create_worker


class _Passed(Exception):
    """A RuntimeError carried out of a generator worker (unwrapped before the widget sees it)."""

    def __init__(self, error: RuntimeError):
        super().__init__(str(error))
        self.error = error


def _passing_runtime_errors(func):
    @functools.wraps(func)
    def generator(*args, **kwargs):
        try:
            return (yield from func(*args, **kwargs))
        except RuntimeError as err:
            raise _Passed(err) from err
    return generator


def viewer_open(viewer) -> bool:
    """False once a napari viewer's window was closed (napari deletes `window._qt_window`)."""
    window = getattr(viewer, "window", None)
    return window is None or hasattr(window, "_qt_window")


def alive(owner) -> bool:
    """Whether a widget (magicgui or Qt; its `viewer` open) or a viewer can still take a result."""
    if owner is None:
        return True
    viewer = owner if hasattr(owner, "layers") else getattr(owner, "viewer", None)
    if viewer is not None and not viewer_open(viewer):
        return False
    native = getattr(owner, "native", owner if hasattr(owner, "objectName") else None)
    if native is None:
        return True
    try:
        native.objectName()  # a deleted Qt object raises RuntimeError on any call
    except RuntimeError:
        return False
    return True


OUT_OF_MEMORY, DEVICE_LOST = "out of memory", "device lost"


def resource_error(error) -> str | None:
    """OUT_OF_MEMORY (host or GPU), DEVICE_LOST (a CUDA error: the GPU failed or is gone), or
    None for anything else."""
    text = str(error).lower()
    if isinstance(error, MemoryError):
        return OUT_OF_MEMORY
    if isinstance(error, RuntimeError):  # torch.cuda.OutOfMemoryError is one too
        if "out of memory" in text or "can't allocate memory" in text:
            return OUT_OF_MEMORY
        if any(s in text for s in ("cuda error", "no cuda gpus", "cuda driver", "device-side",
                                   "cudnn_status", "cublas_status", "cuda-capable device")):
            return DEVICE_LOST
    return None


def explain(error) -> str | None:
    """A sentence with the fix for running out of memory or losing the GPU, else None."""
    kind = resource_error(error)
    detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if kind == OUT_OF_MEMORY:
        return (f"Out of memory ({detail}). Fix: close other programs or work on fewer spots; "
                "on a GPU, choose Device cpu in the Train widget.")
    if kind == DEVICE_LOST:
        return (f"The GPU failed or is gone ({detail}). Fix: choose Device cpu in the Train "
                "widget, or restart napari once the GPU works again.")
    return None


def notify_failure(error, text: str | None = None) -> None:
    """One notification for a failed worker (see the module docstring)."""
    from napari.utils.notifications import notification_manager, show_error

    from factvae.errors import FactVAEInputError

    text = text or (str(error) if isinstance(error, FactVAEInputError) else explain(error))
    if text:
        show_error(text)
    else:  # not foreseen: napari's error notification, with the traceback
        notification_manager.receive_error(type(error), error, error.__traceback__)


def start(func, *args, owner=None, on_return=None, on_yield=None, on_error=None, on_finish=None,
          on_abort=None, on_abort_in_thread=None, cleanup=None, **kwargs):
    """A worker (not started) running `func(*args, **kwargs)`; the callbacks are called on the
    main thread while `owner` is alive (see `alive`), `cleanup()` whatever the owner's state.
    `on_error(error)` may return the text of the notification."""
    from qtpy.QtCore import Qt

    generator = inspect.isgeneratorfunction(func)
    if generator:
        func = _passing_runtime_errors(func)

    def guarded(callback):
        def call(*a):
            if callback is not None and alive(owner):
                return callback(*a)
            return None
        return call

    outcome = {"failed": False, "closed": False}

    def failed(error):
        outcome["failed"] = True
        if isinstance(error, _Passed):
            error = error.error
        text = guarded(on_error)(error)
        notify_failure(error, text if isinstance(text, str) else None)

    worker = create_worker(func, *args, _connect={"errored": failed}, _start_thread=False,
                           **kwargs)
    if on_yield is not None:
        worker.yielded.connect(guarded(on_yield))
    if on_return is not None:
        worker.returned.connect(guarded(on_return))
    if generator:
        def close_here():  # in the worker thread, before anything reaches the main thread
            outcome["closed"] = True
            try:
                worker._gen.close()  # its finally / except GeneratorExit clean-up runs now
            finally:
                if on_abort_in_thread is not None:
                    on_abort_in_thread()

        worker.aborted.connect(close_here, Qt.ConnectionType.DirectConnection)

    def finished():  # queued after `aborted`: what close_here did is done
        if worker.abort_requested and not outcome["failed"]:
            if not outcome["closed"] and on_abort_in_thread is not None:
                on_abort_in_thread()  # it ended before it saw the quit: the same, here
            guarded(on_abort)()
        if on_finish is not None:
            guarded(on_finish)()
        if cleanup is not None:
            cleanup()

    worker.finished.connect(finished)
    return worker
