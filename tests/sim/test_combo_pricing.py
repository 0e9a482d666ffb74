"""The pure parts of combos, without a socket: resolving legs, the combo's quote from its
legs', leg prices that add up to the spread price, leg execution ids, and the calendar
spread's margin credit."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from ibconsole.sim.clock import SimClock
from ibconsole.sim.combo_pricing import implied_quote
from ibconsole.sim.combos import ComboInstrument, Combos
from ibconsole.sim.contract_details import RequestError
from ibconsole.sim.fill_executions import leg_exec_id, leg_prices
from ibconsole.sim.instruments import Catalogue, Instrument
from ibconsole.sim.market import Quote
from ibconsole.sim.orders import ComboLegRef
from ibconsole.sim.rates import Margin, margin
from ibconsole.sim.spread_margin import SPREAD_CHARGE_RATE, account_margin

D = Decimal
AS_OF = datetime(2025, 3, 4, 15, 0, tzinfo=UTC)


@pytest.fixture
def catalogue() -> Catalogue:
    return Catalogue(SimClock(AS_OF))


@pytest.fixture
def combos(catalogue: Catalogue) -> Combos:
    return Combos(catalogue, SimClock(AS_OF))


def months(catalogue: Catalogue, symbol: str, count: int = 2) -> list[Instrument]:
    return [i for i in catalogue.listed() if i.symbol == symbol][:count]


def contract(exchange: str, symbol: str = "ES", currency: str = "USD") -> list[str]:
    return ["0", symbol, "BAG", "", "", "", "", exchange, "", currency, "", ""]


def spread(combos: Combos, catalogue: Catalogue, symbol: str, exchange: str) -> ComboInstrument:
    near, far = months(catalogue, symbol)
    legs = [
        ComboLegRef(far.con_id, 1, "BUY", far.exchange),
        ComboLegRef(near.con_id, 1, "SELL", near.exchange),
    ]
    return combos.resolve(contract(exchange, symbol), legs, "bN")


def quote(bid: str, ask: str, last: str, size: int = 10) -> Quote:
    return Quote(
        bid=D(bid),
        ask=D(ask),
        last=D(last),
        bid_size=size,
        ask_size=size + 1,
        last_size=1,
        volume=1000,
        high=D(ask),
        low=D(bid),
        open=D(last),
        close=D(last),
        time=AS_OF,
    )


@pytest.mark.parametrize(
    ("symbol", "exchange", "listed", "tick"),
    [
        ("ES", "CME", True, "0.05"),  # CME: calendar spread 0.05 against 0.25 outright
        ("MNQ", "CME", True, "0.05"),
        ("CL", "NYMEX", True, "0.01"),  # same as the outright
        ("YM", "CBOT", True, "1"),
        ("ES", "SMART", False, "0.25"),  # not directed to the exchange: the legs' market
    ],
)
def test_which_combos_are_listed_calendars_and_their_tick(
    combos: Combos, catalogue: Catalogue, symbol: str, exchange: str, listed: bool, tick: str
) -> None:
    combo = spread(combos, catalogue, symbol, exchange)
    assert combo.listed is listed
    assert combo.min_tick == D(tick)
    assert combo.contract_fields()[0] == 28812380
    assert combo.con_id < 0


def test_one_combo_per_leg_set(combos: Combos, catalogue: Catalogue) -> None:
    first = spread(combos, catalogue, "ES", "CME")
    assert spread(combos, catalogue, "ES", "CME") is first
    assert spread(combos, catalogue, "ES", "SMART") is not first
    assert combos.get(first.con_id) is first


def test_an_expired_leg_is_unknown(combos: Combos, catalogue: Catalogue) -> None:
    expired = next(i for i in catalogue if i.symbol == "ES" and i.is_expired(AS_OF))
    (near,) = months(catalogue, "ES", 1)
    legs = [
        ComboLegRef(expired.con_id, 1, "BUY", "CME"),
        ComboLegRef(near.con_id, 1, "SELL", "CME"),
    ]
    with pytest.raises(RequestError) as refused:
        combos.resolve(contract("CME"), legs, "bN")
    assert refused.value.code == 200


def test_implied_quote_buys_the_bought_legs_at_the_ask(
    combos: Combos, catalogue: Catalogue
) -> None:
    combo = spread(combos, catalogue, "ES", "SMART")
    far, near = quote("6050.00", "6050.25", "6050.25", 7), quote("6000.00", "6000.25", "6000.00", 3)
    combined = implied_quote(combo, [far, near])
    assert (combined.bid, combined.ask) == (D("49.75"), D("50.25"))
    assert combined.last == D("50.25")
    assert combined.bid_size == 4  # far bid 7 against near ask 4
    assert combined.ask_size == 3


@pytest.mark.parametrize(
    ("symbol", "far", "near", "bid", "ask"),
    [
        ("ES", ("6050.00", "6050.25"), ("6000.00", "6000.25"), "49.95", "50.00"),
        ("ES", ("6050.25", "6050.50"), ("6000.00", "6000.25"), "50.20", "50.25"),
        ("CL", ("70.50", "70.51"), ("70.00", "70.01"), "0.49", "0.50"),
    ],
)
def test_a_listed_calendar_quotes_one_tick_inside_the_implied_market(
    combos: Combos,
    catalogue: Catalogue,
    symbol: str,
    far: tuple[str, str],
    near: tuple[str, str],
    bid: str,
    ask: str,
) -> None:
    exchange = months(catalogue, symbol)[0].exchange
    combo = spread(combos, catalogue, symbol, exchange)
    legs = [quote(far[0], far[1], far[0]), quote(near[0], near[1], near[0])]
    combined = implied_quote(combo, legs)
    implied = implied_quote(spread(combos, catalogue, symbol, "SMART"), legs)
    assert (combined.bid, combined.ask) == (D(bid), D(ask))
    assert implied.bid <= combined.bid < combined.ask <= implied.ask


def test_an_equity_calendar_anchors_the_nearby_at_its_prior_settlement(
    combos: Combos, catalogue: Catalogue
) -> None:
    combo = spread(combos, catalogue, "ES", "CME")
    near, far = months(catalogue, "ES")
    near_quote = replace(quote("6000.00", "6000.25", "6000.25"), close=D("5998.50"))
    quotes = {near.con_id: near_quote, far.con_id: quote("6050.50", "6050.75", "6050.50")}
    prices = leg_prices(combo, D("50.35"), lambda instrument: quotes[instrument.con_id])
    # CME: the nearby at the prior day's settlement, the deferred month on the spread's tick
    assert prices == [D("6048.85"), D("5998.50")]


def test_other_combos_anchor_at_the_last_trade_and_add_up_to_the_spread(
    combos: Combos, catalogue: Catalogue
) -> None:
    first, second, third = months(catalogue, "ES", 3)
    legs = [
        ComboLegRef(first.con_id, 1, "BUY", "CME"),
        ComboLegRef(second.con_id, 2, "SELL", "CME"),
        ComboLegRef(third.con_id, 1, "BUY", "CME"),
    ]
    combo = combos.resolve(contract("CME"), legs, "bN")
    last = {first.con_id: "6000", second.con_id: "6050", third.con_id: "6100"}
    quotes = {con_id: quote(price, price, price) for con_id, price in last.items()}
    prices = leg_prices(combo, D("0.25"), lambda instrument: quotes[instrument.con_id])
    total = sum((leg.weight * price for leg, price in zip(combo.legs, prices, strict=True)), D(0))
    assert total == D("0.25")
    assert prices[:2] == [D("6000"), D("6050")]
    assert not combo.listed


@pytest.mark.parametrize(
    ("exec_id", "index", "expected"),
    [
        ("9b41e372.2f3a1b1f.01.01", 0, "9b41e372.2f3a1b1f.011.01"),
        ("9b41e372.2f3a1b1f.01.01", 1, "9b41e372.2f3a1b1f.012.01"),
        ("plain", 0, "plain.01"),
    ],
)
def test_leg_execution_ids_differ_before_the_final_period(
    exec_id: str, index: int, expected: str
) -> None:
    assert leg_exec_id(exec_id, index) == expected


def test_a_calendar_spread_is_margined_as_a_spread(catalogue: Catalogue) -> None:
    near, far = months(catalogue, "ES")
    outright = margin(near, D(1), D(6000))
    spread_margin = account_margin([(near, D(-2), D(6000)), (far, D(3), D(6050))])
    # two spreads at the spread charge, the third deferred contract as an outright
    expected = 2 * 2 * outright.initial * SPREAD_CHARGE_RATE + outright.initial
    assert spread_margin.initial == expected
    assert account_margin([(near, D(1), D(6000)), (far, D(1), D(6050))]).initial == 2 * (
        outright.initial
    )


def test_an_inter_commodity_combo_trades_on_the_legs_implied_market(
    combos: Combos, catalogue: Catalogue
) -> None:
    (es,) = months(catalogue, "ES", 1)
    (nq,) = months(catalogue, "NQ", 1)
    legs = [ComboLegRef(nq.con_id, 1, "BUY", "CME"), ComboLegRef(es.con_id, 3, "SELL", "CME")]
    combo = combos.resolve(contract("CME"), legs, "bN")
    assert not combo.listed
    assert combo.min_tick == D("0.25")
    nq_quote, es_quote = (
        quote("21000.00", "21000.25", "21000.00"),
        quote("6000.00", "6000.25", "6000.00", 30),
    )
    combined = implied_quote(combo, [nq_quote, es_quote])
    assert (combined.bid, combined.ask) == (D("2999.25"), D("3000.25"))
    assert combined.bid_size == 10  # NQ's bid of 10 against ES's ask of 31 = 10 combos of 3
    assert combined.ask_size == 10


def _option(future: Instrument, con_id: int, strike: int, right: str, expiry: str) -> Instrument:
    return replace(
        future,
        con_id=con_id,
        sec_type="FOP",
        strike=D(strike),
        right=right,
        under_con_id=future.con_id,
        last_trade_date=expiry,
    )


def _premium_rule(instrument: Instrument, position: D, price: D) -> Margin:
    """Longs pay their premium; shorts their premium and 3,000 a contract."""
    need = abs(position) * price * 50 + (3000 * abs(position) if position < 0 else 0)
    return Margin(need, need)


@pytest.mark.parametrize(
    ("low_position", "high_position", "expiry_high", "expected"),
    [
        (1, -1, "20250321", D(5000)),  # debit call spread: the long's premium, nothing more
        (-1, 1, "20250321", D(7500)),  # credit call spread: premium plus 100 points at risk
        (2, -1, "20250321", D(10000)),  # one long left over
        (1, -1, "20250620", D(10500)),  # different expiries: no vertical
    ],
)
def test_a_vertical_option_spread_is_margined_by_its_risk(
    catalogue: Catalogue, low_position: int, high_position: int, expiry_high: str, expected: D
) -> None:
    (future,) = months(catalogue, "ES", 1)
    low = _option(future, 1, 5800, "C", "20250321")
    high = _option(future, 2, 5900, "C", expiry_high)
    prices = {1: D(100), 2: D(50)}
    holdings = [(low, D(low_position), prices[1]), (high, D(high_position), prices[2])]
    assert account_margin(holdings, _premium_rule).initial == expected
