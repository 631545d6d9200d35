"""napari-factvae: the napari plugin of FactVAE. `_core` is its Qt-free session model and logic,
`_qt` its dock widgets and Qt code; the reader, writer and sample data (npe2 contributions,
`napari.yaml`) sit here."""

__version__ = "0.1.0"
