"""Each dock widget driven end to end on a tiny simulated tissue, under Xvfb (pytest-qt)."""

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.gui

TIMEOUT = 120_000  # ms; training a few epochs on two cores


@pytest.fixture
def viewer(make_napari_viewer):
    return make_napari_viewer()


@pytest.fixture
def shown(viewer, trained):
    from napari_factvae._qt._show_dataset import show_dataset

    show_dataset(viewer, trained, "tiny")
    return viewer, trained


def test_load_widget_shows_image_spots_and_summary(viewer, qtbot, tiny_h5mu):
    from napari_factvae._qt._load_widget import LoadWidget

    w = LoadWidget(viewer)
    w.mudata_file.value = tiny_h5mu
    w.load()
    qtbot.waitUntil(lambda: w.load_button.enabled, timeout=TIMEOUT)
    # the simulated tissue has domains: drawn as regions under the spots
    assert [type(layer).__name__ for layer in viewer.layers] == ["Image", "Labels", "Points"]
    assert w.info.value.startswith("240 spots, 150 genes, 900 peaks") and "linked" in w.info.value


def test_load_widget_reports_bad_input_without_crashing(viewer, qtbot, tmp_path):
    from napari_factvae._qt._load_widget import LoadWidget

    bad = tmp_path / "bad.h5mu"
    bad.write_text("not a file of ours")
    w = LoadWidget(viewer)
    w.mudata_file.value = bad
    w.load()
    qtbot.waitUntil(lambda: w.load_button.enabled, timeout=TIMEOUT)
    assert "not an HDF5 file" in w.info.value and len(viewer.layers) == 0


def test_train_widget_trains_with_progress_and_loss_plot(viewer, qtbot, tiny):
    from napari_factvae._qt._show_dataset import show_dataset
    from napari_factvae._qt._train_widget import TrainWidget

    show_dataset(viewer, tiny, "tiny")
    w = TrainWidget(viewer)
    w.epochs.value, w.batch_size.value, w.latent.value, w.device.value = 3, 64, 8, "cpu"
    w.preview_every.value = 0  # (previews: the next test)
    w.start()
    assert not w.start_button.enabled and w.cancel_button.enabled
    qtbot.waitUntil(lambda: w.start_button.enabled, timeout=TIMEOUT)
    assert w.model.epochs_done == 3 and w.progress.value == 1000
    assert len(w.plot.history["joint"]) == 3
    assert "X_factvae" in w.mdata.obsm and w.status.value.startswith("Trained 3 epochs")
    assert w.model.config.spatial is True  # the tissue has coordinates: spatial mode by default
    assert w.mdata.uns["factvae"]["params"]["spatial_design"] == w.spatial_design.value
    # preprocessing made a new object: its layers replace the old ones, under the same names
    assert [layer.name for layer in viewer.layers] == ["tiny tissue", "tiny domains", "tiny spots"]
    assert viewer.layers["tiny spots"].metadata["factvae_mudata"] is w.mdata
    raster = viewer.layers["tiny domains"]  # reused, redrawn for the new object's spots
    assert raster.metadata["factvae_domains_of"] is w.mdata
    n = w.mdata.obs["domain"].nunique()
    assert set(np.unique(raster.data)) == set(range(n + 1))


def test_train_widget_paints_domain_previews_while_training(viewer, qtbot, trained):
    from napari_factvae._qt._show_dataset import show_dataset
    from napari_factvae._qt._train_widget import TrainWidget

    m = trained.copy()
    del m.obs["domain"]  # a dataset without domains of its own: previews are painted
    show_dataset(viewer, m, "tiny")
    w = TrainWidget(viewer)
    w.epochs.value, w.batch_size.value, w.latent.value, w.device.value = 4, 64, 8, "cpu"
    w.preview_every.value = 2
    seen = []
    w.start()
    w.worker.yielded.connect(lambda e: seen.append(e[1]["epoch"]) if e[0] == "preview" else None)
    qtbot.waitUntil(lambda: w.start_button.enabled, timeout=TIMEOUT)
    assert seen == [2, 4]
    params = w.mdata.uns["factvae_domain"]["params"]
    assert params["preview_epoch"] == 4 and w.mdata.obs["factvae_domain"].notna().all()
    raster = viewer.layers["tiny domains"]
    assert set(np.unique(raster.data)) - {0}  # painted
    assert w.status.value.startswith("Trained 4 epochs") and w.estimate.startswith("about")
    # a dataset with domains of its own keeps them
    before = w.mdata.obs["factvae_domain"].copy()
    w.mdata.uns["factvae_domain"]["params"].pop("preview_epoch")
    seen.clear()
    w.epochs.value = 6  # two more epochs, one more preview: said, not painted
    w.start()
    w.worker.yielded.connect(lambda e: seen.append(e[1]["epoch"]) if e[0] == "preview" else None)
    qtbot.waitUntil(lambda: w.start_button.enabled, timeout=TIMEOUT)
    assert seen == [6] and w.model.epochs_done == 6
    pd.testing.assert_series_equal(w.mdata.obs["factvae_domain"], before)


def test_train_widget_cancel_keeps_last_epoch(viewer, qtbot, trained):
    from napari_factvae._qt._show_dataset import show_dataset
    from napari_factvae._qt._train_widget import TrainWidget

    show_dataset(viewer, trained, "tiny")
    w = TrainWidget(viewer)
    w.epochs.value, w.batch_size.value, w.latent.value, w.device.value = 500, 64, 8, "cpu"
    w.start()
    qtbot.waitUntil(lambda: w.progress.value > 8, timeout=TIMEOUT)  # past the first epochs
    w.cancel()
    qtbot.waitUntil(lambda: w.start_button.enabled, timeout=TIMEOUT)
    assert w.model.cancelled and 1 <= w.model.epochs_done < 500
    assert w.status.value.startswith("Cancelled; kept")
    assert trained.uns["factvae"]["epochs_done"] == w.model.epochs_done


def test_domains_widget_paints_domains(shown, qtbot, tmp_path):
    from napari_factvae._qt._domains_widget import DomainsWidget

    viewer, mdata = shown
    w = DomainsWidget(viewer)
    w.n_domains.value = 4
    w.compute()
    qtbot.waitUntil(lambda: w.compute_button.enabled, timeout=TIMEOUT)
    spots = viewer.layers["tiny spots"]
    assert len(np.unique(np.round(spots.face_color, 4), axis=0)) == 4
    fill = viewer.layers["tiny domains"]
    assert set(np.unique(fill.data)) == {0, 1, 2, 3, 4}
    assert viewer.layers.index(spots) == len(viewer.layers) - 1  # spots drawn on top
    # annotation: merge two domains by giving them one name
    w.table.item(0, 1).setText("A")
    w.table.item(1, 1).setText("A")
    w.apply_names()
    assert list(mdata.obs["factvae_domain"].cat.categories) == ["A", "2", "3"]
    assert len(np.unique(np.round(spots.face_color, 4), axis=0)) == 3
    assert set(np.unique(fill.data)) == {0, 1, 2, 3}  # the raster follows the merge
    w.export_file.value = tmp_path / "domains.csv"
    w.export()
    table = pd.read_csv(tmp_path / "domains.csv")
    assert len(table) == mdata.n_obs and set(table["domain"].astype(str)) == {"A", "2", "3"}


def test_train_widget_exposes_the_paper_mode(viewer, tiny):
    from napari_factvae._qt._show_dataset import show_dataset
    from napari_factvae._qt._train_widget import TrainWidget

    show_dataset(viewer, tiny, "tiny")
    w = TrainWidget(viewer)
    assert w.spatial.value == "auto" and w.params()["spatial"] == "auto"
    w.spatial.value, w.spatial_design.value = "off (paper)", "aggregate"
    assert w.params()["spatial"] is False and w.params()["spatial_design"] == "aggregate"


def test_domains_widget_takes_its_choices_and_ranges_from_the_engines_declaration(shown):
    from factvae.tl import _params
    from napari_factvae._qt._domains_widget import DomainsWidget

    viewer, _ = shown
    w = DomainsWidget(viewer)
    opt = {o.name: o for o in _params.DomainParams.options("gui")}
    assert list(w.method.choices) == list(_params.DOMAIN_METHODS)
    assert (w.spatial_weight.min, w.spatial_weight.max) == (opt["spatial_weight"].min,
                                                            opt["spatial_weight"].max)
    assert w.refine.min == opt["refine"].min and w.method.tooltip == opt["method"].help


@pytest.mark.parametrize("method", ["kmeans", "gmm"])
def test_domains_widget_methods_refinement_and_suggestion(shown, qtbot, method):
    from napari_factvae._qt._domains_widget import DomainsWidget

    viewer, mdata = shown
    w = DomainsWidget(viewer)
    w.method.value, w.mode.value, w.refine.value = method, "suggest a number", 1
    w.compute()
    qtbot.waitUntil(lambda: w.compute_button.enabled, timeout=TIMEOUT)
    rec = mdata.uns["factvae_domain"]["params"]
    assert rec["method"] == method and rec["refine"] == 1 and rec["suggested_by"]
    assert "number by silhouette" in w.info.value and "refined" in w.info.value
    # a resolution with K-means is refused up front, with a notification, not a crash
    w.mode.value = "resolution"
    w.compute()
    assert w.compute_button.enabled


def test_overlay_widget_paints_values_side_by_side(shown):
    from napari_factvae._qt._overlay_widget import OverlayWidget

    viewer, mdata = shown
    w = OverlayWidget(viewer)
    gene = mdata.mod["rna"].var_names[0]
    w.kind.value = "gene (raw)"
    assert w.completer.model().rowCount() == mdata.mod["rna"].n_vars
    w.search.value = gene
    (layer,) = w.paint()
    np.testing.assert_allclose(layer.features["value"], mdata.mod["rna"].X[:, 0].toarray().ravel())
    peak = mdata.mod["atac"].var_names[5]
    w.kind.value, w.search.value, w.side_by_side.value = "peak (augmented)", peak, True
    raw, aug = w.paint()
    assert raw.name == f"peak (raw): {peak}" and aug.name == f"peak (augmented): {peak}"
    assert viewer.canvas.grid.enabled and aug.features["value"].min() > 0
    w.search.value = "no such peak"
    assert w.paint() is None  # an error notification, not an exception


def test_overlay_widget_motifs(shown, qtbot):
    from napari_factvae._qt._overlay_widget import OverlayWidget

    viewer, mdata = shown
    w = OverlayWidget(viewer)
    w.compute_motifs()
    qtbot.waitUntil(lambda: w.motif_button.enabled, timeout=TIMEOUT)
    w.kind.value = "motif (augmented)"
    w.search.value = "MOTIF01"
    (layer,) = w.paint()
    assert layer.features["value"].shape == (mdata.n_obs,)


def test_regulation_widget_table_and_click_through(shown, qtbot, tmp_path):
    from matplotlib.backend_bases import MouseEvent

    from factvae.tl._domains import find_domains
    from factvae.tl._regulation import DEFAULT_SCORE
    from napari_factvae._qt._regulation_widget import RegulationWidget

    viewer, mdata = shown
    w = RegulationWidget(viewer)
    assert w.score.value == DEFAULT_SCORE and w.domain.enabled
    links = mdata.uns["simulation"]["links"]
    hvg = mdata.mod["rna"].var_names[mdata.mod["rna"].var["highly_variable"]]
    w.gene.value = next(g for g in links["gene"] if g in hvg)
    w.run()
    qtbot.waitUntil(lambda: w.run_button.enabled, timeout=TIMEOUT)
    assert w.table.rowCount() == len(w.result) > 0
    assert "trained" in w.result and DEFAULT_SCORE in w.info.tooltip
    layer = w.paint_row(0)
    assert layer.name == f"peak (augmented): {w.result['peak'].iloc[0]}"
    # the locus view: one arc per candidate; a click on an arc paints its peak
    assert len(w.locus.arcs) == len(w.result)
    row = len(w.result) - 1
    x, y = w.locus.arc_apex(row)
    MouseEvent("button_press_event", w.locus, x, y, button=1)._process()
    peak = w.result["peak"].iloc[row]
    assert viewer.layers[-1].name == f"peak (augmented): {peak}"
    assert w.table.currentRow() == row
    w.export_file.value = tmp_path / "reg.tsv"
    w.export()
    assert len(pd.read_csv(tmp_path / "reg.tsv", sep="\t")) == len(w.result)
    w.export_file.value = tmp_path / "reg.bedpe"
    w.export()
    bedpe = pd.read_csv(tmp_path / "reg.bedpe", sep="\t")
    assert len(bedpe) == len(w.result) and bedpe.columns[0] == "#chrom1"
    # a domain's own scores, once domains exist; the paper score has no domain
    find_domains(mdata, n_domains=3)
    w.refresh()
    assert len(w.domain.choices) == 4
    w.domain.value = w.domain.choices[1]
    w.run()
    qtbot.waitUntil(lambda: w.run_button.enabled, timeout=TIMEOUT)
    assert w.result.attrs["params"]["domain"] == w.domain.value
    w.score.value = "paper"
    assert not w.domain.enabled


def test_save_and_reopen_restores_layers(shown, qtbot, tmp_path):
    from factvae.tl._domains import find_domains
    from napari_factvae._qt._load_widget import LoadWidget

    viewer, mdata = shown
    find_domains(mdata, n_domains=3)
    w = LoadWidget(viewer)
    w.save_file.value = tmp_path / "session.h5mu"
    w.save()
    assert not w.save_button.enabled  # written by a worker
    qtbot.waitUntil(lambda: w.save_button.enabled, timeout=TIMEOUT)
    viewer.layers.clear()
    layers = viewer.open(str(tmp_path / "session.h5mu"), plugin="napari-factvae")
    points = layers[-1]
    assert "factvae_domain" in points.features
    assert len(np.unique(np.round(points.face_color, 4), axis=0)) == 3
    # the domains read as regions on opening: the filled raster is drawn under the spots
    qtbot.waitUntil(lambda: "session domains" in viewer.layers, timeout=10_000)
    assert set(np.unique(viewer.layers["session domains"].data)) == {0, 1, 2, 3}


def test_closing_the_viewer_while_training_keeps_the_last_epoch_in_a_checkpoint(
        make_napari_viewer, qtbot, trained, tmp_path, monkeypatch):
    from napari_factvae._qt._show_dataset import show_dataset
    from napari_factvae._qt._train_widget import TrainWidget

    monkeypatch.chdir(tmp_path)
    viewer = make_napari_viewer()
    show_dataset(viewer, trained, "tiny")
    w = TrainWidget(viewer)
    w.epochs.value, w.batch_size.value, w.latent.value, w.device.value = 500, 64, 8, "cpu"
    w.start()
    qtbot.waitUntil(lambda: w.progress.value > 8, timeout=TIMEOUT)
    # what napari does for running workers when its window closes (after asking the user)
    w.worker.quit()
    qtbot.waitUntil(lambda: w.start_button.enabled, timeout=TIMEOUT)
    assert w.model.cancelled and 1 <= w.model.epochs_done < 500
    ckpt = tmp_path / "factvae.checkpoint.pt"
    assert ckpt.exists() and str(ckpt) in w.status.value
    import torch

    assert torch.load(ckpt, weights_only=False)["trainer"]["epoch"] == w.model.epochs_done


def test_loss_plot_draws_any_loss_term_the_module_returns(qtbot):
    """A loss term the plot has never heard of gets its own line (no list to keep in sync)."""
    from napari_factvae._qt._loss_plot import LossPlot

    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.add_epoch({"epoch": 1, "joint": 2.0, "nll_rna": 1.5, "seconds": 0.1}, force=True)
    plot.add_epoch({"epoch": 2, "joint": 1.0, "nll_rna": 1.0, "smoothness": 0.5}, force=True)
    assert plot.terms == ["joint", "nll_rna", "smoothness"]
    assert np.isnan(plot.history["smoothness"][0]) and plot.history["smoothness"][1] == 0.5
    x, y = plot.lines["joint"].get_data()
    assert list(x) == [1, 2] and list(y) == [1.0, 0.5]  # relative to the first epoch
    assert [t.get_text() for t in plot.ax.get_legend().get_texts()] == plot.terms


def test_model_and_results_files_are_written_and_read_off_the_gui_thread(shown, qtbot, tmp_path,
                                                                         monkeypatch):
    """Saving the .h5mu, saving and loading a model: in workers; the results a loaded model
    gives are stored on the main thread."""
    import threading

    from factvae.model._model import FactVAE
    import factvae.io._write
    from napari_factvae._qt._load_widget import LoadWidget
    from napari_factvae._qt._train_widget import TrainWidget

    viewer, mdata = shown
    threads = {}

    def record(name, func):
        def wrapped(*args, **kwargs):
            threads[name] = threading.current_thread() is threading.main_thread()
            return func(*args, **kwargs)
        return wrapped

    monkeypatch.setattr(FactVAE, "save", record("save", FactVAE.save))
    monkeypatch.setattr(FactVAE, "load", classmethod(record("load", FactVAE.load.__func__)))
    monkeypatch.setattr(factvae.io._write, "write_h5mu", record("write_h5mu", factvae.io._write.write_h5mu))
    applied = []
    original_apply = FactVAE.apply_results

    def apply(self, results):
        applied.append(set(results))
        return original_apply(self, results)

    monkeypatch.setattr(FactVAE, "apply_results", record("apply", apply))

    w = TrainWidget(viewer)
    w.model = FactVAE(mdata, device="cpu", n_threads=1, batch_size=64).train(1)
    w.model_file.value = tmp_path / "m.pt"
    w.save_model()
    qtbot.waitUntil(lambda: (tmp_path / "m.pt").exists() and w.start_button.enabled, timeout=TIMEOUT)
    saved = (tmp_path / "m.pt").stat().st_mtime_ns
    w.save_model()  # refused up front: the file exists now
    assert w.start_button.enabled and w.save_button.enabled  # not busy: nothing was started
    assert (tmp_path / "m.pt").stat().st_mtime_ns == saved  # the file is untouched
    assert not list(tmp_path.glob("m.pt.partial"))
    before = mdata.obsm["X_factvae"].copy()
    mdata.obsm["X_factvae"] = np.zeros_like(before)
    w.load_model()
    assert not w.load_button.enabled  # busy while the worker reads
    qtbot.waitUntil(lambda: w.load_button.enabled, timeout=TIMEOUT)
    from factvae.tl import joint_code

    np.testing.assert_allclose(mdata.mod["rna"].obsm["X_factvae"], w.model.latent("rna"))
    np.testing.assert_allclose(mdata.obsm["X_factvae"],
                               joint_code(w.model.latent("rna"), w.model.latent("atac"))[0],
                               rtol=1e-5, atol=1e-6)
    assert w.status.value.startswith("Loaded a model trained 1 epochs")
    lw = LoadWidget(viewer)
    lw.save_file.value = tmp_path / "res.h5mu"
    lw.save()
    qtbot.waitUntil(lambda: (tmp_path / "res.h5mu").exists() and lw.save_button.enabled,
                    timeout=TIMEOUT)
    assert threads == {"save": False, "load": False, "write_h5mu": False, "apply": True}
    assert applied and ("atac", "obs", "factvae_lse") in applied[0]



def test_the_cli_and_the_widgets_give_the_same_result_for_the_same_seed(viewer, qtbot, tiny_h5mu,
                                                                       tmp_path):
    """One pipeline: `factvae run` and Load -> Train -> Domains, seed 3 both, give the same
    embedding and the same domains (before, the widget preprocessed with seed 0 and clustered
    with seed 0 whatever the training seed)."""
    import mudata
    from factvae.cli import main
    from factvae.pipeline import default_threads
    from napari_factvae._qt._domains_widget import DomainsWidget
    from napari_factvae._qt._load_widget import LoadWidget
    from napari_factvae._qt._train_widget import TrainWidget

    out = tmp_path / "cli.h5mu"
    assert main(["run", "--mudata", str(tiny_h5mu), "--out", str(out), "--epochs", "3",
                 "--batch-size", "64", "--latent", "8", "--seed", "3", "--n-domains", "3",
                 "--device", "cpu", "--threads", str(default_threads(leave_one=True))]) == 0
    cli = mudata.read_h5mu(out)
    lw = LoadWidget(viewer)
    lw.mudata_file.value = tiny_h5mu
    lw.load()
    qtbot.waitUntil(lambda: lw.load_button.enabled, timeout=TIMEOUT)
    tw = TrainWidget(viewer)
    tw.epochs.value, tw.batch_size.value, tw.latent.value, tw.seed.value = 3, 64, 8, 3
    tw.device.value = "cpu"
    tw.start()
    qtbot.waitUntil(lambda: tw.start_button.enabled, timeout=TIMEOUT)
    dw = DomainsWidget(viewer)
    dw.n_domains.value = 3
    dw.compute()
    qtbot.waitUntil(lambda: dw.compute_button.enabled, timeout=TIMEOUT)
    gui = tw.mdata
    assert list(gui.obs_names) == list(cli.obs_names)
    np.testing.assert_allclose(gui.obsm["X_factvae"], cli.obsm["X_factvae"], rtol=1e-4, atol=1e-5)
    assert (gui.obs["factvae_domain"].astype(str).to_numpy()
            == cli.obs["factvae_domain"].astype(str).to_numpy()).all()
    assert gui.uns["factvae_domain"]["params"]["seed"] == 3 == cli.uns["factvae_domain"]["params"]["seed"]


def test_train_widget_has_every_option_of_the_config(viewer):
    """The Train widget is generated from FactVAEConfig, as the CLI is: dispersion and the SSA
    step (missing before) are there, and params() gives config values."""
    from factvae.config import FactVAEConfig
    from napari_factvae._qt._train_widget import TrainWidget

    w = TrainWidget(viewer)
    names = [o.name for o in FactVAEConfig.options("gui")]
    assert {"dispersion", "ssa", "spatial", "spatial_design", "n_latent"} <= set(names)
    assert set(w.param_widgets) == set(names)
    assert w.params() == {o.name: o.default for o in FactVAEConfig.options("gui")}
    w.dispersion.value, w.ssa.value, w.spatial.value = "feature", False, "off (paper)"
    config = FactVAEConfig().updated(**w.params()).validate()
    assert (config.dispersion, config.ssa, config.spatial) == ("feature", False, False)


def test_gene_and_motif_lists_follow_results_stored_in_place(viewer, qtbot, tiny):
    """Training an already preprocessed dataset changes no layer; the Regulation widget's genes
    (those with embeddings) and the Overlay widget's motifs still follow (dataset events)."""
    import factvae
    from napari_factvae._qt._overlay_widget import OverlayWidget
    from napari_factvae._qt._regulation_widget import RegulationWidget
    from napari_factvae._qt._show_dataset import show_dataset
    from napari_factvae._qt._train_widget import TrainWidget

    m = factvae.preprocess(tiny)
    factvae.add_gene_peak_prior(m)
    show_dataset(viewer, m, "tiny")
    reg = RegulationWidget(viewer)
    assert reg.completer.model().stringList() == []  # not trained: no gene has an embedding
    w = TrainWidget(viewer)
    w.epochs.value, w.batch_size.value, w.latent.value, w.device.value = 2, 64, 8, "cpu"
    w.start()
    qtbot.waitUntil(lambda: w.start_button.enabled, timeout=TIMEOUT)
    assert w.mdata is m  # trained in place: no new layer was added
    genes = reg.completer.model().stringList()
    assert len(genes) == int(m.mod["rna"].var["highly_variable"].sum()) > 0
    ov = OverlayWidget(viewer)
    ov.compute_motifs()
    qtbot.waitUntil(lambda: ov.motif_button.enabled, timeout=TIMEOUT)
    assert "factvae_motif_z" in m.mod["atac"].obsm and "factvae_motif_z_raw" in m.mod["atac"].obsm
    assert ov.kind.value == "motif (raw)"
    assert ov.completer.model().stringList() == list(m.mod["atac"].uns["factvae_motif_z_names"])


def test_the_session_dataset_is_qt_free_and_announces_every_change(tiny):
    """One evented Dataset per MuData (no napari or Qt import): each change is stored by it and
    announced on its own signal and on the session's."""
    import subprocess
    import sys

    code = ("import sys; import napari_factvae._core._dataset_model as d; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('napari', 'qtpy', 'PyQt6', 'magicgui')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

    import factvae
    from napari_factvae._core._dataset_model import dataset_of, events

    m = factvae.preprocess(tiny)
    factvae.add_gene_peak_prior(m)
    ds = dataset_of(m)
    assert dataset_of(m) is ds
    own, session = [], []

    def on_session(mdata, what):
        session.append((mdata is m, what))

    ds.changed.connect(own.append)
    events.changed.connect(on_session)
    model = factvae.FactVAE(m, device="cpu", n_threads=1, batch_size=64, n_latent=8).train(1)
    ds.store_results(model, model.compute_results())
    assert "X_factvae" in m.obsm
    labels, record = factvae.tl.compute_domains(m, n_domains=3)
    ds.store_domains(labels, record)
    assert m.obs["factvae_domain"].cat.categories.size == 3
    other = m.copy()
    ds.replace(other)
    assert ds.mdata is other and dataset_of(other) is ds
    assert own == ["results", "domains", "data"]
    events.changed.disconnect(on_session)
    assert session == [(True, "results"), (True, "domains"), (False, "data")]
