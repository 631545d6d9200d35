"""The GUI swept like the CLI (docs/faults.md, "The napari plugin (GUI sweep)"): a real viewer,
tiny simulated tissues, and faults while workers run. Each ends in a notification (or a clear
status in the widget), a viewer that still works, nothing lost, and no exception escaping into
Qt's event loop (pytest-qt fails a test on one; the closing cases also collect them with
`qtbot.captureExceptions`). Work still running is held on an Event, never guessed with sleeps."""

import threading

import numpy as np
import pytest

pytestmark = pytest.mark.gui

TIMEOUT = 120_000  # ms; a few epochs on two busy cores


@pytest.fixture
def notes():
    """The napari notifications of this test: notes() all messages, notes('error') errors."""
    from napari.utils.notifications import notification_manager

    notification_manager.records.clear()

    def get(severity=None):
        return [str(n.message) for n in notification_manager.records
                if severity is None or str(n.severity).lower() == severity]
    return get


@pytest.fixture(autouse=True)
def _open_gates():
    yield
    while GATES:
        GATES.pop().open.set()


@pytest.fixture
def viewer(make_napari_viewer):
    return make_napari_viewer()


def _small(w, epochs):
    w.epochs.value, w.batch_size.value, w.latent.value, w.device.value = epochs, 64, 8, "cpu"
    w.preview_every.value = 0


GATES = []  # every Gate made, opened when its test ends


class Gate:
    """Holds a patched function in its worker thread until the test opens the gate (at the
    latest when the test ends, so that a failed test leaves no worker waiting)."""

    def __init__(self, func, times=1):
        self.func, self.times = func, times
        self.entered, self.open = threading.Event(), threading.Event()
        GATES.append(self)

    def __call__(self, *args, **kwargs):
        if self.times > 0:
            self.times -= 1
            self.entered.set()
            assert self.open.wait(60), "the test never opened the gate"
        return self.func(*args, **kwargs)


def _app_quits():
    """What napari does as the application quits: wait for the workers (no event loop turns)."""
    from napari._qt.qthreading import wait_for_workers_to_quit

    wait_for_workers_to_quit(60_000)


def _deliver():
    """Run the queued signals now (what the event loop would do next)."""
    from qtpy.QtWidgets import QApplication

    QApplication.processEvents()


def _close_while_gated(viewer, gate, qtbot):
    """Close the viewer while a worker waits at `gate`, let it go on as the application quits,
    and deliver what it queued: nothing may raise."""
    with qtbot.captureExceptions() as caught:
        viewer.close()
        gate.open.set()
        _app_quits()
        _deliver()
    assert caught == []


# --- 1. closing the viewer while a worker runs ------------------------------------------------

def test_closing_the_viewer_while_training_writes_the_checkpoint_in_the_worker_thread(
        make_napari_viewer, qtbot, trained, tmp_path, monkeypatch, capsys):
    """Before: the widget's deleted Qt objects raised in `_event` and `_aborted`, and the
    checkpoint, written on the main thread after them, never was (and when the application
    quits no event loop is left to deliver `aborted` at all)."""
    import torch

    from napari_factvae._qt._show_dataset import show_dataset
    from napari_factvae._qt._train_widget import TrainWidget

    monkeypatch.chdir(tmp_path)
    viewer = make_napari_viewer()
    show_dataset(viewer, trained, "tiny")
    w = TrainWidget(viewer)
    viewer.window.add_dock_widget(w)  # docked: closing the window deletes its Qt widgets
    _small(w, 500)
    w.start()
    qtbot.waitUntil(lambda: w.progress.value > 8, timeout=TIMEOUT)  # past the first epochs
    with qtbot.captureExceptions() as caught:
        viewer.close()  # napari quits the running workers (a user's close asks first)
        _app_quits()
        ckpt = tmp_path / "factvae.checkpoint.pt"
        assert ckpt.is_file()  # written by the worker thread: no event loop needed
        _deliver()  # the queued events and the stop reach a widget that is gone: dropped
    assert caught == []
    model = w.run["model"]
    assert model.cancelled and 1 <= model.epochs_done < 500
    assert torch.load(ckpt, weights_only=False)["trainer"]["epoch"] == model.epochs_done
    assert f"checkpoint saved to {ckpt}" in capsys.readouterr().err  # the window is gone


def test_closing_the_viewer_while_a_model_is_saved_finishes_the_file(
        make_napari_viewer, qtbot, trained, tmp_path, monkeypatch):
    from factvae.model._model import FactVAE
    from napari_factvae._qt._show_dataset import show_dataset
    from napari_factvae._qt._train_widget import TrainWidget

    viewer = make_napari_viewer()
    show_dataset(viewer, trained, "tiny")
    w = TrainWidget(viewer)
    viewer.window.add_dock_widget(w)
    w.model = FactVAE(trained, device="cpu", n_threads=1, batch_size=64, n_latent=8).train(1)
    gate = Gate(FactVAE.save)
    monkeypatch.setattr(FactVAE, "save", lambda self, *a, **k: gate(self, *a, **k))
    w.model_file.value = path = tmp_path / "m.pt"
    w.save_model()
    assert gate.entered.wait(60)  # the worker is writing
    _close_while_gated(viewer, gate, qtbot)
    monkeypatch.undo()
    assert FactVAE.load(path, trained, device="cpu").epochs_done == 1  # complete
    assert not list(tmp_path.glob("*.partial"))


def test_closing_the_viewer_while_domains_are_found_drops_them_quietly(
        make_napari_viewer, qtbot, trained, monkeypatch):
    from napari_factvae._core._dataset_model import dataset_of
    from napari_factvae._qt import _domains_widget
    from napari_factvae._qt._show_dataset import show_dataset

    viewer = make_napari_viewer()
    show_dataset(viewer, trained, "tiny")
    w = _domains_widget.DomainsWidget(viewer)
    viewer.window.add_dock_widget(w)
    gate = Gate(_domains_widget.compute_domains)
    monkeypatch.setattr(_domains_widget, "compute_domains", gate)
    before = trained.obs["domain"].copy()
    w.n_domains.value = 3
    w.compute()
    assert gate.entered.wait(60)
    _close_while_gated(viewer, gate, qtbot)
    assert "factvae_domain" not in trained.obs  # nothing stored for a closed viewer
    assert trained.obs["domain"].equals(before)
    assert not dataset_of(trained).finding_domains  # the flag is cleared even so


# --- 2. cancel during a model save ---------------------------------------------------------

def test_cancel_during_a_model_save_leaves_the_save_to_finish(viewer, qtbot, trained, tmp_path,
                                                              monkeypatch, notes):
    """Cancel is for training (greyed out while a file is written); a stop from napari (its
    task list, its window closing) lets the atomic write finish and the widget says so. Before:
    a call to cancel() said "Cancelling after this mini-batch..." over the save, and a stopped
    save left every button greyed out for ever."""
    from factvae.model._model import FactVAE
    from napari_factvae._qt._show_dataset import show_dataset
    from napari_factvae._qt._train_widget import TrainWidget

    show_dataset(viewer, trained, "tiny")
    w = TrainWidget(viewer)
    w.model = FactVAE(trained, device="cpu", n_threads=1, batch_size=64, n_latent=8).train(1)
    gate = Gate(FactVAE.save)
    monkeypatch.setattr(FactVAE, "save", lambda self, *a, **k: gate(self, *a, **k))
    w.model_file.value = path = tmp_path / "m.pt"
    w.save_model()
    assert gate.entered.wait(60)
    assert not w.cancel_button.enabled and not w.start_button.enabled
    w.cancel()  # (from code: the button is greyed out) nothing to cancel
    assert w.status.value.startswith("Saving the model") and not w.cancel_event.is_set()
    w.worker.quit()  # napari's own stop of a running task
    gate.open.set()
    qtbot.waitUntil(lambda: w.save_button.enabled, timeout=TIMEOUT)
    assert w.status.value == f"Saved model to {path}" and notes()[-1] == w.status.value
    monkeypatch.undo()
    assert FactVAE.load(path, trained, device="cpu").epochs_done == 1


# --- 3. the spots layer removed under a worker ---------------------------------------------

@pytest.mark.parametrize("data", ["raw (a new object)", "preprocessed (in place)"])
def test_removing_the_spots_layer_while_training_shows_the_result_again(viewer, qtbot, tiny,
                                                                        trained, data, notes):
    """Before: the raw dataset came back as 'factvae tissue/domains/spots' beside the old tissue
    and an orphaned raster; one trained in place was not shown at all (its results only
    reachable through the widget)."""
    from napari_factvae._core._map_state import MUDATA_KEY, RASTER_KEY
    from napari_factvae._qt._show_dataset import show_dataset
    from napari_factvae._qt._train_widget import TrainWidget

    mdata = tiny if data.startswith("raw") else trained
    show_dataset(viewer, mdata, "tiny")
    w = TrainWidget(viewer)
    _small(w, 2)
    w.start()
    viewer.layers.remove("tiny spots")  # before any result can come back (main thread)
    qtbot.waitUntil(lambda: w.start_button.enabled, timeout=TIMEOUT)
    assert [layer.name for layer in viewer.layers] == ["tiny tissue", "tiny domains", "tiny spots"]
    spots = viewer.layers["tiny spots"]
    assert spots.metadata[MUDATA_KEY] is w.mdata and "X_factvae" in w.mdata.obsm
    assert viewer.layers["tiny domains"].metadata[RASTER_KEY] is w.mdata  # reused
    assert (w.mdata is mdata) == data.endswith("(in place)")
    assert "shown again as 'tiny spots'" in w.status.value and notes()[-1] == w.status.value


def test_removing_the_layers_while_domains_are_found_stores_them_and_says_so(viewer, qtbot,
                                                                             trained, notes):
    from napari_factvae._qt._domains_widget import DomainsWidget
    from napari_factvae._qt._show_dataset import show_dataset

    show_dataset(viewer, trained, "tiny")
    w = DomainsWidget(viewer)
    w.n_domains.value = 3
    w.compute()
    viewer.layers.clear()
    qtbot.waitUntil(lambda: w.compute_button.enabled, timeout=TIMEOUT)
    assert "not painted" in w.info.value and notes()[-1] == w.info.value
    assert trained.obs["factvae_domain"].nunique() == 3  # kept in the dataset
    spots = show_dataset(viewer, trained, "tiny")[-1]  # shown again: painted as found
    assert len(np.unique(np.round(spots.face_color, 4), axis=0)) == 3


# --- 4. a second dataset loaded while the first trains -------------------------------------

@pytest.mark.parametrize("second", ["tiny", "other"])
def test_loading_a_second_dataset_while_the_first_trains_keeps_both(viewer, qtbot, tiny,
                                                                    tiny_h5mu, tmp_path,
                                                                    monkeypatch, second, notes):
    """The second load finishes while the first is held mid-training. Under another name both
    are shown; under the same name the load replaces the first one's layers (as loading again
    does), and the trained first one comes back as 'tiny (trained)' (before: as 'factvae',
    and its layers replaced the second one's tissue)."""
    import shutil

    from factvae.model._trainer import Trainer
    from napari_factvae._core._map_state import MUDATA_KEY
    from napari_factvae._qt._load_widget import LoadWidget
    from napari_factvae._qt._show_dataset import show_dataset
    from napari_factvae._qt._train_widget import TrainWidget

    path = tiny_h5mu if second == "tiny" else shutil.copy(tiny_h5mu, tmp_path / "other.h5mu")
    show_dataset(viewer, tiny, "tiny")
    w = TrainWidget(viewer)
    _small(w, 2)
    gate = Gate(Trainer.train_step)
    monkeypatch.setattr(Trainer, "train_step", lambda self, b: gate(self, b))
    w.start()
    assert gate.entered.wait(120)  # the first dataset is training
    load = LoadWidget(viewer)
    load.mudata_file.value, load.prior.value = path, False
    load.load()
    qtbot.waitUntil(lambda: load.load_button.enabled, timeout=TIMEOUT)
    assert load.info.value.startswith("240 spots")
    gate.open.set()
    qtbot.waitUntil(lambda: w.start_button.enabled, timeout=TIMEOUT)
    names = [layer.name for layer in viewer.layers if type(layer).__name__ == "Points"]
    first = "tiny (trained) spots" if second == "tiny" else "tiny spots"
    assert sorted(names) == sorted([first, f"{second} spots"])
    assert viewer.layers[first].metadata[MUDATA_KEY] is w.mdata and "X_factvae" in w.mdata.obsm
    other = viewer.layers[f"{second} spots"].metadata[MUDATA_KEY]
    assert other is not w.mdata and "X_factvae" not in other.obsm
    assert w.status.value.startswith("Trained 2 epochs")
    assert not notes("error")


# --- 5. corrupt or wrong-typed files through the reader (File > Open, drag and drop) --------

def _bad_files(tmp_path, tiny_h5mu):
    import h5py

    data = tiny_h5mu.read_bytes()
    (tmp_path / "truncated.h5mu").write_bytes(data[: len(data) // 2])
    (tmp_path / "text.h5mu").write_text("spot,x,y\ns0,1,2\n")
    (tmp_path / "text.h5ad").write_text("not AnnData")
    with h5py.File(tmp_path / "other.h5ad", "w") as f:  # HDF5, but not AnnData
        f["weights"] = np.zeros(3)
    return {"truncated.h5mu": "cannot be read as AnnData/MuData",
            "text.h5mu": "is not an HDF5 file", "text.h5ad": "is not an HDF5 file",
            "other.h5ad": "holds neither AnnData nor MuData"}


def test_a_corrupt_or_mislabelled_file_is_one_clear_error(viewer, qtbot, tiny_h5mu, tmp_path,
                                                          notes):
    """Through the reader function, `viewer.open(..., plugin=...)` and File > Open / drag and
    drop (both call QtViewer._qt_open): one error naming the file and the problem, no layer,
    no exception. Before: the reader refused these files, so File > Open raised napari's
    ReaderPluginError ("... but it gave an error. Try associating a different plugin"), which
    names no cause, and viewer.open raised ValueError."""
    from napari.utils.notifications import notification_manager

    from napari_factvae._reader import NOTHING, get_reader, read_spatial

    for name, problem in _bad_files(tmp_path, tiny_h5mu).items():
        p = str(tmp_path / name)
        assert get_reader(p) is read_spatial
        assert read_spatial(p) == NOTHING
        assert viewer.open(p, plugin="napari-factvae") == []
        viewer.window._qt_viewer._qt_open([p], stack=False)  # File > Open, drag and drop
        errors = notes("error")
        assert len(errors) == 3 and all(e.startswith(p) and problem in e for e in errors), errors
        notification_manager.records.clear()
    assert len(viewer.layers) == 0
    layers = viewer.open(str(tiny_h5mu), plugin="napari-factvae")  # the viewer still reads
    assert [type(layer).__name__ for layer in layers] == ["Image", "Points"]


def test_a_zarr_folder_that_is_not_a_store_is_left_to_napari(viewer, tmp_path, monkeypatch,
                                                             notes):
    """Not a SpatialData store: the reader declines (other readers may read it); File > Open
    shows napari's reader choice, and cancelling it changes nothing. (Choosing napari-factvae
    there gives napari's "Reader 'napari-factvae' ... refused the file." error.)"""
    from napari._qt.dialogs import qt_reader_dialog

    from napari_factvae._reader import get_reader

    folder = tmp_path / "plain.zarr"
    folder.mkdir()
    (folder / "zarr.json").write_text("{not json")
    assert get_reader(str(folder)) is None
    offered = []
    monkeypatch.setattr(qt_reader_dialog.QtReaderDialog, "get_user_choices",
                        lambda self: offered.append(True) or (None, False))
    viewer.window._qt_viewer._qt_open([str(folder)], stack=False)
    assert offered and len(viewer.layers) == 0


def test_a_damaged_store_is_one_error_not_two(viewer, tmp_path, notes):
    """A SpatialData store whose spots are unreadable: the engine's line, and nothing from
    napari on top (before: the reader returned [] and napari raised "returned no data")."""
    folder = tmp_path / "broken.zarr"
    folder.mkdir()
    (folder / "zarr.json").write_text('{"zarr_format": 3, "node_type": "group", '
                                      '"attributes": {"spatialdata_attrs": {"version": "0.2"}}}')
    assert viewer.open(str(folder), plugin="napari-factvae") == []
    (error,) = notes("error")
    assert error.startswith(str(folder)) and len(viewer.layers) == 0


def test_opening_a_corrupt_file_while_training_leaves_the_training_alone(viewer, qtbot, trained,
                                                                         tiny_h5mu, tmp_path,
                                                                         notes):
    from napari_factvae._qt._show_dataset import show_dataset
    from napari_factvae._qt._train_widget import TrainWidget

    bad = tmp_path / "text.h5mu"
    _bad_files(tmp_path, tiny_h5mu)
    show_dataset(viewer, trained, "tiny")
    w = TrainWidget(viewer)
    _small(w, 2)
    w.start()
    viewer.window._qt_viewer._qt_open([str(bad)], stack=False)
    qtbot.waitUntil(lambda: w.start_button.enabled, timeout=TIMEOUT)
    assert w.status.value.startswith("Trained 2 epochs") and w.model.epochs_done == 2
    (error,) = notes("error")
    assert error.startswith(f"{bad}: mudata: is not an HDF5 file")


# --- 6. a large tissue image while training -------------------------------------------------

def test_a_large_store_image_while_training_builds_its_pyramid_once(viewer, qtbot, tmp_path,
                                                                     monkeypatch, notes):
    """Stand-in for a 30,000 px image (too slow to build here): a 480 px store image, with the
    pyramid thresholds lowered so that it takes the same path (opened at once without the
    tissue, its pyramid built once in a worker, the tissue added when ready). Training that
    dataset meanwhile must not build the pyramid a second time (before: the trained dataset's
    layers were made with build=True, so its worker built the same cache folder again, racing
    the reader's worker, which deletes and rewrites it)."""
    import warnings

    import factvae
    import factvae.io._images as images
    from factvae.io._spatialdata_write import to_spatialdata
    from napari_factvae._core._map_state import MUDATA_KEY
    from napari_factvae._qt._train_widget import TrainWidget

    m = factvae.simulate(n_spots=120, n_genes=60, n_peaks=300, n_domains=3, n_motifs=4,
                         image_size=480, seed=3)
    store = tmp_path / "big.zarr"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        to_spatialdata(m).write(store)
    monkeypatch.setattr(images, "PYRAMID_ABOVE", 200)
    monkeypatch.setattr(images, "COARSEST", 100)
    builds = []
    gate = Gate(images.store_levels)

    def store_levels(store, image, *, build=True):
        if build:
            builds.append(threading.current_thread().name)
            return gate(store, image, build=build)
        return images.store_levels.__wrapped__(store, image, build=build)

    store_levels.__wrapped__ = images.store_levels
    monkeypatch.setattr(images, "store_levels", store_levels)
    viewer.open(str(store), plugin="napari-factvae")
    assert [type(layer).__name__ for layer in viewer.layers][-1] == "Points"  # at once
    assert gate.entered.wait(60)  # the pyramid is being built (held here)
    w = TrainWidget(viewer)
    _small(w, 2)
    w.start()
    qtbot.waitUntil(lambda: w.start_button.enabled, timeout=TIMEOUT)
    assert w.status.value.startswith("Trained 2 epochs")
    assert viewer.layers["big spots"].metadata[MUDATA_KEY] is w.mdata
    assert "big tissue" not in viewer.layers  # still being built
    gate.open.set()
    qtbot.waitUntil(lambda: "big tissue" in viewer.layers, timeout=TIMEOUT)
    tissue = viewer.layers["big tissue"]
    assert tissue.multiscale and viewer.layers.index(tissue) == 0
    assert len(builds) == 1  # once, by the reader's worker
    viewer.reset_view()  # still usable
    assert not notes("error")


def test_training_from_the_gui_does_not_copy_the_tissue_image(tmp_path):
    import factvae
    from factvae.io._spatial import first_library
    from napari_factvae._qt._train_widget import train_job

    m = factvae.simulate(n_spots=60, n_genes=40, n_peaks=120, n_domains=3, n_motifs=4,
                         image_size=600, seed=1)
    job = train_job(m, {"batch_size": 64, "n_latent": 4}, 1, "cpu", threading.Event())
    for kind, value in job:
        if kind == "prepared":
            break
    job.close()
    original = next(iter(first_library(m.uns)[1]["images"].values()))
    trained = next(iter(first_library(value.uns)[1]["images"].values()))
    assert value is not m and np.shares_memory(original, trained)


# --- 7. rename or merge while domains are recomputed ---------------------------------------

def test_renaming_while_domains_are_recomputed_waits_for_them(viewer, qtbot, trained,
                                                              monkeypatch, notes):
    """A rename or merge made now would be lost when the new domains are stored: refused with
    a notification, in the Domains widget and in the legend, until they are shown. Before:
    applied, then silently replaced by the new domains."""
    from napari_factvae._qt import _domains_widget
    from napari_factvae._qt._legend_widget import LegendWidget
    from napari_factvae._qt._show_dataset import show_dataset

    show_dataset(viewer, trained, "tiny")
    w = _domains_widget.DomainsWidget(viewer)
    w.n_domains.value = 3
    w.compute()
    qtbot.waitUntil(lambda: w.compute_button.enabled, timeout=TIMEOUT)
    found = list(trained.obs["factvae_domain"].cat.categories)
    legend = LegendWidget(viewer)
    gate = Gate(_domains_widget.compute_domains)
    monkeypatch.setattr(_domains_widget, "compute_domains", gate)
    w.n_domains.value = 4
    w.compute()
    assert gate.entered.wait(60)
    assert not w.rename_button.enabled
    w.table.item(0, 1).setText("A")
    w.table.item(1, 1).setText("A")
    w.apply_names()  # a merge
    legend.rename(found[2], "edge")
    assert list(trained.obs["factvae_domain"].cat.categories) == found
    errors = notes("error")
    assert len(errors) == 2 and all("being computed" in e for e in errors)
    gate.open.set()
    qtbot.waitUntil(lambda: w.compute_button.enabled, timeout=TIMEOUT)
    assert trained.obs["factvae_domain"].nunique() == 4 and w.rename_button.enabled
    legend.rename(trained.obs["factvae_domain"].cat.categories[-1], "edge")  # now: at once
    assert "edge" in trained.obs["factvae_domain"].cat.categories


# --- 8, 9. out of memory and a lost GPU inside a worker ------------------------------------

ERRORS = {
    "host out of memory": (MemoryError, "out of memory", "a smaller Batch size"),
    "CUDA out of memory": ("oom", "out of memory", "or Device cpu"),
    "CUDA device-side error": (("CUDA error: an illegal memory access was encountered\n"
                                "CUDA kernel errors might be asynchronously reported"),
                               "the GPU failed or is gone", "choose Device cpu"),
    "no CUDA GPUs": ("No CUDA GPUs are available", "the GPU failed or is gone",
                     "choose Device cpu"),
}


def _error(spec):
    import torch

    if spec is MemoryError:
        return MemoryError()
    if spec == "oom":
        return torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB "
                                           "(GPU 0; 7.8 GiB total capacity)")
    return RuntimeError(spec)


@pytest.mark.parametrize("fault", list(ERRORS))
def test_a_resource_error_in_training_is_a_notification_and_keeps_the_model(
        viewer, qtbot, trained, tmp_path, monkeypatch, notes, fault):
    """Raised in the training step once two epochs are done. Before: a MemoryError said
    "Failed: " (an empty message) and nothing else; a RuntimeError (every CUDA error) was taken
    by superqt for a deleted worker and dropped, so the widget stayed busy for ever."""
    from factvae.model._model import FactVAE
    from factvae.model._trainer import Trainer
    from napari_factvae._core._map_state import MUDATA_KEY
    from napari_factvae._qt._show_dataset import show_dataset
    from napari_factvae._qt._train_widget import TrainWidget

    spec, what, fix = ERRORS[fault]
    step = Trainer.train_step
    failing = [True]

    def train_step(self, batch):
        if failing[0] and self.epoch >= 2:
            raise _error(spec)
        return step(self, batch)

    monkeypatch.setattr(Trainer, "train_step", train_step)
    embedding = trained.obsm["X_factvae"].copy()
    show_dataset(viewer, trained, "tiny")
    w = TrainWidget(viewer)
    _small(w, 50)
    w.start()
    qtbot.waitUntil(lambda: w.start_button.enabled, timeout=TIMEOUT)  # not busy for ever
    (error,) = notes("error")
    assert error == w.status.value and what in error and fix in error
    assert "The model is kept (2 epochs finished)" in error
    # the dataset and the model are kept
    assert viewer.layers["tiny spots"].metadata[MUDATA_KEY] is trained
    np.testing.assert_array_equal(trained.obsm["X_factvae"], embedding)
    failed = w.model
    assert failed.epochs_done == 2 and w.save_button.enabled
    w.model_file.value = tmp_path / "kept.pt"
    w.save_model()
    qtbot.waitUntil(lambda: w.save_button.enabled, timeout=TIMEOUT)
    assert FactVAE.load(tmp_path / "kept.pt", trained, device="cpu").epochs_done == 2
    # Start again (the settings the fix names): a new model, trained to the end
    failing[0] = False
    w.epochs.value = 1
    w.start()
    qtbot.waitUntil(lambda: w.start_button.enabled, timeout=TIMEOUT)
    assert w.model is not failed and w.model.epochs_done == 1
    assert w.status.value.startswith("Trained 1 epochs")


def test_out_of_memory_while_finding_domains_says_what_to_do(viewer, qtbot, trained,
                                                             monkeypatch, notes):
    """Any worker: one notification with the fix, the button back (before: only "Failed: " in
    the widget, no notification)."""
    from napari_factvae._qt import _domains_widget
    from napari_factvae._qt._show_dataset import show_dataset

    def compute(*args, **kwargs):
        raise MemoryError()

    monkeypatch.setattr(_domains_widget, "compute_domains", compute)
    show_dataset(viewer, trained, "tiny")
    w = _domains_widget.DomainsWidget(viewer)
    w.compute()
    qtbot.waitUntil(lambda: w.compute_button.enabled, timeout=TIMEOUT)
    (error,) = notes("error")
    assert error.startswith("Out of memory (MemoryError). Fix:") and "fewer spots" in error
    assert w.info.value.startswith("Failed") and "factvae_domain" not in trained.obs


def test_a_failed_save_of_the_results_is_a_notification(viewer, qtbot, trained, tmp_path, notes):
    """A worker failure the widget has no text for: one notification, the engine's line for a
    FactVAEInputError, as here, else napari's error notification with its traceback (before:
    napari's relay was never connected, and the Load widget's save has no status line, so a
    failed save said nothing at all; the engine's write raised a bare FileExistsError)."""
    from napari_factvae._qt._load_widget import LoadWidget
    from napari_factvae._qt._show_dataset import show_dataset

    (tmp_path / "a file").write_text("not a folder")
    show_dataset(viewer, trained, "tiny")
    w = LoadWidget(viewer)
    w.save_file.value = tmp_path / "a file" / "res.h5mu"  # its folder is a file
    w.save()
    qtbot.waitUntil(lambda: w.save_button.enabled, timeout=TIMEOUT)
    (error,) = notes("error")
    assert "is a file, not a folder" in error and str(tmp_path / "a file") in error
    assert not notes("info")
