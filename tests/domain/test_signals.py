"""Signals, table by table: the body's rules, the idempotency key, symbols and the month they
resolve to across a roll date, what a signal does to a position, the rate window and the states."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.orders import Side
from ibconsole.domain.rollover import RolloverSettings
from ibconsole.domain.sessions import BusinessCalendar
from ibconsole.domain.signals import (
    RateWindow,
    SignalAction,
    SignalInvalid,
    SignalOrderType,
    SignalSettings,
    SignalState,
    SignalStateError,
    SignalUnresolved,
    SymbolRef,
    advance,
    can_move,
    dismissable,
    parse_signal,
    parse_symbol,
    resolve_month,
    sendable,
    signal_key,
    signal_order,
)

NOW = datetime(2026, 12, 4, 18, 0, tzinfo=UTC)
CT = ZoneInfo("America/Chicago")
BASE: dict[str, Any] = {"secret": "s" * 20, "symbol": "MES1!", "action": "buy", "quantity": 1}


def body(**changes: Any) -> dict[str, Any]:
    data = {**BASE, **changes}
    return {k: v for k, v in data.items() if v is not ...}


# --- the body ------------------------------------------------------------------------------------


def test_a_minimal_buy_is_a_market_order_stamped_on_arrival() -> None:
    signal = parse_signal(body(id="tv-1"), NOW)
    assert signal.key == "id:tv-1"
    assert (signal.symbol, signal.action, signal.quantity) == ("MES1!", SignalAction.BUY, 1)
    assert signal.order_type is SignalOrderType.MARKET
    assert signal.price is None
    assert signal.stamped_at == NOW
    assert signal.source == "webhook"
    assert signal.summary == "buy 1 MES1! at market"


@pytest.mark.parametrize(
    ("changes", "check"),
    [
        ({"action": "SELL", "quantity": "2"}, lambda s: s.action is SignalAction.SELL),
        ({"quantity": 2.0}, lambda s: s.quantity == 2),
        ({"order_type": "limit", "price": "5931.75"}, lambda s: s.price == Decimal("5931.75")),
        ({"order_type": "limit", "price": 5931.75}, lambda s: s.price == Decimal("5931.75")),
        ({"action": "exit", "quantity": ...}, lambda s: s.quantity is None),
        ({"action": "reverse", "quantity": ...}, lambda s: s.quantity is None),
        ({"action": "reverse", "quantity": 3}, lambda s: s.quantity == 3),
        ({"time": "2026-12-04T17:59:30Z"}, lambda s: s.age(NOW) == timedelta(seconds=30)),
        ({"time": 1796407170000}, lambda s: s.sent_at == datetime.fromtimestamp(1796407170, UTC)),
        ({"source": "TradingView breakout"}, lambda s: s.source == "TradingView breakout"),
        ({"price": 12}, lambda s: s.price is None),  # a market order ignores a price
        ({"symbol": " cme_mini:mes1! "}, lambda s: s.symbol == "CME_MINI:MES1!"),
    ],
)
def test_accepted_bodies(changes: dict[str, Any], check: Callable[[Any], bool]) -> None:
    assert check(parse_signal(body(**changes), NOW))


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ([1, 2], "must be a JSON object"),
        ("text", "must be a JSON object"),
        (body(qty=1), "unknown field(s) qty"),
        (body(symbol=...), "symbol must be a non-empty string"),
        (body(symbol=""), "symbol must be a non-empty string"),
        (body(symbol=7), "symbol must be a non-empty string"),
        (body(symbol="X" * 65), "symbol must be at most 64"),
        (body(action="hold"), "action must be one of buy, sell, exit, reverse"),
        (body(action=...), "action must be one of"),
        (body(quantity=...), "quantity is required to buy or sell"),
        (body(quantity=0), "whole number of contracts above zero"),
        (body(quantity=-1), "whole number of contracts above zero"),
        (body(quantity=1.5), "whole number of contracts above zero"),
        (body(quantity=10**9), "whole number of contracts above zero"),
        (body(quantity=True), "quantity must be a number"),
        (body(quantity=[1]), "quantity must be a number"),
        (body(quantity="NaN"), "quantity must be a finite number"),
        (body(quantity=float("inf")), "quantity must be a finite number"),
        (body(quantity="one"), "quantity must be a number"),
        (body(quantity="9" * 40), "at most 32 characters"),
        (body(order_type="stop"), "order_type must be one of market, limit"),
        (body(order_type="limit"), "a limit order needs a price"),
        (body(order_type="limit", price=-1), "price must be above zero"),
        (body(action="exit", quantity=...), None),
        (body(action="exit", quantity=1), "exit closes the whole position"),
        (
            body(action="exit", quantity=..., order_type="limit", price=1),
            "exit flattens at market",
        ),
        (body(id=""), "id must be 1-128 printable"),
        (body(id="a b"), "id must be 1-128 printable"),
        (body(id="x" * 129), "id must be 1-128 printable"),
        (body(id=5), "id must be 1-128 printable"),
        (body(time="yesterday"), "time must be an ISO instant"),
        (body(time="2026-12-04T18:00:00"), "must carry its zone"),
        (body(time="2026-12-04T18:01:00Z"), "in the future of this console's clock"),
        (body(time=-5), "out of range"),
        (body(source=""), "source must be a non-empty string"),
    ],
)
def test_refused_bodies_say_why(value: object, reason: str | None) -> None:
    if reason is None:
        parse_signal(value, NOW)
        return
    with pytest.raises(SignalInvalid) as refused:
        parse_signal(value, NOW)
    assert reason in str(refused.value)


def test_the_key_is_the_id_else_a_hash_of_the_body_without_the_secret() -> None:
    assert signal_key(body(id="abc")) == "id:abc"
    hashed = signal_key(body())
    assert hashed.startswith("body:")
    assert len(hashed) == len("body:") + 64
    assert signal_key(body(secret="another secret entirely")) == hashed
    assert signal_key(dict(reversed(list(body().items())))) == hashed
    assert signal_key(body(quantity=2)) != hashed


def test_expiry_counts_from_the_senders_stamp() -> None:
    signal = parse_signal(body(time="2026-12-04T17:58:59Z"), NOW)
    assert signal.expired(NOW, timedelta(seconds=60))
    assert not signal.expired(NOW - timedelta(seconds=2), timedelta(seconds=60))
    fresh = parse_signal(body(), NOW)
    assert not fresh.expired(NOW + timedelta(seconds=60), timedelta(seconds=60))
    assert fresh.expired(NOW + timedelta(seconds=61), timedelta(seconds=60))


# --- symbols -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "table", "expected"),
    [
        ("ES1!", {}, SymbolRef("ES", "ES", nth=1)),
        ("MES1!", {}, SymbolRef("MES", "MES", nth=1)),
        ("CL1!", {}, SymbolRef("CL", "CL", nth=1)),
        ("CL2!", {}, SymbolRef("CL", "CL", nth=2)),
        ("M2K1!", {}, SymbolRef("M2K", "M2K", nth=1)),
        ("6E1!", {}, SymbolRef("6E", "6E", nth=1)),
        ("CME_MINI:MES1!", {}, SymbolRef("MES", "MES", nth=1)),
        ("ES1!", {"ES": "MES"}, SymbolRef("MES", "ES", nth=1)),
        ("MES1!", {"MES": "ES"}, SymbolRef("ES", "MES", nth=1)),
        ("MESZ2026", {}, SymbolRef("MES", "MES", contract_month="202612")),
        ("ESH27", {}, SymbolRef("ES", "ES", contract_month="202703")),
        ("ESZ2026", {"ES": "MES"}, SymbolRef("MES", "ES", contract_month="202612")),
        ("NYMEX:CLF2027", {}, SymbolRef("CL", "CL", contract_month="202701")),
    ],
)
def test_symbols(text: str, table: dict[str, str], expected: SymbolRef) -> None:
    assert parse_symbol(text, table) == expected
    assert parse_symbol(text, table).mapped is (expected.product != expected.named)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("XX1!", "XX is not a futures product this console knows"),
        ("ES", "neither a continuous symbol"),
        ("ES0!", "neither a continuous symbol"),
        ("ESA2026", "neither a continuous symbol"),
        ("AAPL", "neither a continuous symbol"),
    ],
)
def test_unknown_symbols_are_refused(text: str, reason: str) -> None:
    with pytest.raises(SignalInvalid, match=reason):
        parse_symbol(text, {})


def chicago(day: str, clock: str = "12:00") -> datetime:
    return datetime.combine(date.fromisoformat(day), time.fromisoformat(clock), CT)


@pytest.fixture(scope="module")
def es(listed: Callable[[str, str], ListedContract]) -> list[ListedContract]:
    return [listed("ES", m) for m in ("202609", "202612", "202703", "202706")]


@pytest.mark.parametrize(
    ("now", "text", "month"),
    [
        # The December 2026 roll: 8 calendar days before Friday 18 December, on the 10th.
        (chicago("2026-12-09", "23:59"), "ES1!", "202612"),
        (chicago("2026-12-09", "23:59"), "ES2!", "202703"),
        (chicago("2026-12-10", "00:00"), "ES1!", "202703"),
        (chicago("2026-12-10", "00:00"), "ES2!", "202706"),
        (chicago("2026-12-10", "00:00"), "ESZ2026", "202612"),  # named: still tradable
        (chicago("2026-12-16", "23:59"), "ESZ2026", "202612"),
        (chicago("2026-12-17", "09:00"), "ES1!", "202703"),
    ],
)
def test_continuous_symbols_follow_the_roll_date(
    now: datetime, text: str, month: str, es: list[ListedContract], xnys: BusinessCalendar
) -> None:
    ref = parse_symbol(text, {})
    contract = resolve_month(ref, es, now, xnys, RolloverSettings())
    assert contract.contract_month == month


@pytest.mark.parametrize(
    ("now", "text", "reason"),
    [
        (chicago("2026-12-17", "00:00"), "ESZ2026", "ESZ6 is within 1 business day"),
        (chicago("2026-12-18", "09:00"), "ESZ2026", "ESZ6 has expired"),
        (chicago("2026-12-01"), "ESM2026", "no ES contract for 202606 is listed"),
        (chicago("2026-12-10"), "ES4!", "ES4! needs 4 tradable months"),
    ],
)
def test_never_an_expired_month_nor_one_in_its_buffer(
    now: datetime, text: str, reason: str, es: list[ListedContract], xnys: BusinessCalendar
) -> None:
    with pytest.raises(SignalUnresolved, match=reason):
        resolve_month(parse_symbol(text, {}), es, now, xnys, RolloverSettings())


def test_a_micro_signal_mapped_to_the_full_size_resolves_in_the_full_size_chain(
    es: list[ListedContract], xnys: BusinessCalendar
) -> None:
    ref = parse_symbol("MES1!", {"MES": "ES"})
    contract = resolve_month(ref, es, chicago("2026-12-11"), xnys, RolloverSettings())
    assert (contract.symbol, contract.contract_month) == ("ES", "202703")


def test_a_wider_buffer_moves_the_cut_off(es: list[ListedContract], xnys: BusinessCalendar) -> None:
    wide = RolloverSettings(buffer_days=3, close_out_warning_days=3)
    with pytest.raises(SignalUnresolved, match="within 3 business day"):
        resolve_month(parse_symbol("ESZ26", {}), es, chicago("2026-12-15", "09:00"), xnys, wide)


# --- what a signal does --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "position", "side", "size", "after", "flatten"),
    [
        ({"action": "buy", "quantity": 2}, 0, Side.BUY, 2, 2, False),
        ({"action": "sell", "quantity": 1}, 2, Side.SELL, 1, 1, False),
        ({"action": "sell", "quantity": 3}, 1, Side.SELL, 3, -2, False),
        ({"action": "exit", "quantity": ...}, 3, Side.SELL, 3, 0, True),
        ({"action": "exit", "quantity": ...}, -2, Side.BUY, 2, 0, True),
        ({"action": "reverse", "quantity": ...}, 2, Side.SELL, 4, -2, False),
        ({"action": "reverse", "quantity": 1}, 2, Side.SELL, 3, -1, False),
        ({"action": "reverse", "quantity": 3}, -1, Side.BUY, 4, 3, False),
    ],
)
def test_the_order_a_signal_becomes(
    changes: dict[str, Any],
    position: int,
    side: Side,
    size: int,
    after: int,
    flatten: bool,
) -> None:
    order = signal_order(parse_signal(body(**changes), NOW), Decimal(position))
    assert (order.side, order.quantity, order.after, order.flatten) == (side, size, after, flatten)
    assert order.before == position


@pytest.mark.parametrize("action", ["exit", "reverse"])
def test_exit_and_reverse_while_flat_do_nothing(action: str) -> None:
    with pytest.raises(SignalUnresolved, match=f"flat: nothing to {action}"):
        signal_order(parse_signal(body(action=action, quantity=...), NOW), Decimal(0))


def test_the_effect_reads_as_positions() -> None:
    order = signal_order(parse_signal(body(action="reverse", quantity=...), NOW), Decimal(1))
    assert order.effect == "long +1 → short -1"


# --- rate window and states ----------------------------------------------------------------------


def test_the_rate_window_slides() -> None:
    window = RateWindow(2)
    assert window.admit(0.0)
    assert window.admit(30.0)
    assert not window.admit(59.9)
    assert window.admit(60.0)
    assert not window.admit(60.5)
    assert window.admit(90.0)
    with pytest.raises(ValueError, match="at least 1"):
        RateWindow(0)


def test_a_resized_rate_window_keeps_the_minute_under_way() -> None:
    window = RateWindow(3)
    assert window.admit(0.0)
    assert window.admit(10.0)
    smaller = window.resized(2)
    assert not smaller.has_room(20.0), "the two events of this minute fill the smaller window"
    assert smaller.has_room(60.0)
    larger = window.resized(4)
    assert larger.admit(20.0)
    assert larger.admit(30.0)
    assert not larger.admit(40.0)
    assert window.has_room(20.0), "the original window is left as it was"


def test_signal_settings_survive_a_pickle_with_their_symbols() -> None:
    settings = SignalSettings(port=0, max_per_minute=9, symbols={"ES": "MES", "NQ": "MNQ"})
    again = pickle.loads(pickle.dumps(settings))
    assert again == settings
    assert dict(again.symbols) == {"ES": "MES", "NQ": "MNQ"}


@pytest.mark.parametrize(
    ("state", "to", "allowed"),
    [
        (SignalState.NEW, SignalState.SENT, True),
        (SignalState.NEW, SignalState.EXPIRED, True),
        (SignalState.NEW, SignalState.DISMISSED, True),
        (SignalState.NEW, SignalState.FILLED, False),
        (SignalState.REFUSED, SignalState.SENT, True),
        (SignalState.EXPIRED, SignalState.SENT, False),
        (SignalState.EXPIRED, SignalState.DISMISSED, True),
        (SignalState.SENT, SignalState.FILLED, True),
        (SignalState.SENT, SignalState.SENT, False),
        (SignalState.SENT, SignalState.DISMISSED, False),
        (SignalState.FILLED, SignalState.DISMISSED, False),
        (SignalState.DISMISSED, SignalState.SENT, False),
    ],
)
def test_states(state: SignalState, to: SignalState, allowed: bool) -> None:
    assert can_move(state, to) is allowed
    if allowed:
        assert advance(state, to) is to
    else:
        with pytest.raises(SignalStateError, match=f"a {state.value} signal cannot"):
            advance(state, to)
    assert sendable(state) is (state in (SignalState.NEW, SignalState.REFUSED))
    assert dismissable(state) is (
        state in (SignalState.NEW, SignalState.REFUSED, SignalState.EXPIRED)
    )
