"""Connection health: a state machine fed by session events that answers with actions and a reason.

The broker reports what happened (connected, heartbeat failed, IB code 1100, ...) and performs
the actions it gets back (connect, schedule a reconnect, resync, block order entry, ...).
Reconnects back off with jitter and stop at a circuit breaker after repeated failures.
"""

from __future__ import annotations

import logging
import math
import random
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from ibconsole.domain.clock import Clock
from ibconsole.domain.ib_codes import IbCategory, IbMessage

__all__ = [
    "Alert",
    "AllowOrderEntry",
    "Backoff",
    "BackoffPolicy",
    "BlockOrderEntry",
    "BreakerPolicy",
    "BreakerReset",
    "BreakerState",
    "CancelReconnect",
    "CircuitBreaker",
    "CloseSocket",
    "ConnectFailed",
    "ConnectRequested",
    "Connected",
    "ConnectivityLost",
    "ConnectivityRestored",
    "FarmBroken",
    "FarmOk",
    "HealthAction",
    "HealthEvent",
    "HealthMachine",
    "HealthSettings",
    "HealthSnapshot",
    "HealthState",
    "HeartbeatFailed",
    "HeartbeatOk",
    "HeartbeatSnapshot",
    "HeartbeatStats",
    "Jitter",
    "ReconnectDue",
    "Resubscribe",
    "Resync",
    "ScheduleReconnect",
    "SocketLost",
    "StartConnect",
    "Synced",
    "Transition",
    "UserDisconnect",
    "event_for",
]

_log = logging.getLogger(__name__)


class HealthState(StrEnum):
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    SYNCING = "syncing"
    CONNECTED = "connected"
    DEGRADED = "degraded"
    RECONNECTING = "reconnecting"
    CIRCUIT_OPEN = "circuit_open"


# --- backoff ---------------------------------------------------------------------------------


class Jitter(StrEnum):
    FULL = "full"
    DECORRELATED = "decorrelated"


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    """Reconnect delays grow from ``min_delay`` by ``multiplier`` up to ``max_delay``.

    ``min_delay`` is also the shortest delay ever used: IB holds a dropped session's clientId for
    a few seconds, and reconnecting sooner only earns error 326 (clientId in use).
    """

    min_delay: timedelta = timedelta(seconds=5)
    max_delay: timedelta = timedelta(seconds=60)
    multiplier: float = 2.0
    jitter: Jitter = Jitter.FULL

    def __post_init__(self) -> None:
        if self.min_delay <= timedelta(0):
            raise ValueError(f"min_delay must be above zero, got {self.min_delay}")
        if self.max_delay < self.min_delay:
            raise ValueError(
                f"max_delay ({self.max_delay}) must not be below min_delay ({self.min_delay})"
            )
        if not self.multiplier >= 1:
            raise ValueError(f"multiplier must be 1 or more, got {self.multiplier}")

    def ceiling(self, failures: int) -> timedelta:
        """The longest delay after ``failures`` earlier attempts (never decreasing in it)."""
        low, high = self.min_delay.total_seconds(), self.max_delay.total_seconds()
        # Compared in logarithms so that no failure count makes the power overflow.
        if self.multiplier > 1 and failures * math.log(self.multiplier) >= math.log(high / low):
            return self.max_delay
        return min(self.max_delay, timedelta(seconds=low * self.multiplier**failures))


class Backoff:
    """Delays between reconnect attempts, randomised so many clients do not retry in step.

    FULL jitter draws uniformly between ``min_delay`` and the current ceiling; DECORRELATED draws
    between ``min_delay`` and three times the previous delay, capped at ``max_delay``.
    """

    def __init__(self, policy: BackoffPolicy, rng: random.Random) -> None:
        self._policy = policy
        self._rng = rng
        self._failures = 0
        self._previous = policy.min_delay

    @property
    def failures(self) -> int:
        return self._failures

    def use(self, policy: BackoffPolicy) -> None:
        """Draw the next delays by ``policy``; the failures counted so far still count."""
        self._policy = policy

    def next_delay(self) -> timedelta:
        policy = self._policy
        low = policy.min_delay.total_seconds()
        if policy.jitter is Jitter.FULL:
            high = policy.ceiling(self._failures).total_seconds()
        else:
            high = min(policy.max_delay.total_seconds(), self._previous.total_seconds() * 3)
        delay = timedelta(seconds=self._rng.uniform(low, high))
        delay = min(max(delay, policy.min_delay), policy.max_delay)
        self._failures += 1
        self._previous = delay
        return delay

    def reset(self) -> None:
        self._failures = 0
        self._previous = self._policy.min_delay


# --- circuit breaker -------------------------------------------------------------------------


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    """``failure_threshold`` failed connects within ``window`` open the breaker for ``cooldown``."""

    failure_threshold: int = 5
    window: timedelta = timedelta(minutes=5)
    cooldown: timedelta = timedelta(minutes=2)

    def __post_init__(self) -> None:
        if self.failure_threshold < 1:
            raise ValueError(f"failure_threshold must be 1 or more, got {self.failure_threshold}")
        if self.window <= timedelta(0) or self.cooldown <= timedelta(0):
            raise ValueError(
                f"window and cooldown must be above zero, got {self.window} and {self.cooldown}"
            )


class CircuitBreaker:
    """Stops connect attempts after repeated failures until a cooldown passes or the user resets.

    After the cooldown one trial attempt is let through (half-open): success closes the breaker,
    failure opens it for another cooldown.
    """

    def __init__(self, policy: BreakerPolicy, clock: Clock) -> None:
        self._policy = policy
        self._clock = clock
        self._failures: deque[datetime] = deque()
        self._state = BreakerState.CLOSED
        self._opened_at: datetime | None = None
        self._trial_in_flight = False

    def use(self, policy: BreakerPolicy) -> None:
        """Judge by ``policy`` from now on; the failures recorded and the state stay."""
        self._policy = policy

    @property
    def state(self) -> BreakerState:
        return self._state

    @property
    def reopens_at(self) -> datetime | None:
        """When an open breaker next lets a trial attempt through; ``None`` unless open."""
        if self._state is not BreakerState.OPEN or self._opened_at is None:
            return None
        return self._opened_at + self._policy.cooldown

    def _recent_failures(self, now: datetime) -> int:
        while self._failures and now - self._failures[0] > self._policy.window:
            self._failures.popleft()
        return len(self._failures)

    @property
    def recent_failures(self) -> int:
        return self._recent_failures(self._clock.now())

    def try_acquire(self) -> bool:
        """Ask to make one connect attempt now; False means wait."""
        if self._state is BreakerState.CLOSED:
            return True
        if self._state is BreakerState.OPEN:
            reopens_at = self.reopens_at
            if reopens_at is None or self._clock.now() < reopens_at:
                return False
            self._state = BreakerState.HALF_OPEN
        if self._trial_in_flight:
            return False
        self._trial_in_flight = True
        return True

    def record_failure(self) -> None:
        now = self._clock.now()
        self._trial_in_flight = False
        if self._state is BreakerState.CLOSED:
            self._failures.append(now)
            if self._recent_failures(now) < self._policy.failure_threshold:
                return
        self._state = BreakerState.OPEN
        self._opened_at = now
        self._failures.clear()

    def record_success(self) -> None:
        self.reset()

    def abandon(self) -> None:
        """The attempt let through will report nothing (the user cancelled it): free the trial."""
        self._trial_in_flight = False

    def reset(self) -> None:
        self._state = BreakerState.CLOSED
        self._opened_at = None
        self._trial_in_flight = False
        self._failures.clear()


# --- heartbeat statistics --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HeartbeatSnapshot:
    last_rtt: timedelta | None
    mean_rtt: timedelta | None
    p95_rtt: timedelta | None
    samples: int
    last_message_age: timedelta | None


class HeartbeatStats:
    """Round-trip times of the last ``window`` heartbeats and the time of the last message."""

    def __init__(self, window: int = 100) -> None:
        if window < 1:
            raise ValueError(f"window must hold at least one sample, got {window}")
        self._rtts: deque[timedelta] = deque(maxlen=window)
        self._last_message: datetime | None = None

    def resize(self, window: int) -> None:
        """Keep the last ``window`` round trips from now on (the newest of those held stay)."""
        if window < 1:
            raise ValueError(f"window must hold at least one sample, got {window}")
        self._rtts = deque(self._rtts, maxlen=window)

    def record_rtt(self, rtt: timedelta, at: datetime) -> None:
        if rtt < timedelta(0):
            raise ValueError(f"a round trip cannot take negative time, got {rtt}")
        self._rtts.append(rtt)
        self.record_message(at)

    def record_message(self, at: datetime) -> None:
        if self._last_message is None or at > self._last_message:
            self._last_message = at

    def snapshot(self, now: datetime) -> HeartbeatSnapshot:
        rtts = list(self._rtts)
        age = None if self._last_message is None else max(now - self._last_message, timedelta(0))
        if not rtts:
            return HeartbeatSnapshot(None, None, None, 0, age)
        ordered = sorted(rtts)
        # Nearest-rank percentile: the smallest sample with at least 95 % of samples at or below.
        rank = max(1, -(-95 * len(ordered) // 100))
        mean = sum(rtts, timedelta(0)) / len(rtts)
        return HeartbeatSnapshot(rtts[-1], mean, ordered[rank - 1], len(rtts), age)


# --- events ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConnectRequested:
    """The user asked to connect."""


@dataclass(frozen=True, slots=True)
class Connected:
    """The API handshake of connect attempt ``attempt`` completed."""

    attempt: int


@dataclass(frozen=True, slots=True)
class ConnectFailed:
    """Connect attempt ``attempt`` failed, before or during the initial sync."""

    attempt: int
    reason: str


@dataclass(frozen=True, slots=True)
class Synced:
    """Orders, positions, executions and account of ``attempt`` are loaded and reconciled."""

    attempt: int


@dataclass(frozen=True, slots=True)
class HeartbeatOk:
    rtt: timedelta


@dataclass(frozen=True, slots=True)
class HeartbeatFailed:
    reason: str


@dataclass(frozen=True, slots=True)
class SocketLost:
    reason: str


@dataclass(frozen=True, slots=True)
class FarmBroken:
    farm: str


@dataclass(frozen=True, slots=True)
class FarmOk:
    farm: str


@dataclass(frozen=True, slots=True)
class ConnectivityLost:
    """IB code 1100: TWS/Gateway lost its own connection to IB; the socket to us is still up."""


@dataclass(frozen=True, slots=True)
class ConnectivityRestored:
    """IB code 1101 (``data_lost``: subscriptions are gone) or 1102 (data kept)."""

    data_lost: bool


@dataclass(frozen=True, slots=True)
class UserDisconnect:
    """The user asked to disconnect, or the console stopped the session on a defect of its own
    (``reason`` then says so); it overrides any reconnect in progress."""

    reason: str = "Disconnected by you."


@dataclass(frozen=True, slots=True)
class BreakerReset:
    """The user asked to try again now despite an open circuit breaker."""


@dataclass(frozen=True, slots=True)
class ReconnectDue:
    """The timer of a ``ScheduleReconnect`` fired."""

    attempt: int


HealthEvent = (
    ConnectRequested
    | Connected
    | ConnectFailed
    | Synced
    | HeartbeatOk
    | HeartbeatFailed
    | SocketLost
    | FarmBroken
    | FarmOk
    | ConnectivityLost
    | ConnectivityRestored
    | UserDisconnect
    | BreakerReset
    | ReconnectDue
)


def event_for(message: IbMessage) -> HealthEvent | None:
    """The health event an IB message stands for, if it concerns the connection at all."""
    category = message.category
    if category is IbCategory.FARM_BROKEN:
        return FarmBroken(message.farm)
    if category is IbCategory.FARM_OK:
        return FarmOk(message.farm)
    if category is IbCategory.CONNECTIVITY_LOST:
        return ConnectivityLost()
    if category is IbCategory.CONNECTIVITY_RESTORED_DATA_LOST:
        return ConnectivityRestored(data_lost=True)
    if category is IbCategory.CONNECTIVITY_RESTORED_DATA_KEPT:
        return ConnectivityRestored(data_lost=False)
    return None


# --- actions ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StartConnect:
    attempt: int


@dataclass(frozen=True, slots=True)
class ScheduleReconnect:
    """Report ``ReconnectDue(attempt)`` at ``at``; a newer schedule replaces an older one."""

    at: datetime
    attempt: int


@dataclass(frozen=True, slots=True)
class CancelReconnect:
    pass


@dataclass(frozen=True, slots=True)
class CloseSocket:
    pass


@dataclass(frozen=True, slots=True)
class Resync:
    """Reload orders, positions, executions and account, and reconcile them with the journal."""


@dataclass(frozen=True, slots=True)
class Resubscribe:
    """Request market data and bar subscriptions again: the old ones are dead."""


@dataclass(frozen=True, slots=True)
class BlockOrderEntry:
    reason: str


@dataclass(frozen=True, slots=True)
class AllowOrderEntry:
    pass


@dataclass(frozen=True, slots=True)
class Alert:
    """Something the trader must see now, not only in the health history."""

    message: str
    critical: bool


HealthAction = (
    StartConnect
    | ScheduleReconnect
    | CancelReconnect
    | CloseSocket
    | Resync
    | Resubscribe
    | BlockOrderEntry
    | AllowOrderEntry
    | Alert
)


@dataclass(frozen=True, slots=True)
class Transition:
    previous: HealthState
    state: HealthState
    actions: tuple[HealthAction, ...]
    reason: str

    @property
    def changed(self) -> bool:
        return self.previous is not self.state


# --- the machine -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HealthSettings:
    heartbeat_interval: timedelta = timedelta(seconds=5)
    heartbeat_timeout: timedelta = timedelta(seconds=5)
    # Consecutive failed heartbeats that turn "degraded" into a reconnect.
    heartbeat_failures_before_reconnect: int = 3
    heartbeat_window: int = 100
    backoff: BackoffPolicy = field(default_factory=BackoffPolicy)
    breaker: BreakerPolicy = field(default_factory=BreakerPolicy)

    def __post_init__(self) -> None:
        if self.heartbeat_interval <= timedelta(0) or self.heartbeat_timeout <= timedelta(0):
            raise ValueError(
                "heartbeat_interval and heartbeat_timeout must be above zero, got "
                f"{self.heartbeat_interval} and {self.heartbeat_timeout}"
            )
        if self.heartbeat_failures_before_reconnect < 1:
            raise ValueError(
                "heartbeat_failures_before_reconnect must be 1 or more, got "
                f"{self.heartbeat_failures_before_reconnect}"
            )


@dataclass(frozen=True, slots=True)
class HealthSnapshot:
    state: HealthState
    reason: str
    since: datetime
    order_entry_allowed: bool
    broken_farms: tuple[str, ...]
    connectivity_lost: bool
    heartbeat_failures: int
    attempt: int  # the newest connect attempt of this session (1 for the first connect)
    failed_attempts: int  # consecutive failed attempts since the last successful sync
    reconnect_at: datetime | None
    breaker: BreakerState
    breaker_reopens_at: datetime | None
    heartbeat: HeartbeatSnapshot


# What a handler decides: the new state, the actions to take and the reason in words.
_Outcome = tuple[HealthState, list[HealthAction], str]

_SESSION = (HealthState.SYNCING, HealthState.CONNECTED, HealthState.DEGRADED)
_ATTEMPTING = (HealthState.CONNECTING, HealthState.RECONNECTING)


class HealthMachine:
    """The connection's health. Feed it events with ``handle``; perform what it returns.

    Rules it keeps: order entry is allowed only while synced, heartbeats are answered and IB
    connectivity is not lost (1100); consecutive heartbeat failures escalate degraded → reconnecting, with an alert; a user
    disconnect wins over any reconnect in flight (results of older attempts are ignored, and a
    socket they opened is closed); no attempt starts while the circuit breaker is open.
    Every ``Resync`` must end in ``Synced`` or, on timeout, ``ConnectFailed`` for the attempt.
    """

    def __init__(self, settings: HealthSettings, clock: Clock, rng: random.Random) -> None:
        self._settings = settings
        self._clock = clock
        self._backoff = Backoff(settings.backoff, rng)
        self._breaker = CircuitBreaker(settings.breaker, clock)
        self.heartbeat = HeartbeatStats(settings.heartbeat_window)
        self._state = HealthState.DISCONNECTED
        self._reason = "Not connected."
        self._since = clock.now()
        self._attempt = 0  # the latest attempt started; its session is the current one
        self._in_flight: int | None = None  # started, neither connected nor failed yet
        self._scheduled: int | None = None
        self._reconnect_at: datetime | None = None
        self._broken_farms: set[str] = set()
        self._connectivity_lost = False
        self._heartbeat_failures = 0
        self._order_entry_allowed = False

    @property
    def state(self) -> HealthState:
        return self._state

    @property
    def order_entry_allowed(self) -> bool:
        return self._order_entry_allowed

    @property
    def breaker(self) -> CircuitBreaker:
        return self._breaker

    def apply(self, settings: HealthSettings) -> None:
        """New heartbeat, backoff and breaker settings from the next event on; the state, the
        failures counted and the heartbeat statistics are kept."""
        self._settings = settings
        self._backoff.use(settings.backoff)
        self._breaker.use(settings.breaker)
        self.heartbeat.resize(settings.heartbeat_window)

    def snapshot(self) -> HealthSnapshot:
        now = self._clock.now()
        return HealthSnapshot(
            state=self._state,
            reason=self._reason,
            since=self._since,
            order_entry_allowed=self._order_entry_allowed,
            broken_farms=tuple(sorted(self._broken_farms)),
            connectivity_lost=self._connectivity_lost,
            heartbeat_failures=self._heartbeat_failures,
            attempt=self._attempt,
            failed_attempts=self._backoff.failures,
            reconnect_at=self._reconnect_at,
            breaker=self._breaker.state,
            breaker_reopens_at=self._breaker.reopens_at,
            heartbeat=self.heartbeat.snapshot(now),
        )

    # The handlers return (new state, actions, reason); ``None`` leaves everything unchanged.
    def handle(self, event: HealthEvent) -> Transition:
        previous, was_allowed = self._state, self._order_entry_allowed
        outcome = self._dispatch(event)
        if outcome is None:
            return Transition(previous, previous, (), f"{type(event).__name__} changes nothing.")
        state, actions, reason = outcome
        self._state, self._reason = state, reason
        if state is not previous:
            self._since = self._clock.now()
            _log.info("connection health %s -> %s: %s", previous, state, reason)
        self._order_entry_allowed = (
            state in (HealthState.CONNECTED, HealthState.DEGRADED)
            and not self._connectivity_lost
            and not self._heartbeat_failures
        )
        if was_allowed and not self._order_entry_allowed:
            actions = [BlockOrderEntry(reason), *actions]
        elif self._order_entry_allowed and not was_allowed:
            actions = [*actions, AllowOrderEntry()]
        return Transition(previous, state, tuple(actions), reason)

    def _dispatch(self, event: HealthEvent) -> _Outcome | None:
        match event:
            case ConnectRequested():
                return self._on_connect_requested()
            case Connected(attempt):
                return self._on_connected(attempt)
            case ConnectFailed(attempt, reason):
                return self._on_connect_failed(attempt, reason)
            case Synced(attempt):
                return self._on_synced(attempt)
            case HeartbeatOk(rtt):
                return self._on_heartbeat_ok(rtt)
            case HeartbeatFailed(reason):
                return self._on_heartbeat_failed(reason)
            case SocketLost(reason):
                return self._on_socket_lost(reason)
            case FarmBroken(farm):
                return self._on_farm(farm, broken=True)
            case FarmOk(farm):
                return self._on_farm(farm, broken=False)
            case ConnectivityLost():
                return self._on_connectivity_lost()
            case ConnectivityRestored(data_lost):
                return self._on_connectivity_restored(data_lost)
            case UserDisconnect(reason):
                return self._on_user_disconnect(reason)
            case BreakerReset():
                return self._on_breaker_reset()
            case ReconnectDue(attempt):
                return self._on_reconnect_due(attempt)

    # -- helpers --

    def _start_attempt(self, state: HealthState, reason: str) -> _Outcome:
        """Start a connect attempt now if the breaker allows it, else wait for it to reopen."""
        if not self._breaker.try_acquire():
            return self._wait_for_breaker(
                f"{reason} Connection attempts are paused after repeated failures."
            )
        self._attempt += 1
        self._in_flight = self._attempt
        self._scheduled, self._reconnect_at = None, None
        self._reset_session_flags()
        return state, [StartConnect(self._attempt)], reason

    def _wait_for_breaker(self, reason: str) -> _Outcome:
        reopens_at = self._breaker.reopens_at
        actions: list[HealthAction] = []
        if reopens_at is not None:
            self._scheduled, self._reconnect_at = self._attempt + 1, reopens_at
            actions.append(ScheduleReconnect(reopens_at, self._attempt + 1))
            reason = f"{reason} Next try at {reopens_at:%H:%M:%S} UTC, or reset to try now."
        actions.append(Alert(reason, critical=True))
        return HealthState.CIRCUIT_OPEN, actions, reason

    def _retry_later(self, reason: str, *, close_socket: bool, alert: bool) -> _Outcome:
        """Schedule the next attempt after a backoff delay, or wait for an open breaker."""
        actions: list[HealthAction] = [CloseSocket()] if close_socket else []
        if self._breaker.state is BreakerState.OPEN:
            state, more, why = self._wait_for_breaker(reason)
            return state, actions + more, why
        delay = self._backoff.next_delay()
        at = self._clock.now() + delay
        self._scheduled, self._reconnect_at = self._attempt + 1, at
        why = f"{reason} Reconnecting in {delay.total_seconds():.1f} s."
        if alert:
            actions.append(Alert(why, critical=True))
        actions.append(ScheduleReconnect(at, self._attempt + 1))
        return HealthState.RECONNECTING, actions, why

    def _reset_session_flags(self) -> None:
        self._broken_farms.clear()
        self._connectivity_lost = False
        self._heartbeat_failures = 0

    def _synced_state(self) -> HealthState:
        degraded = self._broken_farms or self._connectivity_lost or self._heartbeat_failures
        return HealthState.DEGRADED if degraded else HealthState.CONNECTED

    def _session_state(self) -> HealthState:
        """CONNECTED or DEGRADED from the open problems; SYNCING stays SYNCING until Synced."""
        if self._state is HealthState.SYNCING:
            return HealthState.SYNCING
        return self._synced_state()

    def _session_reason(self, headline: str) -> str:
        problems = [f"IB's {farm} farm is down" for farm in sorted(self._broken_farms)]
        if self._connectivity_lost:
            problems.append("TWS/Gateway has no connection to IB (1100)")
        if self._heartbeat_failures:
            problems.append(f"{self._heartbeat_failures} heartbeat(s) unanswered")
        return f"{headline} Still degraded: {'; '.join(problems)}." if problems else headline

    # -- handlers --

    def _on_connect_requested(self) -> _Outcome | None:
        if self._state is not HealthState.DISCONNECTED:
            return None
        self._backoff.reset()
        return self._start_attempt(HealthState.CONNECTING, "Connecting.")

    def _on_connected(self, attempt: int) -> _Outcome | None:
        if attempt != self._in_flight or self._state not in _ATTEMPTING:
            if self._state in (HealthState.DISCONNECTED, HealthState.CIRCUIT_OPEN):
                # An attempt that was under way when the user disconnected finished anyway.
                return (
                    self._state,
                    [CloseSocket()],
                    (
                        f"Closed a connection (attempt {attempt}) that completed after it was "
                        "no longer wanted."
                    ),
                )
            return None
        self._in_flight = None
        return HealthState.SYNCING, [Resync()], "Connected; loading orders and positions."

    def _on_connect_failed(self, attempt: int, reason: str) -> _Outcome | None:
        attempting = self._state in _ATTEMPTING and attempt == self._in_flight
        syncing = self._state is HealthState.SYNCING and attempt == self._attempt
        if not (attempting or syncing):
            return None
        self._in_flight = None
        close = syncing
        self._breaker.record_failure()
        return self._retry_later(
            f"Connection attempt {attempt} failed: {reason}.", close_socket=close, alert=False
        )

    def _on_synced(self, attempt: int) -> _Outcome | None:
        if attempt != self._attempt or self._state is not HealthState.SYNCING:
            return None
        self._breaker.record_success()
        self._backoff.reset()
        return self._synced_state(), [], self._session_reason("Connected and in sync.")

    def _on_heartbeat_ok(self, rtt: timedelta) -> _Outcome | None:
        self.heartbeat.record_rtt(rtt, self._clock.now())
        if self._state not in _SESSION or not self._heartbeat_failures:
            return None
        self._heartbeat_failures = 0
        # Requests and replies may have been lost while TWS/Gateway was silent (an order sent,
        # its acknowledgement never seen): reload and reconcile before trading again.
        if self._state is HealthState.SYNCING:
            return None
        reason = (
            f"Heartbeats answered again ({rtt.total_seconds() * 1000:.0f} ms); "
            "reloading orders and positions."
        )
        return HealthState.SYNCING, [Resync()], reason

    def _on_heartbeat_failed(self, reason: str) -> _Outcome | None:
        if self._state not in _SESSION:
            return None
        self._heartbeat_failures += 1
        limit = self._settings.heartbeat_failures_before_reconnect
        count = self._heartbeat_failures
        if count < limit:
            return self._session_state(), [], f"Heartbeat {count} of {limit} failed: {reason}."
        why = (
            f"{count} heartbeats in a row failed (last: {reason})."
            if count > 1
            else f"The heartbeat failed: {reason}."
        )
        return self._retry_later(why, close_socket=True, alert=True)

    def _on_socket_lost(self, reason: str) -> _Outcome | None:
        if self._state not in _SESSION:
            # Attempts in flight report their own failure; after a disconnect nothing is wanted.
            return None
        why = f"The connection to TWS/Gateway dropped: {reason}."
        return self._retry_later(why, close_socket=False, alert=True)

    def _on_farm(self, farm: str, *, broken: bool) -> _Outcome | None:
        if self._state not in _SESSION:
            return None
        if broken:
            if farm in self._broken_farms:
                return None
            self._broken_farms.add(farm)
            return self._session_state(), [], f"IB's {farm} farm connection is broken."
        if farm not in self._broken_farms:
            return None
        self._broken_farms.discard(farm)
        reason = self._session_reason(f"IB's {farm} farm connection is back.")
        # Subscriptions do not always survive a farm flap (2103 then 2104): renew them.
        return self._session_state(), [Resubscribe()], reason

    def _on_connectivity_lost(self) -> _Outcome | None:
        if self._state not in _SESSION:
            return None
        self._connectivity_lost = True
        reason = "TWS/Gateway lost its connection to IB (1100); order entry is blocked."
        return self._session_state(), [Alert(reason, critical=True)], reason

    def _on_connectivity_restored(self, data_lost: bool) -> _Outcome | None:
        if self._state not in _SESSION:
            return None
        self._connectivity_lost = False
        # Fills can arrive during 1100 and be missed: reload and reconcile before trading again.
        actions: list[HealthAction] = [Resync()]
        if data_lost:
            actions.insert(0, Resubscribe())
            reason = (
                "IB connectivity restored, market data lost (1101); resubscribing and reloading."
            )
        else:
            reason = "IB connectivity restored, market data kept (1102); reloading orders."
        return HealthState.SYNCING, actions, reason

    def _on_user_disconnect(self, reason: str) -> _Outcome | None:
        if self._state is HealthState.DISCONNECTED:
            return None
        actions: list[HealthAction] = []
        if self._scheduled is not None:
            actions.append(CancelReconnect())
        actions.append(CloseSocket())
        # The outcome of an attempt under way now belongs to no one.
        if self._in_flight is not None:
            self._breaker.abandon()
        self._in_flight = None
        self._scheduled, self._reconnect_at = None, None
        self._reset_session_flags()
        return HealthState.DISCONNECTED, actions, reason

    def _on_breaker_reset(self) -> _Outcome | None:
        self._breaker.reset()
        self._backoff.reset()
        if self._state is not HealthState.CIRCUIT_OPEN:
            return None
        state, actions, reason = self._start_attempt(
            HealthState.RECONNECTING, "Circuit breaker reset by you; reconnecting now."
        )
        return state, [CancelReconnect(), *actions], reason

    def _on_reconnect_due(self, attempt: int) -> _Outcome | None:
        if attempt != self._scheduled or self._state not in (
            HealthState.RECONNECTING,
            HealthState.CIRCUIT_OPEN,
        ):
            return None
        return self._start_attempt(HealthState.RECONNECTING, f"Reconnect attempt {attempt}.")
