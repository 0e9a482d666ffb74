"""The last price's tag on the chart shows each new value without placing itself again: along a
horizontal line its place follows the view alone, so it stands where pyqtgraph's full placement
(``updatePosition``) would put it, and moves with the view."""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QApplication

from ibconsole.ui.chart_quote import PriceTag
from tests.ui.price_plot import shown_plot


def test_a_new_value_changes_the_text_and_the_tag_stays_where_placing_it_puts_it(
    qtbot: Any,
) -> None:
    _, plot = shown_plot(qtbot, 600, 400)
    line = pg.InfiniteLine(angle=0, pos=5000.0, movable=False)
    plot.addItem(line, ignoreBounds=True)
    tag = PriceTag(line, text="{value:,.2f}", position=0.995, anchors=[(1, 0.5), (1, 0.5)])

    def seen() -> tuple[str, QPointF, QPointF]:
        QApplication.processEvents()
        return tag.toPlainText(), tag.mapToScene(QPointF(0, 0)), QPointF(tag.anchor)

    def placed_again() -> tuple[str, QPointF, QPointF]:
        tag.updatePosition()
        return seen()

    first = placed_again()
    for value in (5001.25, 5001.25, 4995.5, 5008.75, 4999.0):
        line.setValue(value)
        shown = seen()
        assert shown[0] == f"{value:,.2f}"
        assert shown[1].y() == line.mapToScene(QPointF(0, 0)).y()  # on its line
        assert shown == placed_again()
    # The view moves: the tag is placed again, at the right edge of the new range.
    plot.setXRange(50, 250, padding=0)
    plot.setYRange(4980, 5020, padding=0)
    moved = seen()
    assert moved[1] != first[1]
    assert moved == placed_again()
