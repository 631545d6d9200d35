"""Legend: one row per domain of the selected dataset with its colour, name and spot count.
Select rows to highlight those domains, untick one to hide it, edit a name to rename it (the
name of another domain merges the two), double-click a swatch to change its colour. Above the
table, how the map is drawn: regions and/or spots, spot size, region opacity. All changes go
through _core._map_paint, so spots, raster, the Domains widget and exports stay in step."""

from __future__ import annotations

import numpy as np
from magicgui.widgets import ComboBox, Container, FloatSlider, Label, PushButton
from napari.utils.notifications import show_error
from qtpy.QtCore import Qt, QTimer
from qtpy.QtGui import QColor, QIcon, QPixmap
from qtpy.QtWidgets import QAbstractItemView, QColorDialog, QTableWidget, QTableWidgetItem

from .._core import _map_paint, _map_state, _viewer_datasets
from .._core._colours import category_colours
from .._core._map_state import MAP_KEY, MODES, domain_key
from ._widget_helpers import follow

HINT = ("Select rows to highlight; untick to hide; edit a name to rename (another domain's name "
        "merges them); double-click a swatch to change its colour.")


def swatch(rgba) -> QIcon:
    pixmap = QPixmap(18, 18)
    pixmap.fill(QColor.fromRgbF(*(float(c) for c in rgba[:3])))
    return QIcon(pixmap)


class LegendWidget(Container):
    def __init__(self, napari_viewer):
        super().__init__(labels=True)
        self.viewer = napari_viewer
        self.title = Label(value="")
        self.mode = ComboBox(label="Show", choices=list(MODES), value=MODES[0],
                             tooltip="regions: each spot's domain filled out to its neighbours; "
                                     "tiling spots: spots as wide as their spacing")
        self.spot_size = FloatSlider(label="Spot size (x spacing)", min=0.1, max=1.5, step=0.05,
                                     value=1.0)
        self.opacity = FloatSlider(label="Region opacity", min=0.0, max=1.0, value=0.5)
        self.reset_button = PushButton(text="Show all, no highlight")
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["", "domain", "spots"])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.extend([self.title, self.mode, self.spot_size, self.opacity])
        self.native.layout().addWidget(self.table)
        self.table.setToolTip(HINT)
        self.extend([self.reset_button])
        self.spots = self.mdata = None
        self.names: list[str] = []
        self._quiet = False  # set while the widget updates itself: no feedback loops
        self.mode.changed.connect(self._set_mode)
        self.spot_size.changed.connect(self._set_size)
        self.opacity.changed.connect(self._set_opacity)
        self.reset_button.changed.connect(self.reset)
        self.table.itemChanged.connect(self._item_changed)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.table.cellDoubleClicked.connect(self._double_clicked)
        for emitter in (self.viewer.layers.events.inserted, self.viewer.layers.events.removed,
                        self.viewer.layers.selection.events.active):
            emitter.connect(self.follow)
        follow(self, self._on_changed, _map_state.events.changed)
        self.follow()

    # which dataset -------------------------------------------------------------------------
    def follow(self, *args):
        """Show the selected dataset (or the newest)."""
        spots, mdata = _viewer_datasets.current(self.viewer)
        if spots is self.spots and mdata is self.mdata:
            return
        self.spots, self.mdata = spots, mdata
        self.refresh()

    def _on_changed(self, mdata):
        if mdata is self.mdata:
            self.refresh()
        elif self.mdata is None:
            self.follow()

    def refresh(self):
        """Rows and controls from the data and the map's state."""
        self._quiet = True
        try:
            self._fill()
        finally:
            self._quiet = False

    def _fill(self):
        state = self.spots.metadata.get(MAP_KEY) if self.spots is not None else None
        key = domain_key(self.mdata) if self.mdata is not None else None
        for w in (self.mode, self.spot_size, self.opacity):
            w.enabled = state is not None
        if state is not None:
            self.mode.value = state.mode
            self.spot_size.value = float(np.clip(np.mean(self.spots.size) / state.geometry.pitch,
                                                 self.spot_size.min, self.spot_size.max))
            self.opacity.value = state.opacity
        if key is None:
            self.title.value = "No domains yet: find them in the Domains widget."
            self.names = []
            self.table.setRowCount(0)
            return
        hidden, highlight = (state.hidden, state.highlight) if state is not None else ((), ())
        codes, rgba, cats = category_colours(self.mdata, key)
        counts = np.bincount(codes[codes >= 0], minlength=len(cats))
        self.title.value = f"{len(cats)} domains ({key}) of {self.spots.name}"
        self.names = cats
        self.table.setRowCount(len(cats))
        self.table.clearSelection()
        for row, (name, colour, count) in enumerate(zip(cats, rgba, counts)):
            check = QTableWidgetItem()
            check.setIcon(swatch(colour))
            # not selectable: ticking a box must not also highlight its row
            check.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
            check.setCheckState(Qt.CheckState.Unchecked if name in hidden else Qt.CheckState.Checked)
            check.setToolTip("untick to hide; double-click to change the colour")
            n = QTableWidgetItem(f"{count:,}")
            n.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
            n.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(row, 0, check)
            self.table.setItem(row, 1, QTableWidgetItem(name))
            self.table.setItem(row, 2, n)
            if name in highlight:
                self.table.selectRow(row)
        self.table.resizeColumnsToContents()

    # edits ---------------------------------------------------------------------------------
    def rename(self, old: str, new: str):
        from .._core._dataset_model import RENAME_WAITS, dataset_of

        if self.mdata is not None and dataset_of(self.mdata).finding_domains:
            show_error(RENAME_WAITS)
            self.refresh()
            return
        try:
            _map_paint.rename(self.viewer, self.mdata, {old: new})
        except Exception as err:  # noqa: BLE001 - the engine's message says what to fix
            show_error(str(err))
            self.refresh()

    def set_colour(self, name: str, colour):
        _map_paint.set_colour(self.viewer, self.mdata, name, colour)

    def set_hidden(self, name: str, hidden: bool):
        _map_paint.set_hidden(self.viewer, self.mdata, name, hidden)

    def highlight(self, names):
        _map_paint.set_highlight(self.viewer, self.mdata, names)

    def reset(self):
        state = self.spots.metadata.get(MAP_KEY) if self.spots is not None else None
        if state is not None:
            state.hidden.clear()
            self.highlight([])

    # The table's own signals act on the next event-loop turn: the change rebuilds the rows,
    # which must not happen while Qt is still inside the signal of one of them.
    def _item_changed(self, item):
        if self._quiet or self.mdata is None:
            return
        name = self.names[item.row()]
        if item.column() == 0:
            hidden = item.checkState() != Qt.CheckState.Checked
            QTimer.singleShot(0, lambda: self.set_hidden(name, hidden))
        elif item.column() == 1:
            new = item.text().strip()
            QTimer.singleShot(0, lambda: self.rename(name, new) if new and new != name
                              else self.refresh())

    def _selection_changed(self):
        if self._quiet or self.mdata is None:
            return
        rows = sorted({i.row() for i in self.table.selectedIndexes()})
        names = [self.names[r] for r in rows]
        QTimer.singleShot(0, lambda: self.highlight(names))

    def _double_clicked(self, row, column):
        if column != 0 or self.mdata is None:
            return
        _, rgba, _ = category_colours(self.mdata, domain_key(self.mdata))
        colour = QColorDialog.getColor(QColor.fromRgbF(*map(float, rgba[row][:3])), self.native,
                                       f"Colour of {self.names[row]}")
        if colour.isValid():
            self.set_colour(self.names[row], colour.name())

    # display -------------------------------------------------------------------------------
    def _set_mode(self, mode):
        if not self._quiet and self.spots is not None:
            _map_paint.set_mode(self.viewer, self.spots, mode)
            self.refresh()  # the mode sets the spot size

    def _set_size(self, value):
        if not self._quiet and self.spots is not None:
            pitch = self.spots.metadata[MAP_KEY].geometry.pitch
            _map_paint.set_spot_size(self.viewer, self.spots, value * pitch)

    def _set_opacity(self, value):
        if not self._quiet and self.mdata is not None:
            _map_paint.set_opacity(self.viewer, self.mdata, value)
