"""A ladder repaint reads again only the rows the ladder says may look different: the view is
told about the cells that do (none when nothing shown changed), a row whose size changed keeps
its other cells, and a row the best price moved across takes its new side's shade even when
nothing else about it changed."""

from __future__ import annotations

from decimal import Decimal

from PySide6.QtCore import QModelIndex
from PySide6.QtWidgets import QApplication

from ibconsole.domain.depth import DepthChange, DepthOperation, DepthSide
from ibconsole.domain.ladder import Ladder, LadderColumn
from ibconsole.ui.ladder.table_model import LadderTableModel

TICK = Decimal("0.25")
D = Decimal


def _depth_ladder() -> Ladder:
    ladder = Ladder(TICK, rows=20)
    ladder.apply_depth(
        [
            DepthChange(DepthOperation.INSERT, DepthSide.BID, 0, D("100.00"), D(5)),
            DepthChange(DepthOperation.INSERT, DepthSide.BID, 1, D("99.75"), D(8)),
            DepthChange(DepthOperation.INSERT, DepthSide.ASK, 0, D("100.25"), D(4)),
        ]
    )
    assert ladder.recentre()
    return ladder


def _changed_cells(model: LadderTableModel) -> list[tuple[int, int, int, int]]:
    """Refresh the model; the (top row, left column, bottom row, right column) of every
    dataChanged it emitted."""
    spans: list[tuple[int, int, int, int]] = []

    def record(first: QModelIndex, last: QModelIndex) -> None:
        spans.append((first.row(), first.column(), last.row(), last.column()))

    model.dataChanged.connect(record)
    model.refresh()
    model.dataChanged.disconnect(record)
    return spans


def test_nothing_changed_tells_the_view_nothing(qapp: QApplication) -> None:
    model = LadderTableModel(_depth_ladder())
    assert _changed_cells(model) == []


def test_a_size_behind_the_touch_changes_its_size_cell_only(
    qapp: QApplication,
) -> None:
    ladder = _depth_ladder()
    model = LadderTableModel(ladder)
    row = ladder.row_of(D("99.75"))
    assert row is not None
    before = list(model.cells())
    ladder.apply_depth([DepthChange(DepthOperation.UPDATE, DepthSide.BID, 1, D("99.75"), D(12))])
    bid = LadderColumn.BID
    assert _changed_cells(model) == [(row, bid, row, bid)]
    after = model.cells()
    assert [r for r, cells in enumerate(after) if cells is not before[r]] == [row]
    old, new = before[row], after[row]
    assert old is not None
    assert new is not None
    assert new[LadderColumn.BID].text == "12"
    kept = [column for column in LadderColumn if new[column] is old[column]]
    assert kept == [c for c in LadderColumn if c is not LadderColumn.BID]


def test_a_row_the_best_bid_moved_across_loses_the_bid_shade(qapp: QApplication) -> None:
    # Depth refused: the quote alone gives the best bid and ask, and no row shows a size.
    ladder = Ladder(TICK, rows=20)
    ladder.set_quote(D("100.00"), D("100.25"), None)
    assert ladder.recentre()
    model = LadderTableModel(ladder)
    between = ladder.row_of(D("99.75"))
    assert between is not None

    def shaded() -> bool:
        cells = model.cells()[between]
        assert cells is not None
        return cells[LadderColumn.BID].background is not None

    assert shaded()  # below the best bid: on the bid side
    ladder.set_quote(D("99.50"), D("100.25"), None)
    model.refresh()
    assert not shaded()  # now inside the spread
    ladder.set_quote(D("100.00"), D("100.25"), None)
    model.refresh()
    assert shaded()


def test_a_new_best_bid_repaints_the_old_and_the_new_best_rows(qapp: QApplication) -> None:
    ladder = _depth_ladder()
    model = LadderTableModel(ladder)
    old_best, new_best = ladder.row_of(D("100.00")), ladder.row_of(D("100.25"))
    assert old_best is not None
    assert new_best is not None
    ladder.apply_depth([DepthChange(DepthOperation.DELETE, DepthSide.ASK, 0, D("100.25"), D(0))])
    ladder.set_quote(None, D("100.50"), None)  # the ask is now the quote's
    ladder.apply_depth([DepthChange(DepthOperation.INSERT, DepthSide.BID, 0, D("100.25"), D(2))])
    covered = {row for top, _, bottom, _ in _changed_cells(model) for row in range(top, bottom + 1)}
    assert {old_best, new_best} <= covered
    old_cells, new_cells = model.cells()[old_best], model.cells()[new_best]
    assert old_cells is not None
    assert new_cells is not None
    assert new_cells[LadderColumn.BID].text == "2"
    assert new_cells[LadderColumn.PRICE].font.bold()
    assert not old_cells[LadderColumn.PRICE].font.bold()
