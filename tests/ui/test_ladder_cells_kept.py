"""The ladder's table model keeps the cells of the last frame's rows only: a row that looks as
it did in the last frame reuses its cells, and a day of depth changes (a row never seen before
in every frame) leaves no more rows in memory than the ladder shows."""

from __future__ import annotations

from decimal import Decimal

from PySide6.QtWidgets import QApplication

from ibconsole.domain.depth import DepthChange, DepthOperation, DepthSide
from ibconsole.domain.ladder import Ladder
from ibconsole.ui.ladder.table_model import LadderTableModel

TICK = Decimal("0.25")
BID = Decimal("100.00")


def _ladder() -> Ladder:
    ladder = Ladder(TICK, rows=20)
    ladder.apply_depth(
        [
            DepthChange(DepthOperation.INSERT, DepthSide.BID, 0, BID, Decimal(5)),
            DepthChange(DepthOperation.INSERT, DepthSide.ASK, 0, BID + TICK, Decimal(4)),
        ]
    )
    assert ladder.recentre()
    return ladder


def test_a_day_of_depth_changes_keeps_no_more_rows_than_the_ladder_shows(
    qapp: QApplication,
) -> None:
    ladder = _ladder()
    model = LadderTableModel(ladder)
    for size in range(6, 1000):
        bid = DepthChange(DepthOperation.UPDATE, DepthSide.BID, 0, BID, Decimal(size))
        ladder.apply_depth([bid])
        model.refresh()
        assert model.rows_kept <= ladder.rows, f"after {size - 5} frames"
    shown = model.cells()[ladder.row_of(BID) or 0]
    assert shown is not None
    assert "999" in {cell.text for cell in shown}


def test_rows_that_look_the_same_keep_their_cells(qapp: QApplication) -> None:
    ladder = _ladder()
    model = LadderTableModel(ladder)
    before = model.cells()
    model.refresh()
    assert all(a is b for a, b in zip(before, model.cells(), strict=True))
    assert model.rows_kept == sum(1 for cells in before if cells is not None) > 0
