"""SpatialData in and out: a store built from the simulator is read, trained on, written back,
reopened by the reader with its domains and colours; each bad layout is one clear error."""

import shutil

import numpy as np
import pandas as pd
import pytest

import factvae
from factvae.errors import FactVAEInputError
from factvae.io._spatialdata_write import to_spatialdata, write_spatialdata


def _write(sdata, path):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sdata.write(path)
    return path


@pytest.fixture(scope="module")
def store(tmp_path_factory, request):
    m = factvae.simulate(n_spots=240, n_genes=150, n_peaks=900, n_domains=4, n_motifs=8,
                         image_size=300, seed=1)
    path = _write(to_spatialdata(m), tmp_path_factory.mktemp("sd") / "tissue.zarr")
    return m, path


def _copy(store, tmp_path, name="copy.zarr"):
    dst = tmp_path / name
    shutil.copytree(store[1], dst)
    return dst


def test_read_gives_the_same_dataset(store):
    m, path = store
    got = factvae.load_paired(sdata=path)
    assert list(got.obs_names) == list(m.obs_names)
    np.testing.assert_allclose(got.obsm["spatial"], m.obsm["spatial"])
    for mod in ("rna", "atac"):
        assert (got.mod[mod].X != m.mod[mod].X).nnz == 0
    assert list(got.obs["domain"]) == list(m.obs["domain"])
    assert list(got.uns["domain_colors"]) == list(m.uns["domain_colors"])
    lib = got.uns["spatial"]["simulated_tissue"]
    assert lib["scalefactors"] == pytest.approx(
        m.uns["spatial"]["simulated_tissue"]["scalefactors"])
    from factvae.io._images import tissue_levels

    levels = tissue_levels(got)  # the image stays in the store, read when shown
    np.testing.assert_array_equal(np.asarray(levels[0]),
                                  m.uns["spatial"]["simulated_tissue"]["images"]["hires"])


def test_one_table_split_by_modality_and_points(store, tmp_path):
    import anndata as ad
    import spatialdata as sd
    from spatialdata.models import PointsModel, TableModel

    m, path = store
    src = sd.read_zarr(path)
    rna, atac = src.tables["rna"], src.tables["atac"]
    both = ad.concat([rna, atac], axis=1, merge="first")
    both.var["modality"] = ["rna"] * rna.n_vars + ["atac"] * atac.n_vars
    both.obs = rna.obs[["region", "spot_id"]].copy()
    both.uns["spatialdata_attrs"] = dict(rna.uns["spatialdata_attrs"])
    xy = m.obsm["spatial"]
    points = PointsModel.parse(pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1]}))
    both.obs["region"] = pd.Categorical(["dots"] * both.n_obs)
    table = TableModel.parse(both, region="dots", region_key="region", instance_key="spot_id",
                             overwrite_metadata=True)
    one = sd.SpatialData(points={"dots": points}, tables={"table": table})
    got = factvae.load_paired(sdata=one)
    assert got.mod["rna"].n_vars == 150 and got.mod["atac"].n_vars == 900
    np.testing.assert_allclose(got.obsm["spatial"], xy)
    # from a store: results go to tables 'rna' and 'atac', the combined table is kept
    path = _write(one, tmp_path / "one.zarr")
    got = factvae.load_paired(sdata=path)
    got.obs["factvae_domain"] = pd.Categorical(np.where(xy[:, 0] > np.median(xy[:, 0]), "a", "b"))
    write_spatialdata(got, tmp_path / "out.zarr")
    assert set(sd.read_zarr(tmp_path / "out.zarr").tables) == {"table", "rna", "atac"}
    back = factvae.load_paired(sdata=tmp_path / "out.zarr")
    assert list(back.obs["factvae_domain"]) == list(got.obs["factvae_domain"])


def _edit(path, tmp_path, change):
    import spatialdata as sd

    src = sd.read_zarr(path)
    new = change(src)
    return _write(new if new is not None else src, tmp_path / "bad.zarr")


def test_bad_stores_are_one_clear_error(store, tmp_path):
    import spatialdata as sd
    from spatialdata.models import TableModel
    from spatialdata.transformations import Identity, set_transformation

    _, path = store
    (tmp_path / "plain.zarr").mkdir()
    (tmp_path / "plain.zarr" / "zarr.json").write_text('{"zarr_format": 3, "node_type": "group"}')
    with pytest.raises(FactVAEInputError, match="not a SpatialData store") as err:
        factvae.load_paired(sdata=tmp_path / "plain.zarr")
    assert "plain.zarr" in str(err.value)

    def drop_atac(s):
        return sd.SpatialData(images=dict(s.images), shapes=dict(s.shapes),
                              tables={"rna": s.tables["rna"]})
    with pytest.raises(FactVAEInputError, match=r"missing \['atac'\]"):
        factvae.load_paired(sdata=_edit(path, tmp_path, drop_atac))

    def other_element(s):
        shapes = dict(s.shapes)
        shapes["cells"] = s.shapes["spots"].copy()
        atac = s.tables["atac"].copy()
        atac.obs["region"] = pd.Categorical(["cells"] * atac.n_obs)
        atac = TableModel.parse(atac, region="cells", region_key="region",
                                instance_key="spot_id", overwrite_metadata=True)
        return sd.SpatialData(images=dict(s.images), shapes=shapes,
                              tables={"rna": s.tables["rna"], "atac": atac})
    shutil.rmtree(tmp_path / "bad.zarr")
    with pytest.raises(FactVAEInputError, match="annotates 'spots' but 'atac' annotates 'cells'"):
        factvae.load_paired(sdata=_edit(path, tmp_path, other_element))

    def image_elsewhere(s):
        img = s.images["simulated_tissue"]
        set_transformation(img, {"microscope": Identity()}, set_all=True)
        return sd.SpatialData(images={"simulated_tissue": img}, shapes=dict(s.shapes),
                              tables=dict(s.tables))
    shutil.rmtree(tmp_path / "bad.zarr")
    with pytest.raises(FactVAEInputError, match="no transformation links them") as err:
        factvae.load_paired(sdata=_edit(path, tmp_path, image_elsewhere))
    assert "set_transformation" in str(err.value)


def test_results_written_back_and_reopened_by_the_reader(store, tmp_path):
    from factvae.cli import main
    from napari_factvae._reader import get_reader

    src = _copy(store, tmp_path)
    out = tmp_path / "result.zarr"
    assert main(["run", "--sdata", str(src), "--out", str(out), "--epochs", "3",
                 "--n-domains", "3", "--threads", "1"]) == 0
    res = factvae.load_paired(sdata=out)
    domains = res.obs["factvae_domain"]
    assert domains.nunique() == 3 and len(res.uns["factvae_domain_colors"]) == 3
    assert res.obsm["X_factvae"].shape[0] == res.n_obs
    assert "factvae_feature" in res.mod["atac"].varm
    # the scverse convention: each table carries the domains and their colours for squidpy
    import spatialdata as sd

    table = sd.read_zarr(out).tables["rna"]
    assert table.uns["spatialdata_attrs"]["region"] == "spots"
    assert list(table.obs["factvae_domain"].cat.categories) == list(domains.cat.categories)
    assert "factvae_domain_colors" in table.uns and "X_factvae" in table.obsm
    import squidpy as sq  # squidpy works on the table as it is

    sq.gr.spatial_neighbors(table)
    sq.gr.nhood_enrichment(table, cluster_key="factvae_domain", n_perms=20, show_progress_bar=False)
    assert table.uns["factvae_domain_nhood_enrichment"]["zscore"].shape == (3, 3)
    # the reader
    layers = get_reader(str(out))(str(out))
    assert [t[2] for t in layers] == ["image", "points"]
    kw = layers[1][1]
    assert kw["face_color"] == "factvae_domain"
    assert list(kw["face_color_cycle"]) == list(res.uns["factvae_domain_colors"])
    # into the store read from: only with --overwrite, and then only its tables change
    assert main(["run", "--sdata", str(src), "--out", str(src), "--epochs", "2"]) != 0
    assert "factvae_domain" not in sd.read_zarr(src).tables["rna"].obs
    assert main(["run", "--sdata", str(src), "--out", str(src), "--epochs", "2",
                 "--overwrite", "--n-domains", "2", "--threads", "1"]) == 0
    again = sd.read_zarr(src)
    assert again.tables["rna"].obs["factvae_domain"].nunique() == 2
    assert list(again.images) == ["simulated_tissue"] and list(again.shapes) == ["spots"]


def test_write_refuses_to_replace_without_overwrite(store, tmp_path):
    m = factvae.load_paired(sdata=store[1])
    out = _copy(store, tmp_path, "exists.zarr")
    with pytest.raises(FactVAEInputError, match="already exists"):
        write_spatialdata(m, out)


def test_writer_saves_renamed_domains(trained_mdata, tmp_path):
    from factvae.tl._domains import find_domains, rename_domains
    from napari_factvae._core._map_state import MUDATA_KEY
    from napari_factvae._writer import write_domains

    m = trained_mdata.copy()
    find_domains(m, n_domains=3)
    first = m.obs["factvae_domain"].cat.categories[0]
    rename_domains(m, {first: "cortex"})
    colours = list(m.uns["factvae_domain_colors"])
    attrs = {"metadata": {MUDATA_KEY: m}}
    for suffix in (".csv", ".h5mu", ".zarr"):
        path = tmp_path / f"domains{suffix}"
        assert write_domains(str(path), None, attrs) == [str(path)]
        if suffix == ".csv":
            table = pd.read_csv(path)
            assert (table["domain"] == "cortex").sum() == (m.obs["factvae_domain"] == "cortex").sum()
            assert set(table["colour"]) == set(colours)
            continue
        back = (factvae.load_paired(path) if suffix == ".h5mu"
                else factvae.load_paired(sdata=path))
        assert "cortex" in back.obs["factvae_domain"].cat.categories
        assert list(back.obs["factvae_domain"]) == list(m.obs["factvae_domain"])
        assert list(back.uns["factvae_domain_colors"]) == colours
    with pytest.raises(FactVAEInputError, match="never replaced"):
        write_domains(str(tmp_path / "domains.zarr"), None, attrs)


@pytest.fixture(scope="module")
def big_store(tmp_path_factory):
    """A store whose 4,300 x 4,600 single-scale image has bright squares on five spots."""
    from spatialdata.models import Image2DModel

    m = factvae.simulate(n_spots=60, n_genes=20, n_peaks=60, n_domains=2, n_motifs=2,
                         image_size=100, seed=0)
    xy = m.obsm["spatial"] * (4500 / m.obsm["spatial"].max())
    m.obsm["spatial"] = xy
    m.uns.pop("spatial")
    sdata = to_spatialdata(m)
    image = np.zeros((4300, 4600), np.uint8)
    for x, y in xy.astype(int)[:5]:  # bright 16 px squares centred on five spots
        image[y - 8:y + 8, x - 8:x + 8] = 255
    sdata.images["he"] = Image2DModel.parse(image[None], dims=("c", "y", "x"),
                                            chunks=(1, 1024, 1024))
    return _write(sdata, tmp_path_factory.mktemp("big") / "big.zarr"), xy


def test_large_image_pyramid_is_cached_and_registered(big_store):
    from factvae.io._images import PyramidPending, cache_dir, store_levels

    path, _ = big_store
    got = factvae.load_paired(sdata=path)
    with pytest.raises(PyramidPending):  # the reader's way: never built on the GUI thread
        store_levels(path, "he", build=False)
    levels = store_levels(path, "he")
    assert [lv.shape for lv in levels] == [(4300, 4600), (2150, 2300), (1075, 1150),
                                           (537, 575)]
    view_xy = got.obsm["spatial"] * got.uns["spatial"]["he"]["scalefactors"]["tissue_hires_scalef"]
    for k, lv in enumerate(levels):
        arr = np.asarray(lv)
        for x, y in view_xy[:5] / 2 ** k:  # each level: the spot lies on its square
            assert arr[int(y), int(x)] > 200, (k, x, y)
    meta = cache_dir(path, "he") / "factvae_pyramid.json"
    stamp = meta.stat().st_mtime
    again = store_levels(path, "he")  # cached: not rebuilt
    assert meta.stat().st_mtime == stamp and len(again) == 4


def test_reader_declines_other_folders(tmp_path):
    from napari_factvae._reader import get_reader

    (tmp_path / "plain.zarr").mkdir()
    assert get_reader(str(tmp_path / "plain.zarr")) is None
    assert get_reader(str(tmp_path)) is None


@pytest.mark.gui
def test_open_store_in_viewer_and_save_from_load_widget(make_napari_viewer, store, qtbot,
                                                        tmp_path):
    from napari_factvae._qt._load_widget import LoadWidget

    viewer = make_napari_viewer()
    w = LoadWidget(viewer)
    w.sdata_file.value = store[1]
    w.prior.value = False
    w.load()
    qtbot.waitUntil(lambda: w.load_button.enabled, timeout=60_000)
    kinds = [type(layer).__name__ for layer in viewer.layers]
    assert kinds[0] == "Image" and "Points" in kinds, w.info.value
    assert "240 spots" in w.info.value
    w.save_file.value = tmp_path / "saved.zarr"
    w.save()
    qtbot.waitUntil(lambda: w.save_button.enabled, timeout=60_000)
    back = factvae.load_paired(sdata=tmp_path / "saved.zarr")
    assert back.n_obs == 240 and "simulated_tissue" in back.uns["spatial"]
    # the saved store has the image and spots of the one it came from
    import spatialdata as sd

    saved = sd.read_zarr(tmp_path / "saved.zarr")
    assert list(saved.images) == ["simulated_tissue"] and list(saved.shapes) == ["spots"]


@pytest.mark.gui
def test_reader_builds_a_missing_pyramid_in_the_background(make_napari_viewer, big_store, qtbot):
    import shutil

    from factvae.io._images import cache_dir

    path, _ = big_store
    shutil.rmtree(cache_dir(path, "he"), ignore_errors=True)
    viewer = make_napari_viewer()
    viewer.open(str(path), plugin="napari-factvae")
    assert "Points" in [type(layer).__name__ for layer in viewer.layers]  # at once
    qtbot.waitUntil(lambda: any(type(layer).__name__ == "Image" for layer in viewer.layers),
                    timeout=60_000)
    image = viewer.layers[0]
    assert type(image).__name__ == "Image" and image.multiscale and len(image.data) == 4
    assert (cache_dir(path, "he") / "factvae_pyramid.json").is_file()


@pytest.mark.gui
def test_napari_save_uses_the_writer(make_napari_viewer, trained_mdata, tmp_path):
    from factvae.tl._domains import find_domains, rename_domains
    from napari_factvae._qt._show_dataset import show_dataset

    m = trained_mdata.copy()
    find_domains(m, n_domains=3)
    viewer = make_napari_viewer()
    spots = show_dataset(viewer, m, "t")[-1]
    rename_domains(m, {m.obs["factvae_domain"].cat.categories[1]: "edge"})
    viewer.layers.selection = {spots}
    written = viewer.layers.save(str(tmp_path / "domains.csv"), selected=True,
                                 plugin="napari-factvae")
    assert written == [str(tmp_path / "domains.csv")]
    table = pd.read_csv(tmp_path / "domains.csv")
    assert (table["domain"] == "edge").sum() == (m.obs["factvae_domain"] == "edge").sum() > 0


def test_result_whose_store_moved_opens_without_the_image(store, tmp_path):
    from factvae.errors import FactVAEDataWarning
    from factvae.io._write import write_h5mu
    from napari_factvae._core._layers import spot_layers

    src = _copy(store, tmp_path, "moving.zarr")
    m = factvae.load_paired(sdata=src)
    path = write_h5mu(m, tmp_path / "result.h5mu")
    shutil.rmtree(src)
    with pytest.warns(FactVAEDataWarning, match="tissue image is not shown"):
        layers = spot_layers(factvae.load_paired(path))
    assert [t[2] for t in layers] == ["points"]


def test_a_store_given_as_mudata_points_to_sdata(store, capsys):
    from factvae.cli import main
    from factvae.cli._messages import EXIT_INPUT

    _, path = store
    assert main(["check", "--mudata", str(path)]) == EXIT_INPUT
    err = capsys.readouterr().err
    assert "is a SpatialData store" in err and f"--sdata {path}" in err and "inside it" not in err


def test_rgb_images_have_named_channels(store, tmp_path):
    """napari-spatialdata shows an RGB image as colour only when its channels are r, g, b."""
    from spatialdata.models import Image2DModel

    from factvae.io._spatialdata_write import _named_channels

    m, _ = store
    written = to_spatialdata(m)
    img = next(iter(written.images.values()))
    scale0 = img["scale0"]["image"] if hasattr(img, "children") else img
    assert [str(c) for c in scale0.coords["c"].values] == ["r", "g", "b"]
    plain = Image2DModel.parse(np.zeros((3, 8, 8), np.uint8), dims=("c", "y", "x"))
    assert [str(c) for c in _named_channels(plain).coords["c"].values] == ["r", "g", "b"]
    named = Image2DModel.parse(np.zeros((3, 8, 8), np.uint8), dims=("c", "y", "x"),
                               c_coords=["dapi", "cd3", "cd8"])
    assert list(_named_channels(named).coords["c"].values) == ["dapi", "cd3", "cd8"]


def test_a_damaged_element_is_named(store, tmp_path):
    _, path = store
    copy = _copy(store, tmp_path, "broken.zarr")
    meta = next(p for p in sorted((copy / "tables" / "rna").rglob("*"))
                if p.name in ("zarr.json", ".zattrs"))
    meta.write_text("{ not json")
    with pytest.raises(FactVAEInputError, match="the element tables/rna is damaged") as err:
        factvae.load_paired(sdata=copy)
    assert "broken.zarr" in str(err.value) and "upgrade" not in str(err.value)


@pytest.fixture(scope="module")
def lossy_store(store, tmp_path_factory):
    """The store, with what QC and pairing drop: 3 spots without ATAC counts, 1 spot in the RNA
    table only, a gene seen nowhere (and peaks seen in fewer than 3 spots); plus the user's own
    obs column, var column and layer."""
    import scipy.sparse as sp
    import spatialdata as sd

    src = sd.read_zarr(store[1])
    rna, atac = src.tables["rna"].copy(), src.tables["atac"].copy()
    keep_gene = np.ones(rna.n_vars)
    keep_gene[0] = 0
    rna.X = sp.csr_matrix(rna.X @ sp.diags(keep_gene))
    rna.X.eliminate_zeros()
    rna.obs["batch"] = np.where(np.arange(rna.n_obs) % 2, "b1", "b2")
    rna.var["note"] = [f"gene note {i}" for i in range(rna.n_vars)]
    rna.layers["user_layer"] = rna.X.copy()
    keep_spot = np.ones(atac.n_obs)
    keep_spot[[5, 6, 7]] = 0
    atac.X = sp.csr_matrix(sp.diags(keep_spot) @ atac.X)
    atac.X.eliminate_zeros()
    atac = atac[np.arange(atac.n_obs) != 9].copy()  # spot 9: RNA only
    new = sd.SpatialData(images=dict(src.images), shapes=dict(src.shapes),
                         tables={"rna": rna, "atac": atac})
    return _write(new, tmp_path_factory.mktemp("lossy") / "lossy.zarr")


@pytest.mark.parametrize("into", ["itself", "another store"])
def test_a_store_keeps_every_spot_and_feature_it_had(lossy_store, tmp_path, into):
    """QC drops spots and features from the analysis, never from the user's store: the tables
    written keep every row and column, X, layers, obs and var as they were, with the results
    on the spots analysed (missing on the others) and which ones those are."""
    import warnings

    import spatialdata as sd

    from factvae.cli import main
    from factvae.errors import FactVAEDataWarning
    from factvae.keys import KEPT_KEY

    src = tmp_path / "in.zarr"
    shutil.copytree(lossy_store, src)
    out = src if into == "itself" else tmp_path / "out.zarr"
    before = {t: sd.read_zarr(src).tables[t] for t in ("rna", "atac")}
    argv = ["run", "--sdata", str(src), "--out", str(out), "--epochs", "2", "--n-domains", "2",
            "--threads", "1"]
    assert main(argv + (["--overwrite"] if into == "itself" else [])) == 0
    after = sd.read_zarr(out).tables
    assert set(after) == {"rna", "atac"} and not list(tmp_path.glob("*.zarr.*"))
    for t, old in before.items():
        new = after[t]
        assert list(new.obs_names) == list(old.obs_names), t
        assert list(new.var_names) == list(old.var_names), t
        assert (new.X != old.X).nnz == 0, t
        for col in old.obs.columns:
            assert list(new.obs[col]) == list(old.obs[col]), (t, col)
        for col in old.var.columns:
            assert list(new.var[col]) == list(old.var[col]), (t, col)
        for key in old.layers:
            assert (new.layers[key] != old.layers[key]).nnz == 0, (t, key)
    rna, atac = after["rna"], after["atac"]
    kept = rna.obs[KEPT_KEY].to_numpy(bool)
    assert (~kept).sum() == 4 and not kept[[5, 6, 7, 9]].any()
    assert atac.obs[KEPT_KEY].to_numpy(bool).sum() == kept.sum()
    domain = rna.obs["factvae_domain"]
    assert domain[~kept].isna().all() and domain[kept].notna().all()
    emb = rna.obsm["X_factvae"]
    assert emb.shape[0] == rna.n_obs
    assert np.isnan(emb[~kept]).all() and np.isfinite(emb[kept]).all()
    np.testing.assert_allclose(rna.obsm["spatial"], before["rna"].obsm["spatial"])
    peaks = atac.var[KEPT_KEY].to_numpy(bool)
    genes = rna.var[KEPT_KEY].to_numpy(bool)
    assert not genes[0] and genes[1:].all() and 0 < peaks.sum() < atac.n_vars
    feature = atac.varm["factvae_feature"]
    assert np.isnan(feature[~peaks]).all() and np.isfinite(feature[peaks]).all()
    lognorm = rna.layers["factvae_lognorm"]
    assert lognorm.shape == rna.shape and lognorm[~kept].nnz == 0  # sparse, zero where none
    # read again: the spots and features analysed, with their results, nothing dropped coming
    # back as data to train on
    with warnings.catch_warnings():
        warnings.simplefilter("error", FactVAEDataWarning)  # no spot in one modality only
        back = factvae.load_paired(sdata=out)
    assert back.n_obs == kept.sum() and back.mod["atac"].n_vars == peaks.sum()
    assert back.mod["rna"].n_vars == genes.sum()
    assert list(back.obs_names) == list(rna.obs_names[kept])
    assert back.obs["factvae_domain"].notna().all()
    assert KEPT_KEY not in back.mod["rna"].obs and KEPT_KEY not in back.mod["atac"].var
    np.testing.assert_allclose(back.obsm["X_factvae"], emb[kept])
    if into == "itself":  # and a second run in place keeps all of it again
        assert main(argv + ["--overwrite"]) == 0
        again = sd.read_zarr(out).tables["rna"]
        assert list(again.obs_names) == list(before["rna"].obs_names)
        assert (again.X != before["rna"].X).nnz == 0
        assert again.obs[KEPT_KEY].to_numpy(bool).sum() == kept.sum()


@pytest.mark.parametrize("field", ["indices", "indptr"])
def test_a_missing_chunk_of_a_sparse_matrix_is_one_clear_error(store, tmp_path, capsys, field):
    """zarr leaves out chunks of fill values, so a deleted chunk of X's index arrays reads as
    zeros: the matrix would be silently wrong (indptr all 0: no counts; indices all 0: every
    count on the first gene)."""
    from factvae.cli import main
    from factvae.cli._messages import EXIT_INPUT

    copy = _copy(store, tmp_path, "holes.zarr")
    chunk = next(p for p in sorted((copy / "tables" / "rna" / "X" / field).rglob("*"))
                 if p.is_file() and p.name not in ("zarr.json", ".zarray", ".zattrs"))
    chunk.unlink()
    assert main(["check", "--sdata", str(copy)]) == EXIT_INPUT
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("factvae: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    line = lines[0]
    assert f"{copy}: tables/rna/X: " in line and "damaged" in line and "Fix:" in line, line
    assert "chunk" in line, line


def test_a_failed_write_into_the_store_leaves_it_as_it_was(lossy_store, tmp_path):
    """Each table is written beside the old one and swapped in only when all are complete:
    a failure (here an uns entry anndata cannot write) leaves the user's tables untouched."""
    import warnings

    import spatialdata as sd

    src = tmp_path / "in.zarr"
    shutil.copytree(lossy_store, src)
    before = sd.read_zarr(src).tables["rna"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = factvae.load_paired(sdata=src)
    m.uns["unwritable"] = object()
    with pytest.raises(Exception, match="object"):
        write_spatialdata(m, src, overwrite=True)
    after = sd.read_zarr(src)
    assert set(after.tables) == {"rna", "atac"}
    assert sorted(p.name for p in (src / "tables").iterdir() if p.is_dir()) == ["atac", "rna"]
    assert list(after.tables["rna"].obs_names) == list(before.obs_names)
    assert (after.tables["rna"].X != before.X).nnz == 0
    assert not list(tmp_path.glob("in.zarr.*"))


def test_count_matrices_whose_index_arrays_disagree_are_refused():
    """Every input's sparse counts get the structural check the damaged store needs; unsorted
    (but not repeated) entries are fine."""
    import anndata as ad
    import scipy.sparse as sp

    from factvae.io._read import counts_matrix, sparse_problem

    good = sp.random(6, 5, density=0.5, format="csr", random_state=0)
    assert sparse_problem(good) is None and sparse_problem(good.tocsc()) is None
    unsorted = sp.csr_matrix((np.ones(2), np.array([2, 0]), np.array([0, 2, 2])), shape=(2, 4))
    assert sparse_problem(unsorted) is None
    repeated = sp.csr_matrix((np.ones(3), np.array([1, 1, 2]), np.array([0, 3, 3])), shape=(2, 4))
    with pytest.raises(FactVAEInputError, match=r"1 entries repeat a \(row, column\) pair") as err:
        counts_matrix(ad.AnnData(repeated), "rna", file="r.h5ad")
    assert str(err.value).startswith("r.h5ad: rna.X: ") and "Fix:" in str(err.value)
    assert "but 20 entries are stored" in sparse_problem(good, stored=20)
    outside = good.copy()
    outside.indices[0] = 99
    assert "indices lie outside 0..4" in sparse_problem(outside)
    falling = good.copy()
    falling.indptr[2] = falling.indptr[3] + 1
    assert "indptr decreases at row 2" in sparse_problem(falling)
