"""The charted contract's quote as the chart shows it: last, bid and ask lines on the price plot (the
last price tagged at the right edge), the readout above the plot (``chartQuote``) and the words
of the data-state label (``chartDataState``).

Everything here runs from the chart's repaint, at most once a frame, and none of it asks the
window for a layout pass: the readout's label lives in a box without a layout, so a new text
only repaints it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QGraphicsItem, QSizePolicy, QWidget

from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.order_words import price_text
from ibconsole.domain.quotes import MarketDataType, Quote
from ibconsole.ui.chart_plots import BACKGROUND
from ibconsole.ui.runs_label import Run, RunsLabel
from ibconsole.ui.theme import Tone

_BID = "#42a5f5"
_ASK = "#ffa726"
_LAST = "#e0e0e0"


class PriceTag(pg.InfLineLabel):
    """A horizontal line's value as a tag at the view's right edge.

    Along a horizontal line the tag's place follows the view's range alone (its line's view
    transform change places it again) and both its anchors are the same: a new value changes
    its text only, which ``setText`` lays out only when it differs.
    """

    def valueChanged(self) -> None:
        if self._endpoints[0] is None or not self.isVisible():
            super().valueChanged()  # not placed yet, or hidden (which skips everything)
            return
        self.setText(self.format.format(value=self.line.value()))


class QuoteLines:
    """The last, bid and ask lines of one quote on ``plot``; hidden where a price is unknown."""

    def __init__(self, plot: pg.PlotItem) -> None:
        self._lines = {
            "last": self._line(plot, _LAST, Qt.PenStyle.DotLine),
            "bid": self._line(plot, _BID, Qt.PenStyle.DashLine),
            "ask": self._line(plot, _ASK, Qt.PenStyle.DashLine),
        }
        # The last price as a tag at the right edge, as trading charts show it.
        self._last_tag = PriceTag(
            self._lines["last"],
            text="{value:.2f}",
            position=0.995,
            anchors=[(1, 0.5), (1, 0.5)],
            color=BACKGROUND,
            fill=pg.mkBrush(_LAST),
        )
        self._places = -1

    @staticmethod
    def _line(plot: pg.PlotItem, color: str, style: Qt.PenStyle) -> pg.InfiniteLine:
        line = pg.InfiniteLine(angle=0, pen=pg.mkPen(color, width=1, style=style), movable=False)
        # Drawn once and moved as a picture: stroking a dashed line across the plot was a
        # fifth of a frame, and the lines move on every tick.
        line.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        line.setVisible(False)
        plot.addItem(line, ignoreBounds=True)
        return line

    def show(self, quote: Quote | None, contract: ListedContract | None) -> None:
        if quote is None or contract is None:
            for line in self._lines.values():
                line.setVisible(False)
            return
        if contract.price_places != self._places:
            self._places = contract.price_places
            self._last_tag.format = f"{{value:,.{contract.price_places}f}}"
        for name, value in (("last", quote.last), ("bid", quote.bid), ("ask", quote.ask)):
            line = self._lines[name]
            if value is None:
                line.setVisible(False)
                continue
            line.setVisible(True)  # first: a hidden line's label does not follow its value
            if line.value() != float(value):
                line.setValue(float(value))


class QuoteReadout(QWidget):
    """The "Bid … · Ask … · Last …" label (``chartQuote``) that gives way in a narrow dock.

    The label's parent has no layout, so a new text (every tick) repaints the label and asks
    the window for no layout pass; this box sizes the label itself.
    """

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.label = RunsLabel(self)
        self.label.setObjectName("chartQuote")
        self.label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        # Opaque: its repaint (every frame) paints the label alone, not the panels under it.
        self.label.setAutoFillBackground(True)
        # In a narrow dock the readout gives way (the lines still show the prices).
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self._height = self.label.fontMetrics().height() + 4

    def sizeHint(self) -> QSize:
        return QSize(0, self._height)

    def minimumSizeHint(self) -> QSize:
        return QSize(0, self._height)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.label.setGeometry(self.rect())

    def show_quote(self, quote: Quote | None, contract: ListedContract | None) -> None:
        if quote is None or contract is None:
            self.label.set_runs(())
            return
        self.label.set_runs(
            (
                Run("Bid "),
                Run(price_text(quote.bid, contract), bold=True, color=_BID),
                Run(" · Ask "),
                Run(price_text(quote.ask, contract), bold=True, color=_ASK),
                Run(" · Last "),
                Run(price_text(quote.last, contract), bold=True),
            )
        )


def feed_words(
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
