"""Reconnect gaps on the chart: each a shaded region behind the candles, at least one bar wide."""

from __future__ import annotations

from collections.abc import Iterable

import pyqtgraph as pg
from PySide6.QtGui import QColor

from ibconsole.domain.bars import BarGap

_FILL = QColor(255, 193, 7, 45)
_EDGE = QColor(255, 193, 7, 160)


class GapRegions:
    """The shaded gaps of the price plot, redrawn from the gaps they are given."""

    def __init__(self, plot: pg.PlotItem) -> None:
        self._plot = plot
        self._regions: list[pg.LinearRegionItem] = []

    @property
    def spans(self) -> tuple[tuple[float, float], ...]:
        """The shaded regions as drawn: (start, end) in epoch seconds."""
        return tuple(tuple(region.getRegion()) for region in self._regions)

    def show(self, gaps: Iterable[BarGap], bar_seconds: float) -> None:
        for region in self._regions:
            self._plot.removeItem(region)
        self._regions = []
        for gap in gaps:
            start = gap.start.timestamp()
            # A reconnect shorter than a bar would be an invisible sliver: show at least one bar.
            end = max(gap.end.timestamp(), start + bar_seconds)
            region = pg.LinearRegionItem(
                values=(start, end), movable=False, brush=pg.mkBrush(_FILL), pen=pg.mkPen(_EDGE)
            )
            region.setToolTip(
                f"Reconnect gap {gap.start:%H:%M:%S}–{gap.end:%H:%M:%S} UTC: "
                "bars inside were backfilled"
            )
            region.setZValue(-10)
            self._plot.addItem(region, ignoreBounds=True)
            self._regions.append(region)
