"""Live charts: candles and volume from historical bars kept up to date, last/bid/ask lines, the
market data type, reconnect gaps and a timeframe switch.

Rendering is incremental and coalesced: broker events only store data and raise dirty flags;
one ``FrameTimer`` redraws what changed at most once a frame. The closed bars are recorded and
cached when a bar closes or the history changes (``chart_bars``); a tick redraws only the
forming bar, the quote lines and the labels that follow it, and asks for no layout pass.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractButton,
    QButtonGroup,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ibconsole.broker.market_data import BarKey
from ibconsole.domain.bars import BAR_SIZES, Bar, BarGap, bar_length
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.products import product
from ibconsole.domain.quotes import Quote
from ibconsole.domain.rollover import RolloverView
from ibconsole.ui.chart_bars import bar_rows, no_rows
from ibconsole.ui.chart_gaps import GapRegions
from ibconsole.ui.chart_orders import ChartOrders
from ibconsole.ui.chart_plots import ChartPlots
from ibconsole.ui.chart_quote import QuoteLines, QuoteReadout, feed_words
from ibconsole.ui.context import UiContext
from ibconsole.ui.frame_timer import FrameTimer
from ibconsole.ui.months import WATCH_LIST, contract_name, rollover_view
from ibconsole.ui.theme import Tone, tone_style

log = logging.getLogger(__name__)

DEFAULT_SYMBOL = "ES"
DEFAULT_BAR_SIZE = "1 min"
_STATE_INTERVAL_MS = 1000  # the data-state label ages even when no tick arrives
_BAR_WIDTH = 0.7  # of a bar's length

_SHORT_SIZES = {
    "5 secs": "5s",
    "1 min": "1m",
    "5 mins": "5m",
    "15 mins": "15m",
    "1 hour": "1h",
    "1 day": "1D",
}


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
        self._closed = no_rows()  # the closed bars (all but the newest) as the plots' rows
        self._follow = True  # the next repaint brings the newest bars into view
        self._dirty_history = False
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
        self._readout = QuoteReadout(self)
        self._state = QLabel(self)
        self._state.setObjectName("chartDataState")
        bar.addWidget(self._readout, 1)
        bar.addSpacing(12)
        bar.addWidget(self._state)

        self._plots = ChartPlots(self)
        self._price = self._plots.price
        self._quote_lines = QuoteLines(self._price)
        self._gaps_shown = GapRegions(self._price)

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
        layout.addWidget(self._plots.widget, 1)

        self._repaint_timer = FrameTimer(self, self._repaint)
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
        return self._gaps_shown.spans

    @property
    def repaint_count(self) -> int:
        """How many coalesced repaints have run (at most one a frame, whatever the event rate)."""
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
        self._closed = no_rows()
        self._loaded = self._painted = False
        self._gaps = []
        self._quote = self._ctx.broker.market.quote(shown.contract.con_id)
        self._origin = None
        item = product(shown.contract.symbol)
        zone = ZoneInfo(item.time_zone)
        now = self._ctx.clock.now()
        offset = now.astimezone(zone).utcoffset() or timedelta(0)
        # Exchange time on the axis, at today's offset (bars from before a DST change read an
        # hour off, as on most charts).
        self._plots.set_utc_offset(int(offset.total_seconds()))
        zone_name = now.astimezone(zone).strftime("%Z")
        self._contract.setText(f"<b>{contract_name(shown.contract)}</b> · {zone_name}")
        self._contract.setToolTip(
            f"{item.description}, {contract_name(shown.contract)}: "
            f"times on the axis are exchange time ({zone_name})"
        )
        self._message.setText(f"Loading {shown.bar_size} bars of {contract_name(shown.contract)}…")
        self._message.show()
        self._dirty_history = self._dirty_live = self._dirty_quote = self._dirty_gaps = True
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
        self._closed = bar_rows(bars[:-1], self._origin)
        self._dirty_history = self._dirty_live = True
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
            if self._bars:  # the newest bar closed: one more row of history
                self._closed = np.vstack((self._closed, bar_rows(self._bars[-1:], self._origin)))
            self._bars.append(bar)
            if self._origin is None:
                self._origin = bar.start
            self._dirty_history = self._dirty_live = True
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
        bar_seconds = bar_length(shown.bar_size).total_seconds() if shown else 1.0
        width = bar_seconds * _BAR_WIDTH
        if self._dirty_history:
            self._dirty_history = False
            origin_x = self._origin.timestamp() if self._origin else 0.0
            self._plots.show_history(self._closed, origin_x, width)
            if self._bars:
                self._plots.follow(self._bars, bar_seconds, jump=self._follow)
                self._follow = False
        if self._dirty_live:
            self._dirty_live = False
            self._plots.show_live(bar_rows(self._bars[-1:], self._origin), width)
            self._painted = bool(self._bars)
            if self._bars:
                self._message.hide()
            elif shown is not None and self._loaded:
                self._message.setText(
                    f"No {shown.bar_size} bars of {contract_name(shown.contract)}"
                )
        if self._dirty_quote:
            self._dirty_quote = False
            contract = shown.contract if shown else None
            self.trading.show_quote(self._quote)
            self._quote_lines.show(self._quote, contract)
            self._readout.show_quote(self._quote, contract)
            self._show_state()
        if self._dirty_gaps:
            self._dirty_gaps = False
            self._gaps_shown.show(self._gaps, bar_seconds if shown else 0.0)

    @Slot()
    def _show_state(self) -> None:
        if self._shown is None:
            text, tone = "● NO CONTRACT", Tone.NEUTRAL
        else:
            now, max_age = self._ctx.clock.now(), self._ctx.settings.risk.max_quote_age
            text, tone = feed_words(self._quote, bool(self._bars), now, max_age)
        self._state.setText(text)
        if tone is not self._state_tone:  # a style sheet re-polishes the widget: only on change
            self._state_tone = tone
            self._state.setStyleSheet(tone_style(tone))
