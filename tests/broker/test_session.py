"""The session against the paper gateway over TCP: connect and sync, heartbeat, live or paper,
reconnects after every kind of loss, the circuit breaker, 1100/1101/1102, farm flaps, throttling,
and a disconnect that wins over everything in flight."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from ibconsole.broker.broker import Broker
from ibconsole.broker.ib_client import IB, Client, Event
from ibconsole.broker.session import SyncInfo
from ibconsole.domain.health import (
    BackoffPolicy,
    BreakerPolicy,
    BreakerState,
    HealthSettings,
    HealthSnapshot,
    HealthState,
)
from ibconsole.domain.ib_codes import IbCategory, IbMessage
from ibconsole.domain.trading_mode import AccountMode
from ibconsole.journal import OrderState
from ibconsole.sim import PaperGateway

Record = Callable[[Event], Any]
WaitFor = Callable[..., Any]
BrokerFactory = Callable[..., Broker]
GatewayFactory = Callable[..., Any]

# IB's outbound message ids, as the gateway sees them.
REQ_OPEN_ORDERS_ALL = 16
REQ_ACCOUNT_SUMMARY = 62
REQ_COMPLETED_ORDERS = 99

if TYPE_CHECKING:
    # the fixtures' types, from tests/broker/conftest.py
    from conftest import Rig, RigFactory

CONNECTED = HealthState.CONNECTED
DEGRADED = HealthState.DEGRADED
RECONNECTING = HealthState.RECONNECTING


def states(seen: Any) -> list[HealthState]:
    """The states a health recorder went through, repeats collapsed."""
    out: list[HealthState] = []
    for snapshot in seen.values:
        if not out or out[-1] is not snapshot.state:
            out.append(snapshot.state)
    return out


# Heartbeat timeout of the tests that provoke unanswered heartbeats (the others allow more, so a
# busy machine cannot fail them).
SHORT_BEAT = timedelta(seconds=0.3)


def slow_backoff(seconds: float) -> BackoffPolicy:
    delay = timedelta(seconds=seconds)
    return BackoffPolicy(min_delay=delay, max_delay=delay)


# --------------------------------------------------------------------------- connect and sync


async def test_connect_syncs_and_reports_what_it_found(
    gateway: PaperGateway, make_broker: BrokerFactory, record: Record
) -> None:
    broker = make_broker(gateway)
    seen = record(broker.session.health_changed)
    synced = record(broker.session.synced)

    await broker.start()

    info = broker.session.sync_info
    assert info is not None
    assert synced.values == [info]
    assert info.accounts == ("DU1234567",)
    assert info.account == "DU1234567"
    assert info.server_version == 176
    assert info.mode.mode is AccountMode.PAPER
    assert not info.mode.is_live
    assert info.resumed is False
    assert info.lost_at is None
    assert states(seen) == [HealthState.CONNECTING, HealthState.SYNCING, CONNECTED]
    assert broker.session.order_entry_block() == ""
    assert broker.session.health.order_entry_allowed


async def test_connect_to_a_port_nobody_listens_on_fails_with_a_reason(
    make_gateway: GatewayFactory, make_broker: BrokerFactory
) -> None:
    gateway = await make_gateway()
    port = gateway.port
    await gateway.stop()
    broker = make_broker(port=port)

    with pytest.raises(ConnectionError, match=f"nothing is listening on 127.0.0.1:{port}"):
        await broker.start()

    assert broker.session.state is RECONNECTING
    assert broker.session.sync_info is None
    assert "nothing is listening" in broker.session.order_entry_block()


async def test_an_account_this_login_does_not_manage_is_refused(
    gateway: PaperGateway, make_broker: BrokerFactory
) -> None:
    broker = make_broker(gateway, account="DU7654321")

    with pytest.raises(ConnectionError, match="is not managed by this login") as failure:
        await broker.start()

    assert "DU7654321" not in str(failure.value), "account codes are masked"
    assert broker.session.sync_info is None


@pytest.mark.expect_log_warnings
async def test_a_defect_during_the_sync_surfaces_with_its_traceback_and_is_not_retried(
    gateway: PaperGateway, make_broker: BrokerFactory, record: Record
) -> None:
    broker = make_broker(gateway)
    session = broker.session
    alerts = record(session.alert)

    def defect(*args: Any, **kwargs: Any) -> Any:
        # Stands in for a bug of the console inside the sync: no network could cause it.
        raise TypeError("unsupported operand type(s) for +: 'Decimal' and 'float'")

    session.ib.reqPositionsAsync = defect  # type: ignore[method-assign]

    with pytest.raises(TypeError, match="unsupported operand") as failure:
        await broker.start()

    assert failure.traceback[-1].name == "defect", "the traceback reaches the defect"
    assert session.state is HealthState.DISCONNECTED
    assert session.health.reason.startswith("The connection was closed after an internal error")
    assert session.health.reconnect_at is None, "a defect is not retried with backoff"
    assert session.health.failed_attempts == 0
    assert alerts.values == [
        (
            "The connection was closed after an internal error (TypeError: unsupported operand "
            "type(s) for +: 'Decimal' and 'float'); it is not retried. The log has the details.",
            True,
        )
    ]


async def test_disconnect_ends_the_session_and_connect_starts_a_new_one(
    gateway: PaperGateway, broker: Broker, record: Record, wait_for: WaitFor
) -> None:
    ended = record(broker.session.ended)

    await broker.session.disconnect()

    assert broker.session.state is HealthState.DISCONNECTED
    assert ended.values == ["closed by the console"]
    assert broker.session.sync_info is None
    assert "disconnected" in broker.session.order_entry_block()
    await wait_for(lambda: not gateway.connections, what="the gateway to see the socket close")

    info = await broker.session.connect()

    assert broker.session.state is CONNECTED
    assert info.resumed is False, "a connect the trader asked for is a new session"
    assert len(gateway.connections) == 1


async def test_connect_while_connected_returns_the_current_session(broker: Broker) -> None:
    current = broker.session.sync_info

    assert await broker.session.connect() is current


# --------------------------------------------------------------------------- live or paper


async def test_a_live_account_is_flagged(
    make_gateway: GatewayFactory, make_broker: BrokerFactory, record: Record
) -> None:
    gateway = await make_gateway(accounts=("U1234567",))
    broker = make_broker(gateway)
    alerts = record(broker.session.alert)

    await broker.start()

    info = broker.session.sync_info
    assert info is not None
    assert info.mode.mode is AccountMode.LIVE
    assert info.mode.is_live
    assert info.mode.mismatch == "", "a port that is no preset promises nothing"
    assert alerts.values == []


@pytest.mark.expect_log_warnings
async def test_a_live_account_behind_the_paper_port_is_a_loud_mismatch(
    preset_gateway: GatewayFactory, make_broker: BrokerFactory, record: Record
) -> None:
    gateway = await preset_gateway(7497, accounts=("U1234567",))
    broker = make_broker(gateway, host=gateway.host)
    alerts = record(broker.session.alert)

    await broker.start()

    info = broker.session.sync_info
    assert info is not None
    assert info.mode.is_live
    assert "7497" in info.mode.mismatch
    assert "LIVE" in info.mode.mismatch
    assert alerts.values == [(info.mode.mismatch, True)]


async def test_a_paper_account_behind_the_paper_port_agrees(
    preset_gateway: GatewayFactory, make_broker: BrokerFactory, record: Record
) -> None:
    gateway = await preset_gateway(4002)
    broker = make_broker(gateway, host=gateway.host)
    alerts = record(broker.session.alert)

    await broker.start()

    info = broker.session.sync_info
    assert info is not None
    assert info.mode.mode is AccountMode.PAPER
    assert info.mode.mismatch == ""
    assert info.mode.port.application == "IB Gateway"
    assert alerts.values == []


# --------------------------------------------------------------------------- heartbeat


async def test_heartbeat_round_trips_are_measured_and_emitted(
    broker: Broker, record: Record, wait_for: WaitFor, fast_health: HealthSettings
) -> None:
    seen = record(broker.session.health_changed)

    await wait_for(
        lambda: any(s.heartbeat.samples >= 2 for s in seen.values),
        what="two heartbeat round trips emitted in health_changed",
    )

    health = broker.session.health
    beat = health.heartbeat
    timeout = fast_health.heartbeat_timeout
    # Bounds the session itself guarantees, not the machine's speed: a beat is measured only
    # when it was answered within the timeout (a later answer is a failure, not a sample).
    assert beat.last_rtt is not None
    assert timedelta(0) <= beat.last_rtt <= timeout
    assert beat.mean_rtt is not None
    assert timedelta(0) <= beat.mean_rtt <= timeout
    assert beat.p95_rtt is not None
    assert timedelta(0) <= beat.p95_rtt <= timeout
    assert beat.last_message_age is not None
    assert beat.last_message_age >= timedelta(0)
    assert health.heartbeat_failures == 0
    assert broker.session.state is CONNECTED


@pytest.mark.expect_log_warnings
async def test_a_silent_gateway_is_caught_by_the_heartbeat_degraded_then_reconnected(
    gateway: PaperGateway,
    make_broker: BrokerFactory,
    record: Record,
    wait_for: WaitFor,
    fast_health: HealthSettings,
) -> None:
    broker = make_broker(gateway, health=replace(fast_health, heartbeat_timeout=SHORT_BEAT))
    await broker.start()
    seen = record(broker.session.health_changed)
    alerts = record(broker.session.alert)
    ended = record(broker.session.ended)
    synced = record(broker.session.synced)

    gateway.faults.stop_answering()

    await wait_for(lambda: broker.session.state is DEGRADED, what="degraded")
    assert broker.session.health.heartbeat_failures == 1
    assert "heartbeat" in broker.session.health.reason.lower()
    assert broker.session.order_entry_block() != "", "unanswered heartbeats block orders"
    await wait_for(lambda: broker.session.state is RECONNECTING, what="reconnecting")
    assert ended.values, "the silent session was closed"
    assert any(critical and "heartbeats" in text for text, critical in alerts.values)

    gateway.faults.resume_answering()

    await wait_for(lambda: synced.values, timeout=10, what="a new session after the silence")
    assert broker.session.state is CONNECTED
    assert states(seen)[:2] == [DEGRADED, RECONNECTING]
    assert synced.values[0].resumed
    assert synced.values[0].lost_at is not None


async def test_one_late_heartbeat_degrades_and_the_next_answer_resyncs_then_recovers(
    gateway: PaperGateway,
    make_broker: BrokerFactory,
    record: Record,
    wait_for: WaitFor,
    fast_health: HealthSettings,
) -> None:
    health = replace(
        fast_health, heartbeat_timeout=SHORT_BEAT, heartbeat_failures_before_reconnect=5
    )
    broker = make_broker(gateway, health=health)
    await broker.start()
    seen = record(broker.session.health_changed)

    gateway.faults.delay_replies(0.5)
    await wait_for(lambda: broker.session.state is DEGRADED, what="degraded by a late heartbeat")
    gateway.faults.delay_replies(0)

    await wait_for(lambda: broker.session.state is CONNECTED, what="recovered")
    # Replies may have been lost meanwhile: orders wait until the session has reloaded.
    assert states(seen) == [DEGRADED, HealthState.SYNCING, CONNECTED]
    assert broker.session.health.heartbeat_failures == 0
    assert broker.session.order_entry_block() == ""


# --------------------------------------------------------------------------- losses and reconnects


@pytest.mark.expect_log_warnings
@pytest.mark.parametrize("how", ["drop", "reset"])
async def test_a_lost_socket_is_reconnected_and_resynced(
    how: str, gateway: PaperGateway, broker: Broker, record: Record, wait_for: WaitFor
) -> None:
    seen = record(broker.session.health_changed)
    synced = record(broker.session.synced)
    ended = record(broker.session.ended)
    alerts = record(broker.session.alert)
    account = broker.session.sync_info.account if broker.session.sync_info else ""
    positions_at_end: list[object] = []
    broker.session.ended += lambda reason: positions_at_end.append(broker.account.positions())

    assert getattr(gateway.faults, how)() == 1

    await wait_for(lambda: synced.values, what="a resync after the loss")
    info: SyncInfo = synced.values[0]
    assert info.resumed is True
    assert info.lost_at is not None
    assert info.lost_at <= info.synced_at
    assert info.account == account
    assert len(ended.values) == 1
    assert positions_at_end == [None], "positions are unknown once the session ended"
    assert [critical for _, critical in alerts.values] == [True]
    assert "dropped" in alerts.values[0][0]
    assert states(seen) == [RECONNECTING, HealthState.SYNCING, CONNECTED]
    assert broker.session.order_entry_block() == ""
    assert len(gateway.connections) == 1


@pytest.mark.expect_log_warnings
async def test_the_first_reconnect_waits_the_configured_minimum_delay(
    gateway: PaperGateway,
    make_broker: BrokerFactory,
    wait_for: WaitFor,
    fast_health: HealthSettings,
) -> None:
    minimum = 0.4
    broker = make_broker(gateway, health=replace(fast_health, backoff=slow_backoff(minimum)))
    await broker.start()
    loop = asyncio.get_running_loop()
    stamps: list[tuple[float, HealthSnapshot]] = []
    broker.session.health_changed += lambda s: stamps.append((loop.time(), s))
    synced = asyncio.Event()
    broker.session.synced += lambda info: synced.set()

    gateway.faults.drop()
    await asyncio.wait_for(synced.wait(), 5)

    lost_at, lost = next((t, s) for t, s in stamps if s.state is RECONNECTING)
    tried_at = next(t for t, s in stamps if s.reason.startswith("Reconnect attempt"))
    assert lost.reconnect_at is not None
    assert lost.reconnect_at - lost.since >= timedelta(seconds=minimum * 0.99)
    assert tried_at - lost_at >= minimum * 0.95, "the attempt came before the minimum delay"


@pytest.mark.expect_log_warnings
async def test_a_client_id_still_held_after_a_drop_earns_326_and_is_retried(
    gateway: PaperGateway,
    make_broker: BrokerFactory,
    record: Record,
    wait_for: WaitFor,
    fast_health: HealthSettings,
    request_timeout: float,
) -> None:
    broker = make_broker(
        gateway, client_id=5, health=replace(fast_health, backoff=slow_backoff(0.3))
    )
    await broker.start()
    loop = asyncio.get_running_loop()
    stamps: list[tuple[float, HealthSnapshot]] = []
    broker.session.health_changed += lambda s: stamps.append((loop.time(), s))

    gateway.faults.drop(5)
    await wait_for(lambda: broker.session.state is RECONNECTING, what="reconnecting")
    squatter = IB()
    await squatter.connectAsync("127.0.0.1", gateway.port, clientId=5, timeout=2)
    try:
        await wait_for(
            lambda: any("clientId 5 is already in use" in s.reason for _, s in stamps),
            what="the 326 refusal named in the health reason",
        )
    finally:
        squatter.disconnect()

    tried_at = next(t for t, s in stamps if s.reason.startswith("Reconnect attempt"))
    refused_at = next(t for t, s in stamps if "already in use" in s.reason)
    assert refused_at - tried_at < request_timeout, "a refused attempt fails at once, no timeout"
    await wait_for(lambda: broker.session.state is CONNECTED, what="connected once released")
    assert broker.session.sync_info is not None


# --------------------------------------------------------------------------- circuit breaker


@pytest.mark.expect_log_warnings
@pytest.mark.parametrize("action", ["reset_breaker", "connect"])
async def test_the_breaker_opens_after_repeated_failures_and_the_trader_can_try_at_once(
    action: str,
    make_gateway: GatewayFactory,
    make_broker: BrokerFactory,
    record: Record,
    wait_for: WaitFor,
    as_of: datetime,
    fast_health: HealthSettings,
) -> None:
    gateway = await make_gateway()
    port = gateway.port
    await gateway.stop()
    breaker = BreakerPolicy(
        failure_threshold=3, window=timedelta(minutes=1), cooldown=timedelta(minutes=5)
    )
    broker = make_broker(port=port, health=replace(fast_health, breaker=breaker))
    alerts = record(broker.session.alert)
    with pytest.raises(ConnectionError):
        await broker.start()

    await wait_for(lambda: broker.session.state is HealthState.CIRCUIT_OPEN, what="breaker open")
    health = broker.session.health
    assert health.breaker is BreakerState.OPEN
    assert health.breaker_reopens_at is not None
    assert health.breaker_reopens_at - broker.clock.now() > timedelta(minutes=4)
    assert any(critical and "reset to try now" in text for text, critical in alerts.values)

    again = PaperGateway(seed=7, as_of=as_of)
    await again.start("127.0.0.1", port)
    try:
        if action == "connect":
            info = await broker.session.connect()
            assert info is broker.session.sync_info
        else:
            broker.session.reset_breaker()
        await wait_for(lambda: broker.session.state is CONNECTED, what="connected after reset")
        assert broker.session.health.breaker is BreakerState.CLOSED
        await broker.stop()
    finally:
        await again.stop()


@pytest.mark.expect_log_warnings
async def test_an_open_breaker_lets_one_trial_through_after_its_cooldown(
    make_gateway: GatewayFactory,
    make_broker: BrokerFactory,
    record: Record,
    wait_for: WaitFor,
    as_of: datetime,
    fast_health: HealthSettings,
) -> None:
    gateway = await make_gateway()
    port = gateway.port
    await gateway.stop()
    breaker = BreakerPolicy(
        failure_threshold=2, window=timedelta(minutes=1), cooldown=timedelta(seconds=0.3)
    )
    broker = make_broker(port=port, health=replace(fast_health, breaker=breaker))
    seen = record(broker.session.health_changed)
    with pytest.raises(ConnectionError):
        await broker.start()
    await wait_for(lambda: broker.session.state is HealthState.CIRCUIT_OPEN, what="breaker open")

    again = PaperGateway(seed=7, as_of=as_of)
    await again.start("127.0.0.1", port)
    try:
        await wait_for(lambda: broker.session.state is CONNECTED, what="the trial to connect")
        assert HealthState.CIRCUIT_OPEN in states(seen)
        assert broker.session.health.breaker is BreakerState.CLOSED
        await broker.stop()
    finally:
        await again.stop()


@pytest.mark.expect_log_warnings
async def test_connect_during_a_reconnect_waits_for_its_outcome(
    gateway: PaperGateway,
    make_broker: BrokerFactory,
    wait_for: WaitFor,
    fast_health: HealthSettings,
) -> None:
    broker = make_broker(gateway, health=replace(fast_health, backoff=slow_backoff(0.3)))
    await broker.start()
    gateway.faults.drop()
    await wait_for(lambda: broker.session.state is RECONNECTING, what="reconnecting")

    info = await broker.session.connect()

    assert info.resumed is True
    assert broker.session.state is CONNECTED


# --------------------------------------------------------------------------- disconnect wins


@pytest.mark.expect_log_warnings
async def test_a_disconnect_cancels_a_scheduled_reconnect(
    gateway: PaperGateway,
    make_broker: BrokerFactory,
    wait_for: WaitFor,
    fast_health: HealthSettings,
) -> None:
    broker = make_broker(gateway, health=replace(fast_health, backoff=slow_backoff(0.3)))
    await broker.start()
    gateway.faults.drop()
    await wait_for(lambda: broker.session.health.reconnect_at is not None, what="a reconnect")
    due = broker.session.health.reconnect_at
    assert due is not None

    await broker.session.disconnect()

    assert broker.session.state is HealthState.DISCONNECTED
    assert broker.session.health.reconnect_at is None
    await wait_for(
        lambda: broker.clock.now() > due + timedelta(seconds=0.2),
        what="the time the cancelled reconnect was due",
    )
    assert broker.session.state is HealthState.DISCONNECTED
    assert gateway.connections == []


@pytest.mark.expect_log_warnings
@pytest.mark.parametrize("stage", ["tcp", "api"])
async def test_a_disconnect_during_a_reconnect_handshake_wins(
    stage: str, gateway: PaperGateway, broker: Broker, record: Record, wait_for: WaitFor
) -> None:
    synced = record(broker.session.synced)
    gateway.faults.delay_replies(0.3)
    gateway.faults.drop()
    client = broker.session.ib.client
    if stage == "tcp":
        await wait_for(lambda: gateway.connections, what="the reconnect's socket at the gateway")
    else:
        await wait_for(
            lambda: client.connState == Client.CONNECTED and not client.isReady(),
            what="the server version, with the API not started yet",
        )

    await broker.session.disconnect()

    assert broker.session.state is HealthState.DISCONNECTED
    assert broker.session.sync_info is None
    await wait_for(lambda: not gateway.connections, what="the attempt's socket closed")
    gateway.faults.delay_replies(0)
    assert synced.values == []
    assert broker.session.state is HealthState.DISCONNECTED


@pytest.mark.expect_log_warnings
async def test_a_disconnect_during_the_resync_wins(
    gateway: PaperGateway, broker: Broker, record: Record, wait_for: WaitFor
) -> None:
    synced = record(broker.session.synced)
    gateway.faults.delay_replies(0.2)
    gateway.faults.drop()
    await wait_for(lambda: broker.session.state is HealthState.SYNCING, what="syncing again")

    await broker.session.disconnect()

    assert broker.session.state is HealthState.DISCONNECTED
    await wait_for(lambda: not gateway.connections, what="the socket closed")
    gateway.faults.delay_replies(0)
    assert synced.values == []
    assert broker.session.sync_info is None


# --------------------------------------------------------------------------- IB status messages


@pytest.mark.expect_log_warnings
async def test_1100_blocks_order_entry_until_1101_resubscribes_and_resyncs(
    gateway: PaperGateway, broker: Broker, record: Record, wait_for: WaitFor
) -> None:
    synced = record(broker.session.synced)
    lost = record(broker.session.data_lost)
    alerts = record(broker.session.alert)
    ended = record(broker.session.ended)

    gateway.faults.lose_connectivity()

    await wait_for(lambda: broker.session.health.connectivity_lost, what="1100")
    assert broker.session.state is DEGRADED
    assert "1100" in broker.session.order_entry_block()
    assert any(critical and "1100" in text for text, critical in alerts.values)
    assert broker.account.positions() == (), "the socket is up: positions stay known"

    gateway.faults.restore_connectivity(data_maintained=False)

    await wait_for(lambda: synced.values, what="the resync after 1101")
    assert broker.session.state is CONNECTED
    assert broker.session.order_entry_block() == ""
    assert len(lost.values) == 1
    assert synced.values[0].resumed
    assert synced.values[0].lost_at is not None
    assert ended.values == [], "1100/1101 is not a lost socket"


@pytest.mark.expect_log_warnings
async def test_1100_then_1102_resyncs_without_dropping_data(
    gateway: PaperGateway, broker: Broker, record: Record, wait_for: WaitFor
) -> None:
    synced = record(broker.session.synced)
    lost = record(broker.session.data_lost)
    accounts = record(broker.account.account_changed)

    gateway.faults.lose_connectivity(restore_after=0.1, data_maintained=True)

    await wait_for(lambda: synced.values, what="the resync after 1102")
    assert broker.session.state is CONNECTED
    assert broker.session.order_entry_block() == ""
    assert lost.values == []
    assert accounts.values, "the account is reloaded and shown again"
    assert broker.account.daily_pnl() is not None


@pytest.mark.expect_log_warnings
async def test_two_1102_while_ib_answers_slowly_resync_one_after_the_other(
    rig: Rig,
    record: Record,
    wait_for: WaitFor,
    inbound: Callable[[PaperGateway], Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # ib_insync files the answers to open and completed orders by request name: two loads at
    # once on one socket mix their answers, and the second one's end finds nothing to end.
    gateway, session = rig.gw, rig.broker.session
    done = rig.intent(order_type="LMT", limit_price=rig.bid(-8))
    working = rig.intent(order_type="LMT", limit_price=rig.bid(-9))
    for intent in (done, working):
        rig.broker.orders.submit(intent, confirmed=True)
    await wait_for(lambda: rig.state(done.key) is OrderState.WORKING, what="a working order")
    rig.broker.orders.cancel(rig.row(done.key).order_id)
    assert await rig.final(done.key) is OrderState.CANCELLED
    synced = record(session.synced)
    seen = inbound(gateway)
    gateway.faults.delay_replies(0.2)
    gateway.faults.lose_connectivity(restore_after=0.0, data_maintained=True)
    await wait_for(lambda: session.state is HealthState.SYNCING, what="the first resync")
    gateway.faults.lose_connectivity(restore_after=0.0, data_maintained=True)

    await wait_for(lambda: synced.values, what="the resync")
    gateway.faults.delay_replies(0)

    assert session.state is CONNECTED
    assert len(synced) == 1, "only the newest resync reports"
    assert seen.count(REQ_COMPLETED_ORDERS) == 2, "the second load waited for the first"
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []
    assert rig.state(working.key) is OrderState.WORKING
    rig.assert_agree()


@pytest.mark.expect_log_warnings
async def test_a_resync_ib_answers_too_late_is_not_followed_by_another_on_the_same_socket(
    make_rig: RigFactory,
    record: Record,
    wait_for: WaitFor,
    inbound: Callable[[PaperGateway], Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The first load gives up waiting, but IB still answers it: a second load on that socket
    # would take those answers (ib_insync files them by request name). A new socket it is.
    rig = await make_rig(request_timeout=0.5)
    gateway, session = rig.gw, rig.broker.session
    done = rig.intent(order_type="LMT", limit_price=rig.bid(-8))
    rig.broker.orders.submit(done, confirmed=True)
    await wait_for(lambda: rig.state(done.key) is OrderState.WORKING, what="a working order")
    rig.broker.orders.cancel(rig.row(done.key).order_id)
    assert await rig.final(done.key) is OrderState.CANCELLED
    synced = record(session.synced)
    ended = record(session.ended)
    seen = inbound(gateway)
    gateway.faults.delay_replies(0.7)
    gateway.faults.lose_connectivity(restore_after=0.0, data_maintained=True)
    await wait_for(lambda: session.state is HealthState.SYNCING, what="the first resync")
    gateway.faults.lose_connectivity(restore_after=0.0, data_maintained=True)
    await wait_for(
        lambda: seen.count(REQ_COMPLETED_ORDERS) or session.state is not HealthState.SYNCING,
        what="the first load answered late, or the socket given up",
    )
    gateway.faults.delay_replies(0)

    await wait_for(lambda: synced.values, what="the console synced again")
    assert len(ended) == 1, "a new socket"
    assert session.state is CONNECTED
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []
    rig.assert_agree()


@pytest.mark.expect_log_warnings
async def test_1102_subscribes_to_nothing_the_console_does_not_cancel(
    gateway: PaperGateway,
    broker: Broker,
    record: Record,
    wait_for: WaitFor,
    inbound: Callable[[PaperGateway], Any],
) -> None:
    # ib_insync on its own subscribes to the account summary at each 1102 (IB allows two such
    # subscriptions); its future then fails unawaited when the socket drops.
    synced = record(broker.session.synced)
    seen = inbound(gateway)

    for count in range(1, 4):
        gateway.faults.lose_connectivity(restore_after=0.0, data_maintained=True)
        await wait_for(lambda n=count: len(synced) == n, what="the resync after 1102")

    assert seen.count(REQ_ACCOUNT_SUMMARY) == 0
    assert seen.count(REQ_OPEN_ORDERS_ALL) == 3, "each 1102 reloads the orders"


@pytest.mark.parametrize(
    ("farm", "name"),
    [("market", "usfarm"), ("hmds", "ushmds"), ("secdef", "secdefnj")],
)
async def test_a_farm_flap_degrades_without_disconnecting(
    farm: str,
    name: str,
    gateway: PaperGateway,
    broker: Broker,
    record: Record,
    wait_for: WaitFor,
) -> None:
    seen = record(broker.session.health_changed)
    ended = record(broker.session.ended)
    messages = record(broker.session.ib_message)
    socket = gateway.connections

    gateway.faults.farm_broken(farm)
    await wait_for(lambda: broker.session.state is DEGRADED, what="degraded by the farm")
    (broken,) = broker.session.health.broken_farms
    assert broken.endswith(name)
    assert broker.session.order_entry_block() == "", "a farm outage does not block orders"
    gateway.faults.farm_ok(farm)

    await wait_for(lambda: broker.session.state is CONNECTED, what="the farm back")
    assert states(seen) == [DEGRADED, CONNECTED]
    assert ended.values == []
    assert gateway.connections == socket
    categories = [m.category for _, m in messages.values]
    assert categories == [IbCategory.FARM_BROKEN, IbCategory.FARM_OK]


async def test_a_second_broken_farm_is_emitted_while_already_degraded(
    gateway: PaperGateway, broker: Broker, record: Record, wait_for: WaitFor
) -> None:
    seen = record(broker.session.health_changed)

    gateway.faults.farm_broken("market")
    gateway.faults.farm_broken("hmds")

    await wait_for(
        lambda: any(len(s.broken_farms) == 2 for s in seen.values),
        what="both broken farms in an emitted snapshot",
    )
    gateway.faults.farm_ok("market")
    gateway.faults.farm_ok("hmds")
    await wait_for(lambda: seen.values[-1].broken_farms == (), what="both farms back, emitted")
    assert broker.session.state is CONNECTED


async def test_ib_messages_are_classified_with_their_request_id(
    gateway: PaperGateway, broker: Broker, record: Record, wait_for: WaitFor
) -> None:
    messages = record(broker.session.ib_message)

    gateway.faults.farm_flap("market")

    await wait_for(lambda: len(messages) == 2, what="2103 then 2104")
    req_ids = [req_id for req_id, _ in messages.values]
    classified: list[IbMessage] = [m for _, m in messages.values]
    assert req_ids == [-1, -1]
    assert [m.code for m in classified] == [2103, 2104]
    assert classified[0].farm == "market data usfarm"
    assert "down" in classified[0].sentence


# --------------------------------------------------------------------------- throttling, stop


async def test_client_side_throttling_is_reported_as_it_starts_and_ends(
    broker: Broker, record: Record, wait_for: WaitFor
) -> None:
    flags = record(broker.session.throttled)

    for _ in range(60):
        broker.session.ib.client.reqCurrentTime()

    await wait_for(lambda: flags.values == [True, False], what="throttling on, then off")
    assert not broker.session.is_throttled
    assert broker.session.state is CONNECTED


@pytest.mark.expect_log_warnings
async def test_throttling_ends_with_the_socket_and_heartbeats_resume(
    gateway: PaperGateway,
    make_broker: BrokerFactory,
    fast_health: HealthSettings,
    record: Record,
    wait_for: WaitFor,
) -> None:
    # ib_insync discards its queue of paced requests with the socket without emitting
    # throttleEnd; heartbeats skip while throttled, so a stale flag would stop them for good.
    broker = make_broker(gateway, health=replace(fast_health, heartbeat_timeout=SHORT_BEAT))
    await broker.start()
    flags = record(broker.session.throttled)
    synced = record(broker.session.synced)
    for _ in range(60):
        broker.session.ib.client.reqCurrentTime()
    assert broker.session.is_throttled

    gateway.faults.drop()
    await wait_for(lambda: synced.values, what="the resync after the drop")

    assert flags.values == [True, False]
    assert not broker.session.is_throttled
    gateway.faults.stop_answering()
    await wait_for(
        lambda: broker.session.state is not CONNECTED, what="the heartbeat to notice the silence"
    )
    gateway.faults.resume_answering()


async def test_stop_leaves_no_task_timer_or_socket_behind(
    gateway: PaperGateway, broker: Broker, wait_for: WaitFor
) -> None:
    assert any(t.get_name() == "heartbeat" for t in asyncio.all_tasks())

    await broker.stop()

    assert asyncio.all_tasks() == {asyncio.current_task()}
    assert broker.session.state is HealthState.DISCONNECTED
    assert broker.session.health.reconnect_at is None
    assert not broker.session.ib.isConnected()
    await wait_for(lambda: not gateway.connections, what="the gateway to see the socket close")


def test_the_default_backoff_waits_longer_than_ib_holds_a_client_id() -> None:
    # IB keeps a dropped session's clientId for a few seconds; retrying sooner earns 326.
    assert BackoffPolicy().min_delay >= timedelta(seconds=5)
