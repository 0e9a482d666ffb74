"""The alert rules: price crossings, each notice told once, connection outages told once each way
(driven through the real health state machine), and roll notices for held contracts."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from ibconsole.domain.alert_kinds import AlertKind
from ibconsole.domain.alert_rules import (
    CLOSE_OUT_NOTICE,
    ConnectionWatch,
    Notice,
    OnceGate,
    RollWatch,
    roll_kind,
)
from ibconsole.domain.clock import ManualClock
from ibconsole.domain.health import (
    BackoffPolicy,
    BreakerPolicy,
    BreakerReset,
    Connected,
    ConnectFailed,
    ConnectivityLost,
    ConnectivityRestored,
    ConnectRequested,
    HealthEvent,
    HealthMachine,
    HealthSettings,
    ReconnectDue,
    SocketLost,
    Synced,
    UserDisconnect,
)
from ibconsole.domain.price_alerts import (
    CrossDirection,
    PriceAlert,
    PriceWatch,
    crossed,
    direction_for,
)
from ibconsole.domain.rollover import ContractSchedule, RolloverSettings, contract_schedule
from ibconsole.domain.sessions import BusinessCalendar
from tests.domain.conftest import ListedFactory

T0 = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
D = Decimal
UP, DOWN = CrossDirection.ABOVE, CrossDirection.BELOW


# --- price crossings ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("direction", "level", "before", "now", "fires"),
    [
        (UP, "100", "99.75", "100", True),  # touching the level from below is a crossing
        (UP, "100", "99.75", "100.25", True),
        (UP, "100", "99.75", "99.75", False),
        (UP, "100", "100", "100.25", False),  # already at the level: it crossed before
        (UP, "100", "100.25", "99.75", False),  # the wrong way
        (DOWN, "100", "100.25", "100", True),
        (DOWN, "100", "100.25", "99", True),
        (DOWN, "100", "99.75", "99.5", False),
        (DOWN, "100", "99", "101", False),
    ],
)
def test_crossing(
    direction: CrossDirection, level: str, before: str, now: str, fires: bool
) -> None:
    assert crossed(direction, D(level), D(before), D(now)) is fires


@pytest.mark.parametrize(
    ("level", "price", "direction"),
    [("101", "100", UP), ("100", "100", UP), ("99", "100", DOWN)],
)
def test_an_alert_waits_for_the_side_the_market_is_not_on(
    level: str, price: str, direction: CrossDirection
) -> None:
    assert direction_for(D(level), D(price)) is direction


def alert(level: str, reference: str, alert_id: str = "a1", con_id: int = 7) -> PriceAlert:
    return PriceAlert(
        alert_id=alert_id,
        con_id=con_id,
        symbol="ES",
        local_symbol="ESZ6",
        level=D(level),
        direction=direction_for(D(level), D(reference)),
        reference=D(reference),
        created_at=T0,
    )


def test_a_price_alert_fires_once_on_the_crossing_and_never_again() -> None:
    watch = PriceWatch([alert("101", "100")])
    assert watch.con_ids() == {7}
    assert watch.observe({7: D("100.5")}, T0) == ()
    assert watch.observe({8: D("200")}, T0) == ()  # another contract's price
    fired = watch.observe({7: D("101.25")}, T0 + timedelta(seconds=1))
    assert [a.alert_id for a in fired] == ["a1"]
    assert fired[0].triggered_at == T0 + timedelta(seconds=1)
    assert not fired[0].armed
    # Down and up through the level again, as after a reconnect's first quotes: nothing more.
    assert watch.observe({7: D("100")}, T0) == ()
    assert watch.observe({7: D("102")}, T0) == ()
    assert watch.armed() == ()
    assert watch.con_ids() == frozenset()


def test_a_crossing_while_the_console_was_closed_fires_on_the_first_price() -> None:
    # Set at 100 for 101; the console restarts and the first price seen is 103.
    watch = PriceWatch([alert("101", "100")])
    assert [a.alert_id for a in watch.observe({7: D("103")}, T0)] == ["a1"]


def test_an_alert_set_on_the_far_side_waits_for_a_real_crossing() -> None:
    far = PriceAlert(
        alert_id="far",
        con_id=7,
        symbol="ES",
        local_symbol="ESZ6",
        level=D("100"),
        direction=UP,
        reference=D("105"),
        created_at=T0,
    )
    watch = PriceWatch([far])
    assert watch.observe({7: D("106")}, T0) == ()
    assert watch.observe({7: D("99")}, T0) == ()
    assert [a.alert_id for a in watch.observe({7: D("100")}, T0)] == ["far"]


def test_triggered_and_removed_alerts_are_not_watched() -> None:
    done = PriceAlert(
        alert_id="done",
        con_id=7,
        symbol="ES",
        local_symbol="ESZ6",
        level=D("101"),
        direction=UP,
        reference=D("100"),
        created_at=T0,
        triggered_at=T0,
    )
    watch = PriceWatch([done, alert("99", "100", "b")])
    assert [a.alert_id for a in watch.armed()] == ["b"]
    watch.remove("b")
    assert watch.observe({7: D("90")}, T0) == ()


@pytest.mark.parametrize("level", ["0", "-1", "NaN"])
def test_an_alert_level_must_be_a_positive_price(level: str) -> None:
    with pytest.raises(ValueError, match="positive price"):
        PriceAlert(
            alert_id="bad",
            con_id=7,
            symbol="ES",
            local_symbol="ESZ6",
            level=D(level),
            direction=UP,
            reference=D("100"),
            created_at=T0,
        )


# --- once only ----------------------------------------------------------------------------------


def test_the_once_gate_lets_each_key_through_once() -> None:
    gate = OnceGate()
    assert [gate.first(k) for k in ("x1", "x2", "x1", ("r", 3), ("r", 3))] == [
        True,
        True,
        False,
        True,
        False,
    ]


# --- connection ---------------------------------------------------------------------------------

FAST = HealthSettings(
    backoff=BackoffPolicy(min_delay=timedelta(seconds=1), max_delay=timedelta(seconds=2)),
    breaker=BreakerPolicy(
        failure_threshold=2, window=timedelta(minutes=5), cooldown=timedelta(minutes=2)
    ),
)
LOST, BACK, BREAKER = (
    AlertKind.CONNECTION_LOST,
    AlertKind.CONNECTION_RESTORED,
    AlertKind.BREAKER_OPEN,
)


def told(events: list[HealthEvent]) -> list[AlertKind]:
    """Feed ``events`` to a real health machine; the kinds told after each snapshot."""
    machine = HealthMachine(FAST, ManualClock(T0), random.Random(1))
    watch = ConnectionWatch()
    kinds: list[AlertKind] = []
    for event in events:
        machine.handle(event)
        kinds.extend(n.kind for n in watch.observe(machine.snapshot()))
    return kinds


CONNECT: list[HealthEvent] = [ConnectRequested(), Connected(1), Synced(1)]


@pytest.mark.parametrize(
    ("events", "kinds"),
    [
        pytest.param(CONNECT, [], id="connecting says nothing"),
        pytest.param(
            [*CONNECT, SocketLost("reset"), ReconnectDue(2), Connected(2), Synced(2)],
            [LOST, BACK],
            id="a drop and its reconnect",
        ),
        pytest.param(
            [
                *CONNECT,
                SocketLost("reset"),
                ReconnectDue(2),
                ConnectFailed(2, "refused"),
                ReconnectDue(3),
                ConnectFailed(3, "refused"),
                BreakerReset(),
                Connected(4),
                Synced(4),
            ],
            [LOST, BREAKER, BACK],
            id="failed attempts say lost once, and the breaker when it opens",
        ),
        pytest.param(
            [*CONNECT, ConnectivityLost(), ConnectivityRestored(data_lost=False), Synced(1)],
            [LOST, BACK],
            id="1100 then 1102",
        ),
        pytest.param(
            [*CONNECT, ConnectivityLost(), ConnectivityRestored(data_lost=True), Synced(1)],
            [LOST, BACK],
            id="1100 then 1101 and its resync",
        ),
        pytest.param(
            [*CONNECT, ConnectivityLost(), SocketLost("reset"), ReconnectDue(2), Connected(2)],
            [LOST],
            id="1100 then a drop is one outage",
        ),
        pytest.param(
            [*CONNECT, UserDisconnect(), *CONNECT[:1], Connected(2), Synced(2)],
            [],
            id="the trader's own disconnect and reconnect say nothing",
        ),
        pytest.param(
            [
                *CONNECT,
                *(SocketLost("a"), ReconnectDue(2), Connected(2), Synced(2)),
                *(SocketLost("b"), ReconnectDue(3), Connected(3), Synced(3)),
            ],
            [LOST, BACK, LOST, BACK],
            id="each outage is told once each way",
        ),
    ],
)
def test_connection_notices(events: list[HealthEvent], kinds: list[AlertKind]) -> None:
    assert told(events) == kinds


def test_a_lost_connection_says_why() -> None:
    machine = HealthMachine(FAST, ManualClock(T0), random.Random(1))
    watch = ConnectionWatch()
    for event in CONNECT:
        machine.handle(event)
        watch.observe(machine.snapshot())
    machine.handle(ConnectivityLost())
    (notice,) = watch.observe(machine.snapshot())
    assert notice == Notice(
        LOST,
        "IB connection lost",
        "TWS/Gateway lost its connection to IB (1100): orders cannot be sent until it returns.",
    )
    assert watch.observe(machine.snapshot()) == ()  # the same snapshot again: told already


# --- rollover -----------------------------------------------------------------------------------

ROLL = RolloverSettings()


def es_schedule(listed: ListedFactory, xnys: BusinessCalendar) -> ContractSchedule:
    return contract_schedule(listed("ES", "202612"), xnys, ROLL)


def test_roll_kind_follows_the_calendar(listed: ListedFactory, xnys: BusinessCalendar) -> None:
    schedule = es_schedule(listed, xnys)
    assert schedule.roll_date == date(2026, 12, 10)
    assert roll_kind(schedule, schedule.roll_at - timedelta(seconds=1)) is None
    assert roll_kind(schedule, schedule.roll_at) is AlertKind.ROLL_WINDOW
    assert roll_kind(schedule, schedule.must_roll_at) is AlertKind.MUST_ROLL
    close_out = schedule.deadline - CLOSE_OUT_NOTICE
    assert roll_kind(schedule, close_out - timedelta(seconds=1)) is AlertKind.MUST_ROLL
    assert roll_kind(schedule, close_out) is AlertKind.CLOSE_OUT


def test_each_roll_notice_is_told_once_and_only_the_most_urgent(
    listed: ListedFactory, xnys: BusinessCalendar
) -> None:
    schedule = es_schedule(listed, xnys)
    watch = RollWatch()
    held = [(schedule, D(2))]
    assert watch.observe(held, schedule.roll_at - timedelta(hours=1)) == ()
    (window,) = watch.observe(held, schedule.roll_at)
    assert window.kind is AlertKind.ROLL_WINDOW
    assert window.title == "ESZ6 entered its roll window"
    assert "You are long +2 ESZ6" in window.text
    assert watch.observe(held, schedule.roll_at + timedelta(hours=1)) == ()
    (must,) = watch.observe(held, schedule.must_roll_at)
    assert must.kind is AlertKind.MUST_ROLL
    (close_out,) = watch.observe(held, schedule.deadline - timedelta(hours=2))
    assert close_out.kind is AlertKind.CLOSE_OUT
    assert "IB may liquidate" in close_out.text
    assert watch.observe(held, schedule.deadline) == ()


def test_a_position_first_seen_late_gets_only_the_most_urgent_notice(
    listed: ListedFactory, xnys: BusinessCalendar
) -> None:
    schedule = es_schedule(listed, xnys)
    watch = RollWatch()
    (notice,) = watch.observe([(schedule, D(-1))], schedule.must_roll_at)
    assert notice.kind is AlertKind.MUST_ROLL
    assert "short -1" in notice.text
    assert watch.observe([(schedule, D(-1))], schedule.must_roll_at + timedelta(hours=1)) == ()


def test_a_flat_contract_raises_no_roll_notice(
    listed: ListedFactory, xnys: BusinessCalendar
) -> None:
    schedule = es_schedule(listed, xnys)
    assert RollWatch().observe([(schedule, D(0))], schedule.must_roll_at) == ()
