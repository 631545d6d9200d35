"""Train: the main FactVAE parameters with the spec's defaults; Start, Cancel, save and load a
model; a progress bar with ETA and a live loss plot, all while the viewer stays usable."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FileEdit,
    FloatSpinBox,
    Label,
    ProgressBar,
    PushButton,
    SpinBox,
)
from napari.utils.notifications import show_error, show_info

from .._core import _dataset_model, _viewer_datasets
from .._core._layers import spot_layers
from . import _map_display, _workers
from ._loss_plot import LossPlot
from ._show_dataset import show_dataset


def train_job(mdata, params: dict, epochs: int, device: str, cancel: threading.Event,
              model=None, min_interval: float = 0.1, preview_every: int = 0,
              run: dict | None = None):
    """Generator run in a worker: `factvae.pipeline.train` (the CLI's steps), passing on its
    ('stage' | 'prepared' | 'model' | 'progress' | 'preview', value) events. Returns (mdata,
    model, results to store, layer data of a new mdata or None): the results are computed here
    and stored by the widget on the main thread. The model is also put in `run['model']` as
    soon as it exists: the worker thread's own hold on it when the viewer closes (see
    TrainWidget._keep_checkpoint). Closing the generator sets the model back to its last
    finished epoch."""
    from factvae import pipeline

    run = {} if run is None else run
    given = mdata
    events = pipeline.train(
        mdata, params, epochs=epochs, device=device,
        n_threads=pipeline.default_threads(leave_one=True), model=model, cancel=cancel.is_set,
        min_interval=min_interval, copy=True,  # never write into the MuData the viewer shows
        preview_every=preview_every)
    try:
        while True:
            try:
                event = next(events)
            except StopIteration as end:
                mdata, model = end.value
                break
            if event[0] == "model":
                run["model"] = event[1]
            yield event
    finally:  # closed from outside: the training loop goes back to its last finished epoch
        events.close()
    results = model.compute_results()
    # the tissue is the one already shown: a store's pyramid is never built here (the reader
    # may be building it in its own worker; two builds of one cache would race)
    layers = spot_layers(mdata, build_pyramid=False) if mdata is not given else None
    return mdata, model, results, layers


def _preview_record(preview: dict) -> dict:
    """The domain parameters of a preview, marked as one (so a later preview may replace it)."""
    return {**preview["record"], "preview_epoch": int(preview["epoch"])}


def load_model_job(path, mdata, device: str):
    """Worker: read a model file and compute its results (stored on the main thread)."""
    from factvae.model._model import FactVAE

    model = FactVAE.load(path, mdata, device=device)
    return model, model.compute_results()


def save_model_job(model, path):
    return model.save(path, overwrite=False)


class TrainWidget(Container):
    def __init__(self, napari_viewer):
        from factvae.config import FactVAEConfig

        super().__init__(labels=True)
        self.viewer = napari_viewer
        # the parameters, generated from FactVAEConfig's field metadata (as the CLI's options):
        # a widget per option, under the CLI option's name (self.latent, self.batch_size, ...)
        self.config_options = sorted(FactVAEConfig.options("gui"), key=lambda o: o.name != "epochs")
        self.param_widgets = {}
        for o in self.config_options:
            tip = o.help
            if o.gui_choices:
                shown = next(k for k, v in o.gui_choices.items() if v == o.default)
                w = ComboBox(label=o.label, choices=list(o.gui_choices), value=shown, tooltip=tip)
            elif o.type is bool:
                w = CheckBox(text=o.label, value=o.default, tooltip=tip)
            elif o.type is int:
                w = SpinBox(label=o.label, value=o.default, min=o.min, max=o.max, tooltip=tip)
            else:
                w = FloatSpinBox(label=o.label, value=o.default, min=o.min, max=o.max,
                                 step=o.step, tooltip=tip)
            self.param_widgets[o.name] = w
            setattr(self, o.dest, w)
            if o.name == "epochs":  # the device sits right after the run's length
                self.device = ComboBox(label="Device", choices=["auto", "cpu", "cuda", "mps"],
                                       value="auto")
        self.preview_every = SpinBox(label="Preview domains every", value=10, min=0,
                                     max=10_000, tooltip="epochs between domain maps painted "
                                     "while training (0: none); each costs one clustering")
        self.start_button = PushButton(text="Start")
        self.cancel_button = PushButton(text="Cancel", enabled=False)
        self.progress = ProgressBar(label="Progress", min=0, max=1000, value=0)
        self.status = Label(value="Idle.")
        # its width must not follow the text: a wider dock re-lays out the window and redraws
        # the canvas (~100-180 ms in software GL); the full text is in the tooltip too
        from qtpy.QtWidgets import QSizePolicy

        self.status.native.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.status.changed.connect(lambda text: self.status.native.setToolTip(str(text)))
        self.model_file = FileEdit(label="Model file", mode="w", filter="*.pt")
        self.save_button = PushButton(text="Save model")
        self.load_button = PushButton(text="Load model")
        self.plot = LossPlot()
        self.extend([self.param_widgets["epochs"], self.device,
                     *[w for name, w in self.param_widgets.items() if name != "epochs"],
                     self.preview_every, self.start_button,
                     self.cancel_button, self.progress, self.status,
                     self.model_file, self.save_button, self.load_button])
        self.native.layout().addWidget(self.plot)
        self.start_button.changed.connect(self.start)
        self.cancel_button.changed.connect(self.cancel)
        self.save_button.changed.connect(self.save_model)
        self.load_button.changed.connect(self.load_model)
        self.cancel_event = threading.Event()
        self.worker = None
        self.model = None
        self.mdata = None
        self.run = {}  # the current training: its model, checkpoint file, name, how it stopped
        self.resume_ok = True  # False after running out of memory or losing the GPU

    def params(self) -> dict:
        """FactVAEConfig keyword arguments from the widgets."""
        out = {}
        for o in self.config_options:
            value = self.param_widgets[o.name].value
            out[o.name] = o.gui_choices[value] if o.gui_choices else value
        return out

    def start(self):
        layer, mdata = _viewer_datasets.current(self.viewer)
        if mdata is None:
            show_error("No dataset: load one with the Load widget or open a .h5mu first.")
            return
        self.mdata = mdata
        name = layer.name.removesuffix(" spots").removesuffix("spots").strip() or "factvae"
        self.run = {"checkpoint": self._checkpoint_base(), "name": name}
        self.cancel_event.clear()
        self.plot.clear()
        self.progress.value = 0
        self.start_button.enabled = False
        self.save_button.enabled = self.load_button.enabled = False  # the model is changing
        self.cancel_button.enabled = True
        resume = (self.model if self.resume_ok and self.model is not None
                  and self.model.mdata is mdata else None)
        self.resume_ok = True
        if resume is not None:
            for epoch_losses in resume.history.to_dict("records"):
                self.plot.add_epoch(epoch_losses)
        from factvae.keys import DOMAIN_KEY

        # previews are painted as the dataset's domains only when it has none of its own
        # (nothing the user found or renamed is replaced while training runs)
        self.paint_previews = DOMAIN_KEY not in mdata.obs or bool(
            mdata.uns.get(DOMAIN_KEY, {}).get("params", {}).get("preview_epoch"))
        self.last_preview = None
        self.estimate = None
        self.worker = _workers.start(train_job, mdata, self.params(), self.epochs.value,
                                     self.device.value, self.cancel_event, resume,
                                     preview_every=self.preview_every.value, run=self.run,
                                     owner=self, on_yield=self._event, on_return=self._done,
                                     on_error=self._failed, on_abort=self._aborted,
                                     on_abort_in_thread=lambda run=self.run: _keep_checkpoint(run))
        self.worker.start()

    def cancel(self):
        if not self.cancel_button.enabled:  # not training: a save or load runs to its end
            return
        self.cancel_event.set()
        self.status.value = "Cancelling after this mini-batch..."

    def _event(self, event):
        kind, value = event
        if kind == "prepared":
            return
        if kind == "model":  # kept at once, so a stop never loses it
            self.model = value
            self.status.value = f"Training on {value.device}..."
            return
        if kind == "stage":
            self.status.value = value.capitalize() + "..."
            return
        if kind == "preview":
            self._preview(value)
            return
        from factvae.pipeline import estimate_line

        p = value
        self.progress.value = int(1000 * p.fraction)
        if self.estimate is None and (p.step >= 3 or p.epoch_done):
            self.estimate = estimate_line(p, self.model)
            show_info(self.estimate)
        done = max(p.fraction, 1e-9)
        eta = p.elapsed / done * (1 - done) if p.fraction > 0 else float("nan")
        self.status.value = (f"epoch {p.epoch}/{p.n_epochs}, step {p.step}/{p.n_steps}, "
                             f"loss {p.losses['joint']:.4g}, at most {eta:.0f} s left")
        if p.epoch_done:
            self.plot.add_epoch(p.losses)

    def _preview(self, preview: dict):
        """Domains of the current embedding: painted on the tissue (when the dataset has no
        domains of its own) and said in the status line."""
        import numpy as np
        import pandas as pd

        from factvae.pipeline import describe_preview

        line = describe_preview(preview, self.last_preview)
        self.last_preview = preview
        if self.paint_previews and self.model is not None:
            # the preview's spots are the prepared MuData's: place them on the shown ones
            pos = pd.Index(self.model.mdata.obs_names).get_indexer(self.mdata.obs_names)
            labels = np.where(pos >= 0, np.asarray(preview["labels"])[np.maximum(pos, 0)], -1)
            _dataset_model.dataset_of(self.mdata).store_domains(labels, _preview_record(preview))
            spots = _viewer_datasets.spots_of(self.viewer, self.mdata)
            if spots is not None:
                _map_display.show(self.viewer, spots)
        self.status.value = "Preview at " + line

    def _done(self, result):
        mdata, model, results, layers = result
        # the session's dataset changes here, on the main thread, and says so
        dataset = _dataset_model.dataset_of(self.mdata)
        old = _viewer_datasets.spots_of(self.viewer, self.mdata)  # place of the shown one
        if mdata is not self.mdata:
            dataset.replace(mdata)
            if self.paint_previews and self.last_preview is not None:  # keep what was shown
                dataset.store_domains(self.last_preview["labels"],
                                      _preview_record(self.last_preview))
        dataset.store_results(model, results)
        self.model = model
        note = ""
        if old is None:  # its spots layer was removed (or replaced) while training: shown again
            name = self._shown_again(mdata)
            show_dataset(self.viewer, mdata, name, layers if layers is not None
                         else spot_layers(mdata, build_pyramid=False))
            note = (f" Its spots layer was removed while training, so the trained dataset is "
                    f"shown again as '{name} spots'.")
        elif mdata is not self.mdata:  # preprocessing made a new (filtered) object: show it
            name = old.name.removesuffix(" spots").removesuffix("spots").strip()  # in its place
            show_dataset(self.viewer, mdata, name, layers)
        self.mdata = mdata
        self._reset()
        self.plot.redraw()
        word = "Cancelled; kept" if model.cancelled else "Trained"
        self.status.value = f"{word} {model.epochs_done} epochs ({model.train_seconds:.0f} s)."
        if model.stopped_early and not model.cancelled:
            self.progress.value = 1000  # done: the rule ended it before the last epoch asked
            self.status.value += (f" Stopped early: the held-out ELBO has not improved since "
                                  f"epoch {model.trainer.stopping.best_epoch}.")
        self.status.value += note
        show_info(self.status.value)

    def _shown_again(self, mdata) -> str:
        """The name to show a dataset under whose spots layer is gone: its own, unless another
        dataset's layers took it (then '<name> (trained)'); its domain raster, left behind by
        the removal, is reused."""
        from .._core._map_state import RASTER_KEY

        base = self.run.get("name", "factvae")
        if f"{base} spots" not in self.viewer.layers:
            raster = _viewer_datasets.raster_of(self.viewer, self.mdata)  # (the given one)
            if raster is not None:
                raster.metadata[RASTER_KEY] = mdata
            return base
        name, n = f"{base} (trained)", 1
        while f"{name} spots" in self.viewer.layers:
            n += 1
            name = f"{base} (trained {n})"
        return name

    def _failed(self, error):
        """Training failed. Out of memory or a lost GPU: say what to do, keep the model (its
        finished epochs), and let the next Start build a new model with the settings then
        shown (a resumed one keeps its own device and batch size). Returns the notification's
        text (None: `_workers`' own)."""
        self._reset()
        model = self.run.get("model")  # this run's (None: it failed before one was made)
        if model is not None:
            self.model = model
        kind = _workers.resource_error(error)
        if kind is None:
            self.status.value = f"Failed: {error}"
            return None
        self.resume_ok = False
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        done = model.epochs_done if model is not None else 0
        kept = (f" The model is kept ({done} epochs finished): Save model writes it to a file."
                if done else " No epoch had finished: there is no model to keep.")
        on_gpu = (str(getattr(model, "device", self.device.value)) != "cpu"
                  or any(k in str(error).lower() for k in ("cuda", "gpu", "mps")))
        if kind == _workers.OUT_OF_MEMORY:
            what = "out of memory"
            fix = (f"a smaller Batch size (spots per mini-batch; now {self.batch_size.value})"
                   + (" or Device cpu" if on_gpu else " or close other programs")
                   + ", then Start (a new model is trained with these settings).")
        else:
            what = "the GPU failed or is gone"
            fix = ("choose Device cpu and Start (a new model), or restart napari once the GPU "
                   "works again.")
        self.status.value = f"Training stopped: {what} ({detail}).{kept} Fix: {fix}"
        return self.status.value

    def _aborted(self):
        """The worker was stopped from outside (closing the viewer asks first, then quits it);
        the worker thread has already written the checkpoint (_keep_checkpoint): say so."""
        self._reset()
        if self.run.get("model") is not None:
            self.model = self.run["model"]
        self.status.value = self.run.get("stopped", "Stopped.")
        show_info(self.status.value)

    def _checkpoint_base(self) -> Path:
        chosen = self._model_path()
        return Path(chosen).with_suffix("") if chosen else Path.cwd() / "factvae"

    def checkpoint_path(self):
        """Beside the chosen model file, else in the working folder; never over a file."""
        return _free_checkpoint(self._checkpoint_base())

    def _reset(self):
        self.start_button.enabled = self.save_button.enabled = self.load_button.enabled = True
        self.cancel_button.enabled = False

    def _model_path(self):
        v = self.model_file.value
        return None if v is None or str(v) in ("", ".") else v

    def save_model(self):
        from factvae.errors import FactVAEInputError

        path = self._model_path()
        if self.model is None or path is None:
            show_error("Train a model and choose a file first.")
            return
        if Path(path).exists():  # refused up front, not after the work
            show_error(str(FactVAEInputError("already exists.", file=str(path), field="model file",
                                              fix="choose another file name.")))
            return
        self._busy(f"Saving the model to {path}...")
        # a save runs to its end (a stop from napari, e.g. its window closing, drops only the
        # return value; FactVAE.save writes atomically): said from the file afterwards
        self.worker = _workers.start(
            save_model_job, self.model, path, owner=self,
            on_return=lambda p: self._idle(f"Saved model to {p}"), on_error=self._file_failed,
            on_abort=lambda: self._idle(f"Saved model to {path}" if Path(path).is_file()
                                        else "The model was not saved."))
        self.worker.start()

    def load_model(self):
        _, mdata = _viewer_datasets.current(self.viewer)
        path = self._model_path()
        if mdata is None or path is None:
            show_error("Load a dataset and choose a model file first.")
            return
        self._busy(f"Loading {path}...")
        self.worker = _workers.start(load_model_job, path, mdata, self.device.value, owner=self,
                                     on_return=lambda r: self._loaded(mdata, *r),
                                     on_error=self._file_failed,
                                     on_abort=lambda: self._idle("Loading stopped; nothing "
                                                                 "changed."))
        self.worker.start()

    def _loaded(self, mdata, model, results):
        _dataset_model.dataset_of(mdata).store_results(model, results)
        self.model, self.mdata = model, mdata
        self._idle(f"Loaded a model trained {model.epochs_done} epochs.")

    def _file_failed(self, error):
        self._reset()
        self.status.value = f"Failed: {error}"

    def _busy(self, text: str):
        """Reading or writing a file in a worker: no second start until it is done."""
        self.start_button.enabled = False
        self.save_button.enabled = self.load_button.enabled = False
        self.status.value = text

    def _idle(self, text: str):
        self._reset()
        self.status.value = text
        show_info(text)


def _free_checkpoint(base: Path) -> Path:
    """`<base>.checkpoint.pt`, or `-2`, `-3`, ...: never over a file."""
    path = base.with_name(base.name + ".checkpoint.pt")
    n = 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}.checkpoint-{n}.pt")
    return path


def _keep_checkpoint(run: dict) -> None:
    """In the worker thread, once a quit closed the training generator (the model is back at
    its last finished epoch): write the checkpoint at once, as no event loop may be left to ask
    for it (napari waits for its workers when the application quits). The outcome goes in
    `run['stopped']` and on stderr (the window may be gone)."""
    model = run.get("model")
    if model is None or model.epochs_done == 0:
        run["stopped"] = "Stopped before the first epoch ended; nothing to keep."
        return
    path = _free_checkpoint(run["checkpoint"])
    try:
        model.save(path)
    except Exception as err:  # noqa: BLE001 - the viewer may be closing: report, never raise
        run["stopped"] = f"Stopped; the checkpoint could not be written: {err}"
    else:
        run["stopped"] = f"Stopped at epoch {model.epochs_done}; checkpoint saved to {path}."
    print(f"napari-factvae: {run['stopped']}", file=sys.stderr, flush=True)
