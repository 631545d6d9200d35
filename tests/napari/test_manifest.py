"""The npe2 manifest ships with the package and every command in it imports."""

from importlib.metadata import entry_points


def test_manifest_is_registered_and_valid_with_imports():
    from npe2 import PluginManifest

    eps = [ep for ep in entry_points(group="napari.manifest") if ep.name == "napari-factvae"]
    assert eps and eps[0].value == "napari_factvae:napari.yaml"
    manifest = PluginManifest.from_distribution("napari-factvae")
    manifest.validate_imports()  # raises if a python_name does not resolve
    ids = {c.id for c in manifest.contributions.commands}
    assert "napari-factvae.get_reader" in ids and "napari-factvae.simulated_tissue" in ids
    assert manifest.contributions.readers[0].filename_patterns == ["*.h5mu", "*.h5ad", "*.zarr"]
    assert manifest.contributions.writers[0].filename_extensions == [".csv", ".h5mu", ".zarr"]
