"""Chart trading: the charted contract's working orders and position drawn on the price plot.

- Each working order is a horizontal ``OrderLine`` (objectName ``orderLine``, Qt property
  ``orderRef``) labelled with side, quantity, type and price. Dragging an order placed here and
  letting go modifies it to the price snapped to the tick, through the order-entry core (the
  same checks, confirmation and journal as the ticket); a refused move snaps back and the chart
  says why. Right-click a line to cancel its order.
- The position (``chart_marks.PositionMark``) and armed price alerts (``chart_marks.AlertMarks``)
  of the charted contract are drawn with them.
- A right-click anywhere else on the price plot offers a limit or stop order at that price (for
  the quantity in ``quantity_box``, ``chartQuantity``) and a price alert there.
- What happened (sent, refused and why, waiting for a confirmation) shows in ``message``
  (``chartTradeMessage``), which the chart places above its plot.

Lines follow the broker's order events: created, moved and relabelled as orders change, removed
as soon as an order stops working and all rebuilt after every sync. Quotes only relabel the
position's P&L, and only from the chart's coalesced repaint: nothing here runs per tick.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from decimal import Decimal
from functools import partial

import pyqtgraph as pg
from pyqtgraph.GraphicsScene.mouseEvents import MouseClickEvent
from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLabel, QMenu, QSpinBox, QWidget

from ibconsole.broker.order_values import OrderRow
from ibconsole.domain.account import PortfolioRow
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.order_entry import (
    EntryFields,
    EntryOutcome,
    NeedsConfirmation,
    OrderChange,
    Refusal,
    Sent,
)
from ibconsole.domain.order_words import price_text, quantity_text
from ibconsole.domain.orders import OrderType, Side, SnapDirection, snap_to_tick
from ibconsole.domain.price_alerts import PriceAlert
from ibconsole.domain.quotes import Quote
from ibconsole.ui.chart_marks import LABEL_TEXT, AlertMarks, PositionMark
from ibconsole.ui.confirm_dialog import ConfirmDialog, open_confirmation
from ibconsole.ui.context import UiContext
from ibconsole.ui.theme import Tone, set_toned_text

log = logging.getLogger(__name__)

_BUY = "#2f81f7"
_SELL = "#f0524f"
_FOREIGN = "#8b949e"  # an order placed elsewhere: shown, not movable here
_Z = 20  # above the candles and quote lines
_MESSAGE_MS = 12_000  # how long the outcome of an order or move from the chart stays shown
_MAX_QUANTITY = 1000
# Where along the plot's width labels sit: orders take the left slots in turn, so orders at
# nearby prices do not hide each other's labels; the position's label sits right of them.
_ORDER_LABEL_SLOTS = (0.02, 0.16, 0.30, 0.44)
_PRICED = frozenset({OrderType.LIMIT.value, OrderType.STOP.value, OrderType.STOP_LIMIT.value})
_CANCELLING = "PendingCancel"  # not working any more for the console, but it can still fill


def order_price(row: OrderRow) -> Decimal | None:
    """Where an order sits on the chart: a stop at its trigger, a limit at its limit."""
    if row.order_type in (OrderType.STOP.value, OrderType.STOP_LIMIT.value):
        return row.stop_price
    return row.limit_price


def order_label(row: OrderRow, contract: ListedContract) -> str:
    """ "BUY 2 LMT 5,931.75", "SELL 1 STP LMT 5,920.00 / 5,919.75"."""
    text = f"{row.side.value} {quantity_text(row.remaining)} {row.order_type}"
    if row.order_type == OrderType.STOP_LIMIT.value:
        text += f" {price_text(row.stop_price, contract)} / {price_text(row.limit_price, contract)}"
    else:
        text += f" {price_text(order_price(row), contract)}"
    return text if row.ours else f"{text} · placed elsewhere"


def change_to(row: OrderRow, price: Decimal) -> OrderChange:
    """The change that moves ``row`` to ``price``; a stop-limit keeps its limit's offset."""
    if row.order_type == OrderType.LIMIT.value:
        return OrderChange(row.order_id, limit_price=price)
    if row.order_type == OrderType.STOP.value:
        return OrderChange(row.order_id, stop_price=price)
    offset = (row.limit_price or Decimal(0)) - (row.stop_price or Decimal(0))
    return OrderChange(row.order_id, stop_price=price, limit_price=price + offset)


class OrderLine(pg.InfiniteLine):
    """One working order: movable when it was placed here."""

    def __init__(self, row: OrderRow, contract: ListedContract, label_at: float) -> None:
        color = _FOREIGN if not row.ours else _BUY if row.side is Side.BUY else _SELL
        stop = row.order_type != OrderType.LIMIT.value
        style = Qt.PenStyle.DashLine if stop else Qt.PenStyle.SolidLine
        super().__init__(
            angle=0,
            movable=row.ours,
            pen=pg.mkPen(color, width=1.5, style=style),
            hoverPen=pg.mkPen(color, width=3, style=style),
        )
        self.setObjectName("orderLine")
        self.setProperty("orderRef", row.key)
        self.setZValue(_Z)
        self.setCursor(Qt.CursorShape.SizeVerCursor if row.ours else Qt.CursorShape.ArrowCursor)
        self.row = row
        self.wanted: Decimal | None = None  # the price of a change IB has not answered yet
        self.label = pg.InfLineLabel(
            self,
            text="",
            position=label_at,
            anchors=[(0, 1), (0, 1)],
            color=LABEL_TEXT,
            fill=pg.mkBrush(color),
        )
        self.show_row(row, contract)

    def show_row(self, row: OrderRow, contract: ListedContract) -> None:
        self.row = row
        price = self.wanted if self.wanted is not None else order_price(row)
        if price is not None and not self.moving:
            self.setValue(float(price))
        suffix = (
            " · changing…"
            if self.wanted is not None
            else " · cancelling…"
            if row.status == _CANCELLING
            else ""
        )
        self.setMovable(row.ours and row.working)
        self.label.setFormat(order_label(row, contract) + suffix)
        self.setToolTip(
            f"{order_label(row, contract)} ({row.status}, ref {row.key or 'none'})"
            + ("\nDrag to move it · right-click to cancel" if row.ours else "")
        )


class ChartOrders(QObject):
    """The order and position lines of the charted contract, and the orders placed from the chart.

    Signals:
        sig_alert_requested(ListedContract, Decimal)   the trader asked for a price alert there
    """

    sig_alert_requested = Signal(object, object)

    def __init__(self, ctx: UiContext, plot: pg.PlotItem, parent: QWidget) -> None:
        super().__init__(parent)
        self._ctx = ctx
        self._plot = plot
        self._view = parent
        self.quantity_box = QSpinBox(parent)
        self.quantity_box.setObjectName("chartQuantity")
        self.quantity_box.setRange(1, _MAX_QUANTITY)
        self.quantity_box.setPrefix("Qty ")
        self.quantity_box.setToolTip(
            "Contracts per order placed from the chart (right-click a price to place one)"
        )
        self.message = QLabel(parent)
        self.message.setObjectName("chartTradeMessage")
        self.message.setWordWrap(True)
        self.message.hide()
        self._message_timer = QTimer(self)
        self._message_timer.setSingleShot(True)
        self._message_timer.setInterval(_MESSAGE_MS)
        self._message_timer.timeout.connect(self.message.hide)
        self._contract: ListedContract | None = None
        self._lines: dict[int, OrderLine] = {}
        self._position = PositionMark(plot)
        self._alerts: tuple[PriceAlert, ...] = ()
        self._alert_marks = AlertMarks(plot)
        self._confirmation: ConfirmDialog | None = None
        bridge = ctx.bridge
        bridge.sig_order_changed.connect(self._on_bridge_order_changed)
        bridge.sig_portfolio_changed.connect(self._on_bridge_portfolio_changed)
        bridge.sig_synced.connect(self._on_bridge_synced)
        plot.scene().sigMouseClicked.connect(self._on_scene_mouse_clicked)

    # ------------------------------------------------------------------ public
    @property
    def said(self) -> str:
        """What the chart says about the last order placed, moved or cancelled from it."""
        return self.message.text() if self.message.isVisible() else ""

    @property
    def order_lines(self) -> dict[int, OrderLine]:
        """The lines by order id."""
        return dict(self._lines)

    @property
    def position_line(self) -> pg.InfiniteLine | None:
        return self._position.line

    @property
    def position_label(self) -> pg.InfLineLabel | None:
        """The position line's label: side, size, average price and unrealized P&L."""
        return self._position.label

    @property
    def confirmation(self) -> ConfirmDialog | None:
        """The confirmation a chart order or move waits for, while it is open."""
        return self._confirmation

    def show_contract(self, contract: ListedContract | None) -> None:
        """Draw ``contract``'s orders and position (the chart switched to it)."""
        self._contract = contract
        self._rebuild()

    def show_quote(self, quote: Quote | None) -> None:
        """Relabel the position's P&L (called from the chart's coalesced repaint)."""
        self._position.show_price(quote.last_good_price() if quote is not None else None)

    def show_alerts(self, alerts: Iterable[PriceAlert]) -> None:
        """Draw the armed price alerts of the charted contract (of ``alerts``, all of them)."""
        self._alerts = tuple(alerts)
        self._alert_marks.show(self._contract, self._alerts)

    @property
    def alert_lines(self) -> tuple[pg.InfiniteLine, ...]:
        return self._alert_marks.lines

    def menu_at(self, price: float) -> QMenu | None:
        """The context menu for a right-click at ``price`` on the plot; None with no contract."""
        contract = self._contract
        if contract is None:
            return None
        level = snap_to_tick(Decimal(repr(price)), contract.min_tick, SnapDirection.NEAREST)
        words = price_text(level, contract)
        quantity = self.quantity_box.value()
        market = self._ctx.broker.entry.reference_price(contract)
        menu = QMenu(self._view)
        menu.setObjectName("chartOrderMenu")
        choices = [
            (Side.BUY, OrderType.LIMIT),
            (Side.SELL, OrderType.STOP),
            (Side.SELL, OrderType.LIMIT),
            (Side.BUY, OrderType.STOP),
        ]
        if market is not None:
            # Below the market a buy limit or a sell stop makes sense; above it the others.
            below = level < market
            choices = (
                [(Side.BUY, OrderType.LIMIT), (Side.SELL, OrderType.STOP)]
                if below
                else [(Side.SELL, OrderType.LIMIT), (Side.BUY, OrderType.STOP)]
            )
        for side, kind in choices:
            action = QAction(
                f"{side.value.capitalize()} {quantity} {contract.local_symbol} "
                f"{kind.value} @ {words}",
                menu,
            )
            action.setObjectName(f"chart{side.value.capitalize()}{kind.name.capitalize()}")
            action.triggered.connect(partial(self._on_place_triggered, side, kind, level))
            menu.addAction(action)
        menu.addSeparator()
        alert = QAction(f"Alert when {contract.local_symbol} crosses {words}", menu)
        alert.setObjectName("chartPriceAlert")
        alert.triggered.connect(partial(self._on_alert_triggered, contract, level))
        menu.addAction(alert)
        return menu

    def menu_for(self, line: OrderLine) -> QMenu:
        """The context menu of an order line: cancel its order."""
        menu = QMenu(self._view)
        menu.setObjectName("orderLineMenu")
        contract = self._contract
        words = order_label(line.row, contract) if contract else line.row.key
        cancel = QAction(f"Cancel {words}", menu)
        cancel.setObjectName("cancelOrderLine")
        cancel.setEnabled(line.row.ours)
        cancel.triggered.connect(partial(self._on_cancel_triggered, line.row.order_id))
        menu.addAction(cancel)
        if not line.row.ours:
            menu.addAction("Placed elsewhere: change or cancel it where it was placed").setEnabled(
                False
            )
        return menu

    def release(self) -> None:
        """Remove every line (the chart is closing or switching)."""
        for order_id in list(self._lines):
            self._remove(order_id)
        self._position.clear()

    # ------------------------------------------------------------ broker events
    @Slot(object)
    def _on_bridge_order_changed(self, row: OrderRow) -> None:
        if self._contract is None or row.con_id != self._contract.con_id:
            return
        self._show(row)

    @Slot(object)
    def _on_bridge_portfolio_changed(self, rows: tuple[PortfolioRow, ...]) -> None:
        if self._contract is not None:
            self._position.show(self._contract, rows)

    @Slot(object)
    def _on_bridge_synced(self, info: object) -> None:
        self._rebuild()  # a sync is a new session: order objects from before are gone

    # ---------------------------------------------------------------- drawing
    def _rebuild(self) -> None:
        self.release()
        if self._contract is None:
            return
        con_id = self._contract.con_id
        for row in self._ctx.broker.orders.rows():
            if row.con_id == con_id:
                self._show(row)
        self._position.show(self._contract, self._ctx.broker.account.portfolio())
        self._alert_marks.show(self._contract, self._alerts)

    def _show(self, row: OrderRow) -> None:
        contract = self._contract
        assert contract is not None
        line = self._lines.get(row.order_id)
        if not self._drawn(row):
            if line is not None:
                self._remove(row.order_id)
            return
        if line is None:
            taken = {ln.label.orthoPos for ln in self._lines.values()}
            free = [at for at in _ORDER_LABEL_SLOTS if at not in taken]
            slot = free[0] if free else _ORDER_LABEL_SLOTS[len(self._lines) % 4]
            line = OrderLine(row, contract, slot)
            line.sigPositionChangeFinished.connect(self._on_line_moved)
            line.sigClicked.connect(self._on_line_clicked)
            self._plot.addItem(line, ignoreBounds=True)
            self._lines[row.order_id] = line
            return
        wanted = line.wanted
        if wanted is not None and not self._ctx.broker.orders.changing(row.key):
            line.wanted = None  # IB answered the change
            now = order_price(row)
            if now != wanted:
                self._tell(
                    f"The move to {price_text(wanted, contract)} did not take: the order works "
                    f"at {price_text(now, contract)}.",
                    Tone.BAD,
                )
        line.show_row(row, contract)

    def _drawn(self, row: OrderRow) -> bool:
        """Does ``row`` get a line: a priced order that still works (or is being cancelled).

        For an order entered here the journal decides: IB's client marks an order Cancelled
        for a moment when IB rejects a change to it, though the order works on unchanged.
        """
        if row.order_type not in _PRICED or order_price(row) is None:
            return False
        journalled = self._ctx.broker.journal.order(row.key) if row.ours else None
        if journalled is not None:
            return not journalled.is_final
        return row.working or row.status == _CANCELLING

    def _remove(self, order_id: int) -> None:
        line = self._lines.pop(order_id)
        line.sigPositionChangeFinished.disconnect(self._on_line_moved)
        line.sigClicked.disconnect(self._on_line_clicked)
        self._plot.removeItem(line)
        line.deleteLater()

    # ------------------------------------------------------------- trading
    @Slot(object)
    def _on_line_moved(self, line: OrderLine) -> None:
        contract = self._contract
        if contract is None or not line.row.ours:
            return
        was = order_price(line.row)
        price = snap_to_tick(Decimal(repr(line.value())), contract.min_tick, SnapDirection.NEAREST)
        if was is None or price == was:
            line.show_row(line.row, contract)  # back on the grid, nothing to send
            return
        if self._confirmation is not None:
            self._snap_back(line, "Answer the open confirmation first: the order was not moved.")
            return
        line.setValue(float(price))
        outcome = self._ctx.broker.entry.modify(change_to(line.row, price))
        self._after_move(line, outcome)

    def _after_move(self, line: OrderLine, outcome: EntryOutcome) -> None:
        contract = self._contract
        if isinstance(outcome, Sent):
            intent = outcome.intent
            if intent is not None and contract is not None:
                line.wanted = (
                    intent.limit_price
                    if line.row.order_type == OrderType.LIMIT.value
                    else intent.stop_price
                )
                line.show_row(line.row, contract)
            self._tell(outcome.message, Tone.GOOD)
        elif isinstance(outcome, NeedsConfirmation):
            self._ask(outcome, partial(self._after_move, line), partial(self._snap_back, line))
        else:
            self._snap_back(line, outcome.message)

    def _snap_back(self, line: OrderLine, why: str) -> None:
        line.wanted = None
        if self._contract is not None and line.row.order_id in self._lines:
            line.show_row(line.row, self._contract)
        self._tell(why, Tone.BAD)

    @Slot(object)
    def _on_scene_mouse_clicked(self, event: object) -> None:
        """A right-click on the price plot, off any order line: the order menu at that price."""
        if not isinstance(event, MouseClickEvent):
            return
        if event.button() != Qt.MouseButton.RightButton or event.isAccepted():
            return
        view = self._plot.getViewBox()
        if not view.sceneBoundingRect().contains(event.scenePos()):
            return
        menu = self.menu_at(view.mapSceneToView(event.scenePos()).y())
        if menu is None:
            return
        event.accept()
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.popup(event.screenPos().toPoint())

    @Slot(object, object)
    def _on_line_clicked(self, line: OrderLine, event: object) -> None:
        if not isinstance(event, MouseClickEvent):
            return
        if event.button() != Qt.MouseButton.RightButton:
            return
        event.accept()  # the chart's own menu at a price is not wanted on top
        menu = self.menu_for(line)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.popup(event.screenPos().toPoint())

    def _on_cancel_triggered(self, order_id: int, checked: bool = False) -> None:
        self._say(self._ctx.broker.entry.cancel(order_id))

    def _on_place_triggered(
        self, side: Side, kind: OrderType, price: Decimal, checked: bool = False
    ) -> None:
        contract = self._contract
        if contract is None:
            return
        if self._confirmation is not None:
            self._tell("Answer the open confirmation first: nothing was sent.", Tone.WARN)
            return
        fields = EntryFields(
            contract,
            self.quantity_box.value(),
            kind,
            limit_price=price if kind is OrderType.LIMIT else None,
            stop_price=price if kind is OrderType.STOP else None,
        )
        self._say(self._ctx.broker.entry.place(side, fields))

    def _on_alert_triggered(
        self, contract: ListedContract, price: Decimal, checked: bool = False
    ) -> None:
        self.sig_alert_requested.emit(contract, price)

    def _tell(self, text: str, tone: Tone) -> None:
        set_toned_text(self.message, text, tone)
        self.message.setVisible(bool(text))
        self._message_timer.start()

    def _say(self, outcome: EntryOutcome) -> None:
        if isinstance(outcome, NeedsConfirmation):
            self._ask(outcome, self._say, lambda why: self._tell(why, Tone.NEUTRAL))
        elif isinstance(outcome, Sent):
            self._tell(outcome.message, Tone.GOOD)
        else:
            tone = Tone.WARN if outcome.kind is Refusal.NOTHING else Tone.BAD
            self._tell(outcome.message, tone)

    def _ask(
        self,
        asked: NeedsConfirmation,
        then: Callable[[EntryOutcome], None],
        declined: Callable[[str], None],
    ) -> None:
        self._tell("Waiting for your confirmation…", Tone.WARN)
        self._confirmation = open_confirmation(
            asked, self._view, partial(self._on_decided, asked, then, declined)
        )

    def _on_decided(
        self,
        asked: NeedsConfirmation,
        then: Callable[[EntryOutcome], None],
        declined: Callable[[str], None],
        confirmed: bool,
    ) -> None:
        self._confirmation = None
        entry = self._ctx.broker.entry
        if confirmed:
            then(entry.confirm(asked))
        else:
            declined(entry.decline(asked))
