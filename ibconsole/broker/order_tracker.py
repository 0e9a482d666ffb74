"""The live order tracker: IB's reports on orders, executions and commissions, written to the
journal as they arrive and joined with it into the rows the blotter shows.

It also holds the changes of working orders IB has not answered yet: the journal writes a change
down before it is sent, so a rejected or overtaken change must be undone here.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from decimal import Decimal

from ibconsole.broker.ib_client import IB, CommissionReport, Event, Fill, Trade
from ibconsole.broker.mapping import (
    ACTIVE_STATUSES,
    decimal_or_none,
    order_prices,
    working_order,
)
from ibconsole.broker.order_values import OrderRow
from ibconsole.domain.orders import Side, WorkingOrder
from ibconsole.journal import (
    BrokerStatus,
    ExecutionConflict,
    Journal,
    JournalOrder,
    OrderState,
    ReconciliationOutcome,
)

log = logging.getLogger(__name__)

# IB codes that end an order as a rejection rather than a cancel (ib_insync marks both Cancelled).
_REJECT_CODES = frozenset(
    {103, 104, 105, 106, 107, 109, 110, 111, 113, 116, 135, 200, 201, 203, 321, 322}
)
# ib_async's mark on an order IB answered with a code it takes for a warning (105, 110 on a
# change, 321, 329, 399, 404, ...), where ib_insync cancels the order for all but the codes below.
_VALIDATION_ERROR = "ValidationError"
# What both libraries take for warnings: an order held until the open, shares to locate, ...
_WARNING_CODES = frozenset({165, 202, 399, 404, 434, 492, 10167, *range(2100, 2200)})
# The client prefixes the text of an error it logs on a trade: "Error 201, reqId 7: ...".
_LOG_PREFIX = re.compile(r"^(?:Error|Warning) -?\d+, reqId -?\d+: ")
# IB's answer to a cancel of an order it does not have.
_CANCEL_NOT_FOUND = 10147
_BROKER_STATUSES = frozenset(status.value for status in BrokerStatus)
# An order can still fill until IB confirms its cancel; a cancel that got lost may be sent again.
LIVE_STATUSES = ACTIVE_STATUSES | {BrokerStatus.PENDING_CANCEL.value}
_FINAL_STATUSES = frozenset(
    status.value
    for status in (
        BrokerStatus.FILLED,
        BrokerStatus.CANCELLED,
        BrokerStatus.API_CANCELLED,
        BrokerStatus.INACTIVE,
    )
)

# (quantity, limit price, stop price) of a working order
Terms = tuple[Decimal, Decimal | None, Decimal | None]


@dataclass(slots=True)
class _Change:
    """A change of a working order that IB has not answered yet (the journal holds ``wanted``
    from before it was sent, or ``before`` again once IB executed on those terms meanwhile)."""

    before: Terms
    wanted: Terms
    reverted: bool = False


def acknowledged(journalled: JournalOrder, trade: Trade) -> bool:
    """Has IB ever acknowledged this order (given it a permId)?"""
    return bool(journalled.lifecycle.perm_id or trade.order.permId or trade.orderStatus.permId)


class OrderTracker:
    """Follows every order of the session and keeps the journal in step with IB's reports.

    Events (shared with ``OrderService``): ``order_changed(OrderRow)``,
    ``fill_recorded(JournalFill)`` and ``alert(str, bool)``.
    """

    def __init__(self, ib: IB, journal: Journal, alert: Event) -> None:
        self._ib = ib
        self._journal = journal
        self._alert = alert
        self._done: dict[str, asyncio.Future[OrderState]] = {}
        self._modifying: dict[str, _Change] = {}  # by key
        self.order_changed = Event("order_changed")
        self.fill_recorded = Event("fill_recorded")
        ib.openOrderEvent += self._on_trade
        ib.orderStatusEvent += self._on_status
        ib.execDetailsEvent += self._on_execution
        ib.commissionReportEvent += self._on_commission

    # ----------------------------------------------------------------- queries
    def working_orders(self, con_id: int | None = None) -> tuple[WorkingOrder, ...]:
        """Orders live at the broker (any client), for one contract or all."""
        return tuple(
            working_order(t)
            for t in self._ib.openTrades()
            if con_id is None or t.contract.conId == con_id
        )

    def rows(self) -> tuple[OrderRow, ...]:
        return tuple(self.row(t) for t in self._ib.trades())

    def trade_by_id(self, order_id: int) -> Trade | None:
        return next((t for t in self._ib.trades() if t.order.orderId == order_id), None)

    def journalled(self, key: str) -> JournalOrder:
        """The journal's entry of an order written a moment ago."""
        found = self._journal.order(key)
        if found is None:
            raise RuntimeError(f"order {key} vanished from the journal right after it was written")
        return found

    def ours(self, trade: Trade) -> JournalOrder | None:
        key = trade.order.orderRef
        return self._journal.order(key) if key else None

    def terms(self, trade: Trade, journalled: JournalOrder) -> Terms:
        """The terms the broker has confirmed for a working order of ours."""
        tick = journalled.intent.contract.min_tick
        order = trade.order
        return (
            Decimal(repr(order.totalQuantity)),
            decimal_or_none(order.lmtPrice, tick) if journalled.intent.limit_price else None,
            decimal_or_none(order.auxPrice, tick) if journalled.intent.stop_price else None,
        )

    async def wait_final(self, key: str) -> OrderState:
        """Wait until the journal holds a final state for ``key`` (callers bound the wait)."""
        current = self._journal.order(key)
        if current is not None and current.lifecycle.state.is_final:
            return current.lifecycle.state
        future = self._done.get(key)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._done[key] = future
        return await asyncio.shield(future)

    # --------------------------------------------------------- pending changes
    def changing(self, key: str) -> bool:
        """Does the order ``key`` have a change IB has not answered yet?"""
        return key in self._modifying

    def expect_change(self, key: str, before: Terms, wanted: Terms) -> None:
        self._modifying[key] = _Change(before, wanted)

    def forget_changes(self) -> None:
        """Changes IB never answered died with the old session; the reload shows what stands."""
        self._modifying.clear()

    # ---------------------------------------------------------------- recording
    def settle(self, journalled: JournalOrder) -> None:
        state = journalled.lifecycle.state
        if state.is_final:
            future = self._done.pop(journalled.intent.key, None)
            if future is not None and not future.done():
                future.set_result(state)

    def record_status(self, journalled: JournalOrder, trade: Trade) -> None:
        status = trade.orderStatus
        entry = trade.log[-1] if trade.log else None
        if status.status == _VALIDATION_ERROR:
            self._on_validation_error(journalled, trade)
            return
        if status.status == "Cancelled" and entry is not None and entry.errorCode:
            # ib_insync marks an order Cancelled on any error about it; the code tells whether
            # IB ended the order or only refused a request about it.
            self._on_order_error(
                journalled, trade, entry.errorCode, _LOG_PREFIX.sub("", entry.message)
            )
            return
        if not status.status:
            return
        if status.status not in _BROKER_STATUSES:
            log.warning(
                "order %s: IB reported the unknown status %r", journalled.key, status.status
            )
            return
        if status.status in _FINAL_STATUSES:
            self._end_unconfirmed_change(journalled, trade)
        updated = self._journal.record_status(
            journalled.key,
            status.status,
            Decimal(repr(status.filled)),
            Decimal(repr(status.remaining)),
            decimal_or_none(status.avgFillPrice) if status.filled else None,
            status.permId or trade.order.permId,
        )
        # The console's line for each status (the IB client's own, the whole order, is DEBUG).
        log.info(
            "order %s: %s, filled %s, remaining %s",
            journalled.key,
            status.status,
            status.filled,
            status.remaining,
        )
        self.settle(updated)

    def record_fill(self, fill: Fill) -> bool:
        execution = fill.execution
        key = execution.orderRef
        journalled = self._journal.order(key) if key else None
        if journalled is None:
            return False
        # A combo's own execution (IB's BAG contract, a conId of IB's making) is the order's;
        # its legs' executions carry their months' conIds.
        con_id = (
            journalled.intent.contract.con_id
            if fill.contract.secType == "BAG"
            else fill.contract.conId
        )
        try:
            recorded = self._journal.record_fill(
                key,
                execution.execId,
                con_id,
                Side.BUY if execution.side == "BOT" else Side.SELL,
                Decimal(repr(execution.shares)),
                Decimal(repr(execution.price)),
                execution.time,
            )
        except ExecutionConflict as conflict:  # journalled beside the order, not lost
            self._alert.emit(str(conflict), True)
            return False
        if recorded:
            log.info(
                "order %s: execution %s, %s %s at %s",
                key,
                execution.execId,
                execution.side,
                execution.shares,
                execution.price,
            )
            self._emit_fill(execution.execId)
            # Executions alone can complete an order (its status report may come later or,
            # after a reconnect, never).
            after = self._journal.order(key)
            if after is not None:
                self.settle(after)
        return recorded

    def record_commission(self, report: CommissionReport) -> None:
        if not self._journal.has_execution(report.execId):
            return
        realized = decimal_or_none(report.realizedPNL)
        if self._journal.record_commission(
            report.execId, Decimal(repr(report.commission)), report.currency, realized
        ):
            self._emit_fill(report.execId)

    # ---------------------------------------------------------- broker reports
    def _on_trade(self, trade: Trade) -> None:
        key = trade.order.orderRef
        change = self._modifying.get(key) if key else None
        if change is not None:
            journalled = self.ours(trade)
            if journalled is not None and self.terms(trade, journalled) == change.wanted:
                del self._modifying[key]
                if change.reverted and not journalled.is_final:
                    self._journal.record_modification(key, *change.wanted)
        self.order_changed.emit(self.row(trade))

    def _on_status(self, trade: Trade) -> None:
        journalled = self.ours(trade)
        if journalled is not None:
            self.record_status(journalled, trade)
        self.order_changed.emit(self.row(trade))

    def _on_validation_error(self, journalled: JournalOrder, trade: Trade) -> None:
        """ib_async's answer to an error IB sent about the order with a code it takes for a
        warning: the order stays open, marked "ValidationError" (ib_insync cancels it).

        That mark is no status of IB's: the order keeps the status IB gave it last, and the
        code decides the rest as with ib_insync: a rejected change is undone, a rejected order
        ends, and a mere warning (the order held until the open, ...) changes nothing.
        """
        entry = trade.log[-1]
        trade.orderStatus.status = next(
            (e.status for e in reversed(trade.log) if e.status != _VALIDATION_ERROR), ""
        )
        if entry.errorCode in _WARNING_CODES:
            log.info("order %s: %s", journalled.key, _LOG_PREFIX.sub("", entry.message))
            return
        self._on_order_error(journalled, trade, entry.errorCode, _LOG_PREFIX.sub("", entry.message))
        ended = self._journal.order(journalled.key)
        if ended is not None and ended.state is OrderState.REJECTED:
            trade.orderStatus.status = BrokerStatus.CANCELLED.value

    def _end_unconfirmed_change(self, journalled: JournalOrder, trade: Trade) -> None:
        """An order that ends before IB confirmed a change to it ends on the terms IB had: the
        journal wrote the change down before sending it."""
        change = self._modifying.pop(journalled.key, None)
        if change is None or change.reverted or journalled.is_final:
            return
        confirmed = self.terms(trade, journalled)
        if confirmed != change.wanted:
            log.info("order %s ended before IB confirmed its change", journalled.key)
            self._journal.record_modification(journalled.key, *confirmed)

    def _on_order_error(
        self, journalled: JournalOrder, trade: Trade, code: int, message: str
    ) -> None:
        key = journalled.key
        if code == _CANCEL_NOT_FOUND and not acknowledged(journalled, trade):
            # IB handles a socket's messages in order: an order it had received would have been
            # acknowledged before this answer to its cancel. The order (and any change sent
            # after it) never reached IB: TWS lost it, and reloading open orders cannot say so.
            self._modifying.pop(key, None)
            if not journalled.is_final:
                self._never_arrived(journalled)
            return
        change = self._modifying.pop(key, None)
        if change is not None:
            before = change.before
            log.warning("IB rejected the change of order %s (%d: %s)", key, code, message)
            _undo_error_mark(trade)
            if not journalled.is_final:
                self._journal.record_modification(key, *before)
            self._alert.emit(
                f"IB rejected your change to the {journalled.intent.contract.local_symbol} "
                f"order: {message}. The order works unchanged.",
                False,
            )
            self._refresh_open_orders()
        elif code in _REJECT_CODES:
            if not journalled.is_final:
                log.warning("order %s rejected (%d): %s", key, code, message)
                self.settle(self._journal.record_rejection(key, code, message))
        else:
            # A refused request about the order (a cancel that came too late, ...): what the
            # order itself became is for IB's reports to say.
            log.info("IB refused a request on order %s (%d: %s)", key, code, message)
            self._refresh_open_orders()

    def _never_arrived(self, journalled: JournalOrder) -> None:
        key, intent = journalled.key, journalled.intent
        log.warning("order %s never reached IB: its cancel found no such order (10147)", key)
        self.settle(
            self._journal.record_reconciliation(
                key,
                ReconciliationOutcome.UNKNOWN,
                "never reached IB: cancelling it found no such order (10147); not resent",
            )
        )
        self._alert.emit(
            f"Your {intent.side.value.lower()} {intent.quantity.normalize():f} "
            f"{intent.contract.local_symbol} order never reached IB (cancelling it found no such "
            "order); it was not sent again.",
            False,
        )

    def _refresh_open_orders(self) -> None:
        """Ask IB again for this client's open orders; the answers restore their status."""
        if self._ib.isConnected():
            self._ib.client.reqOpenOrders()

    def _on_execution(self, trade: Trade, fill: Fill) -> None:
        self._keep_executed_terms(trade, fill)
        self.record_fill(fill)

    def _keep_executed_terms(self, trade: Trade, fill: Fill) -> None:
        """IB executes on the terms it has confirmed: a fill that would complete the quantity of
        a change it has not confirmed yet puts those terms back in the journal until it does
        (else the journal would call filled an order IB still works, or filled beyond it)."""
        execution = fill.execution
        change = self._modifying.get(execution.orderRef) if execution.orderRef else None
        if change is None or change.reverted:
            return
        journalled = self._journal.order(execution.orderRef)
        if (
            journalled is None
            or journalled.is_final
            or execution.execId in self._journal.known_exec_ids()
        ):
            return
        executed = journalled.lifecycle.executed + Decimal(repr(execution.shares))
        if executed >= journalled.lifecycle.quantity:
            self._journal.record_modification(journalled.key, *self.terms(trade, journalled))
            change.reverted = True

    def _on_commission(self, trade: Trade, fill: Fill, report: CommissionReport) -> None:
        self.record_commission(report)

    def _emit_fill(self, exec_id: str) -> None:
        fill = self._journal.fill(exec_id)
        if fill is not None:
            self.fill_recorded.emit(fill)

    # --------------------------------------------------------------------- rows
    def row(self, trade: Trade) -> OrderRow:
        order, status = trade.order, trade.orderStatus
        journalled = self.ours(trade)
        tick = journalled.intent.contract.min_tick if journalled else None
        message = next((e.message for e in reversed(trade.log) if e.errorCode), "")
        shown = status.status
        if (
            journalled is not None
            and journalled.state is OrderState.UNKNOWN
            and not (order.permId or status.permId)
        ):
            # IB never acknowledged it and reconciliation found it nowhere: the session's
            # PendingSubmit is a leftover, not a working order.
            shown = journalled.state.value
        limit_price, stop_price = order_prices(order, tick)
        # IB names every combo alike (conId 28812380): the journal knows which spread it is.
        named = journalled.intent.contract if journalled and journalled.intent.legs else None
        return OrderRow(
            key=order.orderRef or "",
            order_id=order.orderId,
            perm_id=order.permId or status.permId,
            client_id=order.clientId,
            con_id=named.con_id if named else trade.contract.conId,
            local_symbol=named.local_symbol if named else trade.contract.localSymbol,
            side=Side(order.action),
            quantity=Decimal(repr(order.totalQuantity)),
            order_type=order.orderType,
            limit_price=limit_price,
            stop_price=stop_price,
            tif=order.tif,
            status=shown,
            filled=Decimal(repr(status.filled)),
            remaining=Decimal(repr(status.remaining)),
            avg_fill_price=decimal_or_none(status.avgFillPrice) if status.filled else None,
            parent_id=order.parentId,
            working=shown in ACTIVE_STATUSES,
            ours=journalled is not None,
            message=_LOG_PREFIX.sub("", message),
        )


def _undo_error_mark(trade: Trade) -> None:
    """IB refused a request about the order, not the order: ib_async marked it Cancelled all the
    same, and would then ignore IB's later reports on it (its own status says done), such as the
    cancel confirmed after a rejected change. It gets back the last status IB reported."""
    if trade.orderStatus.status != BrokerStatus.CANCELLED.value or not trade.log:
        return
    if not trade.log[-1].errorCode:
        return
    trade.orderStatus.status = next(
        (e.status for e in reversed(trade.log[:-1]) if e.status and not e.errorCode), ""
    )
