"""The chart's plots: price candles over volume bars on one time axis, in exchange time, following
the newest bars while the trader has not scrolled back.

Each plot holds a ``HistoryItem`` of the closed bars and a ``LiveItem`` of the forming one
(``chart_bars``): ``show_history`` runs when a bar closes or the history changes, ``show_live`` on
every tick, and only the latter's small item is drawn again then.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pyqtgraph as pg
from PySide6.QtWidgets import QGraphicsItem, QWidget

from ibconsole.domain.bars import Bar
from ibconsole.ui.chart_bars import CANDLES, VOLUMES, HistoryItem, LiveItem, Rows

BACKGROUND = "#131722"  # a dark chart in either theme, as trading charts usually are
_GRID_ALPHA = 0.12
_AXIS = "#9aa4b2"
_VISIBLE_BARS = 120
_RIGHT_ROOM_BARS = 10  # room on the right of the newest bar for the last-price tag
VOLUME_STEP = 1.25  # the volume plot's top: a power of this above the largest volume in view


class _RangeViewBox(pg.ViewBox):
    """A view box that re-ranges (and repaints whole) only when an item that counts for its
    range moves: pyqtgraph's does for every item, so each quote line or order line moved on a
    tick repainted the whole plot."""

    def itemBoundsChanged(self, item: QGraphicsItem) -> None:
        if any(added is item for added in self.addedItems):
            super().itemBoundsChanged(item)


class _VolumeViewBox(_RangeViewBox):
    """The volume plot's view box: its top is the largest volume in view rounded up to a step of
    ``VOLUME_STEP`` (a geometric ladder), so the forming bar's volume, which grows on every trade
    and is often the largest in view, re-ranges the plot (and repaints it whole, axis and grid
    included: 5-7 ms) only when it climbs past a step, not on every tick."""

    def childrenBounds(
        self,
        frac: Sequence[float] | None = None,
        orthoRange: Sequence[float | None] = (None, None),
        items: Sequence[QGraphicsItem] | None = None,
    ) -> list[list[float] | None]:
        bounds: list[list[float] | None] = super().childrenBounds(frac, orthoRange, items)
        y = bounds[1]
        if y is not None and y[1] > 1:
            y[1] = VOLUME_STEP ** math.ceil(math.log(y[1], VOLUME_STEP))
        return bounds


class ChartPlots:
    """The plots' widget (``widget``), the price plot (``price``) and the bar items on both."""

    def __init__(self, parent: QWidget) -> None:
        self.widget = pg.GraphicsLayoutWidget(parent)
        self.widget.setBackground(BACKGROUND)
        layout = self.widget.ci.layout
        layout.setSpacing(0)
        self._price_axis = pg.DateAxisItem(orientation="bottom")
        self._volume_axis = pg.DateAxisItem(orientation="bottom")
        self.price = self.widget.addPlot(row=0, col=0, viewBox=_RangeViewBox())
        self.volume = self.widget.addPlot(
            row=1, col=0, viewBox=_VolumeViewBox(), axisItems={"bottom": self._volume_axis}
        )
        self.price.setAxisItems({"bottom": self._price_axis})
        layout.setRowStretchFactor(0, 4)
        layout.setRowStretchFactor(1, 1)
        self.volume.setXLink(self.price)
        for plot in (self.price, self.volume):
            plot.showGrid(x=True, y=True, alpha=_GRID_ALPHA)
            plot.hideButtons()
            plot.setMenuEnabled(False)
            plot.showAxis("right")
            plot.hideAxis("left")
            for name in ("bottom", "right"):
                axis = plot.getAxis(name)
                axis.setPen(pg.mkPen(_AXIS))
                axis.setTextPen(pg.mkPen(_AXIS))
                # Axes and their grid change only when the view moves: replaying their picture
                # on every repaint was most of a frame's cost in a fast market.
                axis.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
            plot.getAxis("right").setWidth(72)
            plot.getViewBox().setAutoVisible(y=True)
            plot.enableAutoRange(x=False, y=True)
        self.price.getAxis("bottom").setStyle(showValues=False)
        self.price.getAxis("bottom").setHeight(4)
        self.volume.getViewBox().setLimits(yMin=0)
        self.candles = HistoryItem(CANDLES)
        self.live_candle = LiveItem(CANDLES, self.candles)
        self.volumes = HistoryItem(VOLUMES)
        self.live_volume = LiveItem(VOLUMES, self.volumes)
        for plot, items in (
            (self.price, (self.candles, self.live_candle)),
            (self.volume, (self.volumes, self.live_volume)),
        ):
            for item in items:
                plot.addItem(item)

    def set_utc_offset(self, seconds: int) -> None:
        """Times on the axes at this offset from UTC (the exchange's, east positive)."""
        for axis in (self._price_axis, self._volume_axis):
            axis.utcOffset = -seconds  # DateAxisItem counts seconds west of UTC
            axis.picture = None
            axis.update()

    def show_history(self, closed: Rows, origin_x: float, width: float) -> None:
        """The closed bars, ``origin_x`` (epoch seconds) being their rows' zero."""
        for item in (self.candles, self.volumes, self.live_candle, self.live_volume):
            item.setPos(origin_x, 0)
        self.candles.set_bars(closed, width)
        self.volumes.set_bars(closed, width)

    def show_live(self, live: Rows, width: float) -> None:
        """The forming bar (no rows: none)."""
        self.live_candle.set_bar(live, width)
        self.live_volume.set_bar(live, width)

    def follow(self, bars: Sequence[Bar], bar_seconds: float, jump: bool) -> None:
        """Bring the newest of ``bars`` into view: ``jump`` shows the last ``_VISIBLE_BARS``;
        otherwise the view slides at the trader's zoom, unless they scrolled back."""
        if not bars:
            return
        last = bars[-1].start.timestamp()
        first = bars[max(0, len(bars) - _VISIBLE_BARS)].start.timestamp()
        view = self.price.getViewBox()
        left, right = view.viewRange()[0]
        new_right = last + _RIGHT_ROOM_BARS * bar_seconds
        if jump:
            view.setXRange(first - bar_seconds, new_right, padding=0)
        elif right >= last - 2 * bar_seconds:
            view.setXRange(new_right - (right - left), new_right, padding=0)
