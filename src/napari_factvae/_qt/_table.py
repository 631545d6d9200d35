"""The result tables of the Regulation and Region markers widgets: read-only, whole rows
selected, numbers shown to 3 significant digits, exported as TSV."""

from __future__ import annotations

from napari.utils.notifications import show_error, show_info
from qtpy.QtWidgets import QTableWidget, QTableWidgetItem


def results_table(columns: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(columns)
    table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    table.setMinimumHeight(220)  # a few rows stay readable when docks share the side
    return table


def fill(table: QTableWidget, frame, columns: list[str]) -> None:
    table.setRowCount(len(frame))
    for i, row in enumerate(frame[columns].itertuples(index=False)):
        for j, v in enumerate(row):
            table.setItem(i, j, QTableWidgetItem(f"{v:.3g}" if isinstance(v, float) else str(v)))


def export_tsv(frame, path, missing: str) -> None:
    """Write `frame` (atomically) or say what is `missing`."""
    if frame is None or path is None or str(path) in ("", "."):
        show_error(missing)
        return
    from factvae.io._write import write_atomically

    write_atomically(path, lambda tmp: frame.to_csv(tmp, sep="\t", index=False))
    show_info(f"Exported {len(frame)} rows to {path}")
