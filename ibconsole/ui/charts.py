"""Live charts: candles and volume from historical bars kept up to date, last/bid/ask lines, the
market data type, reconnect gaps and a timeframe switch.

Rendering is coalesced: broker events only store data and raise dirty flags; one single-shot
timer repaints what changed at most ~30 times a second. Closed bars are pre-rendered into a
QPicture, only the forming bar is painted on its own, and existing items get new data instead of
being recreated, so no tick rate can stall the window.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Slot
from PySide6.QtGui import QBrush, QColor, QPainter, QPen, QPicture, QShowEvent
from PySide6.QtWidgets import (
    QAbstractButton,
    QButtonGroup,
    QComboBox,
    QGraphicsItem,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ibconsole.broker.market_data import BarKey
from ibconsole.domain.bars import BAR_SIZES, Bar, BarGap, bar_length
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.order_words import price_text
from ibconsole.domain.products import product
from ibconsole.domain.quotes import MarketDataType, Quote
from ibconsole.domain.rollover import RolloverView
from ibconsole.ui.chart_orders import ChartOrders
from ibconsole.ui.coalescing import CoalescingTimer
from ibconsole.ui.context import UiContext
from ibconsole.ui.months import WATCH_LIST, contract_name, rollover_view
from ibconsole.ui.theme import Tone, tone_style

log = logging.getLogger(__name__)

DEFAULT_SYMBOL = "ES"
DEFAULT_BAR_SIZE = "1 min"
REPAINT_INTERVAL_MS = 33  # at most ~30 repaints a second, whatever the event rate
_STATE_INTERVAL_MS = 1000  # the data-state label ages even when no tick arrives
_VISIBLE_BARS = 120

_SHORT_SIZES = {
    "5 secs": "5s",
    "1 min": "1m",
    "5 mins": "5m",
    "15 mins": "15m",
    "1 hour": "1h",
    "1 day": "1D",
}

# A dark chart in either theme, as trading charts usually are.
_BACKGROUND = "#131722"
_GRID_ALPHA = 0.12
_AXIS = "#9aa4b2"
_UP = QColor("#26a69a")
_DOWN = QColor("#ef5350")
_BID = "#42a5f5"
_ASK = "#ffa726"
_LAST = "#e0e0e0"
_GAP = QColor(255, 193, 7, 45)

_Rows = npt.NDArray[
    np.float64
]  # one bar per row: x (relative seconds), open, high, low, close, volume
_X, _OPEN, _HIGH, _LOW, _CLOSE, _VOLUME = range(6)


class _BarsItem(pg.GraphicsObject):
    """Bars drawn from a QPicture of the closed ones plus the forming bar painted on its own.

    Coordinates are seconds relative to the item's position (the first bar's start), so the
    recorded picture never holds epoch-sized numbers.
    """

    def __init__(self) -> None:
        super().__init__()
        self._closed: _Rows = np.empty((0, 6))
        self._live: _Rows = np.empty((0, 6))
        self._picture = QPicture()
        self._width = 1.0

    # subclasses: what one bar looks like and which values it spans vertically
    def _draw(self, painter: QPainter, rows: _Rows) -> None:
        raise TypeError(f"{type(self).__name__} does not say how to draw a bar")

    def _y_span(self, rows: _Rows) -> tuple[float, float]:
        raise TypeError(f"{type(self).__name__} does not say how tall a bar is")

    # data
    def set_closed(self, rows: _Rows, width: float) -> None:
        self.prepareGeometryChange()
        self._closed = rows
        self._width = width
        picture = QPicture()
        painter = QPainter(picture)
        self._draw(painter, rows)
        painter.end()
        self._picture = picture
        self.informViewBoundsChanged()
        self.update()

    def set_live(self, rows: _Rows) -> None:
        self.prepareGeometryChange()
        self._live = rows
        self.informViewBoundsChanged()
        self.update()

    def _rows(self) -> _Rows:
        if not len(self._live):
            return self._closed
        if not len(self._closed):
            return self._live
        return np.vstack((self._closed, self._live))

    # QGraphicsItem / pyqtgraph bounds protocol
    def paint(self, painter: QPainter, *args: object) -> None:
        painter.drawPicture(0, 0, self._picture)
        if len(self._live):
            self._draw(painter, self._live)

    def boundingRect(self) -> QRectF:
        rows = self._rows()
        if not len(rows):
            return QRectF()
        low, high = self._y_span(rows)
        half = self._width / 2
        left = float(np.min(rows[:, _X])) - half
        right = float(np.max(rows[:, _X])) + half
        return QRectF(left, low, right - left, max(high - low, 1e-9))

    def dataBounds(
        self,
        ax: int,
        frac: float = 1.0,
        orthoRange: Sequence[float] | None = None,
    ) -> tuple[float, float] | None:
        rows = self._rows()
        if ax == 1 and orthoRange is not None and len(rows):
            offset = float(self.pos().x())
            seen = (rows[:, _X] >= orthoRange[0] - offset) & (rows[:, _X] <= orthoRange[1] - offset)
            rows = rows[seen]
        if not len(rows):
            return None
        if ax == 0:
            half = self._width / 2
            return float(np.min(rows[:, _X])) - half, float(np.max(rows[:, _X])) + half
        return self._y_span(rows)


class CandleItem(_BarsItem):
    """Green (up) and red (down) candles with wicks."""

    def _draw(self, painter: QPainter, rows: _Rows) -> None:
        half = self._width / 2
        for up, color in ((True, _UP), (False, _DOWN)):
            chosen = rows[(rows[:, _CLOSE] >= rows[:, _OPEN]) == up]
            if not len(chosen):
                continue
            pen = QPen(color)
            pen.setCosmetic(True)
            pen.setWidthF(1.0)
            painter.setPen(pen)
            painter.setBrush(QBrush(color))
            for x, open_, high, low, close, _ in chosen:
                painter.drawLine(QPointF(x, low), QPointF(x, high))
                bottom, top = min(open_, close), max(open_, close)
                if top > bottom:
                    painter.drawRect(QRectF(x - half, bottom, self._width, top - bottom))
                else:
                    painter.drawLine(QPointF(x - half, close), QPointF(x + half, close))

    def _y_span(self, rows: _Rows) -> tuple[float, float]:
        return float(np.min(rows[:, _LOW])), float(np.max(rows[:, _HIGH]))


class VolumeItem(_BarsItem):
    """Volume bars, tinted like their candle."""

    def _draw(self, painter: QPainter, rows: _Rows) -> None:
        half = self._width / 2
        painter.setPen(Qt.PenStyle.NoPen)
        for up, color in ((True, _UP), (False, _DOWN)):
            tint = QColor(color)
            tint.setAlpha(150)
            painter.setBrush(QBrush(tint))
            for x, *_, volume in rows[(rows[:, _CLOSE] >= rows[:, _OPEN]) == up]:
                painter.drawRect(QRectF(x - half, 0.0, self._width, volume))

    def _y_span(self, rows: _Rows) -> tuple[float, float]:
        return 0.0, max(float(np.max(rows[:, _VOLUME])), 1.0)


@dataclass(frozen=True, slots=True)
class _Shown:
    """The chart's subject: one contract at one bar size."""

    contract: ListedContract
    bar_size: str

    @property
    def key(self) -> BarKey:
        return BarKey(self.contract.con_id, self.bar_size)


class ChartPanel(QWidget):
    """Candles, volume and quote lines of one contract at one timeframe.

    ``show_contract(contract)`` switches the chart (the order ticket drives it); the previous
    quote and bar subscriptions are released first.

    Signals: none of its own; it listens to the bridge's sig_synced, sig_quotes_updated,
    sig_bars_reset, sig_bar_updated and sig_gap_marked.
    """

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("chartPanel")
        self._ctx = ctx
        self._shown: _Shown | None = None
        self._bar_size = DEFAULT_BAR_SIZE
        self._quote_held: int | None = None  # conId of the quote subscription this chart holds
        self._bars_held: BarKey | None = None  # the bar subscription this chart holds
        self._orphans: Counter[BarKey] = Counter()  # released before their subscription began
        self._bars: list[Bar] = []
        self._loaded = False  # the broker answered for the shown bars (with none, possibly)
        self._painted = False  # the shown bars are on screen, not only in memory
        self._state_tone: Tone | None = None
        self._gaps: list[BarGap] = []
        self._quote: Quote | None = None
        self._origin: datetime | None = None
        self._follow = True  # the next repaint brings the newest bars into view
        self._dirty_closed = False
        self._dirty_live = False
        self._dirty_quote = False
        self._dirty_gaps = False
        self._repaints = 0

        self._symbol = QComboBox(self)
        self._symbol.setObjectName("chartSymbol")
        self._symbol.addItems(list(WATCH_LIST))
        self._symbol.setToolTip("Family: the chart shows its active month")
        self._symbol.activated.connect(self._on_symbol_activated)
        self._contract = QLabel("No contract", self)
        self._contract.setObjectName("chartContract")
        self._timeframes = QButtonGroup(self)
        self._timeframes.setExclusive(True)
        bar = QHBoxLayout()
        bar.setSpacing(2)
        bar.addWidget(self._symbol)
        bar.addSpacing(6)
        bar.addWidget(self._contract)
        bar.addSpacing(12)
        for size in BAR_SIZES:
            button = QToolButton(self)
            button.setText(_SHORT_SIZES.get(size, size))
            button.setToolTip(f"{size} bars")
            button.setCheckable(True)
            button.setChecked(size == self._bar_size)
            button.setObjectName(f"chartTimeframe{_SHORT_SIZES.get(size, size)}")
            button.setProperty("barSize", size)
            self._timeframes.addButton(button)
            bar.addWidget(button)
        self._timeframes.buttonClicked.connect(self._on_timeframes_clicked)
        quantity_at = bar.count()  # the chart's order quantity goes here once the plot exists
        self._readout = QLabel(self)
        self._readout.setObjectName("chartQuote")
        # In a narrow dock the quote readout gives way (the lines still show the prices);
        # the data state never does.
        self._readout.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self._readout.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self._state = QLabel(self)
        self._state.setObjectName("chartDataState")
        bar.addWidget(self._readout, 1)
        bar.addSpacing(12)
        bar.addWidget(self._state)

        self._graphics = pg.GraphicsLayoutWidget(self)
        self._graphics.setBackground(_BACKGROUND)
        self._graphics.ci.layout.setSpacing(0)
        self._price_axis = pg.DateAxisItem(orientation="bottom")
        self._price = self._graphics.addPlot(row=0, col=0)
        self._volume_axis = pg.DateAxisItem(orientation="bottom")
        self._volume = self._graphics.addPlot(row=1, col=0, axisItems={"bottom": self._volume_axis})
        self._price.setAxisItems({"bottom": self._price_axis})
        self._graphics.ci.layout.setRowStretchFactor(0, 4)
        self._graphics.ci.layout.setRowStretchFactor(1, 1)
        self._volume.setXLink(self._price)
        for plot in (self._price, self._volume):
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
        self._price.getAxis("bottom").setStyle(showValues=False)
        self._price.getAxis("bottom").setHeight(4)
        self._volume.getViewBox().setLimits(yMin=0)
        self._candles = CandleItem()
        self._volumes = VolumeItem()
        self._price.addItem(self._candles)
        self._volume.addItem(self._volumes)
        self._lines = {
            "last": self._line(_LAST, Qt.PenStyle.DotLine),
            "bid": self._line(_BID, Qt.PenStyle.DashLine),
            "ask": self._line(_ASK, Qt.PenStyle.DashLine),
        }
        # The last price as a tag at the right edge, as trading charts show it.
        self._last_tag = pg.InfLineLabel(
            self._lines["last"],
            text="{value:.2f}",
            position=0.995,
            anchors=[(1, 0.5), (1, 0.5)],
            color=_BACKGROUND,
            fill=pg.mkBrush(_LAST),
        )
        self._regions: list[pg.LinearRegionItem] = []

        self._message = QLabel("Waiting for the connection…", self)
        self._message.setObjectName("chartMessage")
        self._message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        # Orders and the position on the price plot, with their quantity box and message line.
        self.trading = ChartOrders(ctx, self._price, self)
        bar.insertSpacing(quantity_at, 12)
        bar.insertWidget(quantity_at + 1, self.trading.quantity_box)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addLayout(bar)
        layout.addWidget(self._message)
        layout.addWidget(self.trading.message)
        layout.addWidget(self._graphics, 1)

        self._repaint_timer = CoalescingTimer(self, REPAINT_INTERVAL_MS, self._repaint)
        self._state_timer = QTimer(self)
        self._state_timer.setInterval(_STATE_INTERVAL_MS)
        self._state_timer.timeout.connect(self._show_state)
        self._state_timer.start()

        bridge = ctx.bridge
        bridge.sig_synced.connect(self._on_bridge_synced)
        bridge.sig_quotes_updated.connect(self._on_bridge_quotes_updated)
        bridge.sig_bars_reset.connect(self._on_bridge_bars_reset)
        bridge.sig_bar_updated.connect(self._on_bridge_bar_updated)
        bridge.sig_gap_marked.connect(self._on_bridge_gap_marked)
        self._show_state()
        if ctx.broker.session.sync_info is not None:
            QTimer.singleShot(0, self._subscribe_or_default)

    def _line(self, color: str, style: Qt.PenStyle) -> pg.InfiniteLine:
        line = pg.InfiniteLine(angle=0, pen=pg.mkPen(color, width=1, style=style), movable=False)
        line.setVisible(False)
        self._price.addItem(line, ignoreBounds=True)
        return line

    # ------------------------------------------------------------------ public
    @property
    def is_populated(self) -> bool:
        """True once bars of the shown contract are painted (a screenshot then shows them)."""
        return self._painted

    @property
    def contract(self) -> ListedContract | None:
        return self._shown.contract if self._shown else None

    @property
    def price_plot(self) -> pg.PlotItem:
        """The price plot: candles, quote lines, order lines and the position line."""
        return self._price

    @property
    def bar_size(self) -> str:
        return self._bar_size

    @property
    def bars(self) -> tuple[Bar, ...]:
        return tuple(self._bars)

    @property
    def gaps(self) -> tuple[BarGap, ...]:
        return tuple(self._gaps)

    @property
    def gap_regions(self) -> tuple[tuple[float, float], ...]:
        """The shaded reconnect regions as drawn: (start, end) in epoch seconds."""
        return tuple(tuple(region.getRegion()) for region in self._regions)

    @property
    def repaint_count(self) -> int:
        """How many coalesced repaints have run (bounded by the timer, not the event rate)."""
        return self._repaints

    @property
    def data_state(self) -> str:
        return self._state.text()

    def show_contract(self, contract: ListedContract) -> None:
        """Chart ``contract`` at the current timeframe, releasing the previous subscriptions."""
        index = self._symbol.findText(contract.symbol)
        if index < 0:
            self._symbol.addItem(contract.symbol)
            index = self._symbol.count() - 1
        self._symbol.setCurrentIndex(index)
        self._switch(_Shown(contract, self._bar_size))

    def set_bar_size(self, bar_size: str) -> None:
        """Switch the timeframe (one of ``domain.bars.BAR_SIZES``)."""
        bar_length(bar_size)
        self._bar_size = bar_size
        for button in self._timeframes.buttons():
            button.setChecked(button.property("barSize") == bar_size)
        if self._shown is not None:
            self._switch(_Shown(self._shown.contract, bar_size))

    def release(self) -> None:
        """Drop this chart's subscriptions (before the window closes)."""
        market = self._ctx.broker.market
        if self._quote_held is not None:
            market.unsubscribe(self._quote_held)
            self._quote_held = None
        if self._bars_held is not None:
            try:
                market.unsubscribe_bars(self._bars_held)
            except KeyError:
                # Its subscribe_bars task has not started yet: drop it once it has.
                self._orphans[self._bars_held] += 1
            self._bars_held = None

    # --------------------------------------------------------- subscriptions
    def _switch(self, shown: _Shown) -> None:
        if shown == self._shown and self._bars_held == shown.key:
            return
        self.release()
        if self._shown is None or self._shown.contract != shown.contract:
            self.trading.show_contract(shown.contract)  # a timeframe switch keeps the lines
        self._shown = shown
        self._bars = []
        self._loaded = self._painted = False
        self._gaps = []
        self._quote = self._ctx.broker.market.quote(shown.contract.con_id)
        self._origin = None
        item = product(shown.contract.symbol)
        zone = ZoneInfo(item.time_zone)
        now = self._ctx.clock.now()
        offset = now.astimezone(zone).utcoffset() or timedelta(0)
        for axis in (self._price_axis, self._volume_axis):
            # DateAxisItem counts seconds west of UTC: exchange time on the axis, at today's
            # offset (bars from before a DST change read an hour off, as on most charts).
            axis.utcOffset = -int(offset.total_seconds())
            axis.picture = None
            axis.update()
        zone_name = now.astimezone(zone).strftime("%Z")
        self._contract.setText(f"<b>{contract_name(shown.contract)}</b> · {zone_name}")
        self._contract.setToolTip(
            f"{item.description}, {contract_name(shown.contract)}: "
            f"times on the axis are exchange time ({zone_name})"
        )
        self._message.setText(f"Loading {shown.bar_size} bars of {contract_name(shown.contract)}…")
        self._message.show()
        self._dirty_closed = self._dirty_live = self._dirty_quote = self._dirty_gaps = True
        self._repaint_timer.request()
        if self._ctx.broker.session.sync_info is None:
            return  # subscribed on sync: the broker requests nothing before its first sync
        self._subscribe()

    def _subscribe(self) -> None:
        shown = self._shown
        if shown is None:
            return
        market = self._ctx.broker.market
        if self._quote_held is None:
            market.subscribe(shown.contract)
            self._quote_held = shown.contract.con_id
        if self._bars_held is None:
            self._bars_held = shown.key
            self._ctx.runner.start(
                market.subscribe_bars(shown.contract, shown.bar_size),
                name=f"chart bars {contract_name(shown.contract)} {shown.bar_size}",
                done=self._on_bars_subscribed,
                failed=self._on_bars_failed,
            )

    def _on_bars_subscribed(self, key: BarKey) -> None:
        if self._orphans[key]:
            self._orphans[key] -= 1
            self._ctx.broker.market.unsubscribe_bars(key)

    def _on_bars_failed(self, error: BaseException) -> None:
        self._message.setText(f"Could not load bars: {error}")
        self._message.show()
        log.info("chart bars failed: %s", error)

    def _subscribe_or_default(self) -> None:
        if self._shown is not None:
            self._subscribe()
            return
        self._ctx.runner.start(
            rollover_view(
                self._ctx.broker,
                self._symbol.currentText() or DEFAULT_SYMBOL,
                self._ctx.settings.rollover,
                self._ctx.clock.now(),
            ),
            name="chart default contract",
            done=self._on_view_found,
            failed=self._on_view_failed,
        )

    def _on_view_found(self, view: RolloverView) -> None:
        if self._shown is None or self._shown.contract.symbol != view.active.symbol:
            self.show_contract(view.active)

    def _on_view_failed(self, error: BaseException) -> None:
        self._message.setText(f"No contract to chart: {error}")
        self._message.show()

    # ----------------------------------------------------------------- events
    @Slot(object)
    def _on_bridge_synced(self, info: object) -> None:
        self._subscribe_or_default()

    @Slot(int)
    def _on_symbol_activated(self, index: int) -> None:
        symbol = self._symbol.itemText(index)
        self._ctx.runner.start(
            rollover_view(
                self._ctx.broker, symbol, self._ctx.settings.rollover, self._ctx.clock.now()
            ),
            name=f"chart {symbol} active month",
            done=self._on_picked_view,
            failed=self._on_view_failed,
        )

    def _on_picked_view(self, view: RolloverView) -> None:
        self.show_contract(view.active)

    @Slot(QAbstractButton)
    def _on_timeframes_clicked(self, button: QToolButton) -> None:
        self.set_bar_size(str(button.property("barSize")))

    @Slot(object)
    def _on_bridge_quotes_updated(self, quotes: tuple[Quote, ...]) -> None:
        if self._shown is None:
            return
        con_id = self._shown.contract.con_id
        for quote in quotes:
            if quote.con_id == con_id:
                self._quote = quote
                self._dirty_quote = True
                self._repaint_timer.request()

    @Slot(object, object)
    def _on_bridge_bars_reset(self, key: BarKey, bars: tuple[Bar, ...]) -> None:
        if self._shown is None or key != self._shown.key:
            return
        self._bars = list(bars)
        self._loaded = True
        self._origin = bars[0].start if bars else None
        self._dirty_closed = self._dirty_live = True
        self._follow = True
        self._repaint_timer.request()

    @Slot(object, object, bool)
    def _on_bridge_bar_updated(self, key: BarKey, bar: Bar, new_bar: bool) -> None:
        if self._shown is None or key != self._shown.key:
            return
        if self._bars and bar.start == self._bars[-1].start:
            self._bars[-1] = bar
            self._dirty_live = True
        elif not self._bars or bar.start > self._bars[-1].start:
            self._bars.append(bar)
            if self._origin is None:
                self._origin = bar.start
            self._dirty_closed = self._dirty_live = True
        else:
            return  # an update of a bar older than the newest one: IB never revises those
        self._repaint_timer.request()

    @Slot(object, object)
    def _on_bridge_gap_marked(self, key: BarKey, gap: BarGap) -> None:
        if self._shown is None or key != self._shown.key:
            return
        self._gaps.append(gap)
        self._dirty_gaps = True
        self._repaint_timer.request()

    # --------------------------------------------------------------- painting
    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._repaint_timer.request()  # what arrived while hidden

    def _repaint(self) -> None:
        if not self.isVisible():
            # Hidden (another tab, minimised): the data is kept; showEvent paints it.
            return
        self._repaints += 1
        shown = self._shown
        width = bar_length(shown.bar_size).total_seconds() * 0.7 if shown else 1.0
        origin_x = self._origin.timestamp() if self._origin else 0.0
        if self._dirty_closed:
            self._dirty_closed = False
            closed = _bar_rows(self._bars[:-1], self._origin)
            for item in (self._candles, self._volumes):
                item.setPos(origin_x, 0)
                item.set_closed(closed, width)
            self._follow_latest()
        if self._dirty_live:
            self._dirty_live = False
            live = _bar_rows(self._bars[-1:], self._origin)
            self._candles.set_live(live)
            self._volumes.set_live(live)
            self._painted = bool(self._bars)
            if self._bars:
                self._message.hide()
            elif shown is not None and self._loaded:
                self._message.setText(
                    f"No {shown.bar_size} bars of {contract_name(shown.contract)}"
                )
        if self._dirty_quote:
            self._dirty_quote = False
            self._show_quote()
        if self._dirty_gaps:
            self._dirty_gaps = False
            self._show_gaps()

    def _follow_latest(self) -> None:
        """Keep the newest bars in view while the trader has not scrolled back."""
        if not self._bars or self._shown is None:
            return
        length = bar_length(self._shown.bar_size).total_seconds()
        last = self._bars[-1].start.timestamp()
        first = self._bars[max(0, len(self._bars) - _VISIBLE_BARS)].start.timestamp()
        view = self._price.getViewBox()
        left, right = view.viewRange()[0]
        new_right = last + 10 * length  # room on the right for the last-price tag
        if self._follow:
            view.setXRange(first - length, new_right, padding=0)
            self._follow = False
        elif right >= last - 2 * length:
            # Following the market at the trader's zoom: slide, keep the width.
            view.setXRange(new_right - (right - left), new_right, padding=0)

    def _show_quote(self) -> None:
        quote, shown = self._quote, self._shown
        self.trading.show_quote(quote)
        if shown is None or quote is None:
            for line in self._lines.values():
                line.setVisible(False)
            self._readout.setText("")
            self._show_state()
            return
        contract = shown.contract
        self._last_tag.format = f"{{value:,.{contract.price_places}f}}"
        for name, value in (("last", quote.last), ("bid", quote.bid), ("ask", quote.ask)):
            line = self._lines[name]
            if value is None:
                line.setVisible(False)
                continue
            line.setVisible(True)  # first: a hidden line's label does not follow its value
            line.setValue(float(value))
        self._readout.setText(
            f"Bid <b style='color:{_BID}'>{price_text(quote.bid, contract)}</b> · "
            f"Ask <b style='color:{_ASK}'>{price_text(quote.ask, contract)}</b> · "
            f"Last <b>{price_text(quote.last, contract)}</b>"
        )
        self._show_state()

    def _show_gaps(self) -> None:
        for region in self._regions:
            self._price.removeItem(region)
        self._regions = []
        minimum = bar_length(self._shown.bar_size).total_seconds() if self._shown else 0.0
        for gap in self._gaps:
            start = gap.start.timestamp()
            # A reconnect shorter than a bar would be an invisible sliver: show at least one bar.
            end = max(gap.end.timestamp(), start + minimum)
            region = pg.LinearRegionItem(
                values=(start, end),
                movable=False,
                brush=pg.mkBrush(_GAP),
                pen=pg.mkPen(QColor(255, 193, 7, 160)),
            )
            region.setToolTip(
                f"Reconnect gap {gap.start:%H:%M:%S}–{gap.end:%H:%M:%S} UTC: "
                "bars inside were backfilled"
            )
            region.setZValue(-10)
            self._price.addItem(region, ignoreBounds=True)
            self._regions.append(region)

    @Slot()
    def _show_state(self) -> None:
        if self._shown is None:
            text, tone = "● NO CONTRACT", Tone.NEUTRAL
        else:
            now, max_age = self._ctx.clock.now(), self._ctx.settings.risk.max_quote_age
            text, tone = _feed_words(self._quote, bool(self._bars), now, max_age)
        self._state.setText(text)
        if tone is not self._state_tone:  # a style sheet re-polishes the widget: only on change
            self._state_tone = tone
            self._state.setStyleSheet(tone_style(tone))


def _bar_rows(bars: Sequence[Bar], origin: datetime | None) -> _Rows:
    """Bars as rows of (seconds since ``origin``, open, high, low, close, volume)."""
    if origin is None or not bars:
        return np.empty((0, 6))
    return np.array(
        [
            ((b.start - origin).total_seconds(), b.open, b.high, b.low, b.close, b.volume)
            for b in bars
        ],
        dtype=np.float64,
    )


def _feed_words(
    quote: Quote | None, has_bars: bool, now: datetime, max_age: timedelta
) -> tuple[str, Tone]:
    """What the chart's data is, in the words and tone of its state label."""
    if quote is None:
        return ("● BARS ONLY", Tone.NEUTRAL) if has_bars else ("● NO DATA", Tone.NEUTRAL)
    kind = quote.data_type
    if kind is MarketDataType.LIVE:
        if quote.is_stale(now, max_age):
            age = int(quote.age(now).total_seconds())
            return f"● LIVE · STALE ({age} s)", Tone.WARN
        return "● LIVE", Tone.GOOD
    if kind.is_delayed:
        return f"● {kind.label.upper()}", Tone.WARN
    return f"● {kind.label.upper()}", Tone.BAD
