"""Submission and modification: the pre-trade checks with the live position, working orders and
quote, the journal written before any byte is sent, then placeOrder, cancelOrder or a change.

Rules kept here (DESIGN.md section 7): an intent is journalled, with the decision that let it
through, before it is sent; every order carries its idempotency key in ``orderRef``; nothing is
accepted until the journal is reconciled with the broker, and nothing is sent on the console's
own initiative.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import replace
from decimal import Decimal

from ibconsole.broker.account import AccountService
from ibconsole.broker.contracts import ContractService
from ibconsole.broker.ib_client import Contract, Order, Trade
from ibconsole.broker.ib_client import OrderState as IbOrderState
from ibconsole.broker.mapping import (
    ACTIVE_STATUSES,
    decimal_or_none,
    ib_order,
    order_contract,
)
from ibconsole.broker.market_data import MarketDataService
from ibconsole.broker.order_tracker import LIVE_STATUSES, OrderTracker, Terms, acknowledged
from ibconsole.broker.order_values import ConfirmationNeeded, MarginImpact, OrderRefused
from ibconsole.broker.reconciler import Reconciler
from ibconsole.broker.session import Session
from ibconsole.domain.calendar_spread import leg_orders
from ibconsole.domain.clock import Clock
from ibconsole.domain.orders import OrderIntent, OrderType, TimeInForce, WorkingOrder
from ibconsole.domain.risk import RiskContext, RiskLimits, RiskReport, evaluate
from ibconsole.domain.trading_mode import AccountMode
from ibconsole.journal import Decision, Journal, JournalOrder

log = logging.getLogger(__name__)

_Orders = list[tuple[str, Order]]  # IB's orders to send, by journal key, the entry first


class OrderDesk:
    """Checks, journals and sends new orders; changes and cancels working ones."""

    def __init__(
        self,
        session: Session,
        journal: Journal,
        account: AccountService,
        market: MarketDataService,
        contracts: ContractService,
        tracker: OrderTracker,
        reconciler: Reconciler,
        limits: RiskLimits,
        clock: Clock,
        new_key: Callable[[], str],
        request_timeout: float,
    ) -> None:
        self._session = session
        self._ib = session.ib
        self._journal = journal
        self._account = account
        self._market = market
        self._contracts = contracts
        self._tracker = tracker
        self._reconciler = reconciler
        self._limits = limits
        self._clock = clock
        self.new_key = new_key
        self._request_timeout = request_timeout
        self._recent: deque[OrderIntent] = deque(maxlen=200)

    @property
    def limits(self) -> RiskLimits:
        return self._limits

    @limits.setter
    def limits(self, limits: RiskLimits) -> None:
        """The limits the next order is checked against (settings applied while running)."""
        self._limits = limits

    def entry_block(self) -> str:
        """Why no order can be sent right now, or "" if orders may go."""
        if self._session.endpoint.read_only:
            return (
                "This connection is read-only: orders cannot be sent, and working orders were "
                "not loaded. Connect without read-only to trade."
            )
        block = self._session.order_entry_block()
        if block:
            return block
        if not self._reconciler.done:
            return "Orders are blocked until the journal is reconciled with the broker."
        return ""

    def assess(self, intent: OrderIntent) -> RiskReport:
        """The pre-trade findings for ``intent`` with the live position, orders and quote."""
        con_id = intent.contract.con_id
        working = self._tracker.working_orders(con_id) if self._account.positions_known else ()
        return self._assess(intent, working, tuple(self._recent))

    # ------------------------------------------------------------------ new orders
    def submit(self, intent: OrderIntent, *, confirmed: bool = False) -> JournalOrder:
        """Check, journal, then send ``intent`` (and its bracket legs).

        Raises ConfirmationNeeded (nothing journalled) when the trader must confirm first, and
        OrderRefused (journalled as blocked) when it may not go at all. An intent whose key is
        journalled already is refused without a trace: its first entry stands.
        """
        earlier = self._journal.order(intent.key)
        if earlier is not None:
            raise OrderRefused(
                f"This exact order (key {intent.key}) was already entered and is "
                f"{earlier.state.value}; an order is never sent twice."
            )
        block = self.entry_block()
        if block:
            self.refuse(intent, [block])
            raise OrderRefused(block)
        report = self.assess(intent)
        if report.blocked:
            self.refuse(intent, [f.message for f in report.findings])
            raise OrderRefused(report.blocking_text, report)
        if report.needs_confirmation and not confirmed:
            raise ConfirmationNeeded(report)
        children = _children(intent)
        findings = [f.message for f in report.findings]
        try:
            ids = [self._ib.client.getReqId() for _ in range(1 + len(children))]
        except ConnectionError as exc:
            self._journal.record_entry(intent, children, Decision.CONFIRMED, findings)
            for key in (intent.key, *(child.key for child in children)):
                self._journal.record_rejection(key, 0, f"not sent: {exc}")
            raise OrderRefused(f"Not sent, the connection is down: {exc}") from exc
        contract, orders = order_contract(intent), _ib_orders(intent, children, ids)
        # The intent, the decision and each order's submission in one transaction before the
        # bytes go out: the journal refuses to let one key be journalled twice, which is what
        # keeps a retry from sending an order again.
        journalled = self._journal.record_entry(
            intent, children, Decision.CONFIRMED, findings, ids, self._session.endpoint.client_id
        )
        self._recent.append(intent)
        self._place(intent, contract, orders)
        return journalled

    def decline(self, intent: OrderIntent, report: RiskReport) -> None:
        """The trader said no at the confirmation: journal it, send nothing."""
        self._journal.record_entry(
            intent, _children(intent), Decision.DECLINED, [f.message for f in report.findings]
        )

    def refuse(self, intent: OrderIntent, reasons: list[str]) -> None:
        """Journal ``intent`` as blocked for ``reasons``; nothing is sent."""
        self._journal.record_entry(intent, _children(intent), Decision.BLOCKED, reasons)

    async def what_if(self, intent: OrderIntent) -> MarginImpact:
        """IB's margin and commission estimate for ``intent`` (its entry leg), under a timeout.

        A what-if order is answered without reaching the market; nothing is journalled.
        """
        if not self._ib.isConnected():
            raise OrderRefused("Not connected: no margin estimate.")
        order = ib_order(intent)
        order.orderRef = ""  # the idempotency key belongs to the real order, not to an estimate
        try:
            async with asyncio.timeout(self._request_timeout):
                state = await self._ib.whatIfOrderAsync(order_contract(intent), order)
        except TimeoutError:
            raise OrderRefused(
                f"IB sent no margin estimate within {self._request_timeout:g} s."
            ) from None
        except ConnectionError as exc:
            raise OrderRefused(f"The connection dropped before the margin estimate: {exc}") from exc
        if not isinstance(state, IbOrderState):
            raise OrderRefused("IB declined to estimate the margin of this order.")
        return MarginImpact(
            init_margin_change=_amount(state.initMarginChange),
            maint_margin_change=_amount(state.maintMarginChange),
            init_margin_after=_amount(state.initMarginAfter),
            equity_with_loan_after=_amount(state.equityWithLoanAfter),
            commission=decimal_or_none(state.commission),
            currency=state.commissionCurrency or intent.contract.currency,
            warning=state.warningText,
        )

    # -------------------------------------------------------------- working orders
    def cancel(self, order_id: int, reason: str = "cancelled by you") -> None:
        trade = self._cancellable(order_id)
        if not self._ib.isConnected():
            raise OrderRefused("Not connected: the cancel cannot be sent.")
        self.send_cancel(trade, reason)

    def cancel_all(self) -> int:
        """Cancel every working order this console can cancel; returns how many were sent.

        A bracket's children are not cancelled on their own: IB cancels them with their parent.
        """
        if not self._ib.isConnected():
            raise OrderRefused("Not connected: the cancels cannot be sent.")
        client_id = self._session.endpoint.client_id
        mine = [t for t in self._ib.openTrades() if t.order.clientId == client_id]
        parents = {t.order.orderId for t in mine}
        sent = 0
        for trade in mine:
            if trade.order.parentId not in parents:
                self.send_cancel(trade, "cancel all")
                sent += 1
        return sent

    def send_cancel(self, trade: Trade, reason: str) -> None:
        key = trade.order.orderRef
        if key and self._journal.order(key) is not None:
            self._journal.record_cancel_request(key, reason)
        # ib_insync takes an untransmitted order still PendingSubmit for one that never left and
        # marks it Cancelled on the spot. A bracket's parent goes out untransmitted and its last
        # leg transmits the group, so only IB can say what became of it: the copy marked
        # transmitted makes ib_insync wait for IB's answer.
        order = copy.copy(trade.order)
        order.transmit = True
        self._ib.cancelOrder(order)

    def modify(
        self,
        order_id: int,
        *,
        quantity: Decimal | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
        confirmed: bool = False,
    ) -> None:
        """Change a working order in place (same orderId), after the same pre-trade checks.

        The session shows the new terms once IB confirms them; if IB rejects the change, the
        order keeps working as it was and the journal says so.
        """
        block = self.entry_block()
        if block:
            raise OrderRefused(block)
        tracker = self._tracker
        trade = tracker.trade_by_id(order_id)
        if trade is None or trade.orderStatus.status not in ACTIVE_STATUSES:
            raise OrderRefused(f"Order {order_id} is not working and cannot be modified.")
        journalled = tracker.ours(trade)
        if journalled is None:
            raise OrderRefused(
                f"Order {order_id} was not entered here; modify it where it was placed."
            )
        key = journalled.key
        if journalled.is_final:
            # IB reports an execution before the order status that ends the order: between the
            # two the journal knows the order filled while IB's order still reads as working.
            raise OrderRefused(
                f"Order {order_id} is {journalled.state.replace('_', ' ')} and cannot be modified."
            )
        if not acknowledged(journalled, trade):
            # A change goes out as placeOrder with the same order id: were the order itself
            # rejected meanwhile, IB would take the change for a new order.
            raise OrderRefused(
                f"IB has not acknowledged order {order_id} yet; change it once it is working."
            )
        if tracker.changing(key):
            raise OrderRefused(
                f"Order {order_id} has a change IB has not confirmed yet; wait for its answer."
            )
        before = tracker.terms(trade, journalled)
        wanted = _checked_terms(journalled, before, quantity, limit_price, stop_price)
        changed = replace(
            journalled.intent, quantity=wanted[0], limit_price=wanted[1], stop_price=wanted[2]
        )
        others = tuple(
            w for w in tracker.working_orders(changed.contract.con_id) if w.order_id != order_id
        )
        report = self._assess(changed, others)
        if report.blocked:
            raise OrderRefused(report.blocking_text, report)
        if report.needs_confirmation and not confirmed:
            raise ConfirmationNeeded(report)
        self._journal.record_modification(key, *wanted)
        # A copy goes out: the session's order keeps the terms IB confirmed until IB answers.
        order = copy.copy(trade.order)
        order.totalQuantity = float(wanted[0])
        if wanted[1] is not None:
            order.lmtPrice = float(wanted[1])
        if wanted[2] is not None:
            order.auxPrice = float(wanted[2])
        try:
            self._ib.placeOrder(trade.contract, order)
        except ConnectionError as exc:
            self._journal.record_modification(key, *before)
            raise OrderRefused(f"Not sent, the connection is down: {exc}") from exc
        tracker.expect_change(key, before, wanted)

    # ---------------------------------------------------------------------- inside
    def _assess(
        self,
        intent: OrderIntent,
        working: Sequence[WorkingOrder],
        recent: Sequence[OrderIntent] = (),
    ) -> RiskReport:
        if intent.legs:
            # A combo is checked for what each of its legs does to that leg's month.
            return RiskReport(
                tuple(f for leg in leg_orders(intent) for f in self.assess(leg).findings)
            )
        sync = self._session.sync_info
        context = RiskContext(
            now=self._clock.now(),
            position=self._account.position(intent.contract.con_id),
            working_orders=working,
            quote=self._market.quote(intent.contract.con_id),
            session_open=self._contracts.is_open(intent.contract),
            account_mode=sync.mode.mode if sync else AccountMode.UNKNOWN,
            daily_pnl=self._account.daily_pnl(),
            recent_intents=recent,
        )
        return evaluate(intent, context, self._limits)

    def _place(self, intent: OrderIntent, contract: Contract, orders: _Orders) -> None:
        """Send the IB ``orders`` of ``intent`` (journalled as submitted already), in order."""
        for number, (_, order) in enumerate(orders):
            try:
                self._ib.placeOrder(contract, order)
            except ConnectionError as exc:
                for unsent_key, _ in orders[number:]:
                    self._journal.record_rejection(unsent_key, 0, f"not sent: {exc}")
                raise OrderRefused(f"Not sent, the connection is down: {exc}") from exc
        log.info(
            "sent %s %s %s %s (%s)",
            intent.side.value,
            intent.quantity,
            intent.contract.local_symbol,
            intent.order_type.value,
            intent.key,
        )

    def _cancellable(self, order_id: int) -> Trade:
        trade = self._tracker.trade_by_id(order_id)
        if trade is None or trade.orderStatus.status not in LIVE_STATUSES:
            raise OrderRefused(f"Order {order_id} is not working, there is nothing to cancel.")
        if trade.order.clientId != self._session.endpoint.client_id:
            raise OrderRefused(
                f"Order {order_id} was placed by another API client or in TWS; cancel it there."
            )
        return trade


def _ib_orders(intent: OrderIntent, children: Sequence[OrderIntent], ids: Sequence[int]) -> _Orders:
    """IB's orders for ``intent`` and its bracket ``children``, numbered ``ids``, by key."""
    parent = ib_order(intent)
    parent.orderId = ids[0]
    # A bracket goes out as one group: IB holds it until the last leg arrives with
    # transmit=True, so no leg can work without the others.
    parent.transmit = not children
    orders: _Orders = [(intent.key, parent)]
    for number, child in enumerate(children, start=1):
        order = ib_order(child)
        order.orderId = ids[number]
        order.parentId = parent.orderId
        order.transmit = number == len(children)
        orders.append((child.key, order))
    return orders


def _children(intent: OrderIntent) -> tuple[OrderIntent, ...]:
    """A bracket's exits as orders of their own: GTC, on the other side, keyed after the entry."""
    bracket = intent.bracket
    if bracket is None:
        return ()
    exits = (
        (intent.take_profit_key, OrderType.LIMIT, bracket.take_profit),
        (intent.stop_loss_key, OrderType.STOP, bracket.stop_loss),
    )
    return tuple(
        replace(
            intent,
            key=key,
            side=intent.side.opposite,
            order_type=kind,
            limit_price=price if kind.needs_limit else None,
            stop_price=price if kind.needs_stop else None,
            bracket=None,
            tif=TimeInForce.GTC,
        )
        for key, kind, price in exits
        if price is not None
    )


def _checked_terms(
    journalled: JournalOrder,
    before: Terms,
    quantity: Decimal | None,
    limit_price: Decimal | None,
    stop_price: Decimal | None,
) -> Terms:
    order_type = journalled.intent.order_type
    if quantity is not None:
        if not quantity.is_finite() or quantity <= 0 or quantity != quantity.to_integral():
            raise OrderRefused(
                f"The new quantity {quantity} must be a whole number of contracts above zero."
            )
        if quantity < journalled.lifecycle.filled:
            raise OrderRefused(
                f"The new quantity {quantity.normalize():f} is below the "
                f"{journalled.lifecycle.filled.normalize():f} already filled."
            )
    if limit_price is not None and not order_type.needs_limit:
        raise OrderRefused(f"A {order_type.value} order has no limit price to change.")
    if stop_price is not None and not order_type.needs_stop:
        raise OrderRefused(f"A {order_type.value} order has no stop price to change.")
    return (
        before[0] if quantity is None else quantity,
        before[1] if limit_price is None else limit_price,
        before[2] if stop_price is None else stop_price,
    )


def _amount(text: str) -> Decimal | None:
    """IB's what-if money fields are strings; blank or its "unset" marker mean unknown."""
    try:
        value = Decimal(text)
    except (ArithmeticError, ValueError):
        return None
    return value if value.is_finite() and abs(value) < Decimal("1e300") else None
