"""Rolling a futures position through the Broker facade, against the paper gateway over TCP.

A roll cancels the old month's working orders, closes the old month, then opens the new one, each
leg journalled. Both legs pass the checks before anything is sent; a close leg that fails stops
the roll with nothing opened; an open leg that fails (the simulator rejects the second order)
raises a critical alert naming both months, and its retry sends the open leg only, once.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import pytest

from ibconsole.broker.broker import Broker
from ibconsole.broker.orders import OrderRefused, OrderRow, RollFailure
from ibconsole.broker.session import Endpoint
from ibconsole.domain.clock import OffsetClock
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.health import BackoffPolicy, HealthSettings
from ibconsole.domain.orders import OrderIntent, Purpose, build_intent
from ibconsole.domain.risk import RiskLimits
from ibconsole.domain.rollover import RolloverSettings, RollPlan, plan_roll
from ibconsole.journal import Journal, JournalFill, OrderState, ReconciliationOutcome
from ibconsole.sim import PaperGateway
from ibconsole.sim.orders import ReceivedOrder

CLIENT_ID = 7
HEALTH = HealthSettings(
    heartbeat_interval=timedelta(seconds=0.2),
    heartbeat_timeout=timedelta(seconds=0.3),
    heartbeat_failures_before_reconnect=2,
    backoff=BackoffPolicy(min_delay=timedelta(seconds=0.05), max_delay=timedelta(seconds=0.2)),
)
QUIET = 0.01  # simulated quote updates per second: none during a test unless it steps the market
WAIT = 5.0

# Journal state <-> where the simulator must have the order (None: it never received it).
_SIM_STATUS = {
    OrderState.SUBMITTED: {"Submitted", "PreSubmitted"},
    OrderState.WORKING: {"Submitted", "PreSubmitted"},
    OrderState.PARTIALLY_FILLED: {"Submitted"},
    OrderState.FILLED: {"Filled"},
    OrderState.CANCELLED: {"Cancelled"},
    OrderState.REJECTED: {None},
    OrderState.UNKNOWN: {None},
    OrderState.BLOCKED: {None},
    OrderState.DECLINED: {None},
}


class WaitFor(Protocol):
    def __call__(
        self, predicate: Callable[[], object], timeout: float = ..., what: str = ...
    ) -> Awaitable[None]: ...


@dataclass
class Rig:
    gw: PaperGateway
    broker: Broker
    journal: Journal
    es: ListedContract
    next_month: ListedContract
    alerts: list[tuple[str, bool]] = field(default_factory=list)
    failures: list[RollFailure] = field(default_factory=list)

    def intent(
        self, side: str = "BUY", quantity: int = 1, order_type: str = "MKT", **fields: Any
    ) -> OrderIntent:
        return build_intent(
            contract=self.es,
            side=side,
            quantity=quantity,
            order_type=order_type,
            clock=self.broker.clock,
            account=self.broker.account.account,
            **fields,
        )

    def bid(self, ticks: int = 0) -> Decimal:
        """The simulator's bid now, moved by ``ticks`` ticks."""
        return self.gw.market.quote(self.es.con_id).bid + ticks * self.es.min_tick

    def sent(self, key: str) -> int:
        """How many new orders (modifications aside) with this orderRef reached the simulator."""
        return sum(1 for o in self.gw.orders if o.request.order_ref == key and not o.is_modify)

    def state(self, key: str) -> OrderState:
        order = self.journal.order(key)
        assert order is not None, f"{key} is not journalled"
        return order.state

    def sim_status(self, key: str) -> str | None:
        desk = self.gw.desk
        for snapshot in (*desk.open_orders(), *desk.completed_orders()):
            if snapshot.request.order_ref == key:
                return snapshot.status
        return None

    def row(self, key: str) -> OrderRow:
        return next(r for r in self.broker.orders.rows() if r.key == key)

    def assert_agree(self) -> None:
        """Journal, session and simulator tell the same story; nothing was sent twice."""
        counts = Counter(o.request.order_ref for o in self.gw.orders if not o.is_modify)
        assert all(n == 1 for n in counts.values()), f"sent more than once: {counts}"
        session = {t.order.orderRef: t.orderStatus.status for t in self.broker.session.ib.trades()}
        for order in self.journal.orders(limit=None):
            key, state = order.key, order.state
            assert self.sim_status(key) in _SIM_STATUS[state], (key, state, self.sim_status(key))
            if state in (OrderState.SUBMITTED, OrderState.WORKING):
                assert session.get(key) in ("PendingSubmit", "PreSubmitted", "Submitted"), key
            elif state is OrderState.FILLED and key in session:
                assert session[key] == "Filled", key
            elif state is OrderState.CANCELLED and key in session:
                assert session[key] == "Cancelled", key
            if state in (OrderState.BLOCKED, OrderState.DECLINED):
                assert counts[key] == 0, key


class RigFactory(Protocol):
    def __call__(self, **options: Any) -> Awaitable[Rig]: ...


@pytest.fixture
async def make_rig(
    make_gateway: Callable[..., Awaitable[PaperGateway]], tmp_path: Path, wait_for: WaitFor
) -> AsyncIterator[RigFactory]:
    """A quiet gateway, a journal and a synced Broker with a quote on the ES front month."""
    brokers: list[tuple[Broker, Journal]] = []

    async def make(quote_next_month: bool = True) -> Rig:
        gw = await make_gateway(tick_rate=QUIET)
        clock = OffsetClock(gw.clock.now())
        journal = Journal(tmp_path / f"journal-{len(brokers)}.sqlite", clock)
        endpoint = Endpoint("127.0.0.1", gw.port, CLIENT_ID)
        broker = Broker(
            endpoint,
            journal,
            clock,
            health=HEALTH,
            limits=RiskLimits(),
            request_timeout=1.5,
        )
        brokers.append((broker, journal))
        await broker.start()
        es, next_month = (await broker.contracts.chain("ES")).contracts[:2]
        for month in (es, next_month) if quote_next_month else (es,):
            broker.market.subscribe(month)
            await wait_for(lambda m=month: broker.market.quote(m.con_id), what="a quote")
        rig = Rig(gw, broker, journal, es, next_month)
        broker.orders.alert += lambda message, critical: rig.alerts.append((message, critical))
        broker.orders.roll_failed += rig.failures.append
        return rig

    yield make
    for broker, journal in reversed(brokers):
        await broker.stop()
        journal.close()


@pytest.fixture
async def rig(make_rig: RigFactory) -> Rig:
    return await make_rig()


async def final(rig: Rig, key: str) -> OrderState:
    return await asyncio.wait_for(rig.broker.orders.wait_final(key), WAIT)


def held(rig: Rig, contract: ListedContract) -> Decimal | None:
    position = rig.broker.account.position(contract.con_id)
    return None if position is None else position.quantity


async def long_front_month(rig: Rig, wait_for: WaitFor, quantity: int = 2) -> OrderIntent:
    intent = rig.intent(quantity=quantity)
    rig.broker.orders.submit(intent)
    assert await final(rig, intent.key) is OrderState.FILLED
    await wait_for(lambda: held(rig, rig.es) == quantity, what="the long position")
    return intent


def plan(rig: Rig, quantity: int = 2) -> RollPlan:
    return plan_roll(
        Decimal(quantity),
        rig.es,
        rig.next_month,
        rig.broker.orders.working_orders(rig.es.con_id),
        RolloverSettings(),
    )


def legs(rig: Rig) -> dict[Purpose, list[str]]:
    """Keys of the journalled roll legs by purpose, oldest first."""
    found: dict[Purpose, list[str]] = {Purpose.ROLL_CLOSE: [], Purpose.ROLL_OPEN: []}
    for order in reversed(rig.journal.orders(limit=None)):
        if order.intent.purpose in found:
            found[order.intent.purpose].append(order.key)
    return found


def received(rig: Rig) -> list[tuple[str, str, Decimal]]:
    """(local symbol, action, quantity) of each new order the simulator received, in order."""
    names = {rig.es.con_id: rig.es.local_symbol, rig.next_month.con_id: rig.next_month.local_symbol}
    return [
        (names[o.request.contract.con_id], o.request.action, o.request.quantity)
        for o in rig.gw.orders
        if not o.is_modify
    ]


class _RejectSecondLeg:
    """Arms the simulator's reject-next fault the moment the roll's close leg has filled
    (eventkit holds its handler weakly: keep the object)."""

    def __init__(self, rig: Rig, reason: str) -> None:
        self._rig = rig
        self._reason = reason
        self.armed_after: str | None = None
        rig.broker.orders.fill_recorded += self

    def __call__(self, fill: JournalFill) -> None:
        order = self._rig.journal.order(fill.key)
        if self.armed_after is None and order and order.intent.purpose is Purpose.ROLL_CLOSE:
            self.armed_after = fill.key
            self._rig.gw.faults.reject_next_order(self._reason)


class _StatusAtReceipt(list[ReceivedOrder]):
    """The simulator's order log, noting the status of some orders as each new order arrives."""

    def __init__(self, rig: Rig, keys: list[str]) -> None:
        super().__init__(rig.gw.desk.received)
        self._rig = rig
        self._keys = keys
        self.seen: list[tuple[str, dict[str, str | None]]] = []

    def append(self, item: ReceivedOrder) -> None:
        self.seen.append((item.request.order_ref, {k: self._rig.sim_status(k) for k in self._keys}))
        super().append(item)


class _CutOnPurpose(list[ReceivedOrder]):
    """The simulator's order log, made to reset the client's connection as the first order of a
    purpose arrives: the exchange fills it, the fill never reaches the console."""

    def __init__(self, rig: Rig, purpose: Purpose) -> None:
        super().__init__(rig.gw.desk.received)
        self._rig = rig
        self._purpose = purpose
        self.cut: str | None = None

    def append(self, item: ReceivedOrder) -> None:
        super().append(item)
        order = self._rig.journal.order(item.request.order_ref)
        if self.cut is None and order is not None and order.intent.purpose is self._purpose:
            self.cut = order.key
            self._rig.gw.faults.reset(item.client_id)


# ------------------------------------------------------------------------ tests


async def test_roll_closes_the_old_month_then_opens_the_new_one(
    rig: Rig, wait_for: WaitFor
) -> None:
    await long_front_month(rig, wait_for)
    rolling = plan(rig)

    opened = await rig.broker.orders.roll(rolling)

    assert opened is not None
    (close,), (opening,) = legs(rig).values()
    assert opened.key == opening
    assert received(rig)[1:] == [
        (rig.es.local_symbol, "SELL", Decimal(2)),
        (rig.next_month.local_symbol, "BUY", Decimal(2)),
    ]
    assert rig.state(close) is rig.state(opening) is OrderState.FILLED
    await wait_for(
        lambda: (held(rig, rig.es), held(rig, rig.next_month)) == (0, 2), what="rolled positions"
    )
    assert rig.failures == []
    assert not any(critical for _, critical in rig.alerts)
    with pytest.raises(OrderRefused, match="you hold 0 now"):
        await rig.broker.orders.roll(rolling)
    with pytest.raises(OrderRefused, match="No unfinished roll"):
        await rig.broker.orders.retry_open(rolling)
    assert len(received(rig)) == 3
    rig.assert_agree()


async def test_a_roll_in_flight_cannot_be_started_twice(rig: Rig, wait_for: WaitFor) -> None:
    await long_front_month(rig, wait_for)
    rolling = plan(rig)

    first = asyncio.ensure_future(rig.broker.orders.roll(rolling))
    await wait_for(lambda: legs(rig)[Purpose.ROLL_CLOSE], what="the close leg journalled")
    with pytest.raises(OrderRefused, match="already started"):
        await rig.broker.orders.roll(rolling)
    await asyncio.wait_for(first, WAIT)

    assert [len(keys) for keys in legs(rig).values()] == [1, 1]
    assert len(received(rig)) == 3
    rig.assert_agree()


@pytest.mark.expect_log_warnings
async def test_rejected_open_leg_raises_a_critical_alert_and_retry_sends_it_once(
    rig: Rig, wait_for: WaitFor, caplog: pytest.LogCaptureFixture
) -> None:
    await long_front_month(rig, wait_for)
    rolling = plan(rig)
    fault = _RejectSecondLeg(rig, "No trading permission for ESM5")

    with pytest.raises(OrderRefused, match="ROLL INCOMPLETE") as refused:
        await rig.broker.orders.roll(rolling)

    (close,), (opening,) = legs(rig).values()
    assert fault.armed_after == close
    old, new = rig.es.local_symbol, rig.next_month.local_symbol
    assert old in refused.value.reason
    assert new in refused.value.reason
    assert rig.state(close) is OrderState.FILLED
    assert rig.state(opening) is OrderState.REJECTED
    (failure,) = rig.failures
    assert failure.plan == rolling
    assert old in failure.sentence
    assert new in failure.sentence
    assert "No trading permission for ESM5" in failure.reason
    assert (failure.sentence, True) in rig.alerts
    critical = [r for r in caplog.records if r.levelname == "CRITICAL"]
    assert [r.name for r in critical] == ["ibconsole.broker.orders"]
    assert new in critical[0].getMessage()
    await wait_for(lambda: held(rig, rig.es) == 0, what="the old month closed")
    assert held(rig, rig.next_month) == 0
    rig.assert_agree()

    retried = await rig.broker.orders.retry_open(rolling)

    assert retried.intent.purpose is Purpose.ROLL_OPEN
    assert legs(rig)[Purpose.ROLL_OPEN] == [opening, retried.key]
    assert rig.state(retried.key) is OrderState.FILLED
    assert received(rig)[1:] == [
        (old, "SELL", Decimal(2)),
        (new, "BUY", Decimal(2)),
        (new, "BUY", Decimal(2)),
    ]
    await wait_for(lambda: held(rig, rig.next_month) == 2, what="the new month opened")
    with pytest.raises(OrderRefused):
        await rig.broker.orders.retry_open(rolling)
    with pytest.raises(OrderRefused):
        await rig.broker.orders.roll(rolling)
    assert len(received(rig)) == 4
    rig.assert_agree()


@pytest.mark.expect_log_warnings
async def test_retry_sends_only_what_earlier_tries_left_open(rig: Rig, wait_for: WaitFor) -> None:
    await long_front_month(rig, wait_for)
    rolling = plan(rig)
    fault = _RejectSecondLeg(rig, "Exchange closed for maintenance")
    with pytest.raises(OrderRefused, match="ROLL INCOMPLETE"):
        await rig.broker.orders.roll(rolling)
    # the next order to fill executes 1 of its 2 contracts, then stops
    rig.gw.desk.set_partial_fills(2, stall=True)

    retry = asyncio.ensure_future(rig.broker.orders.retry_open(rolling))
    await wait_for(lambda: len(legs(rig)[Purpose.ROLL_OPEN]) == 2, what="the retry journalled")
    first_retry = legs(rig)[Purpose.ROLL_OPEN][1]
    await wait_for(
        lambda: rig.state(first_retry) is OrderState.PARTIALLY_FILLED, what="a partial fill"
    )
    with pytest.raises(OrderRefused, match="is already partially_filled"):
        await rig.broker.orders.retry_open(rolling)
    rig.broker.orders.cancel(rig.row(first_retry).order_id)
    with pytest.raises(OrderRefused, match="ROLL INCOMPLETE"):
        await asyncio.wait_for(retry, WAIT)
    assert rig.state(first_retry) is OrderState.CANCELLED
    assert len(rig.failures) == 2

    last = await rig.broker.orders.retry_open(rolling)

    assert fault.armed_after == legs(rig)[Purpose.ROLL_CLOSE][0]
    assert last.intent.quantity == 1
    assert rig.state(last.key) is OrderState.FILLED
    new = rig.next_month.local_symbol
    assert received(rig)[2:] == [(new, "BUY", 2), (new, "BUY", 2), (new, "BUY", 1)]
    await wait_for(lambda: held(rig, rig.next_month) == 2, what="the planned position")
    with pytest.raises(OrderRefused, match="No unfinished roll"):
        await rig.broker.orders.retry_open(rolling)
    rig.assert_agree()


@pytest.mark.expect_log_warnings
async def test_rejected_close_leg_stops_the_roll_with_nothing_opened(
    rig: Rig, wait_for: WaitFor
) -> None:
    await long_front_month(rig, wait_for)
    rolling = plan(rig)
    rig.gw.faults.reject_next_order("Order size exceeds the exchange limit")

    with pytest.raises(OrderRefused, match=r"Roll stopped: closing .* ended rejected"):
        await rig.broker.orders.roll(rolling)

    (close,), opened = legs(rig).values()
    assert opened == []
    assert rig.state(close) is OrderState.REJECTED
    assert [new for new, _, _ in received(rig)] == [rig.es.local_symbol] * 2
    assert held(rig, rig.es) == 2
    assert any(critical and "nothing was opened" in m for m, critical in rig.alerts)
    assert rig.failures == []
    with pytest.raises(OrderRefused, match="No unfinished roll"):
        await rig.broker.orders.retry_open(rolling)
    rig.assert_agree()


@pytest.mark.expect_log_warnings
async def test_partly_filled_close_leg_is_reopened_by_retry_for_what_was_closed(
    rig: Rig, wait_for: WaitFor
) -> None:
    await long_front_month(rig, wait_for)
    rolling = plan(rig)
    rig.gw.desk.set_partial_fills(2, stall=True)

    roll = asyncio.ensure_future(rig.broker.orders.roll(rolling))
    await wait_for(lambda: legs(rig)[Purpose.ROLL_CLOSE], what="the close leg journalled")
    (close,) = legs(rig)[Purpose.ROLL_CLOSE]
    await wait_for(lambda: rig.state(close) is OrderState.PARTIALLY_FILLED, what="1 of 2 closed")
    rig.broker.orders.cancel(rig.row(close).order_id)
    with pytest.raises(OrderRefused, match="filled only 1 of 2"):
        await asyncio.wait_for(roll, WAIT)

    assert legs(rig)[Purpose.ROLL_OPEN] == []
    (failure,) = rig.failures
    assert rig.es.local_symbol in failure.sentence
    assert rig.next_month.local_symbol in failure.sentence
    opened = await rig.broker.orders.retry_open(rolling)

    assert opened.intent.quantity == 1
    assert rig.state(opened.key) is OrderState.FILLED
    await wait_for(
        lambda: (held(rig, rig.es), held(rig, rig.next_month)) == (1, 1), what="half rolled"
    )
    with pytest.raises(OrderRefused, match="No unfinished roll"):
        await rig.broker.orders.retry_open(rolling)
    assert len(received(rig)) == 3
    rig.assert_agree()


async def test_roll_is_refused_before_anything_is_sent_when_a_leg_would_be_blocked(
    make_rig: RigFactory, wait_for: WaitFor
) -> None:
    rig = await make_rig(quote_next_month=False)
    await long_front_month(rig, wait_for)

    with pytest.raises(OrderRefused, match="Roll refused, nothing was sent: buy 2 ESM5"):
        await rig.broker.orders.roll(plan(rig))
    with pytest.raises(OrderRefused, match=r"planned for 3 .* you hold 2 now"):
        await rig.broker.orders.roll(plan(rig, quantity=3))

    close, (opening,) = legs(rig).values()
    assert close == []
    assert rig.state(opening) is OrderState.BLOCKED
    blocked = rig.journal.order(opening)
    assert blocked is not None
    assert any("no quote" in f for f in blocked.lifecycle.findings)
    assert len(received(rig)) == 1
    assert held(rig, rig.es) == 2
    rig.assert_agree()


async def test_roll_cancels_the_old_month_orders_before_it_closes(
    rig: Rig, wait_for: WaitFor
) -> None:
    await long_front_month(rig, wait_for)
    stop = rig.intent(side="SELL", quantity=2, order_type="STP", stop_price=rig.bid(-20))
    add = rig.intent(order_type="LMT", limit_price=rig.bid(-20))
    for intent in (stop, add):
        rig.broker.orders.submit(intent, confirmed=True)
    await wait_for(
        lambda: {rig.state(stop.key), rig.state(add.key)} == {OrderState.WORKING},
        what="both orders working",
    )
    rolling = plan(rig)
    assert {o.order.key for o in rolling.orders} == {stop.key, add.key}
    watch = _StatusAtReceipt(rig, [stop.key, add.key])
    rig.gw.desk.received = watch

    await rig.broker.orders.roll(rolling)

    (close,), (opening,) = legs(rig).values()
    assert [ref for ref, _ in watch.seen] == [close, opening]
    assert watch.seen[0][1] == {stop.key: "Cancelled", add.key: "Cancelled"}
    for key in (stop.key, add.key):
        order = rig.journal.order(key)
        assert order is not None
        assert order.state is OrderState.CANCELLED
        assert order.lifecycle.cancel_requested
    assert any(
        not critical and "1 exit order" in m and rig.next_month.local_symbol in m
        for m, critical in rig.alerts
    )
    await wait_for(lambda: held(rig, rig.next_month) == 2, what="the new month opened")
    rig.assert_agree()


@pytest.mark.expect_log_warnings
async def test_a_roll_stopped_before_its_close_leg_can_be_started_again(
    rig: Rig, wait_for: WaitFor
) -> None:
    await long_front_month(rig, wait_for)
    stop = rig.intent(side="SELL", quantity=2, order_type="STP", stop_price=rig.bid(-20))
    rig.broker.orders.submit(stop, confirmed=True)
    await wait_for(lambda: rig.state(stop.key) is OrderState.WORKING, what="the stop working")
    rolling = plan(rig)
    rig.gw.faults.stop_answering()  # the roll waits for IB to confirm the stop's cancel

    roll = asyncio.ensure_future(rig.broker.orders.roll(rolling))
    await wait_for(lambda: _cancel_requested(rig, stop.key), what="the stop's cancel sent")
    roll.cancel()
    with pytest.raises(asyncio.CancelledError):
        await roll
    rig.gw.faults.resume_answering()

    assert legs(rig)[Purpose.ROLL_CLOSE] == []
    assert rig.sim_status(stop.key) == "Submitted"
    await wait_for(lambda: not rig.broker.orders.entry_block(), what="orders allowed again")
    opened = await rig.broker.orders.roll(rolling)
    assert opened is not None
    assert rig.state(stop.key) is OrderState.CANCELLED
    assert [side for _, side, _ in received(rig)] == ["BUY", "SELL", "SELL", "BUY"]
    await wait_for(lambda: held(rig, rig.next_month) == 2, what="the new month opened")
    rig.assert_agree()


def _cancel_requested(rig: Rig, key: str) -> bool:
    order = rig.journal.order(key)
    return order is not None and order.lifecycle.cancel_requested


@pytest.mark.expect_log_warnings
async def test_roll_goes_on_when_the_close_leg_filled_while_the_connection_was_cut(
    rig: Rig, wait_for: WaitFor
) -> None:
    await long_front_month(rig, wait_for)
    cut = _CutOnPurpose(rig, Purpose.ROLL_CLOSE)
    rig.gw.desk.received = cut

    opened = await asyncio.wait_for(rig.broker.orders.roll(plan(rig)), WAIT)

    (close,), (opening,) = legs(rig).values()
    assert cut.cut == close
    assert opened is not None
    assert opened.key == opening
    order = rig.journal.order(close)
    assert order is not None
    assert order.state is OrderState.FILLED
    assert order.lifecycle.reconciliation is ReconciliationOutcome.FILLED_WHILE_DISCONNECTED
    assert rig.state(opening) is OrderState.FILLED
    assert [side for _, side, _ in received(rig)] == ["BUY", "SELL", "BUY"]
    await wait_for(lambda: held(rig, rig.next_month) == 2, what="the new month opened")
    rig.assert_agree()
