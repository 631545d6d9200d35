"""The plugin's Qt half: the dock widgets, their plots and tables, the workers that run engine
calls off the GUI thread, and whatever needs the Qt event loop (timers, docks, layer events).
The state and logic they act on live in the Qt-free `napari_factvae._core`."""
