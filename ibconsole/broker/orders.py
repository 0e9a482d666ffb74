"""The order service: one face over the parts that send, track, reconcile and roll orders.

- ``order_desk.OrderDesk``: pre-trade checks, journal before send, placeOrder, modify, cancel;
- ``order_tracker.OrderTracker``: IB's reports on orders, executions and commissions, journalled;
- ``reconciler.Reconciler``: the journal against the broker after every sync, orders blocked
  until then;
- ``roll_coordinator.RollCoordinator``: rolls, their retries and the exits they move;
- ``roll_exits.RollExits``: the exits rolls cancel, journalled until placed again or told;
- ``spread_roller.SpreadRoller``: rolls as one calendar-spread (BAG) order;
- ``order_values``: the values and refusals they hand out.

Rules they keep together (DESIGN.md section 7): an intent is journalled, with the decision that
let it through, before any byte is sent; every order carries its idempotency key in ``orderRef``;
after each sync the journal is reconciled before any new order is accepted, and nothing is ever
resent on the console's own initiative; when the position and working orders are unknown,
orders are refused.

Events (eventkit, emitted on the loop thread):
    order_changed(OrderRow)        an order's status, fills or working state changed
    fill_recorded(JournalFill)     an execution was journalled (live or found at reconciliation),
                                   and again when its commission report arrived
    roll_failed(RollFailure)       a roll's close leg filled but its open leg did not
    spread_ended(JournalOrder)     a roll's spread order ended (its exits placed)
    reconciled(Reconciliation)     the journal was reconciled after a sync
    alert(str, bool)               a sentence the trader must see; True when critical
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from ibconsole.broker.account import AccountService
from ibconsole.broker.contracts import ContractService
from ibconsole.broker.ib_client import Event
from ibconsole.broker.market_data import MarketDataService
from ibconsole.broker.order_desk import OrderDesk
from ibconsole.broker.order_tracker import OrderTracker
from ibconsole.broker.reconciler import Reconciler
from ibconsole.broker.roll_coordinator import RollCoordinator
from ibconsole.broker.roll_exits import RollExits
from ibconsole.broker.session import Session
from ibconsole.broker.spread_roller import SpreadRoller
from ibconsole.domain.clock import Clock
from ibconsole.domain.orders import OrderIntent, OrderKeyFactory
from ibconsole.domain.risk import RiskLimits
from ibconsole.journal import Journal


class OrderService:
    """Orders for the rest of the console: ``submit``, ``assess``, ``decline``, ``what_if``,
    ``cancel``, ``cancel_all``, ``modify`` and ``entry_block`` (the desk), ``rows``,
    ``working_orders``, ``wait_final`` and ``changing`` (the tracker), ``reconcile``, ``roll``
    and ``retry_open``, ``roll_spread`` and ``leg_rest`` (a roll as one calendar-spread order);
    ``rolls`` and ``spread_rolls``, the two roll services (their ``fill_timeout`` is a setting);
    the events listed above."""

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
        self.alert = Event("alert")
        self._tracker = OrderTracker(session.ib, journal, self.alert)
        self._reconciler = Reconciler(session, journal, self._tracker, contracts, clock, self.alert)
        self._desk = OrderDesk(
            session,
            journal,
            account,
            market,
            contracts,
            self._tracker,
            self._reconciler,
            limits,
            clock,
            key_factory or OrderKeyFactory(clock),
            request_timeout,
        )
        exits = RollExits(journal, account, self._desk, self._tracker, clock, self.alert)
        self.rolls = RollCoordinator(
            session,
            journal,
            account,
            self._desk,
            self._tracker,
            exits,
            clock,
            self.alert,
            fill_timeout,
        )
        self.spread_rolls = SpreadRoller(
            session,
            journal,
            account,
            self._desk,
            self._tracker,
            self.rolls,
            clock,
            self.alert,
            fill_timeout,
        )
        self._reconciler.reconciled += exits.hand_over
        self._reconciler.reconciled += self.spread_rolls.catch_up
        self.order_changed = self._tracker.order_changed
        self.fill_recorded = self._tracker.fill_recorded
        self.reconciled = self._reconciler.reconciled
        self.roll_failed = self.rolls.roll_failed
        # What the rest of the console asks of orders, each answered by the part that knows.
        self.working_orders = self._tracker.working_orders
        self.rows = self._tracker.rows
        self.wait_final = self._tracker.wait_final
        self.changing = self._tracker.changing
        self.entry_block = self._desk.entry_block
        self.assess = self._desk.assess
        self.submit = self._desk.submit
        self.decline = self._desk.decline
        self.what_if = self._desk.what_if
        self.cancel = self._desk.cancel
        self.cancel_all = self._desk.cancel_all
        self.modify = self._desk.modify
        self.new_key = self._desk.new_key
        self.reconcile = self._reconciler.reconcile
        self.roll = self.rolls.roll
        self.retry_open = self.rolls.retry_open
        self.roll_spread = self.spread_rolls.roll
        self.leg_rest = self.spread_rolls.leg_rest
        self.spread_ended = self.spread_rolls.spread_ended

    @property
    def limits(self) -> RiskLimits:
        return self._desk.limits

    @limits.setter
    def limits(self, limits: RiskLimits) -> None:
        self._desk.limits = limits

    def intent_of(self, order_id: int) -> OrderIntent | None:
        """Order ``order_id`` as entered here, on the terms IB works it now; None if it was placed
        elsewhere or is not in this session."""
        trade = self._tracker.trade_by_id(order_id)
        journalled = self._tracker.ours(trade) if trade is not None else None
        if trade is None or journalled is None:
            return None
        quantity, limit_price, stop_price = self._tracker.terms(trade, journalled)
        return replace(
            journalled.intent, quantity=quantity, limit_price=limit_price, stop_price=stop_price
        )
