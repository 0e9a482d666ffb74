"""The column fitter: the first rows set the widths; later only the rows that arrived are
measured, wherever sorting put them, and a column is never narrowed."""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QStandardItem, QStandardItemModel

from ibconsole.ui.blotter.table import ColumnFitter, make_table


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
