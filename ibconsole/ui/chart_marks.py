"""What the chart marks besides orders: the position's average price with its unrealized P&L
(``positionLine``) and the levels of armed price alerts (``priceAlertLine``).

Both are redrawn from what they are given, never per tick: the P&L label is relabelled from the
chart's coalesced repaint, and only when its text changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import pyqtgraph as pg
from PySide6.QtCore import Qt

from ibconsole.domain.account import PortfolioRow
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.order_words import position_words, price_text
from ibconsole.domain.price_alerts import CrossDirection, PriceAlert

LABEL_TEXT = "#0d1117"
_UP = "#26a69a"
_DOWN = "#ef5350"
_ALERT = "#e3b341"
_POSITION_LABEL_AT = 0.60  # right of the order labels' slots
_ALERT_LABEL_AT = 0.76
_POSITION_Z = 19  # under the order lines, over the candles
_ALERT_Z = 18


def position_label(
    quantity: Decimal, average: Decimal, price: Decimal | None, contract: ListedContract
) -> str:
    """ "LONG +2 @ 5,931.75 · P&L +125.00 USD" (the P&L from ``price``, when known)."""
    text = f"{position_words(quantity).upper()} @ {price_text(average, contract)}"
    if price is None:
        return text
    pnl = (price - average) * quantity * contract.multiplier
    return f"{text} · P&L {pnl:+,.2f} {contract.currency}"


class PositionMark:
    """The position in one contract as a line at its average price, labelled with its P&L."""

    def __init__(self, plot: pg.PlotItem) -> None:
        self._plot = plot
        self._contract: ListedContract | None = None
        self._line: pg.InfiniteLine | None = None
        self._label: pg.InfLineLabel | None = None
        self._held = Decimal(0)
        self._average: Decimal | None = None
        self._last: Decimal | None = None
        self._color = ""

    @property
    def line(self) -> pg.InfiniteLine | None:
        return self._line

    @property
    def label(self) -> pg.InfLineLabel | None:
        return self._label

    def show(self, contract: ListedContract, rows: Iterable[PortfolioRow]) -> None:
        """Mark the position in ``contract`` that ``rows`` (the portfolio) hold, if any."""
        self._contract = contract
        row = next((r for r in rows if r.con_id == contract.con_id), None)
        if row is None or not row.quantity or not contract.multiplier:
            self.clear()
            return
        self._held = row.quantity
        # IB's average cost of a future is per contract (price × multiplier), fees included.
        self._average = row.avg_cost / contract.multiplier
        if self._line is None:
            line = pg.InfiniteLine(angle=0, movable=False)
            line.setObjectName("positionLine")
            line.setZValue(_POSITION_Z)
            self._label = pg.InfLineLabel(
                line, text="", position=_POSITION_LABEL_AT, anchors=[(0, 1), (0, 1)]
            )
            self._plot.addItem(line, ignoreBounds=True)
            self._line = line
        self._line.setValue(float(self._average))
        self._relabel()

    def show_price(self, price: Decimal | None) -> None:
        """The market's price now: the P&L follows it."""
        self._last = price
        self._relabel()

    def clear(self) -> None:
        if self._line is not None:
            self._plot.removeItem(self._line)
            self._line.deleteLater()
            self._line = self._label = None
        self._average = None
        self._color = ""

    def _relabel(self) -> None:
        line, label, contract, average = self._line, self._label, self._contract, self._average
        if line is None or label is None or contract is None or average is None:
            return
        text = position_label(self._held, average, self._last, contract)
        if label.format == text:
            return
        up = self._last is None or (self._last - average) * self._held >= 0
        color = _UP if up else _DOWN
        if color != self._color:  # a new pen and fill only when the P&L changes sign
            self._color = color
            line.setPen(pg.mkPen(color, width=2, style=Qt.PenStyle.DashDotLine))
            label.fill = pg.mkBrush(color)
            label.setColor(LABEL_TEXT)
        label.setFormat(text)


class AlertMarks:
    """The levels of the armed price alerts of one contract."""

    def __init__(self, plot: pg.PlotItem) -> None:
        self._plot = plot
        self._lines: list[pg.InfiniteLine] = []

    @property
    def lines(self) -> tuple[pg.InfiniteLine, ...]:
        return tuple(self._lines)

    def show(self, contract: ListedContract | None, alerts: Iterable[PriceAlert]) -> None:
        """Draw the armed ones of ``alerts`` that watch ``contract`` (none without one)."""
        for line in self._lines:
            self._plot.removeItem(line)
            line.deleteLater()
        self._lines = []
        if contract is None:
            return
        for alert in alerts:
            if alert.armed and alert.con_id == contract.con_id:
                self._lines.append(self._mark(alert, contract))

    def _mark(self, alert: PriceAlert, contract: ListedContract) -> pg.InfiniteLine:
        line = pg.InfiniteLine(
            pos=float(alert.level),
            angle=0,
            movable=False,
            pen=pg.mkPen(_ALERT, width=1, style=Qt.PenStyle.DashLine),
        )
        line.setObjectName("priceAlertLine")
        line.setZValue(_ALERT_Z)
        arrow = "▲" if alert.direction is CrossDirection.ABOVE else "▼"
        pg.InfLineLabel(
            line,
            text=f"ALERT {arrow} {price_text(alert.level, contract)}",
            position=_ALERT_LABEL_AT,
            anchors=[(0, 1), (0, 1)],
            color=LABEL_TEXT,
            fill=pg.mkBrush(_ALERT),
        )
        line.setToolTip(f"Price alert: {alert.describe()}, once")
        self._plot.addItem(line, ignoreBounds=True)
        return line
