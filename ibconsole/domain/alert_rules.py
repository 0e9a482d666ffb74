"""When the console tells the trader something happened: the rules that turn the broker's events,
the connection's health and the rollover calendar into notices, each said once.

- ``OnceGate``: an event with an identity (a fill's execution id, a rejected order) is told once,
  however often the broker reports it again (after a reconnect, with its commission report).
- ``ConnectionWatch``: one "lost" per outage (a dropped socket or IB's 1100), one "restored" when
  it ends (1101/1102 or a reconnect), one "breaker open" each time the breaker opens; reconnect
  attempts in between say nothing new.
- ``RollWatch``: for each held contract, the most urgent of roll window entered, must roll and
  IB's close-out deadline, each once; a contract that enters must-roll has its roll window
  counted as told.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from ibconsole.domain.alert_kinds import AlertKind
from ibconsole.domain.health import BreakerState, HealthSnapshot, HealthState
from ibconsole.domain.order_words import position_words
from ibconsole.domain.products import product
from ibconsole.domain.rollover import ContractSchedule, RollStatus

# How long before IB's close-out deadline a held contract raises its own notice.
CLOSE_OUT_NOTICE = timedelta(hours=24)

_UP = frozenset({HealthState.CONNECTED, HealthState.DEGRADED})
_LOST = frozenset({HealthState.RECONNECTING, HealthState.CIRCUIT_OPEN})
# Most urgent last: telling one counts the ones before it as told.
_ROLL_KINDS = (AlertKind.ROLL_WINDOW, AlertKind.MUST_ROLL, AlertKind.CLOSE_OUT)


@dataclass(frozen=True, slots=True)
class Notice:
    """Something to tell the trader: its kind, a short title and a sentence."""

    kind: AlertKind
    title: str
    text: str


class OnceGate:
    """Remembers what has been told: ``first(key)`` is True the first time only."""

    def __init__(self) -> None:
        self._told: set[Hashable] = set()

    def first(self, key: Hashable) -> bool:
        if key in self._told:
            return False
        self._told.add(key)
        return True


class ConnectionWatch:
    """Connection notices from the sequence of health snapshots."""

    def __init__(self) -> None:
        self._was_up = False  # connected at least once since the trader asked to connect
        self._lost = False  # an outage has been told and has not ended
        self._breaker_open = False

    def observe(self, snapshot: HealthSnapshot) -> tuple[Notice, ...]:
        notices: list[Notice] = []
        state = snapshot.state
        if state is HealthState.DISCONNECTED:
            # The trader disconnected (or never connected): nothing was lost behind their back.
            self._was_up = self._lost = False
        elif self._was_up and not self._lost:
            if snapshot.connectivity_lost:
                self._lost = True
                notices.append(
                    Notice(
                        AlertKind.CONNECTION_LOST,
                        "IB connection lost",
                        "TWS/Gateway lost its connection to IB (1100): orders cannot be sent "
                        "until it returns.",
                    )
                )
            elif state in _LOST:
                self._lost = True
                notices.append(
                    Notice(
                        AlertKind.CONNECTION_LOST,
                        "Connection lost",
                        f"{snapshot.reason} Orders cannot be sent until it is back.",
                    )
                )
        if state in _UP and not snapshot.connectivity_lost:
            if self._lost:
                notices.append(
                    Notice(
                        AlertKind.CONNECTION_RESTORED,
                        "Connection restored",
                        "Connected to IB again; orders, positions and fills were checked "
                        "against the broker.",
                    )
                )
            self._was_up, self._lost = True, False
        opened = snapshot.breaker is BreakerState.OPEN
        if opened and not self._breaker_open:
            reopens = snapshot.breaker_reopens_at
            when = f" It tries again at {reopens:%H:%M:%S} UTC." if reopens else ""
            notices.append(
                Notice(
                    AlertKind.BREAKER_OPEN,
                    "Reconnecting paused",
                    "The circuit breaker opened after repeated connect failures." + when,
                )
            )
        self._breaker_open = opened
        return tuple(notices)


def roll_kind(schedule: ContractSchedule, now: datetime) -> AlertKind | None:
    """The most urgent roll notice a position in ``schedule``'s contract calls for now."""
    if now >= schedule.deadline - CLOSE_OUT_NOTICE:
        return AlertKind.CLOSE_OUT
    status = schedule.status(now)
    if status is RollStatus.MUST_ROLL:
        return AlertKind.MUST_ROLL
    if status is RollStatus.ROLL_WINDOW:
        return AlertKind.ROLL_WINDOW
    return None


class RollWatch:
    """Roll notices for held contracts, each kind once per contract."""

    def __init__(self) -> None:
        self._gate = OnceGate()

    def observe(
        self, held: Iterable[tuple[ContractSchedule, Decimal]], now: datetime
    ) -> tuple[Notice, ...]:
        """``held``: each held contract's schedule with its signed quantity."""
        notices: list[Notice] = []
        for schedule, quantity in held:
            if not quantity:
                continue
            kind = roll_kind(schedule, now)
            if kind is None:
                continue
            con_id = schedule.contract.con_id
            if self._gate.first((con_id, kind)):
                notices.append(_roll_notice(kind, schedule, quantity))
            for lesser in _ROLL_KINDS[: _ROLL_KINDS.index(kind)]:
                self._gate.first((con_id, lesser))  # told by the more urgent notice
        return tuple(notices)


def _roll_notice(kind: AlertKind, schedule: ContractSchedule, quantity: Decimal) -> Notice:
    contract = schedule.contract
    name = contract.local_symbol
    zone = ZoneInfo(product(contract.symbol).time_zone)
    deadline = schedule.deadline.astimezone(zone)
    held = f"You are {position_words(quantity)} {name}"
    when = f"{deadline:%a %d %b %H:%M} {deadline.tzname()}"
    if kind is AlertKind.ROLL_WINDOW:
        return Notice(
            kind,
            f"{name} entered its roll window",
            f"{held}: its roll date is {schedule.roll_date:%a %d %b}; new orders go to the next "
            f"month. Hold it no later than {when}.",
        )
    if kind is AlertKind.MUST_ROLL:
        return Notice(
            kind,
            f"{name} must roll",
            f"{held}, close to IB's close-out deadline ({when}): roll or close it now.",
        )
    return Notice(
        kind,
        f"{name} close-out deadline",
        f"{held}: IB's close-out deadline is {when}. IB may liquidate the position from then on.",
    )
