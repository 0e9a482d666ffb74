"""Reconciliation after every resync, against the paper gateway over TCP.

The connection is cut after an order was acknowledged (FIN and RST), between sending an order and
its acknowledgement, by a silent gateway, by IB's 1100 (then 1101 or 1102), by a clientId still
held (326) and while pacing holds orders back; a resting order fills while the console is away.
Each time orders are blocked until the journal is reconciled, an order the broker never saw is
marked unknown and never resent, fills that happened meanwhile are journalled, and the journal,
the session's orders and the simulator's orders agree with nothing sent twice.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ibconsole.broker.broker import Broker
from ibconsole.broker.ib_client import IB
from ibconsole.broker.order_values import OrderRefused, Reconciliation
from ibconsole.domain.health import BackoffPolicy, HealthSettings, HealthSnapshot, HealthState
from ibconsole.domain.orders import OrderIntent
from ibconsole.domain.risk import RiskLimits, SymbolLimits
from ibconsole.journal import Decision, Journal, OrderState, ReconciliationOutcome
from ibconsole.sim import PaperGateway
from ibconsole.sim.orders import ReceivedOrder

if TYPE_CHECKING:
    # the fixtures' types, from tests/broker/conftest.py
    from conftest import Rig, RigFactory, WaitFor


async def resting(rig: Rig, wait_for: WaitFor, ticks: int = -8) -> OrderIntent:
    """A buy limit ``ticks`` away from the bid, working at the simulator."""
    intent = rig.intent(order_type="LMT", limit_price=rig.bid(ticks))
    rig.broker.orders.submit(intent, confirmed=True)
    await wait_for(lambda: rig.state(intent.key) is OrderState.WORKING, what="a working order")
    return intent


async def reconciled_again(rig: Rig, wait_for: WaitFor) -> Reconciliation:
    count = len(rig.reconciled)
    await wait_for(lambda: len(rig.reconciled) > count, what="a reconciliation")
    return rig.reconciled[-1]


def fill_resting_order(rig: Rig, key: str) -> int:
    """Step the simulated market until the resting order ``key`` fills; returns the steps."""
    for step in range(1, 100_000):
        rig.gw.market.step(rig.es.con_id)
        if rig.sim_status(key) == "Filled":
            return step
    raise AssertionError(f"{key} never filled")


def connected_clients(gw: PaperGateway) -> list[int]:
    return [c.client_id for c in gw.connections if c.started]


class _CutOnReceipt(list[ReceivedOrder]):
    """The simulator's order log, made to reset the client's connection the moment an order
    arrives: the exchange takes the order, but its acknowledgement never leaves."""

    def __init__(self, gw: PaperGateway) -> None:
        super().__init__(gw.desk.received)
        self._gw = gw
        self.armed = True

    def append(self, item: ReceivedOrder) -> None:
        super().append(item)
        if self.armed:
            self.armed = False
            self._gw.faults.reset(item.client_id)


# ---------------------------------------------------------------- connection cut


@pytest.mark.expect_log_warnings
@pytest.mark.parametrize("cut", ["drop", "reset"])
async def test_cut_after_the_ack_reconciles_the_working_order(
    rig: Rig, wait_for: WaitFor, cut: str
) -> None:
    intent = await resting(rig, wait_for)

    (rig.gw.faults.drop if cut == "drop" else rig.gw.faults.reset)(rig.client_id)
    result = await reconciled_again(rig, wait_for)

    assert result.matched == (intent.key,)
    assert result.unknown == result.filled_while_disconnected == ()
    order = rig.journal.order(intent.key)
    assert order is not None
    assert order.state is OrderState.WORKING
    assert order.lifecycle.reconciliation is ReconciliationOutcome.MATCHED
    assert rig.row(intent.key).working
    assert rig.sim_status(intent.key) == "Submitted"
    rig.assert_agree()
    rig.broker.orders.cancel(rig.row(intent.key).order_id)
    assert await rig.final(intent.key) is OrderState.CANCELLED
    rig.assert_agree()


@pytest.mark.expect_log_warnings
async def test_orders_wait_for_reconciliation_after_a_reconnect(
    rig: Rig, wait_for: WaitFor
) -> None:
    early: list[str] = []
    attempt = rig.intent(order_type="LMT", limit_price=rig.bid(-8))

    def try_to_send(snapshot: HealthSnapshot) -> None:
        # the session is connected and synced again, but the journal is not reconciled yet
        if snapshot.state is HealthState.CONNECTED and not early:
            try:
                rig.broker.orders.submit(attempt, confirmed=True)
                early.append("sent")
            except OrderRefused as refused:
                early.append(refused.reason)

    rig.gw.faults.drop(rig.client_id)
    await wait_for(lambda: rig.broker.orders.entry_block(), what="orders blocked")
    during = rig.intent(quantity=2)
    with pytest.raises(OrderRefused, match="Orders are blocked while the connection is"):
        rig.broker.orders.submit(during, confirmed=True)
    rig.broker.session.health_changed += try_to_send
    await reconciled_again(rig, wait_for)

    assert early == ["Orders are blocked until the journal is reconciled with the broker."]
    assert rig.state(attempt.key) is rig.state(during.key) is OrderState.BLOCKED
    after = rig.intent(quantity=3)
    rig.broker.orders.submit(after, confirmed=True)
    assert await rig.final(after.key) is OrderState.FILLED
    assert [o.request.order_ref for o in rig.gw.orders] == [after.key]
    rig.assert_agree()


# ------------------------------------------------------- between send and ack


@pytest.mark.expect_log_warnings
async def test_order_cut_off_before_the_gateway_read_it_is_unknown_and_never_resent(
    rig: Rig, wait_for: WaitFor
) -> None:
    rig.gw.faults.delay_replies(30.0)
    intent = rig.intent()
    rig.broker.orders.submit(intent)
    assert rig.state(intent.key) is OrderState.SUBMITTED

    rig.gw.faults.drop(rig.client_id)
    rig.gw.faults.delay_replies(0.0)
    result = await reconciled_again(rig, wait_for)

    assert result.unknown == (intent.key,)
    order = rig.journal.order(intent.key)
    assert order is not None
    assert order.state is OrderState.UNKNOWN
    assert order.lifecycle.reconciliation is ReconciliationOutcome.UNKNOWN
    assert any("NOT resent" in message and critical for message, critical in rig.alerts)
    assert rig.sent(intent.key) == 0
    assert all(t.order.orderRef != intent.key for t in rig.broker.session.ib.trades())
    rig.assert_agree()
    # a further reconnect still sends nothing on its own
    rig.gw.faults.drop(rig.client_id)
    await reconciled_again(rig, wait_for)
    assert rig.gw.orders == []
    assert rig.state(intent.key) is OrderState.UNKNOWN


@pytest.mark.expect_log_warnings
@pytest.mark.parametrize(
    ("order_type", "outcome"),
    [("MKT", OrderState.FILLED), ("LMT", OrderState.WORKING)],
)
async def test_order_whose_acknowledgement_was_lost_is_found_not_resent(
    rig: Rig, wait_for: WaitFor, order_type: str, outcome: OrderState
) -> None:
    trip = _CutOnReceipt(rig.gw)
    rig.gw.desk.received = trip
    price = {"limit_price": rig.bid(-8)} if order_type == "LMT" else {}
    intent = rig.intent(order_type=order_type, **price)

    rig.broker.orders.submit(intent)
    result = await reconciled_again(rig, wait_for)

    assert not trip.armed, "the connection was cut as the order arrived"
    assert rig.state(intent.key) is outcome
    assert rig.sent(intent.key) == 1
    if outcome is OrderState.FILLED:
        assert result.filled_while_disconnected == (intent.key,)
        assert result.fills_recovered == 1
        fills = [f for f in rig.journal.fills() if f.key == intent.key]
        assert len(fills) == 1
        assert fills[0].commission is not None
        await wait_for(lambda: rig.held() == Decimal(1), what="the position")
    else:
        assert result.matched == (intent.key,)
        assert rig.row(intent.key).working
    rig.assert_agree()


@pytest.mark.expect_log_warnings
@pytest.mark.parametrize("arrived", [True, False], ids=["applied", "lost"])
async def test_modification_cut_off_ends_with_the_broker_quantity(
    rig: Rig, wait_for: WaitFor, arrived: bool
) -> None:
    intent = await resting(rig, wait_for)
    order_id = rig.row(intent.key).order_id
    if arrived:
        rig.gw.desk.received = _CutOnReceipt(rig.gw)
    else:
        rig.gw.faults.delay_replies(30.0)

    rig.broker.orders.modify(order_id, quantity=Decimal(3))
    if not arrived:
        rig.gw.faults.drop(rig.client_id)
        rig.gw.faults.delay_replies(0.0)
    result = await reconciled_again(rig, wait_for)

    expected = Decimal(3) if arrived else Decimal(1)
    assert result.matched == (intent.key,)
    order = rig.journal.order(intent.key)
    assert order is not None
    assert (order.state, order.lifecycle.quantity) == (OrderState.WORKING, expected)
    assert rig.row(intent.key).quantity == expected
    (working,) = rig.gw.desk.open_orders()
    assert working.request.quantity == expected
    rig.broker.orders.modify(order_id, quantity=Decimal(2))
    await wait_for(lambda: rig.row(intent.key).quantity == 2, what="the next change applied")
    order = rig.journal.order(intent.key)
    assert order is not None
    assert order.lifecycle.quantity == 2
    rig.assert_agree()


# ------------------------------------------------------------- silent gateway


@pytest.mark.expect_log_warnings
async def test_order_swallowed_by_a_silent_gateway_is_unknown_after_reconnect(
    rig: Rig, wait_for: WaitFor
) -> None:
    rig.gw.faults.stop_answering()
    intent = rig.intent(order_type="LMT", limit_price=rig.bid(-8))
    rig.broker.orders.submit(intent)
    await wait_for(lambda: rig.broker.orders.entry_block(), what="heartbeats failing")
    later = rig.intent(quantity=2)
    with pytest.raises(OrderRefused, match="blocked"):
        rig.broker.orders.submit(later, confirmed=True)

    await wait_for(lambda: rig.broker.session.state is HealthState.RECONNECTING, what="a reconnect")
    rig.gw.faults.resume_answering()
    result = await reconciled_again(rig, wait_for)

    assert result.unknown == (intent.key,)
    assert rig.state(intent.key) is OrderState.UNKNOWN
    assert rig.state(later.key) is OrderState.BLOCKED
    assert rig.gw.orders == []
    rig.assert_agree()


@pytest.mark.expect_log_warnings
async def test_order_swallowed_by_a_silent_gateway_is_unknown_once_heartbeats_return(
    rig: Rig, wait_for: WaitFor
) -> None:
    rig.gw.faults.stop_answering()
    intent = rig.intent(order_type="LMT", limit_price=rig.bid(-8))
    rig.broker.orders.submit(intent)
    await wait_for(lambda: rig.broker.session.health.heartbeat_failures, what="a lost heartbeat")
    rig.gw.faults.resume_answering()
    # Heartbeats answered again: the session reloads and reconciles before orders may go.
    await wait_for(lambda: not rig.broker.orders.entry_block(), what="heartbeats answered")

    assert rig.state(intent.key) is OrderState.UNKNOWN
    assert rig.gw.orders == []
    # the session kept its trade (no reconnect), still waiting for a first answer: it is shown
    # as unknown, not as working
    trade = next(t for t in rig.broker.session.ib.trades() if t.order.orderRef == intent.key)
    assert trade.orderStatus.status == "PendingSubmit"
    row = rig.row(intent.key)
    assert (row.status, row.working) == ("unknown", False)
    rig.assert_agree()


# ----------------------------------------------------------------- IB 1100


@pytest.mark.expect_log_warnings
@pytest.mark.parametrize("data_maintained", [False, True], ids=["1101", "1102"])
async def test_1100_blocks_orders_until_restored_and_reconciled(
    rig: Rig, wait_for: WaitFor, data_maintained: bool
) -> None:
    working = await resting(rig, wait_for, ticks=0)
    early: list[str] = []
    attempt = rig.intent(side="SELL", order_type="LMT", limit_price=rig.bid(8))

    def try_to_send(snapshot: HealthSnapshot) -> None:
        if snapshot.state is HealthState.CONNECTED and not early:
            try:
                rig.broker.orders.submit(attempt, confirmed=True)
                early.append("sent")
            except OrderRefused as refused:
                early.append(refused.reason)

    rig.gw.faults.lose_connectivity()
    await wait_for(lambda: "1100" in rig.broker.orders.entry_block(), what="1100 blocking orders")
    blocked = rig.intent(quantity=2)
    with pytest.raises(OrderRefused, match="1100"):
        rig.broker.orders.submit(blocked, confirmed=True)
    # executions still reach the console while IB's side is down
    fill_resting_order(rig, working.key)
    await wait_for(lambda: rig.state(working.key) is OrderState.FILLED, what="the fill")
    rig.broker.session.health_changed += try_to_send

    rig.gw.faults.restore_connectivity(data_maintained=data_maintained)
    result = await reconciled_again(rig, wait_for)

    assert early == ["Orders are blocked until the journal is reconciled with the broker."]
    assert rig.state(blocked.key) is rig.state(attempt.key) is OrderState.BLOCKED
    assert result.unknown == ()
    assert rig.sent(blocked.key) == rig.sent(attempt.key) == 0
    await wait_for(lambda: rig.broker.market.quote(rig.es.con_id), what="a quote")
    after = rig.intent(side="SELL")
    rig.broker.orders.submit(after, confirmed=True)
    assert await rig.final(after.key) is OrderState.FILLED
    rig.assert_agree()


# ----------------------------------------------------------------- IB 326


@pytest.mark.expect_log_warnings
async def test_client_id_still_in_use_on_reconnect_then_reconciles(
    make_rig: RigFactory, wait_for: WaitFor
) -> None:
    slow = BackoffPolicy(min_delay=timedelta(seconds=0.3), max_delay=timedelta(seconds=0.5))
    rig = await make_rig(
        health=HealthSettings(
            heartbeat_interval=timedelta(seconds=0.2),
            heartbeat_timeout=timedelta(seconds=1),
            backoff=slow,
        ),
        request_timeout=0.5,
    )
    intent = await resting(rig, wait_for)
    codes: list[int] = []
    rig.broker.session.ib_message += lambda _req_id, message: codes.append(message.code)
    rig.gw.faults.drop(rig.client_id)
    await wait_for(lambda: rig.client_id not in connected_clients(rig.gw), what="the drop")
    other = IB()
    await other.connectAsync("127.0.0.1", rig.gw.port, clientId=rig.client_id)

    await wait_for(lambda: 326 in codes, what="the console refused with 326")
    assert rig.broker.session.state is not HealthState.CONNECTED
    other.disconnect()
    result = await reconciled_again(rig, wait_for)

    assert result.matched == (intent.key,)
    assert rig.state(intent.key) is OrderState.WORKING
    assert rig.row(intent.key).working
    rig.assert_agree()


# ------------------------------------------------------------ fills while away


@pytest.mark.expect_log_warnings
async def test_resting_order_filled_while_disconnected_is_journalled_at_reconnect(
    rig: Rig, wait_for: WaitFor
) -> None:
    intent = await resting(rig, wait_for, ticks=0)
    recorded: list[str] = []
    rig.broker.orders.fill_recorded += lambda fill: recorded.append(fill.exec_id)

    rig.gw.faults.drop(rig.client_id)
    await wait_for(lambda: rig.client_id not in connected_clients(rig.gw), what="the drop")
    fill_resting_order(rig, intent.key)  # in one go: the console cannot reconnect meanwhile
    result = await reconciled_again(rig, wait_for)

    assert result.filled_while_disconnected == (intent.key,)
    assert result.fills_recovered == 1
    order = rig.journal.order(intent.key)
    assert order is not None
    assert order.state is OrderState.FILLED
    assert order.lifecycle.reconciliation is ReconciliationOutcome.FILLED_WHILE_DISCONNECTED
    (fill,) = [f for f in rig.journal.fills() if f.key == intent.key]
    assert fill.quantity == 1
    assert fill.price == intent.limit_price
    assert fill.commission is not None
    assert set(recorded) == {fill.exec_id}
    await wait_for(lambda: rig.held() == Decimal(1), what="the position")
    assert not rig.row(intent.key).working
    rig.assert_agree()


@pytest.mark.expect_log_warnings
async def test_orders_held_back_by_pacing_when_the_connection_drops_are_not_resent(
    make_rig: RigFactory, wait_for: WaitFor
) -> None:
    rig = await make_rig(limits=RiskLimits(defaults=SymbolLimits(max_position=None)))
    intents = [
        rig.intent(side=side, order_type="LMT", limit_price=rig.bid(-20 if side == "BUY" else 20))
        for side in ("BUY", "SELL") * 30
    ]
    for intent in intents:
        rig.broker.orders.submit(intent, confirmed=True)
    assert rig.broker.session.is_throttled
    await wait_for(lambda: len(rig.gw.orders) >= 10, what="the first orders at the gateway")

    rig.gw.faults.drop(rig.client_id)
    result = await reconciled_again(rig, wait_for)

    keys = {i.key for i in intents}
    assert set(result.matched) | set(result.unknown) == keys
    assert len(result.matched) >= 10
    assert result.unknown, "orders still queued by pacing died with the connection"
    assert {rig.state(k) for k in result.unknown} == {OrderState.UNKNOWN}
    assert {rig.state(k) for k in result.matched} == {OrderState.WORKING}
    assert {o.request.order_ref for o in rig.gw.orders} == set(result.matched)
    rig.assert_agree()


@pytest.mark.expect_log_warnings
async def test_orders_stay_blocked_when_the_journal_cannot_be_reconciled(
    rig: Rig, wait_for: WaitFor
) -> None:
    rig.journal.close()

    rig.gw.faults.drop(rig.client_id)
    await wait_for(
        lambda: any("could not be reconciled" in m and critical for m, critical in rig.alerts),
        what="the alert",
    )

    assert rig.broker.session.state is HealthState.CONNECTED
    assert rig.broker.orders.entry_block() == (
        "Orders are blocked until the journal is reconciled with the broker."
    )
    assert rig.reconciled == []


@pytest.mark.expect_log_warnings
async def test_an_execution_journalled_for_another_order_is_kept_and_alerted(
    rig: Rig, wait_for: WaitFor, tmp_path: Path
) -> None:
    """A journal (restored from a backup, or shared by two installs) that holds the execution id
    of this order for another one: the fill is journalled beside the order and the trader is
    told which two orders collide, instead of the fill being dropped by a JournalError."""
    intent = rig.intent()
    rig.broker.orders.submit(intent, confirmed=True)
    assert await rig.final(intent.key) is OrderState.FILLED
    (fill,) = rig.journal.fills()
    sent = rig.journal.order(intent.key)
    assert sent is not None
    assert sent.lifecycle.order_id is not None
    await rig.broker.stop()

    clock = rig.broker.clock
    journal = Journal(tmp_path / "restored.sqlite", clock)
    other = rig.intent()
    for order, order_id in ((intent, sent.lifecycle.order_id), (other, 9999)):
        journal.record_intent(order)
        journal.record_decision(order.key, Decision.CONFIRMED, [])
        journal.record_submission(order.key, order_id, rig.client_id)
    journal.record_fill(
        other.key, fill.exec_id, fill.con_id, fill.side, fill.quantity, fill.price, fill.time
    )
    broker = Broker(
        rig.broker.session.endpoint,
        journal,
        clock,
        health=HealthSettings(),
        limits=RiskLimits(),
        request_timeout=1.5,
    )
    alerts: list[tuple[str, bool]] = []
    broker.orders.alert += lambda message, critical: alerts.append((message, critical))
    try:
        await broker.start()
        await wait_for(lambda: alerts, what="the alert")
        message, critical = alerts[0]
        assert critical
        assert fill.exec_id in message
        assert f"order {intent.key}" in message
        assert f"order {other.key}" in message
        (kept,) = journal.execution_conflicts(intent.key)
        assert kept.journalled_for == other.key
        assert (kept.fill.exec_id, kept.fill.quantity, kept.fill.price) == (
            fill.exec_id,
            fill.quantity,
            fill.price,
        )
    finally:
        await broker.stop()
        journal.close()
