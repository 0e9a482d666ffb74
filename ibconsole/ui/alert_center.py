"""Turns what the broker, the connection, the rollover calendar and the price alerts report into
alerts, each raised once (``domain.alert_rules``), and hands them to the ``Notifier``.

- fills: once per execution id (IB reports an execution again with its commission and after
  every reconnect);
- rejects: once per order IB rejected (and once per order whose change IB rejected);
- connection lost / restored / breaker open: once per outage (``ConnectionWatch``);
- roll window entered, must roll, IB's close-out deadline: once per held contract
  (``RollWatch``), from the rollover panel's rows;
- price alerts: when one fires (``PriceAlertBook``).
"""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import QObject, QTimer, Slot

from ibconsole.domain.alert_kinds import AlertKind
from ibconsole.domain.alert_rules import ConnectionWatch, OnceGate, RollWatch
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.health import HealthSnapshot
from ibconsole.domain.ib_codes import IbCategory, IbMessage
from ibconsole.domain.order_words import price_text, quantity_text
from ibconsole.domain.orders import Side
from ibconsole.domain.price_alerts import PriceAlert
from ibconsole.domain.rollover import contract_schedule
from ibconsole.journal import JournalFill
from ibconsole.ui.coalescing import CoalescingTimer
from ibconsole.ui.context import UiContext
from ibconsole.ui.notifier import Notifier
from ibconsole.ui.price_alert_book import PriceAlertBook
from ibconsole.ui.rollover_panel import RolloverModel

_ROLL_CHECK_MS = 200  # the rollover model changes row by row: look once it has settled


class AlertCenter(QObject):
    """Watches the console's events and raises each alert once through ``notifier``.

    Signals: none of its own.
    """

    def __init__(
        self,
        ctx: UiContext,
        notifier: Notifier,
        book: PriceAlertBook,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._ctx = ctx
        self._notifier = notifier
        self._fills = OnceGate()
        self._rejects = OnceGate()
        self._connection = ConnectionWatch()
        self._rolls = RollWatch()
        self._rollover: RolloverModel | None = None
        self._roll_timer = CoalescingTimer(self, _ROLL_CHECK_MS, self.check_rolls)
        bridge = ctx.bridge
        bridge.sig_fill_recorded.connect(self._on_bridge_fill_recorded)
        bridge.sig_ib_message.connect(self._on_bridge_ib_message)
        bridge.sig_health_changed.connect(self._on_bridge_health_changed)
        book.sig_fired.connect(self._on_book_fired)
        self._connection.observe(ctx.broker.session.health)

    def watch_rollover(self, model: RolloverModel) -> None:
        """Raise roll alerts for the held positions the rollover panel's rows show."""
        self._rollover = model
        model.modelReset.connect(self._roll_timer.request)
        model.dataChanged.connect(self._roll_timer.request)
        self._roll_timer.request()

    # ---------------------------------------------------------------- events
    @Slot(object)
    def _on_bridge_fill_recorded(self, fill: JournalFill) -> None:
        if not self._fills.first(fill.exec_id):
            return
        name = self._contract_name(fill.con_id, fill.key)
        verb = "Bought" if fill.side is Side.BUY else "Sold"
        contract = self._contract(fill.con_id, fill.key)
        price = price_text(fill.price, contract) if contract else f"{fill.price:,f}"
        self._notifier.notify(
            AlertKind.FILL,
            f"{verb} {quantity_text(fill.quantity)} {name}",
            f"{verb} {quantity_text(fill.quantity)} {name} at {price} (order {fill.key or '—'}).",
        )

    @Slot(int, object)
    def _on_bridge_ib_message(self, req_id: int, message: IbMessage) -> None:
        if message.category is not IbCategory.ORDER_REJECTED or req_id <= 0:
            return
        # The order's own report of this answer comes in the same turn of the loop: look once
        # it is journalled, to tell a rejected order from a rejected change of a working one.
        QTimer.singleShot(0, partial(self._tell_reject, req_id, message))

    def _tell_reject(self, order_id: int, message: IbMessage) -> None:
        row = next((r for r in self._ctx.broker.orders.rows() if r.order_id == order_id), None)
        journalled = self._ctx.broker.journal.order(row.key) if row and row.key else None
        # IB's client marks both Cancelled; the journal knows whether the order still works.
        changed = journalled is not None and not journalled.is_final
        if not self._rejects.first((order_id, changed)):
            return
        what = (
            f"{row.side.value.capitalize()} {quantity_text(row.quantity)} {row.local_symbol} "
            f"{row.order_type}"
            if row is not None
            else f"Order {order_id}"
        )
        if changed:
            title = f"Change rejected: {what}"
            text = f"{what}: {message.sentence} The order works unchanged."
        else:
            title, text = f"Rejected: {what}", f"{what}: {message.sentence}"
        self._notifier.notify(AlertKind.REJECT, title, text)

    @Slot(object)
    def _on_bridge_health_changed(self, snapshot: HealthSnapshot) -> None:
        for notice in self._connection.observe(snapshot):
            self._notifier.notify(notice.kind, notice.title, notice.text)

    @Slot(object)
    def _on_book_fired(self, alert: PriceAlert) -> None:
        contract = self._contract(alert.con_id, "")
        level = price_text(alert.level, contract) if contract else f"{alert.level:,f}"
        reference = price_text(alert.reference, contract) if contract else f"{alert.reference:,f}"
        created = alert.created_at.astimezone()
        self._notifier.notify(
            AlertKind.PRICE,
            f"{alert.local_symbol} crossed {alert.direction.value} {level}",
            f"Price alert on {alert.local_symbol}: it crossed {alert.direction.value} {level} "
            f"(set at {created:%H:%M} with the market at {reference}).",
        )

    @Slot()
    def check_rolls(self) -> None:
        """Look at the held positions of the rollover rows now (their changes call this)."""
        if self._rollover is None:
            return
        settings = self._ctx.settings.rollover
        held = [
            (contract_schedule(position.contract, row.months.calendar, settings), position.quantity)
            for row in self._rollover.rows
            if row.months is not None
            for position in row.held
        ]
        for notice in self._rolls.observe(held, self._ctx.clock.now()):
            self._notifier.notify(notice.kind, notice.title, notice.text)

    # --------------------------------------------------------------- helpers
    def _contract(self, con_id: int, key: str) -> ListedContract | None:
        journalled = self._ctx.broker.journal.order(key) if key else None
        if journalled is not None:
            return journalled.intent.contract
        month = self._ctx.broker.contracts.by_con_id(con_id)
        return month.contract if month is not None else None

    def _contract_name(self, con_id: int, key: str) -> str:
        contract = self._contract(con_id, key)
        return contract.local_symbol if contract is not None else f"conId {con_id}"
