"""Order intents from raw ticket values, tick snapping, idempotency keys and quotes."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ibconsole.domain.clock import ManualClock
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.orders import (
    MAX_KEY_LENGTH,
    Bracket,
    OrderKeyFactory,
    OrderType,
    OrderValidationError,
    Position,
    Purpose,
    Side,
    SnapDirection,
    TickPolicy,
    TimeInForce,
    build_intent,
    is_on_tick,
    snap_to_tick,
    stop_loss_key,
    take_profit_key,
    validate_key,
)
from ibconsole.domain.quotes import MarketDataType, Quote

T0 = datetime(2025, 3, 3, 15, 0, tzinfo=UTC)
D = Decimal


def contract(symbol: str = "ES", tick: str = "0.25", multiplier: str = "50") -> ListedContract:
    return ListedContract(
        symbol=symbol,
        local_symbol=f"{symbol}M5",
        con_id=620731015,
        contract_month="202506",
        last_trade=datetime(2025, 6, 20, 8, 30, tzinfo=ZoneInfo("America/Chicago")),
        exchange="CME",
        currency="USD",
        multiplier=D(multiplier),
        min_tick=D(tick),
        trading_class=symbol,
    )


ES = contract()


def ticket(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "contract": ES,
        "side": "BUY",
        "quantity": "2",
        "order_type": "LMT",
        "limit_price": "5000.25",
        "clock": ManualClock(T0),
        "key_factory": lambda: "ibc-test",
    }
    values.update(overrides)
    return values


# --- sides and types -------------------------------------------------------------------------


def test_side_opposite_and_sign() -> None:
    assert Side.BUY.opposite is Side.SELL
    assert Side.SELL.opposite is Side.BUY
    assert Side.BUY.sign == 1
    assert Side.SELL.sign == -1


@pytest.mark.parametrize(
    ("order_type", "limit", "stop"),
    [
        (OrderType.MARKET, False, False),
        (OrderType.LIMIT, True, False),
        (OrderType.STOP, False, True),
        (OrderType.STOP_LIMIT, True, True),
    ],
)
def test_order_type_price_needs(order_type: OrderType, limit: bool, stop: bool) -> None:
    assert order_type.needs_limit is limit
    assert order_type.needs_stop is stop


def test_order_type_values_are_ib_spellings() -> None:
    assert [t.value for t in OrderType] == ["MKT", "LMT", "STP", "STP LMT"]


# --- tick snapping ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("price", "tick", "direction", "expected"),
    [
        ("5000.13", "0.25", SnapDirection.NEAREST, "5000.25"),
        ("5000.12", "0.25", SnapDirection.NEAREST, "5000.00"),
        ("5000.125", "0.25", SnapDirection.NEAREST, "5000.00"),  # tie goes to the even step
        ("5000.13", "0.25", SnapDirection.DOWN, "5000.00"),
        ("5000.13", "0.25", SnapDirection.UP, "5000.25"),
        ("5000.25", "0.25", SnapDirection.UP, "5000.25"),
        ("-1.234", "0.01", SnapDirection.DOWN, "-1.24"),
        ("-1.234", "0.01", SnapDirection.UP, "-1.23"),
        ("-0.001", "0.01", SnapDirection.NEAREST, "0"),
        ("110.02", "0.015625", SnapDirection.NEAREST, "110.015625"),
        ("1.08513", "0.00005", SnapDirection.DOWN, "1.0851"),
        ("23", "5", SnapDirection.NEAREST, "25"),
    ],
)
def test_snap_to_tick_table(price: str, tick: str, direction: SnapDirection, expected: str) -> None:
    snapped = snap_to_tick(D(price), D(tick), direction)
    assert snapped == D(expected)
    assert not snapped.is_signed() or snapped != 0  # never "-0"


@pytest.mark.parametrize("tick", ["0", "-0.25", "NaN", "Infinity"])
def test_snap_to_tick_rejects_a_bad_tick(tick: str) -> None:
    with pytest.raises(ValueError, match="tick must be a positive number"):
        snap_to_tick(D(1), D(tick), SnapDirection.NEAREST)


def test_snap_to_tick_rejects_a_non_finite_price() -> None:
    with pytest.raises(ValueError, match="price must be a finite number"):
        snap_to_tick(D("NaN"), D("0.25"), SnapDirection.NEAREST)


prices = st.decimals(min_value=-10_000, max_value=100_000, places=6, allow_nan=False)
ticks = st.sampled_from([D("0.25"), D("0.01"), D("0.1"), D("0.015625"), D("0.00005"), D(5)])


@settings(deadline=None)
@given(prices, ticks, st.sampled_from(list(SnapDirection)))
def test_snapped_price_is_on_tick_and_within_one_tick(
    price: Decimal, tick: Decimal, direction: SnapDirection
) -> None:
    snapped = snap_to_tick(price, tick, direction)
    assert is_on_tick(snapped, tick)
    assert abs(snapped - price) < tick
    if direction is SnapDirection.UP:
        assert snapped >= price
    if direction is SnapDirection.DOWN:
        assert snapped <= price
    if direction is SnapDirection.NEAREST:
        assert abs(snapped - price) <= tick / 2
    assert snap_to_tick(snapped, tick, direction) == snapped


# --- build_intent: the happy paths ----------------------------------------------------------


def test_limit_ticket_becomes_an_intent() -> None:
    intent = build_intent(**ticket())
    assert intent.key == "ibc-test"
    assert intent.contract is ES
    assert intent.side is Side.BUY
    assert intent.quantity == D(2)
    assert intent.order_type is OrderType.LIMIT
    assert intent.limit_price == D("5000.25")
    assert intent.stop_price is None
    assert intent.tif is TimeInForce.DAY
    assert intent.bracket is None
    assert intent.created_at == T0
    assert intent.purpose is Purpose.MANUAL
    assert intent.signed_quantity == D(2)
    assert intent.entry_price == D("5000.25")


def test_typed_values_are_accepted_as_well_as_text() -> None:
    intent = build_intent(
        **ticket(
            side=Side.SELL,
            quantity=3,
            order_type=OrderType.STOP_LIMIT,
            limit_price=D("4990"),
            stop_price=D("4991.5"),
            tif=TimeInForce.GTC,
            purpose=Purpose.ROLL_CLOSE,
            account="DU123",
        )
    )
    assert intent.signed_quantity == D(-3)
    assert (intent.limit_price, intent.stop_price) == (D(4990), D("4991.5"))
    assert intent.entry_price == D(4990)
    assert intent.tif is TimeInForce.GTC
    assert (intent.purpose, intent.account) == (Purpose.ROLL_CLOSE, "DU123")


def test_text_is_forgiving_about_case_spaces_and_thousands_separators() -> None:
    values = ticket(side=" sell ", quantity=" 1,000 ", order_type="stp lmt", tif="gtc")
    intent = build_intent(**values | {"limit_price": "5,000.00", "stop_price": "5000.25"})
    assert intent.side is Side.SELL
    assert intent.quantity == D(1000)
    assert intent.order_type is OrderType.STOP_LIMIT
    assert intent.tif is TimeInForce.GTC


def test_market_order_carries_no_prices() -> None:
    intent = build_intent(**ticket(order_type="MKT", limit_price=None))
    assert intent.limit_price is None
    assert intent.stop_price is None
    assert intent.entry_price is None


def test_blank_price_fields_count_as_empty() -> None:
    intent = build_intent(**ticket(order_type="MKT", limit_price="  ", stop_price=""))
    assert intent.limit_price is None


def test_whole_quantity_written_with_decimals_is_normalised() -> None:
    intent = build_intent(**ticket(quantity="4.000"))
    assert intent.quantity == D(4)
    assert str(intent.quantity) == "4"


# --- build_intent: rejections name the field ------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"quantity": "0"}, "quantity", "above zero"),
        ({"quantity": "-1"}, "quantity", "above zero"),
        ({"quantity": "1.5"}, "quantity", "whole number"),
        ({"quantity": "abc"}, "quantity", "is not a number"),
        ({"quantity": "NaN"}, "quantity", "finite"),
        ({"quantity": "Infinity"}, "quantity", "finite"),
        ({"quantity": True}, "quantity", "must be a number"),
        ({"quantity": 2.5}, "quantity", "must be a number"),
        ({"quantity": None}, "quantity", "must be a number"),
        ({"side": "HOLD"}, "side", "not one of BUY, SELL"),
        ({"side": 1}, "side", "not one of"),
        ({"order_type": "MOC"}, "order_type", "not one of MKT, LMT, STP, STP LMT"),
        ({"tif": "FOK"}, "tif", "not one of DAY, GTC, IOC"),
        ({"limit_price": None}, "limit_price", "required for a LMT order"),
        ({"limit_price": "x"}, "limit_price", "is not a number"),
        ({"order_type": "MKT"}, "limit_price", "not used by a MKT order"),
        ({"stop_price": "5000"}, "stop_price", "not used by a LMT order"),
        ({"order_type": "STP", "limit_price": None}, "stop_price", "required for a STP order"),
        ({"order_type": "STP LMT"}, "stop_price", "required for a STP LMT order"),
        (
            {"order_type": "STP LMT", "limit_price": None, "stop_price": "5000"},
            "limit_price",
            "required for a STP LMT order",
        ),
        ({"limit_price": "5000.30"}, "limit_price", "5000.25 and 5000.50"),
        (
            {"order_type": "STP", "limit_price": None, "stop_price": "4999.9"},
            "stop_price",
            "not a multiple of the tick 0.25",
        ),
        ({"take_profit": "5010.1"}, "take_profit", "not a multiple of the tick"),
        ({"stop_loss": "4990.1"}, "stop_loss", "not a multiple of the tick"),
    ],
)
def test_bad_ticket_values_are_rejected_with_the_field_named(
    overrides: dict[str, object], field: str, fragment: str
) -> None:
    with pytest.raises(OrderValidationError) as caught:
        build_intent(**ticket(**overrides))
    assert caught.value.field == field
    assert fragment in caught.value.message
    assert str(caught.value).startswith(f"{field}: ")


# --- brackets --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("side", "entry", "take_profit", "stop_loss", "bad_field"),
    [
        ("BUY", "5000", "5010", "4990", None),
        ("BUY", "5000", "5010", None, None),
        ("BUY", "5000", None, "4990", None),
        ("BUY", "5000", "4990", None, "take_profit"),
        ("BUY", "5000", "5000", None, "take_profit"),
        ("BUY", "5000", None, "5010", "stop_loss"),
        ("BUY", "5000", None, "5000", "stop_loss"),
        ("SELL", "5000", "4990", "5010", None),
        ("SELL", "5000", "5010", None, "take_profit"),
        ("SELL", "5000", None, "4990", "stop_loss"),
    ],
)
def test_bracket_prices_must_lie_on_the_right_side_of_the_entry(
    side: str, entry: str, take_profit: str | None, stop_loss: str | None, bad_field: str | None
) -> None:
    values = ticket(side=side, limit_price=entry, take_profit=take_profit, stop_loss=stop_loss)
    if bad_field is None:
        intent = build_intent(**values)
        expected_tp = D(take_profit) if take_profit else None
        expected_sl = D(stop_loss) if stop_loss else None
        assert intent.bracket == Bracket(take_profit=expected_tp, stop_loss=expected_sl)
    else:
        with pytest.raises(OrderValidationError) as caught:
            build_intent(**values)
        assert caught.value.field == bad_field
        assert "entry price 5000" in caught.value.message


def test_stop_entry_bracket_is_checked_against_the_stop_price() -> None:
    with pytest.raises(OrderValidationError, match=r"stop-loss 5001\.00 must be below the entry"):
        build_intent(
            **ticket(order_type="STP", limit_price=None, stop_price="5001", stop_loss="5001")
        )


def test_market_bracket_is_checked_against_the_reference_price() -> None:
    values = ticket(order_type="MKT", limit_price=None, take_profit="4990")
    with pytest.raises(OrderValidationError, match="above the entry price 5000"):
        build_intent(**values, reference_price=D(5000))


def test_market_bracket_without_reference_still_orders_its_two_exits() -> None:
    values = ticket(order_type="MKT", limit_price=None, take_profit="4990", stop_loss="5010")
    with pytest.raises(OrderValidationError) as caught:
        build_intent(**values)
    assert caught.value.field == "take_profit"
    assert "above the stop-loss 5010" in caught.value.message
    ok = build_intent(
        **ticket(order_type="MKT", limit_price=None, take_profit="5010", stop_loss="4990")
    )
    assert ok.bracket == Bracket(D(5010), D(4990))


def test_bracket_child_keys_derive_from_the_parent_key() -> None:
    intent = build_intent(**ticket(take_profit="5010", stop_loss="4990"))
    assert intent.take_profit_key == "ibc-test.tp" == take_profit_key(intent.key)
    assert intent.stop_loss_key == "ibc-test.sl" == stop_loss_key(intent.key)


# --- tick policy -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("side", "limit", "expected_limit"),
    [("BUY", "5000.30", "5000.25"), ("SELL", "5000.30", "5000.50")],
)
def test_snap_policy_never_pays_more_or_receives_less_than_typed(
    side: str, limit: str, expected_limit: str
) -> None:
    values = ticket(side=side, limit_price=limit)
    intent = build_intent(**values, tick_policy=TickPolicy.SNAP)
    assert intent.limit_price == D(expected_limit)


def test_snap_policy_snaps_bracket_exits_for_the_exit_side() -> None:
    # The exits of a buy are sells: they snap up, so neither pays away a fraction of a tick.
    values = ticket(limit_price="5000", take_profit="5010.1", stop_loss="4990.1")
    intent = build_intent(**values, tick_policy=TickPolicy.SNAP)
    assert intent.bracket == Bracket(D("5010.25"), D("4990.25"))


@settings(deadline=None)
@given(
    st.sampled_from(["BUY", "SELL"]),
    st.decimals(min_value=1, max_value=10_000, places=4, allow_nan=False),
)
def test_no_price_off_the_tick_survives_build_intent(side: str, price: Decimal) -> None:
    values = ticket(side=side, limit_price=price)
    if is_on_tick(price, ES.min_tick):
        intent = build_intent(**values)
        assert intent.limit_price == price
    else:
        with pytest.raises(OrderValidationError) as caught:
            build_intent(**values)
        assert caught.value.field == "limit_price"
    snapped = build_intent(**ticket(side=side, limit_price=price), tick_policy=TickPolicy.SNAP)
    assert snapped.limit_price is not None
    assert is_on_tick(snapped.limit_price, ES.min_tick)


# --- idempotency keys ------------------------------------------------------------------------


def test_default_key_factory_makes_time_ordered_unique_keys() -> None:
    clock = ManualClock(T0)
    factory = OrderKeyFactory(clock, rng=random.Random(7))
    keys = []
    for step in [0, 0, 0, 1, 0, 250, 0, 86_400_000]:
        clock.advance(timedelta(milliseconds=step))
        keys.append(factory())
    assert len(set(keys)) == len(keys)
    assert keys == sorted(keys)
    assert all(k.startswith("ibc-") and len(k) == 30 for k in keys)
    assert all(validate_key(k) == k for k in keys)
    assert len(take_profit_key(keys[0])) <= MAX_KEY_LENGTH


def test_two_factories_at_the_same_instant_do_not_collide() -> None:
    clock = ManualClock(T0)
    first = OrderKeyFactory(clock)
    second = OrderKeyFactory(clock)
    keys = {first() for _ in range(50)} | {second() for _ in range(50)}
    assert len(keys) == 100


@settings(deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=5_000), min_size=1, max_size=60))
def test_keys_from_one_factory_sort_in_creation_order(steps: list[int]) -> None:
    clock = ManualClock(T0)
    factory = OrderKeyFactory(clock, rng=random.Random(1))
    keys = []
    for step in steps:
        clock.advance(timedelta(milliseconds=step))
        keys.append(factory())
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)


def test_build_intent_uses_a_default_factory_from_the_clock() -> None:
    values = ticket()
    del values["key_factory"]
    intent = build_intent(**values)
    assert intent.key.startswith("ibc-")
    assert validate_key(intent.key) == intent.key


@pytest.mark.parametrize(
    ("key", "fragment"),
    [
        ("", "empty"),
        ("x" * 38, "at most 37"),
        ("has space", "contains ' '"),
        ("nul\x00", "contains"),
        ("é", "contains 'é'"),
    ],
)
def test_keys_that_cannot_travel_as_order_ref_are_rejected(key: str, fragment: str) -> None:
    with pytest.raises(OrderValidationError) as caught:
        validate_key(key)
    assert caught.value.field == "key"
    assert fragment in caught.value.message


def test_a_factory_returning_a_bad_key_is_caught() -> None:
    with pytest.raises(OrderValidationError, match="key: the idempotency key"):
        build_intent(**ticket(key_factory=lambda: "bad key"))


def test_naive_clock_is_refused() -> None:
    class NaiveClock:
        def now(self) -> datetime:
            return datetime(2025, 1, 1)

    with pytest.raises(ValueError, match="naive"):
        build_intent(**ticket(clock=NaiveClock()))


def test_flat_position_is_known_and_zero() -> None:
    flat = Position.flat(42, "DU1")
    assert (flat.con_id, flat.quantity, flat.account) == (42, D(0), "DU1")


# --- quotes ----------------------------------------------------------------------------------


def quote(
    bid: str | None = "4999.75",
    ask: str | None = "5000.00",
    last: str | None = "5000.00",
    time: datetime = T0,
    data_type: MarketDataType = MarketDataType.LIVE,
) -> Quote:
    return Quote(
        con_id=1,
        bid=D(bid) if bid is not None else None,
        ask=D(ask) if ask is not None else None,
        last=D(last) if last is not None else None,
        time=time,
        data_type=data_type,
    )


@pytest.mark.parametrize(
    ("bid", "ask", "last", "mid", "good"),
    [
        ("4999.75", "5000.00", "5000.25", "4999.875", "5000.25"),
        ("4999.75", "5000.00", None, "4999.875", "4999.875"),
        (None, "5000.00", None, None, None),
        ("5000.25", "5000.00", None, None, None),  # crossed book: no midpoint to trust
        (None, None, "5000.00", None, "5000.00"),
    ],
)
def test_quote_midpoint_and_last_good_price(
    bid: str | None, ask: str | None, last: str | None, mid: str | None, good: str | None
) -> None:
    q = quote(bid, ask, last)
    assert q.mid == (D(mid) if mid else None)
    assert q.last_good_price() == (D(good) if good else None)


def test_quote_age_and_staleness() -> None:
    q = quote()
    assert q.age(T0 + timedelta(seconds=5)) == timedelta(seconds=5)
    assert q.age(T0 - timedelta(seconds=5)) == timedelta(0)
    assert not q.is_stale(T0 + timedelta(seconds=10), timedelta(seconds=10))
    assert q.is_stale(T0 + timedelta(seconds=11), timedelta(seconds=10))
    assert quote(data_type=MarketDataType.FROZEN).is_stale(T0, timedelta(seconds=10))


@pytest.mark.parametrize(
    ("data_type", "delayed", "frozen", "label"),
    [
        (MarketDataType.LIVE, False, False, "live"),
        (MarketDataType.FROZEN, False, True, "frozen"),
        (MarketDataType.DELAYED, True, False, "delayed"),
        (MarketDataType.DELAYED_FROZEN, True, True, "delayed frozen"),
    ],
)
def test_market_data_types(
    data_type: MarketDataType, delayed: bool, frozen: bool, label: str
) -> None:
    assert data_type.is_delayed is delayed
    assert data_type.is_frozen is frozen
    assert data_type.label == label


def test_quote_time_must_be_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        quote(time=datetime(2025, 1, 1))
