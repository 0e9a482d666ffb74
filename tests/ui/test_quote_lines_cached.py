"""The chart's quote lines are drawn once and moved as pictures: a line moved by a tick looks
exactly as one drawn afresh at its new price."""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QPoint
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QGraphicsItem

from ibconsole.ui.chart_quote import QuoteLines
from tests.ui.price_plot import shown_plot


def test_a_moved_line_looks_as_one_drawn_afresh(qtbot: Any) -> None:
    widget, plot = shown_plot(qtbot, 700, 360)
    QuoteLines(plot)
    lines = [item for item in plot.items if isinstance(item, pg.InfiniteLine)]
    assert len(lines) == 3  # last, bid, ask
    viewport = widget.viewport()

    def drawn() -> QImage:
        image = QImage(viewport.size(), QImage.Format.Format_ARGB32)
        painter = QPainter(image)
        viewport.render(painter, QPoint())
        painter.end()
        return image

    for line, value in zip(lines, (5000.0, 4999.75, 5000.25), strict=True):
        line.setVisible(True)
        line.setValue(value)
    assert all(line.cacheMode() is QGraphicsItem.CacheMode.DeviceCoordinateCache for line in lines)
    drawn()  # the pictures made
    for step in range(1, 9):
        for line in lines:
            line.setValue(line.value() + 0.25 * (step % 5 - 2))
        moved = drawn()
        for line in lines:
            line.setCacheMode(QGraphicsItem.CacheMode.NoCache)
        assert moved == drawn()
        for line in lines:
            line.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        drawn()
