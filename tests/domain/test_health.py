"""Connection health: the state machine's transitions, backoff, circuit breaker and heartbeat stats."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ibconsole.domain.clock import ManualClock
from ibconsole.domain.health import (
    Alert,
    AllowOrderEntry,
    Backoff,
    BackoffPolicy,
    BlockOrderEntry,
    BreakerPolicy,
    BreakerReset,
    BreakerState,
    CancelReconnect,
    CircuitBreaker,
    CloseSocket,
    Connected,
    ConnectFailed,
    ConnectivityLost,
    ConnectivityRestored,
    ConnectRequested,
    FarmBroken,
    FarmOk,
    HealthAction,
    HealthEvent,
    HealthMachine,
    HealthSettings,
    HealthState,
    HeartbeatFailed,
    HeartbeatOk,
    HeartbeatStats,
    Jitter,
    ReconnectDue,
    Resubscribe,
    Resync,
    ScheduleReconnect,
    SocketLost,
    StartConnect,
    Synced,
    Transition,
    UserDisconnect,
    event_for,
)
from ibconsole.domain.ib_codes import classify

T0 = datetime(2025, 3, 3, 15, 0, tzinfo=UTC)
S = HealthState
SETTINGS = HealthSettings(
    heartbeat_failures_before_reconnect=3,
    backoff=BackoffPolicy(min_delay=timedelta(seconds=5), max_delay=timedelta(seconds=60)),
    breaker=BreakerPolicy(
        failure_threshold=3, window=timedelta(minutes=5), cooldown=timedelta(minutes=2)
    ),
)


def machine(clock: ManualClock | None = None) -> HealthMachine:
    return HealthMachine(SETTINGS, clock or ManualClock(T0), random.Random(3))


def connected_machine(clock: ManualClock | None = None) -> HealthMachine:
    m = machine(clock)
    m.handle(ConnectRequested())
    m.handle(Connected(1))
    m.handle(Synced(1))
    assert m.state is S.CONNECTED
    return m


def kinds(transition: Transition) -> list[type]:
    return [type(a) for a in transition.actions]


def scheduled(transition: Transition) -> ScheduleReconnect:
    found = [a for a in transition.actions if isinstance(a, ScheduleReconnect)]
    assert len(found) == 1, transition.actions
    return found[0]


# --- connecting ------------------------------------------------------------------------------


def test_connect_sync_and_allow_order_entry() -> None:
    m = machine()
    assert (m.state, m.order_entry_allowed) == (S.DISCONNECTED, False)
    t1 = m.handle(ConnectRequested())
    assert (t1.previous, t1.state, t1.actions) == (S.DISCONNECTED, S.CONNECTING, (StartConnect(1),))
    t2 = m.handle(Connected(1))
    assert (t2.state, t2.actions) == (S.SYNCING, (Resync(),))
    assert not m.order_entry_allowed
    t3 = m.handle(Synced(1))
    assert (t3.state, t3.actions) == (S.CONNECTED, (AllowOrderEntry(),))
    assert m.order_entry_allowed
    assert t3.reason == "Connected and in sync."
    assert m.snapshot().since == T0


def test_connect_request_while_busy_changes_nothing() -> None:
    m = connected_machine()
    t = m.handle(ConnectRequested())
    assert not t.changed
    assert t.actions == ()


def test_failed_first_attempt_backs_off_at_least_the_client_id_release_time() -> None:
    clock = ManualClock(T0)
    m = machine(clock)
    m.handle(ConnectRequested())
    t = m.handle(ConnectFailed(1, "connection refused"))
    assert t.state is S.RECONNECTING
    retry = scheduled(t)
    assert retry.attempt == 2
    assert T0 + timedelta(seconds=5) <= retry.at <= T0 + timedelta(seconds=60)
    assert "connection refused" in t.reason
    assert "Reconnecting in" in t.reason
    clock.set(retry.at)
    assert m.handle(ReconnectDue(1)).actions == ()  # a stale timer does nothing
    again = m.handle(ReconnectDue(2))
    assert (again.state, again.actions) == (S.RECONNECTING, (StartConnect(2),))
    assert m.handle(Connected(2)).state is S.SYNCING


def test_sync_that_fails_closes_the_socket_and_retries() -> None:
    m = machine()
    m.handle(ConnectRequested())
    m.handle(Connected(1))
    t = m.handle(ConnectFailed(1, "positions request timed out"))
    assert t.state is S.RECONNECTING
    assert kinds(t) == [CloseSocket, ScheduleReconnect]


def test_results_of_an_old_attempt_are_ignored() -> None:
    m = machine()
    m.handle(ConnectRequested())
    m.handle(ConnectFailed(1, "refused"))
    assert m.handle(Connected(1)).actions == ()
    assert m.handle(ConnectFailed(1, "refused")).actions == ()
    assert m.state is S.RECONNECTING


# --- circuit breaker in the machine -----------------------------------------------------------


def fail_until_open(m: HealthMachine, clock: ManualClock) -> Transition:
    t = m.handle(ConnectRequested())
    attempt = 1
    while True:
        t = m.handle(ConnectFailed(attempt, "refused"))
        if t.state is S.CIRCUIT_OPEN:
            return t
        retry = scheduled(t)
        clock.set(retry.at)
        m.handle(ReconnectDue(retry.attempt))
        attempt = retry.attempt


def test_repeated_failures_open_the_breaker_loudly_and_wait_out_the_cooldown() -> None:
    clock = ManualClock(T0)
    m = machine(clock)
    t = fail_until_open(m, clock)
    assert m.breaker.state is BreakerState.OPEN
    alerts = [a for a in t.actions if isinstance(a, Alert)]
    assert alerts
    assert alerts[0].critical
    assert "paused" not in t.reason or "reset" in t.reason
    retry = scheduled(t)
    assert retry.at == m.breaker.reopens_at
    # A timer that fires early lets nothing through.
    early = m.handle(ReconnectDue(retry.attempt))
    assert StartConnect not in kinds(early)
    assert early.state is S.CIRCUIT_OPEN
    clock.set(retry.at)
    trial = m.handle(ReconnectDue(scheduled(early).attempt))
    assert trial.state is S.RECONNECTING
    (start,) = [a for a in trial.actions if isinstance(a, StartConnect)]
    assert state_of(m.breaker) is BreakerState.HALF_OPEN
    # The trial fails: open again for another cooldown.
    reopened = m.handle(ConnectFailed(start.attempt, "refused"))
    assert reopened.state is S.CIRCUIT_OPEN
    assert scheduled(reopened).at == clock.now() + timedelta(minutes=2)


def test_a_successful_trial_closes_the_breaker() -> None:
    clock = ManualClock(T0)
    m = machine(clock)
    retry = scheduled(fail_until_open(m, clock))
    clock.set(retry.at)
    (start,) = [
        a for a in m.handle(ReconnectDue(retry.attempt)).actions if isinstance(a, StartConnect)
    ]
    m.handle(Connected(start.attempt))
    assert m.handle(Synced(start.attempt)).state is S.CONNECTED
    assert m.breaker.state is BreakerState.CLOSED


def test_user_reset_of_the_breaker_connects_at_once() -> None:
    clock = ManualClock(T0)
    m = machine(clock)
    fail_until_open(m, clock)
    t = m.handle(BreakerReset())
    assert t.state is S.RECONNECTING
    assert kinds(t) == [CancelReconnect, StartConnect]
    assert m.breaker.state is BreakerState.CLOSED


def test_disconnecting_during_the_trial_attempt_frees_the_trial() -> None:
    clock = ManualClock(T0)
    m = machine(clock)
    retry = scheduled(fail_until_open(m, clock))
    clock.set(retry.at)
    m.handle(ReconnectDue(retry.attempt))
    m.handle(UserDisconnect())
    t = m.handle(ConnectRequested())
    assert t.state is S.CONNECTING
    assert StartConnect in kinds(t)


def test_connect_request_while_the_breaker_is_open_does_not_attempt() -> None:
    clock = ManualClock(T0)
    m = machine(clock)
    fail_until_open(m, clock)
    m.handle(UserDisconnect())
    t = m.handle(ConnectRequested())
    assert t.state is S.CIRCUIT_OPEN
    assert StartConnect not in kinds(t)
    assert "paused" in t.reason


# --- heartbeats ------------------------------------------------------------------------------


def test_heartbeat_failures_degrade_then_escalate_to_a_reconnect_never_silently() -> None:
    m = connected_machine()
    first = m.handle(HeartbeatFailed("no reply in 5 s"))
    assert first.state is S.DEGRADED
    assert first.reason == "Heartbeat 1 of 3 failed: no reply in 5 s."
    assert kinds(first) == [BlockOrderEntry]
    second = m.handle(HeartbeatFailed("no reply in 5 s"))
    assert (second.state, second.actions) == (S.DEGRADED, ())
    third = m.handle(HeartbeatFailed("no reply in 5 s"))
    assert third.state is S.RECONNECTING
    assert kinds(third) == [CloseSocket, Alert, ScheduleReconnect]
    assert "3 heartbeats in a row failed" in third.reason


def test_an_answered_heartbeat_after_silence_resyncs_before_orders_are_allowed() -> None:
    m = connected_machine()
    m.handle(HeartbeatFailed("timeout"))
    t = m.handle(HeartbeatOk(timedelta(milliseconds=12)))
    assert t.state is S.SYNCING
    assert t.actions == (Resync(),)
    assert "12 ms" in t.reason
    assert not m.order_entry_allowed
    t = m.handle(Synced(m.snapshot().attempt))
    assert t.state is S.CONNECTED
    assert t.actions == (AllowOrderEntry(),)
    m.handle(HeartbeatFailed("timeout"))
    m.handle(HeartbeatFailed("timeout"))
    assert m.state is S.DEGRADED  # the count started again from zero


def test_heartbeat_failures_during_a_resync_still_escalate() -> None:
    m = connected_machine()
    m.handle(ConnectivityRestored(data_lost=False))
    assert m.state is S.SYNCING
    for _ in range(2):
        assert m.handle(HeartbeatFailed("timeout")).state is S.SYNCING
    assert m.handle(HeartbeatFailed("timeout")).state is S.RECONNECTING


def test_heartbeat_statistics_reach_the_snapshot() -> None:
    clock = ManualClock(T0)
    m = connected_machine(clock)
    m.handle(HeartbeatOk(timedelta(milliseconds=10)))
    clock.advance(timedelta(seconds=3))
    snap = m.snapshot()
    assert snap.heartbeat.last_rtt == timedelta(milliseconds=10)
    assert snap.heartbeat.last_message_age == timedelta(seconds=3)


# --- socket and user -------------------------------------------------------------------------


def test_socket_lost_reconnects_with_an_alert_and_blocks_orders() -> None:
    m = connected_machine()
    t = m.handle(SocketLost("connection reset by peer"))
    assert t.state is S.RECONNECTING
    assert kinds(t) == [BlockOrderEntry, Alert, ScheduleReconnect]
    assert "connection reset by peer" in t.reason


def test_socket_lost_after_a_user_disconnect_changes_nothing() -> None:
    m = connected_machine()
    m.handle(UserDisconnect())
    assert m.handle(SocketLost("closed")).actions == ()
    assert m.state is S.DISCONNECTED


def test_user_disconnect_during_reconnect_wins() -> None:
    clock = ManualClock(T0)
    m = connected_machine(clock)
    retry = scheduled(m.handle(SocketLost("reset")))
    t = m.handle(UserDisconnect())
    assert t.state is S.DISCONNECTED
    assert kinds(t) == [CancelReconnect, CloseSocket]
    clock.set(retry.at)
    assert m.handle(ReconnectDue(retry.attempt)).actions == ()
    assert m.state is S.DISCONNECTED


def test_an_attempt_that_completes_after_the_user_disconnected_is_closed() -> None:
    m = machine()
    m.handle(ConnectRequested())
    m.handle(UserDisconnect())
    late = m.handle(Connected(1))
    assert late.state is S.DISCONNECTED
    assert late.actions == (CloseSocket(),)
    assert m.handle(Synced(1)).actions == ()
    assert not m.order_entry_allowed


def test_disconnect_when_disconnected_changes_nothing() -> None:
    assert machine().handle(UserDisconnect()).actions == ()


# --- farms and IB connectivity ---------------------------------------------------------------


def test_farm_flap_degrades_keeps_orders_open_and_resubscribes_on_return() -> None:
    m = connected_machine()
    broken = m.handle(FarmBroken("market data usfarm"))
    assert (broken.state, broken.actions) == (S.DEGRADED, ())
    assert m.order_entry_allowed
    assert m.snapshot().broken_farms == ("market data usfarm",)
    assert m.handle(FarmBroken("market data usfarm")).actions == ()
    ok = m.handle(FarmOk("market data usfarm"))
    assert (ok.state, ok.actions) == (S.CONNECTED, (Resubscribe(),))


def test_farm_ok_for_a_farm_never_broken_changes_nothing() -> None:
    m = connected_machine()
    assert m.handle(FarmOk("market data usfarm")).actions == ()


def test_two_broken_farms_stay_degraded_until_both_return() -> None:
    m = connected_machine()
    m.handle(FarmBroken("market data usfarm"))
    m.handle(FarmBroken("historical data ushmds"))
    t = m.handle(FarmOk("market data usfarm"))
    assert t.state is S.DEGRADED
    assert "historical data ushmds farm is down" in t.reason
    assert m.handle(FarmOk("historical data ushmds")).state is S.CONNECTED


def test_1100_blocks_order_entry_until_1101_and_a_resync() -> None:
    m = connected_machine()
    lost = m.handle(ConnectivityLost())
    assert lost.state is S.DEGRADED
    assert kinds(lost) == [BlockOrderEntry, Alert]
    assert not m.order_entry_allowed
    # A farm coming back does not lift the block.
    m.handle(FarmBroken("market data usfarm"))
    m.handle(FarmOk("market data usfarm"))
    assert not m.order_entry_allowed
    restored = m.handle(ConnectivityRestored(data_lost=True))
    assert (restored.state, restored.actions) == (S.SYNCING, (Resubscribe(), Resync()))
    assert not m.order_entry_allowed
    synced = m.handle(Synced(1))
    assert (synced.state, synced.actions) == (S.CONNECTED, (AllowOrderEntry(),))


def test_1102_resyncs_without_resubscribing() -> None:
    m = connected_machine()
    m.handle(ConnectivityLost())
    assert m.handle(ConnectivityRestored(data_lost=False)).actions == (Resync(),)


@pytest.mark.parametrize(
    ("code", "text", "event"),
    [
        (2103, "Market data farm connection is broken:usfarm", FarmBroken("market data usfarm")),
        (2104, "Market data farm connection is OK:usfarm", FarmOk("market data usfarm")),
        (2157, "Sec-def data farm connection is broken:secdefnj", FarmBroken("contract definition secdefnj")),
        (1100, "Connectivity between IB and TWS has been lost.", ConnectivityLost()),
        (1101, "restored - data lost", ConnectivityRestored(data_lost=True)),
        (1102, "restored - data maintained", ConnectivityRestored(data_lost=False)),
        (2108, "Market data farm connection is inactive but should be available upon demand.usfarm", None),
        (201, "Order rejected - reason:margin", None),
    ],
)  # fmt: skip
def test_ib_messages_become_health_events(code: int, text: str, event: HealthEvent | None) -> None:
    assert event_for(classify(code, text)) == event


# --- properties of the machine ---------------------------------------------------------------

events = st.one_of(
    st.just(ConnectRequested()),
    st.integers(0, 6).map(Connected),
    st.integers(0, 6).map(lambda a: ConnectFailed(a, "refused")),
    st.integers(0, 6).map(Synced),
    st.just(HeartbeatOk(timedelta(milliseconds=5))),
    st.just(HeartbeatFailed("timeout")),
    st.just(SocketLost("reset")),
    st.sampled_from(["a", "b"]).map(FarmBroken),
    st.sampled_from(["a", "b"]).map(FarmOk),
    st.just(ConnectivityLost()),
    st.booleans().map(ConnectivityRestored),
    st.just(UserDisconnect()),
    st.just(BreakerReset()),
    st.integers(0, 6).map(ReconnectDue),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(events, st.integers(0, 200)), max_size=40))
def test_machine_invariants(steps: list[tuple[HealthEvent, int]]) -> None:
    clock = ManualClock(T0)
    m = machine(clock)
    allowed = False
    for event, seconds in steps:
        clock.advance(timedelta(seconds=seconds))
        breaker_before = m.breaker.state
        reopens_at = m.breaker.reopens_at
        t = m.handle(event)
        actions: list[HealthAction] = list(t.actions)
        assert t.state is m.state
        if t.changed:
            assert t.reason
        if any(isinstance(a, StartConnect) for a in actions) and not isinstance(
            event, BreakerReset
        ):
            # Never through an open breaker whose cooldown is still running.
            assert not (
                breaker_before is BreakerState.OPEN
                and reopens_at is not None
                and clock.now() < reopens_at
            )
        if isinstance(event, UserDisconnect):
            assert m.state is S.DISCONNECTED
            assert not any(isinstance(a, (StartConnect, ScheduleReconnect)) for a in actions)
        if m.order_entry_allowed:
            assert m.state in (S.CONNECTED, S.DEGRADED)
            assert not m.snapshot().connectivity_lost
        # Block/Allow actions are emitted exactly when the permission flips.
        if any(isinstance(a, AllowOrderEntry) for a in actions):
            assert not allowed
            assert m.order_entry_allowed
        if any(isinstance(a, BlockOrderEntry) for a in actions):
            assert allowed
            assert not m.order_entry_allowed
        assert allowed == m.order_entry_allowed or any(
            isinstance(a, (AllowOrderEntry, BlockOrderEntry)) for a in actions
        )
        allowed = m.order_entry_allowed
        if m.state in (S.RECONNECTING, S.CIRCUIT_OPEN) and t.changed:
            assert any(isinstance(a, (StartConnect, ScheduleReconnect)) for a in actions)


# --- backoff ---------------------------------------------------------------------------------


def test_full_jitter_starts_at_the_minimum_and_grows_within_the_ceiling() -> None:
    policy = BackoffPolicy(min_delay=timedelta(seconds=5), max_delay=timedelta(seconds=60))
    backoff = Backoff(policy, random.Random(1))
    assert backoff.next_delay() == timedelta(seconds=5)
    delays = [backoff.next_delay() for _ in range(10)]
    assert all(timedelta(seconds=5) <= d <= timedelta(seconds=60) for d in delays)
    assert [policy.ceiling(n).total_seconds() for n in range(6)] == [5, 10, 20, 40, 60, 60]
    backoff.reset()
    assert backoff.failures == 0
    assert backoff.next_delay() == timedelta(seconds=5)


def test_ceiling_stays_finite_after_very_many_failures() -> None:
    policy = BackoffPolicy(multiplier=10.0)
    assert policy.ceiling(10_000) == policy.max_delay


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"min_delay": timedelta(0)}, "min_delay must be above zero"),
        ({"max_delay": timedelta(seconds=1)}, "must not be below min_delay"),
        ({"multiplier": 0.5}, "multiplier must be 1 or more"),
        ({"multiplier": float("nan")}, "multiplier must be 1 or more"),
    ],
)
def test_bad_backoff_policies_are_refused(changes: dict[str, object], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        BackoffPolicy(**changes)  # type: ignore[arg-type]


@settings(deadline=None)
@given(
    st.floats(min_value=0.1, max_value=30),
    st.floats(min_value=0, max_value=300),
    st.floats(min_value=1, max_value=4),
    st.sampled_from(list(Jitter)),
    st.integers(0, 2**32),
    st.integers(1, 40),
)
def test_backoff_delays_stay_within_bounds_and_caps_never_shrink(
    low: float, extra: float, multiplier: float, jitter: Jitter, seed: int, count: int
) -> None:
    policy = BackoffPolicy(
        min_delay=timedelta(seconds=low),
        max_delay=timedelta(seconds=low + extra),
        multiplier=multiplier,
        jitter=jitter,
    )
    backoff = Backoff(policy, random.Random(seed))
    for n in range(count):
        delay = backoff.next_delay()
        assert policy.min_delay <= delay <= policy.max_delay
        assert policy.ceiling(n) <= policy.ceiling(n + 1)
        if jitter is Jitter.FULL:
            assert delay <= policy.ceiling(n)


# --- circuit breaker -------------------------------------------------------------------------


def state_of(breaker: CircuitBreaker) -> BreakerState:
    """Read afresh each time (a direct ``breaker.state`` would be narrowed by mypy)."""
    return breaker.state


def test_breaker_opens_after_threshold_failures_within_the_window() -> None:
    clock = ManualClock(T0)
    breaker = CircuitBreaker(
        BreakerPolicy(
            failure_threshold=3, window=timedelta(minutes=1), cooldown=timedelta(minutes=2)
        ),
        clock,
    )
    for _ in range(2):
        assert breaker.try_acquire()
        breaker.record_failure()
    # The first two age out of the window, so two more do not open it.
    clock.advance(timedelta(minutes=2))
    for _ in range(2):
        assert breaker.try_acquire()
        breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.recent_failures == 2
    assert breaker.try_acquire()
    breaker.record_failure()
    assert state_of(breaker) is BreakerState.OPEN
    assert breaker.reopens_at == clock.now() + timedelta(minutes=2)
    assert not breaker.try_acquire()
    clock.advance(timedelta(minutes=2))
    assert breaker.try_acquire()  # the half-open trial
    assert state_of(breaker) is BreakerState.HALF_OPEN
    assert not breaker.try_acquire()  # only one trial at a time
    breaker.record_success()
    assert state_of(breaker) is BreakerState.CLOSED
    assert breaker.reopens_at is None


@pytest.mark.parametrize(
    "changes",
    [{"failure_threshold": 0}, {"window": timedelta(0)}, {"cooldown": timedelta(seconds=-1)}],
)
def test_bad_breaker_policies_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="must be"):
        BreakerPolicy(**changes)  # type: ignore[arg-type]


breaker_ops = st.lists(
    st.one_of(
        st.tuples(st.just("advance"), st.integers(0, 90)),
        st.tuples(st.sampled_from(["try", "fail", "succeed", "reset"]), st.just(0)),
    ),
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(breaker_ops)
def test_breaker_never_lets_an_attempt_through_while_open(ops: list[tuple[str, int]]) -> None:
    clock = ManualClock(T0)
    policy = BreakerPolicy(
        failure_threshold=3, window=timedelta(seconds=60), cooldown=timedelta(seconds=45)
    )
    breaker = CircuitBreaker(policy, clock)
    # An independent model: when the breaker last opened (None if closed by success or reset).
    failures: list[datetime] = []
    opened_at: datetime | None = None
    trial = False
    for op, seconds in ops:
        now = clock.now()
        if op == "advance":
            clock.advance(timedelta(seconds=seconds))
        elif op == "try":
            granted = breaker.try_acquire()
            if opened_at is not None and now < opened_at + policy.cooldown:
                assert not granted
            if opened_at is not None and granted:
                assert not trial
                trial = True
            if opened_at is None:
                assert granted
        elif op == "fail":
            breaker.record_failure()
            if opened_at is not None:
                opened_at, trial = now, False
            else:
                failures = [f for f in failures if now - f <= policy.window] + [now]
                if len(failures) >= policy.failure_threshold:
                    opened_at, failures = now, []
        else:
            getattr(breaker, "record_success" if op == "succeed" else "reset")()
            failures, opened_at, trial = [], None, False
        assert (breaker.state is BreakerState.CLOSED) == (opened_at is None)


# --- heartbeat statistics --------------------------------------------------------------------


def test_heartbeat_stats() -> None:
    stats = HeartbeatStats(window=20)
    empty = stats.snapshot(T0)
    assert (empty.last_rtt, empty.mean_rtt, empty.p95_rtt, empty.samples) == (None, None, None, 0)
    assert empty.last_message_age is None
    for ms in range(1, 21):
        stats.record_rtt(timedelta(milliseconds=ms), T0 + timedelta(seconds=ms))
    snap = stats.snapshot(T0 + timedelta(seconds=25))
    assert snap.last_rtt == timedelta(milliseconds=20)
    assert snap.mean_rtt == timedelta(microseconds=10_500)
    assert snap.p95_rtt == timedelta(milliseconds=19)
    assert snap.samples == 20
    assert snap.last_message_age == timedelta(seconds=5)
    stats.record_rtt(timedelta(milliseconds=100), T0 + timedelta(seconds=26))
    assert stats.snapshot(T0 + timedelta(seconds=26)).samples == 20  # the window rolls
    stats.record_message(T0)  # an older timestamp never makes the last message look older
    assert stats.snapshot(T0 + timedelta(seconds=26)).last_message_age == timedelta(0)


def test_heartbeat_stats_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="at least one sample"):
        HeartbeatStats(window=0)
    with pytest.raises(ValueError, match="negative"):
        HeartbeatStats().record_rtt(timedelta(milliseconds=-1), T0)


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"heartbeat_interval": timedelta(0)}, "heartbeat_interval"),
        ({"heartbeat_timeout": timedelta(seconds=-1)}, "heartbeat_timeout"),
        ({"heartbeat_failures_before_reconnect": 0}, "heartbeat_failures_before_reconnect"),
    ],
)
def test_bad_health_settings_are_refused(changes: dict[str, object], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        HealthSettings(**changes)  # type: ignore[arg-type]


def test_applied_settings_count_from_the_next_event_and_keep_the_state() -> None:
    clock = ManualClock(T0)
    m = connected_machine(clock)
    m.handle(HeartbeatOk(timedelta(milliseconds=5)))
    m.handle(HeartbeatOk(timedelta(milliseconds=7)))
    m.handle(HeartbeatFailed("late"))
    stricter = HealthSettings(
        heartbeat_failures_before_reconnect=2,
        heartbeat_window=1,
        backoff=BackoffPolicy(min_delay=timedelta(seconds=30), max_delay=timedelta(seconds=40)),
        breaker=SETTINGS.breaker,
    )

    m.apply(stricter)

    assert m.state is S.DEGRADED  # changing settings reconnects nothing by itself
    assert m.snapshot().heartbeat.samples == 1  # the newest round trip is kept
    assert m.snapshot().heartbeat.last_rtt == timedelta(milliseconds=7)
    escalated = m.handle(HeartbeatFailed("late again"))  # the 2nd failure of 2 now reconnects
    assert escalated.state is S.RECONNECTING
    retry = scheduled(escalated)
    assert timedelta(seconds=30) <= retry.at - clock.now() <= timedelta(seconds=40)
