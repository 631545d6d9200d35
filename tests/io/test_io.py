"""Loading both formats, and a clear error (file, field, fix) for each kind of bad input."""


import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from factvae.errors import FactVAEDataWarning, FactVAEInputError
from factvae.io._load import load_paired

from _pairs import make_pair, write_pair


def test_load_h5mu_keeps_counts_sparse_and_spatial(tiny_h5mu, tiny_mdata):
    m = load_paired(tiny_h5mu)
    assert set(m.mod) == {"rna", "atac"}
    for name in ("rna", "atac"):
        X = m.mod[name].X
        assert sp.issparse(X) and X.format == "csr" and X.dtype == np.float32
    assert (m.mod["rna"].obs_names == m.mod["atac"].obs_names).all()
    np.testing.assert_allclose(m.obsm["spatial"], tiny_mdata.obsm["spatial"])
    lib = next(iter(m.uns["spatial"].values()))
    assert lib["images"]["hires"].shape[2] == 3
    assert "tissue_hires_scalef" in lib["scalefactors"]


def test_load_h5ad_pair_equals_h5mu(tiny_h5ad_pair, tiny_h5mu):
    a = load_paired(rna=tiny_h5ad_pair[0], atac=tiny_h5ad_pair[1])
    b = load_paired(tiny_h5mu)
    assert (a.mod["atac"].X != b.mod["atac"].X).nnz == 0
    np.testing.assert_allclose(a.obsm["spatial"], b.obsm["spatial"])
    assert "spatial" in a.uns  # image carried from rna.h5ad to the top level


def test_atac_reordered_to_rna_order(tmp_path):
    rna, atac = make_pair()
    atac = atac[::-1].copy()
    m = load_paired(rna=write_pair(tmp_path, rna, atac)[0], atac=tmp_path / "atac.h5ad")
    assert list(m.mod["atac"].obs_names) == list(rna.obs_names)
    np.testing.assert_array_equal(m.mod["atac"].X.toarray(), atac[rna.obs_names].X.toarray())


def test_no_shared_spots_is_an_error(tmp_path):
    rna, atac = make_pair()
    atac.obs_names = [f"{s}-ATAC" for s in atac.obs_names]
    r, a = write_pair(tmp_path, rna, atac)
    with pytest.raises(FactVAEInputError, match="share no spot") as e:
        load_paired(rna=r, atac=a)
    assert e.value.field == "obs_names" and "Fix:" in str(e.value)


def test_partly_shared_spots_are_intersected_with_a_warning(tmp_path):
    rna, atac = make_pair()
    r, a = write_pair(tmp_path, rna, atac[5:].copy())
    with pytest.warns(FactVAEDataWarning, match="keeping the 25 in both"):
        m = load_paired(rna=r, atac=a)
    assert m.n_obs == 25


@pytest.mark.parametrize("axis", ["obs", "var"])
def test_duplicated_names(tmp_path, axis):
    rna, atac = make_pair()
    if axis == "obs":
        names = list(rna.obs_names)
        names[3] = names[2]
        rna.obs_names = names
    else:
        names = list(rna.var_names)
        names[1] = names[0]
        rna.var_names = names
    r, a = write_pair(tmp_path, rna, atac)
    with pytest.raises(FactVAEInputError, match="duplicated") as e:
        load_paired(rna=r, atac=a)
    assert e.value.file == str(r) and e.value.field.startswith(f"rna.{axis}_names")


@pytest.mark.parametrize("value,match", [(-1.0, "negative"), (np.nan, "NaN"), (0.5, "non-integer")])
def test_bad_counts(tmp_path, value, match):
    rna, atac = make_pair()
    X = atac.X.toarray()
    X[0, 0] = value
    atac.X = sp.csr_matrix(X)
    r, a = write_pair(tmp_path, rna, atac)
    with pytest.raises(FactVAEInputError, match=match) as e:
        load_paired(rna=r, atac=a)
    assert e.value.file == str(a) and e.value.field == "atac.X"


def test_counts_layer_is_used_when_x_is_normalised(tmp_path):
    rna, atac = make_pair()
    rna.layers["counts"] = rna.X.copy()
    rna.X = sp.csr_matrix(np.log1p(rna.X.toarray()))
    m = load_paired(rna=write_pair(tmp_path, rna, atac)[0], atac=tmp_path / "atac.h5ad")
    np.testing.assert_array_equal(m.mod["rna"].X.toarray(), rna.layers["counts"].toarray())


def test_empty_modality(tmp_path):
    rna, atac = make_pair()
    r, a = write_pair(tmp_path, rna, atac[:, :0].copy())
    with pytest.raises(FactVAEInputError, match="is empty"):
        load_paired(rna=r, atac=a)


def test_all_zero_after_filtering(tmp_path):
    from factvae.pp._preprocess import preprocess

    rna, atac = make_pair()
    atac.X = sp.csr_matrix(atac.shape, dtype=np.float32)
    m = load_paired(rna=write_pair(tmp_path, rna, atac)[0], atac=tmp_path / "atac.h5ad")
    with pytest.raises(FactVAEInputError, match="no feature is detected") as e:
        preprocess(m)
    assert e.value.field == "atac.X"


def test_unparseable_peak_names(tmp_path):
    from factvae.pp._prior import add_gene_peak_prior

    rna, atac = make_pair()
    atac.var_names = [f"peak{i}" for i in range(atac.n_vars)]
    m = load_paired(rna=write_pair(tmp_path, rna, atac)[0], atac=tmp_path / "atac.h5ad")
    with pytest.raises(FactVAEInputError, match="cannot be read as coordinates") as e:
        add_gene_peak_prior(m)
    assert e.value.field == "atac.var_names" and "chr1:100-200" in e.value.fix


def test_no_gene_coordinates_when_prior_requested(tmp_path):
    from factvae.pp._prior import add_gene_peak_prior

    rna, atac = make_pair()
    rna.var = pd.DataFrame(index=rna.var_names)
    m = load_paired(rna=write_pair(tmp_path, rna, atac)[0], atac=tmp_path / "atac.h5ad")
    with pytest.raises(FactVAEInputError, match="no gene coordinates") as e:
        add_gene_peak_prior(m)
    assert "GTF" in e.value.fix


def test_missing_image(tmp_path):
    rna, atac = make_pair()
    r, a = write_pair(tmp_path, rna, atac)
    with pytest.raises(FactVAEInputError, match="image file not found"):
        load_paired(rna=r, atac=a, image=tmp_path / "nope.png")


def test_unreadable_image(tmp_path):
    rna, atac = make_pair()
    r, a = write_pair(tmp_path, rna, atac)
    bad = tmp_path / "tissue.png"
    bad.write_bytes(b"this is not a png")
    with pytest.raises(FactVAEInputError, match="cannot be read as an image") as e:
        load_paired(rna=r, atac=a, image=bad)
    assert e.value.file == str(bad)


def test_image_with_scale(tmp_path):
    from PIL import Image

    rna, atac = make_pair()
    r, a = write_pair(tmp_path, rna, atac)
    Image.fromarray(np.full((60, 60, 3), 200, np.uint8)).save(tmp_path / "he.png")
    m = load_paired(rna=r, atac=a, image=tmp_path / "he.png", image_scale=0.5)
    lib = m.uns["spatial"]["he"]
    assert lib["scalefactors"]["tissue_hires_scalef"] == 0.5
    assert lib["images"]["hires"].shape == (60, 60, 3)


def test_coordinates_outside_image(tmp_path):
    from PIL import Image

    rna, atac = make_pair()
    r, a = write_pair(tmp_path, rna, atac)
    Image.fromarray(np.full((60, 60, 3), 200, np.uint8)).save(tmp_path / "he.png")
    with pytest.raises(FactVAEInputError, match="fall outside the 60x60 image") as e:
        load_paired(rna=r, atac=a, image=tmp_path / "he.png", image_scale=4.0)
    assert "scale" in e.value.fix


def test_not_anndata_at_all(tmp_path):
    rna, atac = make_pair()
    r, _ = write_pair(tmp_path, rna, atac)
    fake = tmp_path / "atac.h5ad"
    fake.write_text("barcode,count\nAAAC,3\n")
    with pytest.raises(FactVAEInputError, match="not an HDF5 file") as e:
        load_paired(rna=r, atac=fake)
    assert e.value.file == str(fake)


def test_h5mu_missing_modality(tmp_path):
    import mudata

    rna, atac = make_pair()
    path = tmp_path / "x.h5mu"
    mudata.MuData({"rna": rna, "peaks": atac}).write(path)
    with pytest.raises(FactVAEInputError, match="missing \\['atac'\\]"):
        load_paired(path)


def test_non_spatial_data_loads_with_a_warning(tmp_path):
    rna, atac = make_pair()
    del rna.obsm["spatial"], atac.obsm["spatial"]
    r, a = write_pair(tmp_path, rna, atac)
    with pytest.warns(FactVAEDataWarning, match="No spot coordinates"):
        m = load_paired(rna=r, atac=a)
    assert "spatial" not in m.obsm


def test_write_refuses_to_overwrite(tiny, tmp_path):
    from factvae.io._write import write_h5mu

    path = tmp_path / "out.h5mu"
    path.write_text("precious")
    with pytest.raises(FactVAEInputError, match="already exists"):
        write_h5mu(tiny, path)
    assert path.read_text() == "precious"
    write_h5mu(tiny, path, overwrite=True)
    assert path.stat().st_size > 1000


def test_shared_snare_loads(shared_data):
    with pytest.warns(FactVAEDataWarning, match="No spot coordinates"):  # single cells, no space
        m = load_paired(rna=shared_data / "snare_cellline/rna.h5ad",
                        atac=shared_data / "snare_cellline/atac.h5ad")
    assert m.n_obs == 1047 and m.mod["atac"].n_vars == 27399 and m.mod["rna"].n_vars == 500


def test_shared_e13_loads_with_image(shared_data):
    m = load_paired(rna=shared_data / "e13_mix/rna.h5ad", atac=shared_data / "e13_mix/atac.h5ad")
    assert m.n_obs == 2187 and m.mod["atac"].n_vars == 27399
    assert next(iter(m.uns["spatial"].values()))["images"]["hires"].shape[:2] == (500, 500)


def test_a_result_saved_by_an_older_version_reopens_with_todays_keys(trained, tmp_path):
    """Files written before the `factvae_` prefixes: renamed on read, a user's own column kept."""
    from factvae.io._load import load_paired
    from factvae.io._write import write_h5mu

    rna, atac = trained.mod["rna"], trained.mod["atac"]
    rna.layers["lognorm"] = rna.layers.pop("factvae_lognorm")
    rna.obs["total_counts"] = rna.obs.pop("factvae_total_counts")
    atac.obsm["motif_z_raw"] = np.zeros((trained.n_obs, 2), np.float32)
    atac.uns["motif_names_deviations"] = ["A", "B"]
    trained.uns["factvae_domain_params"] = {"method": "leiden", "reached": 3}
    trained.uns["factvae_domain_markers"] = pd.DataFrame({"domain": ["0"], "name": ["g"]})
    rna.obs["n_genes"] = 7  # stands for a user's own column when ours is already there
    path = tmp_path / "old.h5mu"
    write_h5mu(trained, path)
    m = load_paired(path)
    rna, atac = m.mod["rna"], m.mod["atac"]
    assert "lognorm" not in rna.layers and "factvae_lognorm" in rna.layers
    assert "factvae_total_counts" in rna.obs and "total_counts" not in rna.obs
    assert atac.obsm["factvae_motif_z_raw"].shape == (m.n_obs, 2)
    assert list(atac.uns["factvae_motif_z_names"]) == ["A", "B"]
    assert m.uns["factvae_domain"]["params"]["reached"] == 3
    assert list(m.uns["factvae_domain_markers"]["table"]["name"]) == ["g"]
    assert (rna.obs["n_genes"] == 7).all() and "factvae_n_genes" in rna.obs


def test_a_users_own_qc_columns_are_not_renamed_on_reading(tiny_mdata, tmp_path):
    """scanpy's QC writes obs['total_counts'] and obs['n_genes_by_counts']: an input file that
    FactVAE never preprocessed keeps them as they are."""
    from factvae.io._load import load_paired
    from factvae.io._write import write_h5mu

    m = tiny_mdata.copy()
    m.mod["rna"].obs["total_counts"] = 1.0
    m.mod["rna"].layers["lognorm"] = m.mod["rna"].X.copy()
    write_h5mu(m, tmp_path / "raw.h5mu")
    back = load_paired(tmp_path / "raw.h5mu")
    assert "total_counts" in back.mod["rna"].obs and "factvae_total_counts" not in back.mod["rna"].obs
    assert "lognorm" in back.mod["rna"].layers


@pytest.mark.parametrize("suffix", [".h5mu", ".zarr"])
def test_read_and_write_choose_the_format_by_suffix(tiny_mdata, tmp_path, suffix):
    import factvae.io
    from factvae.io._store import is_spatialdata_store

    path = tmp_path / f"result{suffix}"
    assert factvae.io.write(tiny_mdata, path) == path
    assert is_spatialdata_store(path) == (suffix == ".zarr")  # a store, or one .h5mu file
    back = factvae.io.read(path)
    assert list(back.obs_names) == list(tiny_mdata.obs_names)
    assert back.mod["atac"].n_vars == tiny_mdata.mod["atac"].n_vars
    with pytest.raises(FactVAEInputError, match="already exists"):
        factvae.io.write(tiny_mdata, path)


def test_a_file_in_place_of_a_folder_is_one_clear_error(tiny_mdata, tmp_path):
    from factvae.io import write

    (tmp_path / "afile").write_text("x")
    with pytest.raises(FactVAEInputError, match="afile is a file, not a folder"):
        write(tiny_mdata, tmp_path / "afile" / "sub" / "x.h5mu")
    assert (tmp_path / "afile").read_text() == "x"
