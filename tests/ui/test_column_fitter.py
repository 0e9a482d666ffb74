"""The column fitter: the first rows set the widths; later only the rows that arrived are
measured, wherever sorting put them, and a column is never narrowed."""

from __future__ import annotations

from collections import Counter
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QStandardItem, QStandardItemModel

from ibconsole.ui.blotter.table import ColumnFitter, make_table
from ibconsole.ui.blotter_models import Column, SnapshotTableModel


def _table(qtbot: Any) -> tuple[QStandardItemModel, Any, ColumnFitter]:
    model = QStandardItemModel(0, 3)
    model.setHorizontalHeaderLabels(["Contract", "Status", "Note"])
    view, proxy = make_table("fitterTable", model)
    qtbot.addWidget(view)
    view.sortByColumn(0, proxy.sortOrder())
    return model, view, ColumnFitter(view)


def _add(model: QStandardItemModel, contract: str, status: str) -> None:
    model.appendRow([QStandardItem(contract), QStandardItem(status), QStandardItem("")])


def test_a_row_sorted_above_the_others_widens_its_column(qtbot: Any) -> None:
    model, view, fitter = _table(qtbot)
    for name in ("ESZ6", "NQZ6", "RTYZ6"):
        _add(model, name, "Filled")
    fitter.fit()
    header = view.horizontalHeader()
    first = header.sectionSize(1)
    _add(model, "AAA", "Filled")  # sorts to the top: not the last row of the view
    fitter.fit()
    assert header.sectionSize(1) == first
    _add(model, "AB", "Cancelled after the roll's fill timeout, nothing rolled")
    fitter.fit()
    assert header.sectionSize(1) > first


def test_a_column_is_never_narrowed_and_an_empty_table_is_left_alone(qtbot: Any) -> None:
    model, view, fitter = _table(qtbot)
    header = view.horizontalHeader()
    before = [header.sectionSize(c) for c in range(3)]
    fitter.fit()
    assert [header.sectionSize(c) for c in range(3)] == before
    _add(model, "ESZ6", "Working, partly filled and modified twice")
    fitter.fit()
    wide = header.sectionSize(1)
    model.removeRow(0)
    _add(model, "ESZ6", "Sent")
    fitter.fit()
    assert header.sectionSize(1) == wide


class _CountedModel(QStandardItemModel):
    """Counts the ``data()`` calls the view and the fitter make, by role."""

    def __init__(self) -> None:
        super().__init__(0, 3)
        self.calls: Counter[int] = Counter()

    def data(self, index: Any, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        self.calls[int(role)] += 1
        return super().data(index, role)


ROWS = [
    ("ESZ6", "Filled", ""),
    ("MESZ6", "Submitted", "1 @ 5,931.25"),
    ("NQZ6", "Cancelled", "WWWWWWWWWW"),
    ("RTYZ6", "Part filled", "1,234,567.89"),
    ("ES 20261218 C6000", "Filled", "iiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiii"),
]


def test_a_new_row_is_measured_from_its_text_and_no_cell_is_left_narrower_than_it_needs(
    qtbot: Any,
) -> None:
    model = _CountedModel()
    model.setHorizontalHeaderLabels(["Contract", "Status", "Note"])
    view, proxy = make_table("fitterTable", model)
    qtbot.addWidget(view)
    view.sortByColumn(0, proxy.sortOrder())
    fitter = ColumnFitter(view)
    figures = QFont(view.font())
    figures.setPointSize(figures.pointSize() + 3)  # a cell in a font of its own, wider
    _add(model, "ESZ6", "Filled")
    fitter.fit()
    _add(model, "ESZ6", "Filled")
    fitter.fit()  # the view measures each column once more: its padding beside the text
    header = view.horizontalHeader()
    widened: list[str] = []

    for contract, status, note in ROWS:
        model.appendRow([QStandardItem(contract), QStandardItem(status), QStandardItem(note)])
        model.item(model.rowCount() - 1, 1).setFont(figures)
        model.calls.clear()
        before = [header.sectionSize(column) for column in range(2)]
        fitter.fit()
        if [header.sectionSize(column) for column in range(2)] == before:
            # Text and font of the two measured columns (the last one stretches), nothing else.
            assert model.calls == {
                Qt.ItemDataRole.DisplayRole: 2,
                Qt.ItemDataRole.FontRole: 2,
            }, contract
        else:
            widened.append(contract)
        for row in range(proxy.rowCount()):
            for column in range(2):
                needed = view.sizeHintForIndex(proxy.index(row, column)).width()
                assert needed <= header.sectionSize(column), (row, column)
    assert "ESZ6" not in widened
    assert "ES 20261218 C6000" in widened


class _CountedSnapshots(SnapshotTableModel[tuple[str, str, str]]):
    def __init__(self) -> None:
        columns = [
            Column[tuple[str, str, str]]("Contract", lambda r: r[0]),
            Column[tuple[str, str, str]]("Price", lambda r: r[1], numeric=True),
            Column[tuple[str, str, str]]("Note", lambda r: r[2]),
        ]
        super().__init__(columns, lambda r: r[0])
        self.calls = 0

    def data(self, index: Any, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        self.calls += 1
        return super().data(index, role)


def test_a_new_row_of_a_snapshot_table_is_measured_without_asking_the_model_for_data(
    qtbot: Any,
) -> None:
    """The blotter's tables: a row that fits is measured from its line, not through ``data()``
    (each call a crossing from Qt into Python); one that widens a column still fits it."""
    model = _CountedSnapshots()
    view, proxy = make_table("snapshotTable", model)
    qtbot.addWidget(view)
    view.sortByColumn(0, proxy.sortOrder())
    fitter = ColumnFitter(view)
    header = view.horizontalHeader()
    for contract in ("ESZ6", "NQZ6"):
        model.upsert([(contract, "5,931.25", "")])
        fitter.fit()

    model.upsert([("MESZ6", "6,012.50", "a note")])
    model.calls = 0
    fitter.fit()
    assert model.calls == 0

    model.upsert([("ES 20261218 C6000", "1,234,567.75", "")])
    before = [header.sectionSize(column) for column in range(2)]
    fitter.fit()
    assert [header.sectionSize(column) for column in range(2)] > before
    for row in range(proxy.rowCount()):
        for column in range(2):
            assert view.sizeHintForIndex(proxy.index(row, column)).width() <= header.sectionSize(
                column
            )
