"""The calendar spread of a roll: which exchanges list it, its tick, its quote, the default
marketable limit, the legs' prices and the combo order, without IB or Qt."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from ibconsole.domain.calendar_spread import (
    CalendarSpread,
    SpreadQuote,
    exchange_lists_spread,
    implied_quote,
    leg_orders,
    own_quote,
    reduced_ratios,
    spread_for_roll,
    spread_tick,
)
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.orders import OrderType, Purpose, Side
from ibconsole.domain.quotes import MarketDataType, Quote
from ibconsole.domain.rollover import RolloverSettings, plan_roll

ListedFactory = Callable[[str, str], ListedContract]  # the ``listed`` fixture
NOW = datetime(2026, 12, 10, 15, 30, tzinfo=UTC)


def _quote(bid: str | None, ask: str | None) -> Quote:
    return Quote(
        1,
        None if bid is None else D(bid),
        None if ask is None else D(ask),
        None,
        NOW,
        MarketDataType.LIVE,
    )


@pytest.mark.parametrize(
    ("symbol", "near", "far", "listed_spread", "tick"),
    [
        ("ES", "202612", "202703", True, "0.05"),
        ("MES", "202612", "202703", True, "0.05"),
        ("RTY", "202612", "202703", True, "0.05"),
        ("YM", "202612", "202703", True, "1"),
        ("CL", "202702", "202703", True, "0.01"),
        ("GC", "202702", "202704", True, "0.10"),
        ("ZN", "202703", "202706", True, "0.015625"),
        ("6E", "202612", "202703", False, "0.00005"),
    ],
)
def test_which_exchanges_list_the_calendar_and_on_what_tick(
    listed: ListedFactory, symbol: str, near: str, far: str, listed_spread: bool, tick: str
) -> None:
    held, target = listed(symbol, near), listed(symbol, far)
    assert exchange_lists_spread(held, target) is listed_spread
    assert spread_tick(held) == D(tick)


def test_a_month_and_itself_or_two_products_are_no_calendar(listed: ListedFactory) -> None:
    es = listed("ES", "202612")
    assert not exchange_lists_spread(es, es)
    assert not exchange_lists_spread(es, listed("NQ", "202703"))


@pytest.mark.parametrize(
    ("ratios", "reduced"),
    [((1, 1), (1, 1)), ((2, 2), (1, 1)), ((2, 4), (1, 2)), ((3, 2), (3, 2))],
)
def test_ratios_are_reduced_by_their_greatest_common_divisor(
    ratios: tuple[int, ...], reduced: tuple[int, ...]
) -> None:
    assert reduced_ratios(ratios) == reduced


@pytest.mark.parametrize("ratios", [(), (0, 1), (-1, 1)])
def test_ratios_must_be_positive(ratios: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="above zero"):
        reduced_ratios(ratios)


@pytest.mark.parametrize(
    ("near", "far", "bid", "ask"),
    [
        (("5930.00", "5930.25"), ("5980.50", "5980.75"), "50.25", "50.75"),
        ((None, "5930.25"), ("5980.50", "5980.75"), "50.25", None),
        (None, ("5980.50", "5980.75"), None, None),
    ],
)
def test_the_legs_imply_far_bid_minus_near_ask_and_far_ask_minus_near_bid(
    near: tuple[str | None, str | None] | None,
    far: tuple[str, str],
    bid: str | None,
    ask: str | None,
) -> None:
    implied = implied_quote(None if near is None else _quote(*near), _quote(*far))
    assert implied == SpreadQuote(None if bid is None else D(bid), None if ask is None else D(ask))
    assert implied.complete is (bid is not None and ask is not None)


def test_own_quote_reads_the_combo_s_bid_and_ask() -> None:
    assert own_quote(_quote("50.35", "50.45")) == SpreadQuote(D("50.35"), D("50.45"))
    assert own_quote(None) == SpreadQuote(None, None)


@pytest.mark.parametrize(
    ("position", "through", "limit"),
    [
        ("2", 0, "50.45"),  # a long rolls by buying the spread: at the ask
        ("2", 1, "50.50"),
        ("2", 3, "50.60"),
        ("-2", 0, "50.35"),  # a short sells it: at the bid
        ("-2", 1, "50.30"),
    ],
)
def test_the_default_limit_is_ticks_through_the_far_touch(
    listed: ListedFactory, position: str, through: int, limit: str
) -> None:
    rolling = plan_roll(
        D(position), listed("ES", "202612"), listed("ES", "202703"), (), RolloverSettings()
    )
    spread = spread_for_roll(rolling)
    assert spread.side is (Side.BUY if D(position) > 0 else Side.SELL)
    assert spread.quantity == 2
    assert spread.limit_through(SpreadQuote(D("50.35"), D("50.45")), through) == D(limit)
    assert spread.limit_through(SpreadQuote(None, None), through) is None


def test_the_combo_order_sells_the_held_month_and_buys_the_next(listed: ListedFactory) -> None:
    near, far = listed("ES", "202612"), listed("ES", "202703")
    spread = CalendarSpread(near, far, Side.BUY, D(3))
    intent = spread.intent(
        OrderType.LIMIT, D("50.45"), key_factory=lambda: "ibc-1", now=NOW, account="DU1"
    )
    assert intent.contract.local_symbol == f"{near.local_symbol}-{far.local_symbol}"
    assert intent.contract.min_tick == D("0.05")
    assert intent.contract.con_id == 0
    assert intent.purpose is Purpose.ROLL_SPREAD
    assert [(leg.contract, leg.ratio, leg.side) for leg in intent.legs] == [
        (near, 1, Side.SELL),
        (far, 1, Side.BUY),
    ]
    # the pre-trade checks see what each leg does
    close, opening = leg_orders(intent)
    assert (close.contract, close.side, close.quantity) == (near, Side.SELL, 3)
    assert (opening.contract, opening.side, opening.quantity) == (far, Side.BUY, 3)
    assert close.order_type is opening.order_type is OrderType.MARKET
    assert close.legs == opening.legs == ()
    sold = CalendarSpread(near, far, Side.SELL, D(1))
    assert [leg.side_for(Side.SELL) for leg in sold.legs] == [Side.BUY, Side.SELL]
    prices = spread.leg_prices(D("50.45"), D("5930.25"))
    assert [price for _, price in prices] == [D("5930.25"), D("5980.70")]


@pytest.mark.parametrize(
    ("order_type", "price", "message"),
    [
        (OrderType.LIMIT, None, "needs a spread price"),
        (OrderType.LIMIT, D("50.42"), "not on the spread's tick"),
        (OrderType.STOP, D("50"), "market or a limit"),
    ],
)
def test_a_bad_spread_order_is_refused(
    listed: ListedFactory, order_type: OrderType, price: D | None, message: str
) -> None:
    spread = CalendarSpread(listed("ES", "202612"), listed("ES", "202703"), Side.BUY, D(1))
    with pytest.raises(ValueError, match=message):
        spread.intent(order_type, price, key_factory=lambda: "ibc-1", now=NOW, account="")


def test_a_roll_that_does_not_reopen_has_no_spread(listed: ListedFactory) -> None:
    rolling = plan_roll(
        D(1),
        listed("ES", "202612"),
        listed("ES", "202703"),
        (),
        RolloverSettings(reopen_on_roll=False),
    )
    with pytest.raises(ValueError, match="does not reopen"):
        spread_for_roll(rolling)
