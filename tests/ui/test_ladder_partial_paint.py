"""The ladder view paints only the cells of the region to repaint; a region painted alone
looks exactly as it does in a whole repaint of the view (cells, shades, text and grid)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from PySide6.QtCore import QRect
from PySide6.QtGui import QPalette, QPixmap, QRegion
from PySide6.QtWidgets import QApplication

from ibconsole.domain.depth import DepthChange, DepthOperation, DepthSide
from ibconsole.domain.ladder import Ladder, LadderColumn
from ibconsole.ui.ladder.table_model import LadderTableModel
from ibconsole.ui.ladder.view import ROW_HEIGHT, LadderView

D = Decimal


def _view() -> LadderView:
    ladder = Ladder(D("0.25"), rows=12)
    ladder.apply_depth(
        [
            DepthChange(DepthOperation.INSERT, DepthSide.BID, 0, D("100.00"), D(5)),
            DepthChange(DepthOperation.INSERT, DepthSide.BID, 1, D("99.75"), D(1234)),
            DepthChange(DepthOperation.INSERT, DepthSide.ASK, 0, D("100.25"), D(4)),
        ]
    )
    ladder.record_trades([(D("100.25"), D(3))])
    assert ladder.recentre()
    view = LadderView()
    view.setModel(LadderTableModel(ladder))
    view.apply_column_widths()
    view.resize(360, 12 * ROW_HEIGHT + 40)
    view.show()
    return view


def _painted(view: LadderView, region: QRegion | None) -> QPixmap:
    """The viewport painted whole, or only ``region`` (at its place) on a white page."""
    viewport = view.viewport()
    pixmap = QPixmap(viewport.size())
    pixmap.fill()
    if region is None:
        viewport.render(pixmap)
    else:
        viewport.render(pixmap, region.boundingRect().topLeft(), region)
    return pixmap


def _cell(view: LadderView, row: int, column: LadderColumn) -> QRect:
    return QRect(*view.cell_rect(row, column))


REGIONS: dict[str, Callable[[LadderView], QRegion]] = {
    "one size cell": lambda view: QRegion(_cell(view, 6, LadderColumn.BID)),
    "one price cell": lambda view: QRegion(_cell(view, 5, LadderColumn.PRICE)),
    "two cells of two rows": lambda view: QRegion(_cell(view, 4, LadderColumn.ASK)).united(
        _cell(view, 7, LadderColumn.VOLUME)
    ),
    "a rectangle across cells and rows": lambda view: QRegion(QRect(30, 47, 120, 33)),
}


@pytest.mark.parametrize("region", REGIONS.values(), ids=REGIONS.keys())
def test_a_region_painted_alone_looks_as_in_the_whole_view(
    qapp: QApplication, region: Callable[[LadderView], QRegion]
) -> None:
    view = _view()
    whole = _painted(view, None)
    shown = region(view)
    alone = _painted(view, shown)
    for rect in shown:
        assert alone.copy(rect).toImage() == whole.copy(rect).toImage(), f"{rect}"
    view.close()


def test_the_grid_is_one_pixel_lines_at_each_row_bottom_and_column_right_edge(
    qtbot: object,
) -> None:
    view = _view()
    grid = view.palette().color(QPalette.ColorRole.Mid).rgb()
    image = _painted(view, None).toImage()
    for row in (0, 5, 11):
        for column in (LadderColumn.BUY, LadderColumn.PRICE, LadderColumn.SELL):
            x, y, width, height = view.cell_rect(row, column)
            middle_x, middle_y = x + width // 2, y + height // 2
            # A cell's rectangle stops short of its grid lines (as a table view's does).
            assert image.pixel(middle_x, y + height) == grid  # the row's bottom line
            assert image.pixel(middle_x, y + height - 1) != grid  # one pixel thick
            assert image.pixel(x + width, middle_y) == grid  # the column's right line
            assert image.pixel(x + width - 1, middle_y) != grid
    view.close()
