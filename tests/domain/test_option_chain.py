"""The options chain model: strike window, re-centring, lines within a budget, in-the-money sides,
greeks as IB sent them (or "none"), price-dependent option ticks, the option checks, and the delta
of a book per underlying in futures-equivalent contracts."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from ibconsole.domain.clock import ManualClock
from ibconsole.domain.contracts import ListedContract, OptionRight, OptionTerms, PriceIncrement
from ibconsole.domain.option_chain import (
    ChainTable,
    Column,
    DeltaLine,
    Greeks,
    atm_index,
    days_to_expiry,
    delta_totals,
    fitting_each_side,
    greek_text,
    in_the_money,
    needs_recentre,
    strike_window,
    table_columns,
)
from ibconsole.domain.orders import OrderType, OrderValidationError, Position, build_intent
from ibconsole.domain.quotes import MarketDataType, Quote
from ibconsole.domain.risk import Check, RiskContext, RiskLimits, Severity, evaluate
from ibconsole.domain.trading_mode import AccountMode

CHICAGO = ZoneInfo("America/Chicago")
NOW = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
STRIKES = tuple(Decimal(k) for k in range(5700, 6001, 25))  # 5700, 5725, ... 6000 (13 strikes)
RULE_1100 = (
    PriceIncrement(Decimal(0), Decimal("0.05")),
    PriceIncrement(Decimal(5), Decimal("0.25")),
)


def option(
    strike: int | str, right: OptionRight = OptionRight.CALL, con_id: int = 0
) -> ListedContract:
    value = Decimal(strike)
    return ListedContract(
        symbol="ES",
        local_symbol=f"ESZ6 {right.value}{value}",
        con_id=con_id or int(value) * 2 + (right is OptionRight.PUT),
        contract_month="202612",
        last_trade=datetime(2026, 12, 18, 8, 30, tzinfo=CHICAGO),
        exchange="CME",
        currency="USD",
        multiplier=Decimal(50),
        min_tick=Decimal("0.05"),
        trading_class="ES",
        option=OptionTerms(right, value, 495512563),
        price_increments=RULE_1100,
    )


def quote(con_id: int, bid: str | None, ask: str | None, last: str | None = None) -> Quote:
    def dec(text: str | None) -> Decimal | None:
        return None if text is None else Decimal(text)

    return Quote(con_id, dec(bid), dec(ask), dec(last), NOW, MarketDataType.LIVE)


@pytest.mark.parametrize(
    ("underlying", "each_side", "expected"),
    [
        ("5850", 2, ("5800", "5825", "5850", "5875", "5900")),
        ("5861", 1, ("5825", "5850", "5875")),  # 5850 is nearest
        ("5862.5", 1, ("5825", "5850", "5875")),  # a tie takes the lower strike
        ("5700", 2, ("5700", "5725", "5750", "5775", "5800")),  # the bottom: slides inward
        ("7000", 1, ("5950", "5975", "6000")),  # beyond the top
        ("5850", 20, tuple(str(k) for k in range(5700, 6001, 25))),  # wider than the list
        ("5850", 0, ("5850",)),
    ],
)
def test_the_window_is_centred_at_the_money_and_keeps_its_width_at_the_ends(
    underlying: str, each_side: int, expected: tuple[str, ...]
) -> None:
    window = strike_window(STRIKES, Decimal(underlying), each_side)
    assert window == tuple(Decimal(k) for k in expected)


@pytest.mark.parametrize(
    ("underlying", "expected"),
    [
        ("5600", "5700"),  # below every strike
        ("5700", "5700"),  # on the lowest
        ("5712.49", "5700"),
        ("5712.5", "5700"),  # a tie: the lower strike
        ("5712.51", "5725"),
        ("5850", "5850"),  # on a strike
        ("5987.5", "5975"),  # a tie near the top
        ("6000", "6000"),  # on the highest
        ("6100", "6000"),  # above every strike
    ],
)
def test_the_money_is_the_nearest_strike_and_the_lower_on_a_tie(
    underlying: str, expected: str
) -> None:
    assert STRIKES[atm_index(STRIKES, Decimal(underlying))] == Decimal(expected)


def test_a_chain_without_strikes_has_no_money() -> None:
    with pytest.raises(ValueError, match="without strikes"):
        atm_index((), Decimal(1))


@pytest.mark.parametrize(
    ("underlying", "recentre"),
    [
        ("5850", False),  # centred
        ("5874", False),  # one strike off: tolerated, no churn between two strikes
        ("5900", True),  # two strikes off
        ("5790", True),  # below: two strikes off the other way
        ("6500", True),  # outside the window
    ],
)
def test_the_window_recentres_once_the_money_moves_more_than_one_strike(
    underlying: str, recentre: bool
) -> None:
    window = strike_window(STRIKES, Decimal(5850), 2)
    assert needs_recentre(window, STRIKES, Decimal(underlying)) is recentre


def test_a_window_pinned_at_the_end_of_the_list_does_not_chase_the_money_past_it() -> None:
    window = strike_window(STRIKES, Decimal(6000), 2)  # 5900..6000, money at the top edge
    assert not needs_recentre(window, STRIKES, Decimal(6000))
    assert needs_recentre(window, STRIKES, Decimal(5850))
    assert needs_recentre((), STRIKES, Decimal(5850))


@pytest.mark.parametrize(
    ("wanted", "free", "each_side"),
    [
        (10, 100, 10),  # 21 strikes × 2 = 42 lines fit
        (10, 42, 10),
        (10, 41, 9),  # 19 strikes × 2 = 38
        (10, 2, 0),  # only the at-the-money pair
        (10, 1, -1),  # not even that
        (3, 1000, 3),
    ],
)
def test_the_window_shrinks_to_the_free_market_data_lines(
    wanted: int, free: int, each_side: int
) -> None:
    got = fitting_each_side(wanted, free)
    assert got == each_side
    if got >= 0:
        assert 2 * (2 * got + 1) <= free


@pytest.mark.parametrize(
    ("right", "strike", "underlying", "itm"),
    [
        (OptionRight.CALL, "5800", "5850", True),
        (OptionRight.CALL, "5900", "5850", False),
        (OptionRight.CALL, "5850", "5850", False),  # at the money is not in it
        (OptionRight.PUT, "5900", "5850", True),
        (OptionRight.PUT, "5800", "5850", False),
        (OptionRight.PUT, "5800", None, None),  # no underlying price: unknown, not out
    ],
)
def test_in_the_money(
    right: OptionRight, strike: str, underlying: str | None, itm: bool | None
) -> None:
    price = None if underlying is None else Decimal(underlying)
    assert in_the_money(right, Decimal(strike), price) is itm


def test_days_to_expiry_count_in_the_exchange_zone() -> None:
    expiry = datetime(2026, 12, 18, 8, 30, tzinfo=CHICAGO)
    assert days_to_expiry(expiry, NOW) == 14
    # 03:00 UTC on the 18th is still the 17th in Chicago.
    assert days_to_expiry(expiry, datetime(2026, 12, 18, 3, 0, tzinfo=UTC)) == 1
    assert days_to_expiry(expiry, datetime(2026, 12, 19, tzinfo=UTC)) == 0


def test_columns_put_bid_and_ask_beside_the_strike_on_both_sides() -> None:
    columns = table_columns()
    labels = [c.value if c else "Strike" for _, c in columns]
    middle = labels.index("Strike")
    assert labels[middle - 2 : middle + 3] == ["Bid", "Ask", "Strike", "Bid", "Ask"]
    assert labels[:middle] == ["Vega", "Theta", "Gamma", "Delta", "IV", "Last", "Bid", "Ask"]
    assert labels[middle + 1 :] == ["Bid", "Ask", "Last", "IV", "Delta", "Gamma", "Theta", "Vega"]
    assert all(r is OptionRight.CALL for r, _ in columns[:middle])
    assert all(r is OptionRight.PUT for r, _ in columns[middle + 1 :])


GREEKS = Greeks(implied_vol=0.1834, delta=0.5123, gamma=0.00123, theta=-1.234, vega=5.678)


@pytest.mark.parametrize(
    ("column", "greeks", "text"),
    [
        (Column.IV, GREEKS, "18.3%"),
        (Column.DELTA, GREEKS, "+0.512"),
        (Column.GAMMA, GREEKS, "0.0012"),
        (Column.THETA, GREEKS, "-1.23"),
        (Column.VEGA, GREEKS, "5.68"),
        (Column.DELTA, None, "none"),  # IB sent no computation: said, not invented
        (Column.GAMMA, Greeks(0.2, -0.4, None, None, None), "—"),  # a field IB left unset
    ],
)
def test_greeks_are_shown_as_ib_sent_them(column: Column, greeks: Greeks | None, text: str) -> None:
    assert greek_text(column, greeks) == text


def test_the_table_routes_quotes_and_greeks_to_their_row_and_side() -> None:
    contracts = [option(k, r) for k in (5800, 5850, 5900) for r in OptionRight]
    table = ChainTable(reversed(contracts))
    assert table.strikes == (Decimal(5800), Decimal(5850), Decimal(5900))
    put_5900 = table.contract(2, OptionRight.PUT)
    assert put_5900 is not None
    assert put_5900.option is not None
    assert put_5900.option.strike == Decimal(5900)

    assert table.text(2, OptionRight.PUT, Column.BID) == ""
    assert table.text(2, OptionRight.PUT, Column.DELTA) == ""  # not subscribed yet
    assert table.set_quote(quote(put_5900.con_id, "61.25", "62.00", "61.50")) == 2
    assert table.set_quote(quote(99, "1", "2")) is None
    assert table.text(2, OptionRight.PUT, Column.BID) == "61.25"
    assert table.text(2, OptionRight.PUT, Column.LAST) == "61.50"
    assert table.text(2, OptionRight.PUT, Column.DELTA) == "none"
    assert table.set_greeks(put_5900.con_id, GREEKS) == 2
    assert table.text(2, OptionRight.PUT, Column.IV) == "18.3%"
    assert table.text(2, None, None) == "5,900"
    assert table.price_at(2, OptionRight.PUT, Column.ASK) == Decimal("62.00")
    assert table.price_at(2, OptionRight.PUT, Column.DELTA) is None
    assert table.price_at(0, OptionRight.CALL, Column.BID) is None

    assert table.set_underlying(Decimal(5870)), "the first price shades the money"
    assert not table.set_underlying(Decimal(5871)), "between the same strikes: nothing to repaint"
    assert table.set_underlying(Decimal(5880)), "past the midpoint: a new at-the-money strike"
    assert table.set_underlying(Decimal(5901)), "crossed a strike: the shading moves"
    assert table.set_underlying(Decimal(5870))
    assert table.atm_row() == 1
    assert table.itm(0, OptionRight.CALL) is True
    assert table.itm(2, OptionRight.CALL) is False
    assert table.itm(2, OptionRight.PUT) is True
    assert table.row_of(put_5900.con_id) == 2


def test_a_future_is_not_an_option_row() -> None:
    future = option(5800)
    with pytest.raises(ValueError, match="not an option"):
        ChainTable([replace(future, option=None)])


# ------------------------------------------------------------------ option ticks and checks


@pytest.mark.parametrize(
    ("price", "tick"),
    [("0.05", "0.05"), ("4.95", "0.05"), ("5.00", "0.25"), ("61.25", "0.25"), ("-3", "0.05")],
)
def test_an_option_tick_follows_its_market_rule(price: str, tick: str) -> None:
    assert option(5800).tick_at(Decimal(price)) == Decimal(tick)


@pytest.mark.parametrize(
    ("limit", "valid"),
    [("4.35", True), ("61.25", True), ("61.30", False), ("4.37", False)],
)
def test_an_option_limit_must_sit_on_the_tick_of_its_price(limit: str, valid: bool) -> None:
    clock = ManualClock(NOW)

    def build() -> object:
        return build_intent(
            contract=option(5800),
            side="BUY",
            quantity=1,
            order_type=OrderType.LIMIT,
            limit_price=limit,
            clock=clock,
        )

    if valid:
        build()
    else:
        with pytest.raises(OrderValidationError, match="not a multiple of the tick"):
            build()


def _context(quote_: Quote | None) -> RiskContext:
    return RiskContext(
        now=NOW,
        position=Position.flat(1, ""),
        working_orders=(),
        quote=quote_,
        session_open=True,
        account_mode=AccountMode.PAPER,
        daily_pnl=Decimal(0),
    )


@pytest.mark.parametrize(
    ("order_type", "with_quote", "expected"),
    [
        (OrderType.MARKET, True, "59.50 bid, 62.00 asked (2.50 wide)"),
        (OrderType.MARKET, False, "no two-sided quote"),
        (OrderType.LIMIT, True, None),
    ],
)
def test_a_market_order_on_an_option_asks_for_confirmation(
    order_type: OrderType, with_quote: bool, expected: str | None
) -> None:
    contract = option(5800)
    intent = build_intent(
        contract=contract,
        side="BUY",
        quantity=1,
        order_type=order_type,
        limit_price="60.00" if order_type is OrderType.LIMIT else None,
        clock=ManualClock(NOW),
    )
    market = quote(contract.con_id, "59.50", "62.00") if with_quote else None
    report = evaluate(intent, _context(market), RiskLimits())
    found = [f for f in report.findings if f.check is Check.OPTION_MARKET]
    if expected is None:
        assert found == []
    else:
        assert [f.severity for f in found] == [Severity.CONFIRM]
        assert expected in found[0].message
        assert "ESZ6 C5800" in found[0].message


def test_a_market_order_on_a_future_asks_nothing_option_specific() -> None:
    future = replace(option(5800), option=None, price_increments=(), min_tick=Decimal("0.25"))
    intent = build_intent(
        contract=future, side="BUY", quantity=1, order_type=OrderType.MARKET, clock=ManualClock(NOW)
    )
    report = evaluate(intent, _context(None), RiskLimits())
    assert all(f.check is not Check.OPTION_MARKET for f in report.findings)


# ------------------------------------------------------------------------------ delta


def test_delta_per_underlying_in_futures_equivalent_contracts() -> None:
    es, nq = 1, 2
    totals = delta_totals(
        [
            DeltaLine(es, Decimal(1), 1.0, Decimal(50), Decimal(50)),  # long 1 ES
            DeltaLine(es, Decimal(-2), 0.25, Decimal(50), Decimal(50)),  # short 2 calls Δ .25
            DeltaLine(es, Decimal(4), -0.5, Decimal(5), Decimal(50)),  # 4 micro-size puts
            DeltaLine(nq, Decimal(3), 0.4, Decimal(20), Decimal(20)),
        ]
    )
    assert totals[es].contracts == pytest.approx(1 - 0.5 - 0.2)
    assert totals[es].complete
    assert totals[nq].contracts == pytest.approx(1.2)


def test_an_unknown_delta_makes_the_total_incomplete_not_zero() -> None:
    totals = delta_totals(
        [
            DeltaLine(1, Decimal(1), 1.0, Decimal(50), Decimal(50)),
            DeltaLine(1, Decimal(5), None, Decimal(50), Decimal(50)),
        ]
    )
    assert totals[1].contracts == pytest.approx(1.0)
    assert not totals[1].complete


@pytest.mark.parametrize(
    ("limit", "blocked"),
    [
        ("1.10", False),  # the ask of a cheap option: 10 % above its last, yet at the touch
        ("1.25", False),  # within the spread and a tick of the reference
        ("1.50", True),  # far through the market
    ],
)
def test_a_cheap_options_band_is_at_least_its_spread(limit: str, blocked: bool) -> None:
    contract = option(6300)
    intent = build_intent(
        contract=contract,
        side="BUY",
        quantity=1,
        order_type=OrderType.LIMIT,
        limit_price=limit,
        clock=ManualClock(NOW),
    )
    market = quote(contract.con_id, "0.90", "1.10", "1.00")
    report = evaluate(intent, _context(market), RiskLimits())
    band = [f for f in report.findings if f.check is Check.PRICE_BAND]
    assert bool([f for f in band if f.severity is Severity.BLOCK]) is blocked
    if blocked:
        assert "widened to the option's spread" in band[0].message
