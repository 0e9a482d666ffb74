"""The order service: one face over the parts that send, track, reconcile and roll orders.

- ``order_desk.OrderDesk``: pre-trade checks, journal before send, placeOrder, modify, cancel;
- ``order_tracker.OrderTracker``: IB's reports on orders, executions and commissions, journalled;
- ``reconciler.Reconciler``: the journal against the broker after every sync, orders blocked
  until then;
- ``roll_coordinator.RollCoordinator``: rolls, their retries and the exits they move;
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
    reconciled(Reconciliation)     the journal was reconciled after a sync
    alert(str, bool)               a sentence the trader must see; True when critical
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

from eventkit import Event

from ibconsole.broker.account import AccountService
from ibconsole.broker.contracts import ContractService
from ibconsole.broker.market_data import MarketDataService
from ibconsole.broker.order_desk import OrderDesk
from ibconsole.broker.order_tracker import OrderTracker
from ibconsole.broker.order_values import MarginImpact, OrderRow, Reconciliation
from ibconsole.broker.reconciler import Reconciler
from ibconsole.broker.roll_coordinator import RollCoordinator
from ibconsole.broker.session import Session
from ibconsole.domain.clock import Clock
from ibconsole.domain.orders import OrderIntent, OrderKeyFactory, WorkingOrder
from ibconsole.domain.risk import RiskLimits, RiskReport
from ibconsole.domain.rollover import RollPlan
from ibconsole.journal import Journal, JournalOrder, OrderState


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
        self._rolls = RollCoordinator(
            session, journal, account, self._desk, self._tracker, clock, self.alert, fill_timeout
        )
        self.order_changed = self._tracker.order_changed
        self.fill_recorded = self._tracker.fill_recorded
        self.reconciled = self._reconciler.reconciled
        self.roll_failed = self._rolls.roll_failed

    @property
    def limits(self) -> RiskLimits:
        return self._desk.limits

    def new_key(self) -> str:
        return self._desk.new_key()

    # ----------------------------------------------------------------- queries
    def working_orders(self, con_id: int | None = None) -> tuple[WorkingOrder, ...]:
        """Orders live at the broker (any client), for one contract or all."""
        return self._tracker.working_orders(con_id)

    def rows(self) -> tuple[OrderRow, ...]:
        return self._tracker.rows()

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

    def entry_block(self) -> str:
        """Why no order can be sent right now, or "" if orders may go."""
        return self._desk.entry_block()

    def assess(self, intent: OrderIntent) -> RiskReport:
        """The pre-trade findings for ``intent`` with the live position, orders and quote."""
        return self._desk.assess(intent)

    async def wait_final(self, key: str) -> OrderState:
        """Wait until the journal holds a final state for ``key`` (callers bound the wait)."""
        return await self._tracker.wait_final(key)

    # ---------------------------------------------------------------- commands
    def submit(self, intent: OrderIntent, *, confirmed: bool = False) -> JournalOrder:
        """Check, journal, then send ``intent``; see ``OrderDesk.submit``."""
        return self._desk.submit(intent, confirmed=confirmed)

    def decline(self, intent: OrderIntent, report: RiskReport) -> None:
        """The trader said no at the confirmation: journal it, send nothing."""
        self._desk.decline(intent, report)

    async def what_if(self, intent: OrderIntent) -> MarginImpact:
        """IB's margin and commission estimate for ``intent``; nothing is journalled."""
        return await self._desk.what_if(intent)

    def cancel(self, order_id: int, reason: str = "cancelled by you") -> None:
        self._desk.cancel(order_id, reason)

    def cancel_all(self) -> int:
        """Cancel every working order this console can cancel; returns how many were sent."""
        return self._desk.cancel_all()

    def modify(
        self,
        order_id: int,
        *,
        quantity: Decimal | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
        confirmed: bool = False,
    ) -> None:
        """Change a working order in place after the same checks; see ``OrderDesk.modify``."""
        self._desk.modify(
            order_id,
            quantity=quantity,
            limit_price=limit_price,
            stop_price=stop_price,
            confirmed=confirmed,
        )

    def reconcile(self) -> Reconciliation:
        """Compare every unfinished journal order with what the broker reports now."""
        return self._reconciler.reconcile()

    async def roll(self, plan: RollPlan) -> JournalOrder | None:
        """Cancel the old month's orders, close it, open the new month, move the exits; see
        ``RollCoordinator.roll``."""
        return await self._rolls.roll(plan)

    async def retry_open(self, plan: RollPlan) -> JournalOrder:
        """Place (again) only the open leg of ``plan``; the close leg is never repeated."""
        return await self._rolls.retry_open(plan)
