"""Orders: pre-trade checks, journal before send, live tracking, cancel, reconcile, roll.

Rules this module keeps (DESIGN.md section 7):
- an intent is journalled, with the decision that let it through, before any byte is sent;
- every order carries its idempotency key in ``orderRef``; after each sync the journal is
  reconciled against the broker's open orders, completed orders and executions before any new
  order is accepted, and nothing is ever resent on the console's own initiative;
- the position and working orders come from the session; when they are unknown, orders are refused.

Events (eventkit, emitted on the loop thread):
    order_changed(OrderRow)        an order's status, fills or working state changed
    fill_recorded(JournalFill)     an execution was journalled (live or found at reconciliation),
                                   and again when its commission report arrived
    roll_failed(RollFailure)       a roll's close leg filled but its open leg did not
    reconciled(Reconciliation)     the journal was reconciled after a sync
    alert(str, bool)               a sentence the trader must see; True when critical
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import re
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal

from ibconsole.broker.account import AccountService
from ibconsole.broker.contracts import ContractService
from ibconsole.broker.ib_client import CommissionReport, Event, Fill, Order, Trade
from ibconsole.broker.ib_client import OrderState as IbOrderState
from ibconsole.broker.mapping import (
    ACTIVE_STATUSES,
    decimal_or_none,
    ib_contract,
    ib_order,
    working_order,
)
from ibconsole.broker.market_data import MarketDataService
from ibconsole.broker.session import Session, SyncInfo
from ibconsole.domain.clock import Clock
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.health import HealthSnapshot, HealthState
from ibconsole.domain.orders import (
    KEY_PREFIX,
    OrderIntent,
    OrderKeyFactory,
    OrderType,
    Purpose,
    Side,
    TimeInForce,
    WorkingOrder,
)
from ibconsole.domain.risk import RiskContext, RiskLimits, RiskReport, Severity, evaluate
from ibconsole.domain.rollover import RollLeg, RollPlan, move_exits
from ibconsole.domain.trading_mode import AccountMode
from ibconsole.journal import (
    BrokerStatus,
    Decision,
    Journal,
    JournalError,
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
_SESSION_STATES = (HealthState.CONNECTED, HealthState.DEGRADED)
_BROKER_STATUSES = frozenset(status.value for status in BrokerStatus)
# An order can still fill until IB confirms its cancel; a cancel that got lost may be sent again.
_LIVE_STATUSES = ACTIVE_STATUSES | {BrokerStatus.PENDING_CANCEL.value}
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
_Terms = tuple[Decimal, Decimal | None, Decimal | None]


class OrderRefused(Exception):
    """The order was not sent; ``reason`` says why in a sentence, ``report`` has the findings."""

    def __init__(self, reason: str, report: RiskReport | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.report = report


class ConfirmationNeeded(Exception):
    """The checks want the trader's confirmation; nothing was journalled or sent yet."""

    def __init__(self, report: RiskReport) -> None:
        super().__init__("; ".join(f.message for f in report.findings))
        self.report = report


@dataclass(frozen=True, slots=True)
class OrderRow:
    """One order as the blotter shows it: the broker's live view joined with the journal's."""

    key: str  # orderRef; "" for an order placed outside the console
    order_id: int
    perm_id: int
    client_id: int
    con_id: int
    local_symbol: str
    side: Side
    quantity: Decimal
    order_type: str
    limit_price: Decimal | None
    stop_price: Decimal | None
    tif: str
    status: str  # IB's status, or the journal's state when the broker no longer reports it
    filled: Decimal
    remaining: Decimal
    avg_fill_price: Decimal | None
    parent_id: int
    working: bool
    ours: bool
    message: str  # last error or rejection text, "" if none


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """What one reconciliation found, by order key (``fills_recovered``: executions journalled)."""

    matched: tuple[str, ...]
    unknown: tuple[str, ...]
    filled_while_disconnected: tuple[str, ...]
    adopted: tuple[str, ...]
    fills_recovered: int


@dataclass(frozen=True, slots=True)
class MarginImpact:
    """What IB says an order would do to the account (a what-if order, never sent to market)."""

    init_margin_change: Decimal | None
    maint_margin_change: Decimal | None
    init_margin_after: Decimal | None
    equity_with_loan_after: Decimal | None
    commission: Decimal | None
    currency: str
    warning: str


@dataclass(frozen=True, slots=True)
class RollFailure:
    """The close leg filled (in full or in part) but the open leg did not: what was closed in the
    old month is not open in the new one."""

    plan: RollPlan
    reason: str

    @property
    def sentence(self) -> str:
        leg = self.plan.open
        target = leg.contract.local_symbol if leg else "the new month"
        return (
            f"ROLL INCOMPLETE: {self.plan.close.contract.local_symbol} was closed but opening "
            f"{target} failed ({self.reason}). You are not in the position you intended; "
            f"retry the open leg or enter it by hand."
        )


@dataclass(slots=True)
class _Change:
    """A change of a working order that IB has not answered yet (the journal holds ``wanted``
    from before it was sent, or ``before`` again once IB executed on those terms meanwhile)."""

    before: _Terms
    wanted: _Terms
    reverted: bool = False


@dataclass(slots=True)
class _Roll:
    """A roll in progress or incomplete: the close leg's key and every try of the open leg."""

    close_key: str
    open_keys: list[str] = field(default_factory=list)


class OrderService:
    def __init__(
        self,
        session: Session,
        journal: Journal,
        account: AccountService,
        market: MarketDataService,
        contracts: ContractService,
        limits: RiskLimits,
        clock: Clock,
        key_factory: Callable[[], str] | None = None,
        fill_timeout: float = 30.0,
        request_timeout: float = 4.0,
    ) -> None:
        self._session = session
        self._ib = session.ib
        self._journal = journal
        self._account = account
        self._market = market
        self._contracts = contracts
        self._limits = limits
        self._clock = clock
        self._new_key = key_factory or OrderKeyFactory(clock)
        self._fill_timeout = fill_timeout
        self._request_timeout = request_timeout
        self._recent: deque[OrderIntent] = deque(maxlen=200)
        self._reconciled = False
        self._done: dict[str, asyncio.Future[OrderState]] = {}
        self._modifying: dict[str, _Change] = {}  # by key
        self._rolls: dict[RollPlan, _Roll] = {}
        self.order_changed = Event("order_changed")
        self.fill_recorded = Event("fill_recorded")
        self.reconciled = Event("reconciled")
        self.alert = Event("alert")
        self.roll_failed = Event("roll_failed")
        ib = self._ib
        ib.openOrderEvent += self._on_trade
        ib.orderStatusEvent += self._on_status
        ib.execDetailsEvent += self._on_execution
        ib.commissionReportEvent += self._on_commission
        session.health_changed += self._on_health
        session.synced += self._on_synced
        session.ended += self._on_ended

    @property
    def limits(self) -> RiskLimits:
        return self._limits

    def new_key(self) -> str:
        return self._new_key()

    # ----------------------------------------------------------------- queries
    def working_orders(self, con_id: int | None = None) -> tuple[WorkingOrder, ...]:
        """Orders live at the broker (any client), for one contract or all."""
        return tuple(
            working_order(t)
            for t in self._ib.openTrades()
            if con_id is None or t.contract.conId == con_id
        )

    def rows(self) -> tuple[OrderRow, ...]:
        return tuple(self._row(t) for t in self._ib.trades())

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
        if not self._reconciled:
            return "Orders are blocked until the journal is reconciled with the broker."
        return ""

    def assess(self, intent: OrderIntent) -> RiskReport:
        """The pre-trade findings for ``intent`` with the live position, orders and quote."""
        con_id = intent.contract.con_id
        working = self.working_orders(con_id) if self._account.positions_known else ()
        return self._assess(intent, working, tuple(self._recent))

    # ---------------------------------------------------------------- commands
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
            self._journal_refusal(intent, [block])
            raise OrderRefused(block)
        report = self.assess(intent)
        if report.blocked:
            self._journal_refusal(intent, [f.message for f in report.findings])
            raise OrderRefused(_blocking(report), report)
        if report.needs_confirmation and not confirmed:
            raise ConfirmationNeeded(report)
        children = self._children(intent)
        self._journal.record_intent(intent, children)
        journalled = self._journal.record_decision(
            intent.key, Decision.CONFIRMED, [f.message for f in report.findings]
        )
        self._recent.append(intent)
        self._place(intent, children)
        return journalled

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
                state = await self._ib.whatIfOrderAsync(ib_contract(intent.contract), order)
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

    def decline(self, intent: OrderIntent, report: RiskReport) -> None:
        """The trader said no at the confirmation: journal it, send nothing."""
        self._journal.record_intent(intent, self._children(intent))
        self._journal.record_decision(
            intent.key, Decision.DECLINED, [f.message for f in report.findings]
        )

    def cancel(self, order_id: int, reason: str = "cancelled by you") -> None:
        trade = self._cancellable(order_id)
        if not self._ib.isConnected():
            raise OrderRefused("Not connected: the cancel cannot be sent.")
        self._send_cancel(trade, reason)

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
                self._send_cancel(trade, "cancel all")
                sent += 1
        return sent

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
        trade = self._trade_by_id(order_id)
        if trade is None or trade.orderStatus.status not in ACTIVE_STATUSES:
            raise OrderRefused(f"Order {order_id} is not working and cannot be modified.")
        journalled = self._journal.order(trade.order.orderRef) if trade.order.orderRef else None
        if journalled is None:
            raise OrderRefused(
                f"Order {order_id} was not entered here; modify it where it was placed."
            )
        key = journalled.key
        if not _acknowledged(journalled, trade):
            # A change goes out as placeOrder with the same order id: were the order itself
            # rejected meanwhile, IB would take the change for a new order.
            raise OrderRefused(
                f"IB has not acknowledged order {order_id} yet; change it once it is working."
            )
        if key in self._modifying:
            raise OrderRefused(
                f"Order {order_id} has a change IB has not confirmed yet; wait for its answer."
            )
        before = self._terms(trade, journalled)
        wanted = self._checked_terms(journalled, before, quantity, limit_price, stop_price)
        changed = replace(
            journalled.intent, quantity=wanted[0], limit_price=wanted[1], stop_price=wanted[2]
        )
        others = tuple(
            w for w in self.working_orders(changed.contract.con_id) if w.order_id != order_id
        )
        report = self._assess(changed, others)
        if report.blocked:
            raise OrderRefused(_blocking(report), report)
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
        self._modifying[key] = _Change(before, wanted)

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

    # -------------------------------------------------------------------- roll
    async def roll(self, plan: RollPlan) -> JournalOrder | None:
        """Cancel the old month's orders, close it, then open the new month.

        Both legs pass the pre-trade checks before anything is sent, and the position must still
        be the one planned, so a roll cannot stop halfway for a reason known in advance. Working
        orders on the old month are cancelled (IB confirms each) before the close leg goes; once
        the open leg has filled, the exits planned to move are placed again on the new month,
        shifted by the spread between the two legs' fills (see ``move_exits``).

        Returns the open leg's journal entry (None when the plan does not reopen). A close leg
        that does not fill stops the roll with nothing opened; an open leg that fails raises a
        critical alert naming both months and a ``RollFailure`` that ``retry_open`` can resume.
        """
        close, opening = self._check_roll(plan)
        self._rolls[plan] = _Roll(close.key)
        try:
            await self._clear_old_month(plan)
            self.submit(close, confirmed=True)
        except OrderRefused as refused:
            del self._rolls[plan]
            message = (
                f"Roll stopped before closing {plan.close.contract.local_symbol}: "
                f"{refused.reason} Nothing was closed or opened."
            )
            self.alert.emit(message, True)
            raise OrderRefused(message, refused.report) from refused
        except asyncio.CancelledError:
            # Stopped before the close leg went out: nothing of this roll exists at the broker.
            if self._journal.order(close.key) is None:
                del self._rolls[plan]
            raise
        state = await self._final_or_timeout(close.key)
        closed = (self._journal.order(close.key) or _missing(close.key)).lifecycle.filled
        if state is OrderState.FILLED:
            if opening is None:
                del self._rolls[plan]
                return None
            return await self._open_leg(plan, opening)
        if state.is_final and closed and opening is not None:
            # Part of the old month is closed: the new month gets that much, by retry.
            failure = RollFailure(
                plan,
                f"closing {plan.close.contract.local_symbol} filled only "
                f"{closed.normalize():f} of {plan.close.quantity.normalize():f} before it "
                f"ended {state.value}, so nothing was opened yet",
            )
            self._roll_failed(failure)
            raise OrderRefused(failure.sentence)
        name = plan.close.contract.local_symbol
        if state.is_final:
            del self._rolls[plan]
            done = f" after {closed.normalize():f} filled" if closed else ""
            message = (
                f"Roll stopped: closing {name} ended {state.value}{done}; "
                "nothing was opened in the new month."
            )
        else:
            message = (
                f"Roll stopped: closing {name} has not filled within "
                f"{self._fill_timeout:g} s and is still {state.value}. Nothing was opened; "
                "once it has ended, retry the open leg."
            )
        self.alert.emit(message, True)
        raise OrderRefused(message)

    async def retry_open(self, plan: RollPlan) -> JournalOrder:
        """Place (again) only the open leg of ``plan``; the close leg is never repeated.

        Refused unless this console closed (some of) the old month for this plan and no try of
        the open leg is still working; a retry sends only what was closed and earlier tries left
        unfilled.
        """
        if plan.open is None:
            raise OrderRefused("This roll does not reopen a position.")
        roll = self._rolls.get(plan)
        if roll is None:
            raise OrderRefused(
                f"No unfinished roll of {plan.close.contract.local_symbol} into "
                f"{plan.open.contract.local_symbol} is known here; enter the open leg by hand."
            )
        closed = self._journal.order(roll.close_key) or _missing(roll.close_key)
        if not closed.is_final or not closed.lifecycle.filled:
            raise OrderRefused(
                f"Closing {plan.close.contract.local_symbol} is {closed.state.value} with "
                f"{closed.lifecycle.filled.normalize():f} filled: there is nothing to reopen yet."
            )
        opened = Decimal(0)
        for key in roll.open_keys:
            earlier = self._journal.order(key)
            if earlier is None:
                continue
            if not earlier.is_final:
                raise OrderRefused(
                    f"The open leg in {plan.open.contract.local_symbol} is already "
                    f"{earlier.state.value} (key {key}); it is not sent again."
                )
            opened += earlier.lifecycle.filled
        # The new month gets what the old month gave up, never more than planned.
        missing = min(plan.open.quantity, closed.lifecycle.filled) - opened
        if missing <= 0:
            raise OrderRefused(
                f"The open leg in {plan.open.contract.local_symbol} has filled already."
            )
        # Only what earlier tries left unfilled goes out again.
        leg = replace(plan.open, quantity=missing)
        return await self._open_leg(plan, self._leg_intent(leg, Purpose.ROLL_OPEN))

    def _check_roll(self, plan: RollPlan) -> tuple[OrderIntent, OrderIntent | None]:
        """Both legs of ``plan`` after every check that can be made before sending anything."""
        old = plan.close.contract.local_symbol
        if plan in self._rolls:
            raise OrderRefused(
                f"This roll of {old} was already started; retry its open leg instead."
            )
        block = self.entry_block()
        if block:
            raise OrderRefused(block)
        held = self._account.position(plan.close.contract.con_id)
        if held is None:
            raise OrderRefused(f"Your position in {old} could not be read; the roll waits for it.")
        if held.quantity != plan.position:
            raise OrderRefused(
                f"The roll was planned for {plan.position.normalize():f} {old} but you hold "
                f"{held.quantity.normalize():f} now; plan it again."
            )
        client_id = self._session.endpoint.client_id
        for item in plan.orders:
            trade = self._trade_by_id(item.order.order_id)
            if (
                trade is not None
                and trade.order.clientId != client_id
                and trade.orderStatus.status in _LIVE_STATUSES
            ):
                raise OrderRefused(
                    f"Order {item.order.order_id} on {old} was placed by another API client or "
                    "in TWS; cancel it there before rolling."
                )
        close = self._leg_intent(plan.close, Purpose.ROLL_CLOSE)
        opening = self._leg_intent(plan.open, Purpose.ROLL_OPEN) if plan.open else None
        for leg in (close, opening):
            if leg is None:
                continue
            report = self.assess(leg)
            if report.blocked:
                self._journal_refusal(leg, [f.message for f in report.findings])
                raise OrderRefused(
                    f"Roll refused, nothing was sent: {leg.side.value.lower()} "
                    f"{leg.quantity.normalize():f} {leg.contract.local_symbol} would be "
                    f"blocked. {_blocking(report)}",
                    report,
                )
        return close, opening

    async def _clear_old_month(self, plan: RollPlan) -> None:
        """Cancel the old month's working orders and wait until IB has ended each one."""
        old = plan.close.contract.local_symbol
        trades = [
            t
            for t in (self._trade_by_id(item.order.order_id) for item in plan.orders)
            if t is not None and t.orderStatus.status in _LIVE_STATUSES
        ]
        parents = {t.order.orderId for t in trades}
        for trade in trades:
            if trade.order.parentId not in parents:
                self._send_cancel(trade, f"roll of {old}")
        try:
            confirmed = await asyncio.wait_for(self._ended_by_ib(trades), self._fill_timeout)
        except TimeoutError:
            raise OrderRefused(
                f"IB did not confirm the cancels of the working orders on {old} within "
                f"{self._fill_timeout:g} s."
            ) from None
        if not confirmed:
            raise OrderRefused(
                f"The connection dropped while the working orders on {old} were being "
                "cancelled; check them once it is back."
            )
        held = self._account.position(plan.close.contract.con_id)
        if held is None or held.quantity != plan.position:
            now = "unknown" if held is None else f"{held.quantity.normalize():f}"
            raise OrderRefused(
                f"An order on {old} filled while it was being cancelled: you hold {now} now, "
                f"not the {plan.position.normalize():f} planned. Plan the roll again."
            )

    async def _ended_by_ib(self, trades: Sequence[Trade]) -> bool:
        """Wait until IB has ended every one of ``trades``; False when the session ended first
        (the trades of a lost session never report again)."""
        ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def on_ended(reason: str) -> None:
            if not ended.done():
                ended.set_result(None)

        self._session.ended += on_ended
        waiting = asyncio.ensure_future(_all_done(trades))
        try:
            await asyncio.wait((waiting, ended), return_when=asyncio.FIRST_COMPLETED)
            return waiting.done()
        finally:
            self._session.ended -= on_ended
            waiting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiting

    async def _open_leg(self, plan: RollPlan, opening: OrderIntent) -> JournalOrder:
        roll = self._rolls[plan]
        try:
            roll.open_keys.append(opening.key)
            journalled = self.submit(opening, confirmed=True)
        except OrderRefused as refused:
            failure = RollFailure(plan, refused.reason)
            self._roll_failed(failure)
            raise OrderRefused(failure.sentence, refused.report) from refused
        state = await self._final_or_timeout(opening.key)
        if state is not OrderState.FILLED:
            ended = self._journal.order(opening.key)
            rejection = ended.lifecycle.rejection if ended else None
            failure = RollFailure(
                plan,
                (f"rejected by IB: {rejection}" if rejection else f"the order ended {state.value}")
                if state.is_final
                else f"the order is still {state.value} after {self._fill_timeout:g} s",
            )
            self._roll_failed(failure)
            raise OrderRefused(failure.sentence)
        self._move_exits(plan, roll)
        del self._rolls[plan]
        return journalled

    def _move_exits(self, plan: RollPlan, roll: _Roll) -> None:
        """Place on the new month the exits the roll cancelled on the old one; any that cannot
        go raise a critical alert naming them, since the new position is unprotected without."""
        if plan.open is None or not plan.exits_to_move:
            return
        old, new = plan.close.contract.local_symbol, plan.open.contract.local_symbol
        closed = self._journal.order(roll.close_key) or _missing(roll.close_key)
        tries = [self._journal.order(key) or _missing(key) for key in roll.open_keys]
        opened = sum((t.lifecycle.filled for t in tries), Decimal(0))
        old_price = closed.lifecycle.avg_fill_price
        paid = [
            (t.lifecycle.filled, t.lifecycle.avg_fill_price) for t in tries if t.lifecycle.filled
        ]
        if old_price is None or opened <= 0 or any(price is None for _, price in paid):
            unknown = "the legs' fill prices are not known"
            self._exits_not_moved(old, new, [(order, unknown) for order in plan.exits_to_move])
            return
        new_price = sum((q * p for q, p in paid if p is not None), Decimal(0)) / opened
        moved, stuck = move_exits(
            plan,
            new_price - old_price,
            opened,
            oca_prefix=f"{roll.close_key}-exits",
            new_key=self.new_key,
            now=self._clock.now(),
            account=self._account.account,
        )
        not_moved = list(stuck)
        placed: list[str] = []
        for order in moved:
            try:
                self.submit(order.intent, confirmed=True)
            except OrderRefused as refused:
                not_moved.append((order.source, refused.reason))
            else:
                placed.append(_order_words(order.intent, order.intent.quantity))
        if placed:
            spread = (new_price - old_price).normalize()
            self.alert.emit(
                f"Exit orders moved from {old} to {new} (shifted {spread:+f} by the roll's "
                f"fills): {'; '.join(placed)}.",
                False,
            )
        if not_moved:
            self._exits_not_moved(old, new, not_moved)

    def _exits_not_moved(
        self, old: str, new: str, orders: Sequence[tuple[WorkingOrder, str]]
    ) -> None:
        lines = "; ".join(
            f"{_order_words(order, order.remaining)} ({why})" for order, why in orders
        )
        message = (
            f"ROLL: exit orders cancelled on {old} were NOT placed on {new}: {lines}. "
            f"Your {new} position lacks them; enter them by hand."
        )
        log.critical("%s", message)
        self.alert.emit(message, True)

    def _roll_failed(self, failure: RollFailure) -> None:
        log.critical("%s", failure.sentence)
        self.alert.emit(failure.sentence, True)
        self.roll_failed.emit(failure)

    async def _final_or_timeout(self, key: str) -> OrderState:
        try:
            return await asyncio.wait_for(self.wait_final(key), self._fill_timeout)
        except TimeoutError:
            current = self._journal.order(key)
            return current.lifecycle.state if current else OrderState.UNKNOWN

    def _leg_intent(self, leg: RollLeg, purpose: Purpose) -> OrderIntent:
        return OrderIntent(
            key=self.new_key(),
            contract=leg.contract,
            side=leg.side,
            quantity=leg.quantity,
            order_type=OrderType.MARKET,
            limit_price=None,
            stop_price=None,
            tif=TimeInForce.DAY,
            bracket=None,
            created_at=self._clock.now(),
            purpose=purpose,
            account=self._account.account,
        )

    # --------------------------------------------------------------- placing
    def _assess(
        self,
        intent: OrderIntent,
        working: Sequence[WorkingOrder],
        recent: Sequence[OrderIntent] = (),
    ) -> RiskReport:
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

    def _journal_refusal(self, intent: OrderIntent, reasons: list[str]) -> None:
        self._journal.record_intent(intent, self._children(intent))
        self._journal.record_decision(intent.key, Decision.BLOCKED, reasons)

    def _children(self, intent: OrderIntent) -> tuple[OrderIntent, ...]:
        bracket = intent.bracket
        if bracket is None:
            return ()
        exit_side = intent.side.opposite
        legs: list[OrderIntent] = []
        if bracket.take_profit is not None:
            legs.append(
                replace(
                    intent,
                    key=intent.take_profit_key,
                    side=exit_side,
                    order_type=OrderType.LIMIT,
                    limit_price=bracket.take_profit,
                    stop_price=None,
                    bracket=None,
                    tif=TimeInForce.GTC,
                )
            )
        if bracket.stop_loss is not None:
            legs.append(
                replace(
                    intent,
                    key=intent.stop_loss_key,
                    side=exit_side,
                    order_type=OrderType.STOP,
                    limit_price=None,
                    stop_price=bracket.stop_loss,
                    bracket=None,
                    tif=TimeInForce.GTC,
                )
            )
        return tuple(legs)

    def _place(self, intent: OrderIntent, children: Sequence[OrderIntent]) -> None:
        contract = ib_contract(intent.contract)
        client_id = self._session.endpoint.client_id
        try:
            ids = [self._ib.client.getReqId() for _ in range(1 + len(children))]
        except ConnectionError as exc:
            for key in (intent.key, *(child.key for child in children)):
                self._journal.record_rejection(key, 0, f"not sent: {exc}")
            raise OrderRefused(f"Not sent, the connection is down: {exc}") from exc
        parent = ib_order(intent)
        parent.orderId = ids[0]
        # A bracket goes out as one group: IB holds it until the last leg arrives with
        # transmit=True, so no leg can work without the others.
        parent.transmit = not children
        orders: list[tuple[str, Order, str | None]] = [(intent.key, parent, None)]
        for number, child in enumerate(children, start=1):
            order = ib_order(child)
            order.orderId = ids[number]
            order.parentId = parent.orderId
            order.transmit = number == len(children)
            orders.append((child.key, order, intent.key))
        # Submissions are journalled before the bytes go out: the journal refuses to let one
        # key be submitted twice, which is what keeps a retry from sending an order again.
        for key, order, parent_key in orders:
            self._journal.record_submission(key, order.orderId, client_id, parent_key)
        for number, (_, order, _) in enumerate(orders):
            try:
                self._ib.placeOrder(contract, order)
            except ConnectionError as exc:
                for unsent_key, _, _ in orders[number:]:
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

    def _trade_by_id(self, order_id: int) -> Trade | None:
        return next((t for t in self._ib.trades() if t.order.orderId == order_id), None)

    def _cancellable(self, order_id: int) -> Trade:
        trade = self._trade_by_id(order_id)
        if trade is None or trade.orderStatus.status not in _LIVE_STATUSES:
            raise OrderRefused(f"Order {order_id} is not working, there is nothing to cancel.")
        if trade.order.clientId != self._session.endpoint.client_id:
            raise OrderRefused(
                f"Order {order_id} was placed by another API client or in TWS; cancel it there."
            )
        return trade

    def _send_cancel(self, trade: Trade, reason: str) -> None:
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

    def _terms(self, trade: Trade, journalled: JournalOrder) -> _Terms:
        """The terms the broker has confirmed for a working order of ours."""
        tick = journalled.intent.contract.min_tick
        order = trade.order
        return (
            Decimal(repr(order.totalQuantity)),
            decimal_or_none(order.lmtPrice, tick) if journalled.intent.limit_price else None,
            decimal_or_none(order.auxPrice, tick) if journalled.intent.stop_price else None,
        )

    def _checked_terms(
        self,
        journalled: JournalOrder,
        before: _Terms,
        quantity: Decimal | None,
        limit_price: Decimal | None,
        stop_price: Decimal | None,
    ) -> _Terms:
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

    # ------------------------------------------------------- broker reports
    def _ours(self, trade: Trade) -> JournalOrder | None:
        key = trade.order.orderRef
        return self._journal.order(key) if key else None

    def _on_trade(self, trade: Trade) -> None:
        key = trade.order.orderRef
        change = self._modifying.get(key) if key else None
        if change is not None:
            journalled = self._ours(trade)
            if journalled is not None and self._terms(trade, journalled) == change.wanted:
                del self._modifying[key]
                if change.reverted and not journalled.is_final:
                    self._journal.record_modification(key, *change.wanted)
        self.order_changed.emit(self._row(trade))

    def _on_status(self, trade: Trade) -> None:
        journalled = self._ours(trade)
        if journalled is not None:
            self._record_status(journalled, trade)
        self.order_changed.emit(self._row(trade))

    def _record_status(self, journalled: JournalOrder, trade: Trade) -> None:
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
        self._settle(updated)

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
        confirmed = self._terms(trade, journalled)
        if confirmed != change.wanted:
            log.info("order %s ended before IB confirmed its change", journalled.key)
            self._journal.record_modification(journalled.key, *confirmed)

    def _on_order_error(
        self, journalled: JournalOrder, trade: Trade, code: int, message: str
    ) -> None:
        key = journalled.key
        if code == _CANCEL_NOT_FOUND and not _acknowledged(journalled, trade):
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
            if not journalled.is_final:
                self._journal.record_modification(key, *before)
            self.alert.emit(
                f"IB rejected your change to the {journalled.intent.contract.local_symbol} "
                f"order: {message}. The order works unchanged.",
                False,
            )
            self._refresh_open_orders()
        elif code in _REJECT_CODES:
            if not journalled.is_final:
                log.warning("order %s rejected (%d): %s", key, code, message)
                self._settle(self._journal.record_rejection(key, code, message))
        else:
            # A refused request about the order (a cancel that came too late, ...): what the
            # order itself became is for IB's reports to say.
            log.info("IB refused a request on order %s (%d: %s)", key, code, message)
            self._refresh_open_orders()

    def _never_arrived(self, journalled: JournalOrder) -> None:
        key, intent = journalled.key, journalled.intent
        log.warning("order %s never reached IB: its cancel found no such order (10147)", key)
        self._settle(
            self._journal.record_reconciliation(
                key,
                ReconciliationOutcome.UNKNOWN,
                "never reached IB: cancelling it found no such order (10147); not resent",
            )
        )
        self.alert.emit(
            f"Your {intent.side.value.lower()} {intent.quantity.normalize():f} "
            f"{intent.contract.local_symbol} order never reached IB (cancelling it found no such "
            "order); it was not sent again.",
            False,
        )

    def _refresh_open_orders(self) -> None:
        """Ask IB again for this client's open orders; the answers restore their status."""
        if self._ib.isConnected():
            self._ib.client.reqOpenOrders()

    def _settle(self, journalled: JournalOrder) -> None:
        state = journalled.lifecycle.state
        if state.is_final:
            future = self._done.pop(journalled.intent.key, None)
            if future is not None and not future.done():
                future.set_result(state)

    def _on_execution(self, trade: Trade, fill: Fill) -> None:
        self._keep_executed_terms(trade, fill)
        self._record_fill(fill)

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
            self._journal.record_modification(journalled.key, *self._terms(trade, journalled))
            change.reverted = True

    def _record_fill(self, fill: Fill) -> bool:
        execution = fill.execution
        key = execution.orderRef
        if not key or self._journal.order(key) is None:
            return False
        recorded = self._journal.record_fill(
            key,
            execution.execId,
            fill.contract.conId,
            Side.BUY if execution.side == "BOT" else Side.SELL,
            Decimal(repr(execution.shares)),
            Decimal(repr(execution.price)),
            execution.time,
        )
        if recorded:
            self._emit_fill(execution.execId)
            # Executions alone can complete an order (its status report may come later or,
            # after a reconnect, never).
            after = self._journal.order(key)
            if after is not None:
                self._settle(after)
        return recorded

    def _on_commission(self, trade: Trade, fill: Fill, report: CommissionReport) -> None:
        self._record_commission(report)

    def _record_commission(self, report: CommissionReport) -> None:
        if not self._journal.has_execution(report.execId):
            return
        realized = decimal_or_none(report.realizedPNL)
        if self._journal.record_commission(
            report.execId, Decimal(repr(report.commission)), report.currency, realized
        ):
            self._emit_fill(report.execId)

    def _emit_fill(self, exec_id: str) -> None:
        fill = self._journal.fill(exec_id)
        if fill is not None:
            self.fill_recorded.emit(fill)

    # --------------------------------------------------------- reconciliation
    def _on_health(self, snapshot: HealthSnapshot) -> None:
        # Every resync (a reconnect, or IB's 1101/1102) reloads orders and executions: nothing
        # may be sent again until they are reconciled with the journal.
        if snapshot.state not in _SESSION_STATES:
            self._reconciled = False

    def _on_ended(self, reason: str) -> None:
        self._reconciled = False

    def _on_synced(self, info: SyncInfo) -> None:
        # Changes IB never answered died with the old session; the reload shows what stands.
        self._modifying.clear()
        try:
            result = self.reconcile()
        except JournalError as exc:
            message = (
                f"The journal could not be reconciled with the broker ({exc}); orders stay blocked."
            )
            log.error("%s", message)
            self.alert.emit(message, True)
            return
        self._reconciled = True
        self.reconciled.emit(result)
        for trade in self._ib.trades():
            self.order_changed.emit(self._row(trade))

    def reconcile(self) -> Reconciliation:
        """Compare every unfinished journal order with what the broker reports now.

        Executions first (they are facts), then statuses; an order the broker has never heard of
        is marked unknown and shown, never resent. A working order's quantity is the broker's.
        """
        unfinished = self._journal.open_orders()
        fills_before = len(self._journal.known_exec_ids())
        for fill in self._ib.fills():
            self._record_fill(fill)
            self._record_commission(fill.commissionReport)
        fills_recovered = len(self._journal.known_exec_ids()) - fills_before
        # Only what the broker has acknowledged counts: after IB's 1101/1102 the session keeps
        # its trades, and one still waiting for its first answer (no permId) may never arrive.
        by_key = {
            t.order.orderRef: t
            for t in self._ib.trades()
            if t.order.orderRef and (t.order.permId or t.orderStatus.permId)
        }
        executed_keys = {f.execution.orderRef for f in self._ib.fills()}
        matched: list[str] = []
        unknown: list[str] = []
        filled_away: list[str] = []
        for journalled in unfinished:
            key = journalled.intent.key
            trade = by_key.get(key)
            if trade is None and key not in executed_keys:
                if journalled.lifecycle.state in (OrderState.INTENDED, OrderState.CONFIRMED):
                    detail = "journalled but never submitted to the broker"
                else:
                    detail = "submitted but unknown to the broker: check TWS before re-entering it"
                self._settle(
                    self._journal.record_reconciliation(key, ReconciliationOutcome.UNKNOWN, detail)
                )
                unknown.append(key)
                continue
            current = self._journal.order(key) or _missing(key)
            if trade is not None:
                self._record_status(current, trade)
                self._adopt_quantity(key, trade)
            after = self._journal.order(key) or _missing(key)
            if after.lifecycle.state is OrderState.FILLED:
                self._journal.record_reconciliation(
                    key, ReconciliationOutcome.FILLED_WHILE_DISCONNECTED, "filled while away"
                )
                filled_away.append(key)
            else:
                self._journal.record_reconciliation(key, ReconciliationOutcome.MATCHED, "")
                matched.append(key)
            self._settle(after)
        adopted = self._adopt(by_key)
        result = Reconciliation(
            tuple(matched), tuple(unknown), tuple(filled_away), tuple(adopted), fills_recovered
        )
        if unknown:
            message = (
                f"{len(unknown)} journalled order(s) are unknown to the broker and were NOT "
                "resent; review them in the blotter."
            )
            log.warning("%s", message)
            self.alert.emit(message, True)
        log.info(
            "reconciled: %d matched, %d unknown, %d filled while away, %d adopted, %d fills",
            len(matched),
            len(unknown),
            len(filled_away),
            len(adopted),
            fills_recovered,
        )
        return result

    def _adopt_quantity(self, key: str, trade: Trade) -> None:
        """A change sent before the connection dropped may or may not have reached IB."""
        current = self._journal.order(key)
        if current is None or current.is_final or trade.orderStatus.status not in ACTIVE_STATUSES:
            return
        quantity = Decimal(repr(trade.order.totalQuantity))
        if quantity != current.lifecycle.quantity and quantity >= current.lifecycle.filled:
            terms = self._terms(trade, current)
            self._journal.record_modification(key, quantity, terms[1], terms[2])

    def _adopt(self, by_key: dict[str, Trade]) -> list[str]:
        """Journal orders at the broker that carry a console key but are missing here."""
        adopted = []
        for key, trade in by_key.items():
            if not key.startswith(KEY_PREFIX) or self._journal.order(key) is not None:
                continue
            month = self._contracts.by_con_id(trade.contract.conId)
            if month is None:
                log.warning("order %s at the broker has a console key but an unknown contract", key)
                continue
            intent = _intent_from_trade(key, trade, month.contract, self._clock.now())
            self._journal.record_intent(intent)
            self._journal.record_reconciliation(
                key, ReconciliationOutcome.ADOPTED, "found at the broker, missing in the journal"
            )
            self._record_status(self._journal.order(key) or _missing(key), trade)
            adopted.append(key)
        return adopted

    # ------------------------------------------------------------------ rows
    def _row(self, trade: Trade) -> OrderRow:
        order, status = trade.order, trade.orderStatus
        journalled = self._ours(trade)
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
        return OrderRow(
            key=order.orderRef or "",
            order_id=order.orderId,
            perm_id=order.permId or status.permId,
            client_id=order.clientId,
            con_id=trade.contract.conId,
            local_symbol=trade.contract.localSymbol,
            side=Side(order.action),
            quantity=Decimal(repr(order.totalQuantity)),
            order_type=order.orderType,
            limit_price=decimal_or_none(order.lmtPrice, tick),
            stop_price=decimal_or_none(order.auxPrice, tick),
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


def _intent_from_trade(
    key: str, trade: Trade, contract: ListedContract, now: datetime
) -> OrderIntent:
    order = trade.order
    return OrderIntent(
        key=key,
        contract=contract,
        side=Side(order.action),
        quantity=Decimal(repr(order.totalQuantity)),
        order_type=OrderType(order.orderType),
        limit_price=decimal_or_none(order.lmtPrice, contract.min_tick),
        stop_price=decimal_or_none(order.auxPrice, contract.min_tick),
        tif=TimeInForce(order.tif)
        if order.tif in TimeInForce.__members__.values()
        else TimeInForce.DAY,
        bracket=None,
        created_at=now,
        account=order.account,
    )


async def _all_done(trades: Sequence[Trade]) -> None:
    for trade in trades:
        await _until_done(trade)


async def _until_done(trade: Trade) -> None:
    if trade.isDone():
        return
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def check(changed: Trade) -> None:
        if changed.isDone() and not done.done():
            done.set_result(None)

    trade.statusEvent += check
    try:
        await done
    finally:
        trade.statusEvent -= check


def _acknowledged(journalled: JournalOrder, trade: Trade) -> bool:
    """Has IB ever acknowledged this order (given it a permId)?"""
    return bool(journalled.lifecycle.perm_id or trade.order.permId or trade.orderStatus.permId)


def _order_words(order: WorkingOrder | OrderIntent, quantity: Decimal) -> str:
    prices = [
        f" {name} {price.normalize():f}"
        for name, price in (("limit", order.limit_price), ("stop", order.stop_price))
        if price is not None
    ]
    return f"{order.side.value} {quantity.normalize():f} {order.order_type.value}{''.join(prices)}"


def _missing(key: str) -> JournalOrder:
    raise RuntimeError(f"order {key} vanished from the journal right after it was written")


def _blocking(report: RiskReport) -> str:
    return " ".join(f.message for f in report.of(Severity.BLOCK))


def _amount(text: str) -> Decimal | None:
    """IB's what-if money fields are strings; blank or its "unset" marker mean unknown."""
    try:
        value = Decimal(text)
    except (ArithmeticError, ValueError):
        return None
    return value if value.is_finite() and abs(value) < Decimal("1e300") else None
