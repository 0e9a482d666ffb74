"""A pyqtgraph plot shown at a given size, spanning x 0-100 and prices 4,990-5,010: the setting
of the chart-line tests."""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg


def shown_plot(qtbot: Any, width: int, height: int) -> tuple[pg.PlotWidget, pg.PlotItem]:
    widget = pg.PlotWidget()
    qtbot.addWidget(widget)
    widget.resize(width, height)
    widget.show()
    plot = widget.getPlotItem()
    plot.setXRange(0, 100, padding=0)
    plot.setYRange(4990, 5010, padding=0)
    return widget, plot
