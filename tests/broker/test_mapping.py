"""ib_insync objects to domain snapshots and back: IB's unset values become None, never a number;
contract months carry their last trade in the exchange's zone; quotes carry their data type."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from ibconsole.broker.ib_client import (
    UNSET_DOUBLE,
    ContractDetails,
    Future,
    Order,
    OrderStatus,
    Ticker,
    Trade,
)
from ibconsole.broker.ib_client import Position as IbPosition
from ibconsole.broker.mapping import (
    decimal_or_none,
    ib_contract,
    listed_contract,
    position,
    quote,
    working_order,
)
from ibconsole.broker.tick_grid import TickGrid
from ibconsole.domain.orders import Position, TimeInForce
from ibconsole.domain.products import product
from ibconsole.domain.quotes import MarketDataType

CHICAGO = ZoneInfo("America/Chicago")
RECEIVED = datetime(2025, 3, 4, 15, 0, 1, tzinfo=UTC)


def es_details(last_trade_time: str = "08:30", day: str = "20250321") -> ContractDetails:
    return ContractDetails(
        contract=Future(
            symbol="ES",
            lastTradeDateOrContractMonth=day,
            exchange="CME",
            currency="USD",
            localSymbol="ESH5",
            tradingClass="ES",
            multiplier="50",
            conId=710002503,
        ),
        minTick=0.25,
        contractMonth="202503",
        timeZoneId="US/Central",
        lastTradeTime=last_trade_time,
    )


@pytest.mark.parametrize("unset", [None, math.nan, math.inf, -math.inf, UNSET_DOUBLE])
def test_values_ib_left_unset_are_none(unset: float | None) -> None:
    assert decimal_or_none(unset) is None


def test_prices_become_exact_decimals_on_the_tick_grid() -> None:
    assert decimal_or_none(5953.75) == Decimal("5953.75")
    assert decimal_or_none(0.1) == Decimal("0.1")
    assert decimal_or_none(5953.7500000001, Decimal("0.25")) == Decimal("5953.75")
    assert decimal_or_none(-1.5) == Decimal("-1.5")


@pytest.mark.parametrize("huge", [-1.6880690758736528e152, 1e300])
def test_a_price_too_large_for_any_tick_grid_is_none(huge: float) -> None:
    # A misbehaving gateway's number: snapping it overflows the grid's 28 digits.
    assert decimal_or_none(huge, Decimal("0.25")) is None
    assert decimal_or_none(huge) == Decimal(repr(huge))  # no grid asked for: the number as is


def test_a_decimal_price_set_on_an_order_stays_exact() -> None:
    # ib_async types an order's prices float | Decimal; a Decimal must not go through repr()
    assert decimal_or_none(Decimal("5953.75")) == Decimal("5953.75")
    assert decimal_or_none(Decimal("5953.70"), Decimal("0.25")) == Decimal("5953.75")
    assert decimal_or_none(Decimal("NaN")) is None


@pytest.mark.parametrize("clock_time", ["09:15", "0915", "14:15:00"])
def test_a_contract_month_ends_at_its_last_trade_time_in_the_exchange_zone(
    clock_time: str,
) -> None:
    # "14:15:00" is TWS v176's UTC instant ("20250321-14:15:00"): 09:15 in Chicago (CDT)
    month = listed_contract(es_details(clock_time), product("ES"))

    assert month.last_trade == datetime(2025, 3, 21, 9, 15, tzinfo=CHICAGO)
    assert month.last_trade.utcoffset() is not None
    assert month.symbol == "ES"
    assert month.local_symbol == "ESH5"
    assert month.con_id == 710002503
    assert month.contract_month == "202503"
    assert month.multiplier == Decimal(50)
    assert month.min_tick == Decimal("0.25")


@pytest.mark.parametrize("unusable", ["", "2599", "8:30am"])
def test_without_a_usable_last_trade_time_the_product_rule_gives_it(unusable: str) -> None:
    month = listed_contract(es_details(unusable), product("ES"))

    assert month.last_trade == datetime(2025, 3, 21, 8, 30, tzinfo=CHICAGO)


def test_a_last_trade_date_that_is_no_date_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="ESH5: last trade date '202503' is not YYYYMMDD"):
        listed_contract(es_details(day="202503"), product("ES"))


def test_details_without_a_contract_are_refused() -> None:
    with pytest.raises(ValueError, match="ES arrived without a contract"):
        listed_contract(ContractDetails(), product("ES"))


def test_a_listed_month_goes_back_to_ib_as_it_came() -> None:
    month = listed_contract(es_details(), product("ES"))

    contract = ib_contract(month)

    assert contract.conId == 710002503
    assert contract.secType == "FUT"
    assert contract.lastTradeDateOrContractMonth == "20250321"
    assert contract.multiplier == "50", "IB compares the multiplier as text"
    assert contract.localSymbol == "ESH5"
    assert contract.tradingClass == "ES"
    assert contract.exchange == "CME"


def _ticker(**fields: float) -> Ticker:
    """A ticker of conId 7 filled as the client fills one: created empty, then ticks set its fields
    (ib_async's Ticker resets every quote field to NaN when it is constructed)."""
    ticker = Ticker(contract=Future(conId=7))
    for name, value in fields.items():
        setattr(ticker, name, value)
    return ticker


@pytest.mark.parametrize(
    ("ib_type", "data_type"),
    [
        (1, MarketDataType.LIVE),
        (2, MarketDataType.FROZEN),
        (3, MarketDataType.DELAYED),
        (4, MarketDataType.DELAYED_FROZEN),
    ],
)
def test_a_quote_carries_its_market_data_type(ib_type: int, data_type: MarketDataType) -> None:
    ticker = _ticker(bid=10.25, ask=10.5, last=10.25, marketDataType=ib_type)

    snapshot = quote(ticker, TickGrid(Decimal("0.25")).price, RECEIVED)

    assert snapshot.data_type is data_type
    assert snapshot.con_id == 7
    assert snapshot.bid == Decimal("10.25")
    assert snapshot.ask == Decimal("10.5")
    assert snapshot.time == RECEIVED
    assert snapshot.is_stale(RECEIVED, RECEIVED - RECEIVED) is data_type.is_frozen


def test_a_quote_side_ib_has_not_sent_is_none() -> None:
    snapshot = quote(_ticker(bid=10.25), TickGrid(Decimal("0.25")).price, RECEIVED)

    assert snapshot.ask is None
    assert snapshot.last is None
    assert snapshot.mid is None
    assert snapshot.data_type is MarketDataType.LIVE


def test_a_position_keeps_its_sign_and_average_cost() -> None:
    item = IbPosition("DU1234567", Future(conId=7), -3.0, 297_500.0)

    assert position(item) == Position(7, Decimal(-3), Decimal("297500.0"), "DU1234567")


@pytest.mark.parametrize(
    ("ib_tif", "tif"),
    [("", TimeInForce.DAY), ("DAY", TimeInForce.DAY), ("GTC", TimeInForce.GTC), ("GTD", None)],
)
def test_a_working_order_keeps_its_time_in_force_when_the_console_can_place_it(
    ib_tif: str, tif: TimeInForce | None
) -> None:
    order = Order(orderId=7, action="SELL", totalQuantity=2, orderType="STP", auxPrice=5900.0)
    order.tif = ib_tif
    trade = Trade(Future(conId=11), order, OrderStatus(orderId=7, status="Submitted", remaining=2))
    assert working_order(trade).tif is tif
