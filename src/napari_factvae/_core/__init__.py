"""The plugin's Qt-free half: the evented session model (one `Dataset` per MuData), the domain
map's state and its drawing on napari layers, spot geometry, colours, layer data and the domain
table. Nothing here imports Qt, qtpy or magicgui (tests/test_boundary.py checks it); the dock
widgets and everything that needs a Qt event loop live in `napari_factvae._qt`."""
