"""Futures expiry rules, trading sessions, the catalogue and contract details as ib_insync
sees them."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

import pytest

from ibconsole.broker.ib_client import IB, ContFuture, Contract, Forex, Future, Stock
from ibconsole.sim import PaperGateway, expiries
from ibconsole.sim.clock import SimClock
from ibconsole.sim.holidays import add_business_days, is_business_day, last_business_day_of_month
from ibconsole.sim.instruments import Catalogue
from ibconsole.sim.sessions import CME_GLOBEX, IDEALPRO_FX, US_STOCKS

# Last trade dates as the exchanges published them.
_PUBLISHED = [
    (expiries.equity_index, 2024, 12, date(2024, 12, 20)),
    (expiries.equity_index, 2025, 3, date(2025, 3, 21)),
    (expiries.equity_index, 2026, 6, date(2026, 6, 18)),  # third Friday is Juneteenth
    (expiries.crude_oil, 2025, 1, date(2024, 12, 19)),  # 25th is Christmas: 4 days before
    (expiries.crude_oil, 2025, 2, date(2025, 1, 21)),  # 25th is a Saturday
    (expiries.crude_oil, 2025, 5, date(2025, 4, 22)),
    (expiries.micro_crude_oil, 2025, 2, date(2025, 1, 17)),  # one business day before CL
    (expiries.micro_crude_oil, 2026, 2, date(2026, 1, 16)),  # CL Jan 20, MLK day in between
    (expiries.natural_gas, 2025, 1, date(2024, 12, 27)),
    (expiries.natural_gas, 2025, 3, date(2025, 2, 26)),
    (expiries.metals, 2024, 12, date(2024, 12, 27)),
    (expiries.metals, 2025, 4, date(2025, 4, 28)),
    (expiries.treasuries, 2024, 12, date(2024, 12, 19)),
    (expiries.treasuries, 2025, 3, date(2025, 3, 20)),
    (expiries.euro_fx, 2024, 12, date(2024, 12, 16)),
    (expiries.euro_fx, 2025, 3, date(2025, 3, 17)),
]


@pytest.mark.parametrize(("rule", "year", "month", "expected"), _PUBLISHED)
def test_expiry_rules_match_published_last_trade_dates(
    rule: expiries.ExpiryRule, year: int, month: int, expected: date
) -> None:
    assert rule(year, month) == expected


def test_business_day_arithmetic() -> None:
    assert not is_business_day(date(2025, 4, 18))  # Good Friday
    assert not is_business_day(date(2025, 3, 8))
    assert is_business_day(date(2025, 3, 7))
    assert add_business_days(date(2025, 4, 21), -1) == date(2025, 4, 17)
    assert add_business_days(date(2025, 4, 17), 1) == date(2025, 4, 21)
    assert last_business_day_of_month(2025, 5) == date(2025, 5, 30)  # 31st is a Saturday
    with pytest.raises(ValueError, match="non-zero"):
        add_business_days(date(2025, 1, 2), 0)


def test_globex_sessions_close_on_weekends_and_holidays() -> None:
    hours = CME_GLOBEX.trading_hours(date(2025, 4, 16), 6).split(";")
    assert hours == [
        "20250415:1700-20250416:1600",
        "20250416:1700-20250417:1600",
        "20250418:CLOSED",  # Good Friday
        "20250419:CLOSED",
        # no "20250420:CLOSED": Sunday evening opens Monday's session
        "20250420:1700-20250421:1600",
    ]
    assert CME_GLOBEX.liquid_hours(date(2025, 4, 17), 1) == "20250417:0830-20250417:1600"
    assert CME_GLOBEX.is_open(datetime(2025, 4, 20, 17, 30))
    assert not CME_GLOBEX.is_open(datetime(2025, 4, 17, 16, 30))  # daily break
    assert not CME_GLOBEX.is_open(datetime(2025, 4, 19, 12, 0))
    assert CME_GLOBEX.is_liquid(datetime(2025, 4, 17, 9, 0))
    assert not CME_GLOBEX.is_liquid(datetime(2025, 4, 17, 7, 0))
    assert US_STOCKS.trading_hours(date(2025, 4, 17), 1) == "20250417:0400-20250417:2000"
    # currencies trade through exchange holidays
    assert IDEALPRO_FX.liquid_hours(date(2025, 4, 18), 1) == "20250417:1715-20250418:1700"


def test_session_changes_skip_weekends_holidays_and_the_daily_break() -> None:
    saturday = datetime(2025, 4, 19, 12, 0)  # the day after Good Friday
    assert CME_GLOBEX.trade_date(saturday) == date(2025, 4, 17)  # the last session traded
    assert CME_GLOBEX.next_change(saturday) == datetime(2025, 4, 20, 17, 0)
    assert CME_GLOBEX.next_close(saturday) == datetime(2025, 4, 21, 16, 0)
    sunday_evening = datetime(2025, 4, 20, 17, 0)
    assert CME_GLOBEX.trade_date(sunday_evening) == date(2025, 4, 21)
    assert CME_GLOBEX.next_change(sunday_evening) == datetime(2025, 4, 21, 16, 0)
    halted = datetime(2025, 4, 16, 16, 30)
    assert CME_GLOBEX.trade_date(halted) == date(2025, 4, 16)
    assert CME_GLOBEX.next_change(halted) == datetime(2025, 4, 16, 17, 0)
    assert CME_GLOBEX.next_close(halted) == datetime(2025, 4, 17, 16, 0)
    # Thursday's session closes into the Good Friday weekend
    assert CME_GLOBEX.next_change(datetime(2025, 4, 17, 9, 0)) == datetime(2025, 4, 17, 16, 0)
    assert CME_GLOBEX.next_change(datetime(2025, 4, 17, 16, 0)) == datetime(2025, 4, 20, 17, 0)
    assert US_STOCKS.trade_date(datetime(2025, 4, 22, 3, 0)) == date(2025, 4, 21)
    assert US_STOCKS.next_change(datetime(2025, 4, 22, 3, 0)) == datetime(2025, 4, 22, 4, 0)
    assert IDEALPRO_FX.next_change(datetime(2025, 4, 18, 12, 0)) == datetime(2025, 4, 18, 17, 0)
    assert IDEALPRO_FX.bounds(date(2025, 4, 21)) == (
        datetime(2025, 4, 20, 17, 15),
        datetime(2025, 4, 21, 17, 0),
    )


def _catalogue(moment: datetime) -> Catalogue:
    return Catalogue(SimClock(moment))


def _fields(**given: str) -> list[str]:
    names = [
        "con_id",
        "symbol",
        "sec_type",
        "expiry",
        "strike",
        "right",
        "multiplier",
        "exchange",
        "primary",
        "currency",
        "local_symbol",
        "trading_class",
    ]
    return [given.get(name, "") for name in names]


def test_catalogue_lists_unexpired_contracts_relative_to_the_clock(as_of: datetime) -> None:
    catalogue = _catalogue(as_of)
    es = catalogue.match(_fields(symbol="ES", sec_type="FUT", exchange="CME"))
    assert [i.local_symbol for i in es] == ["ESH5", "ESM5", "ESU5", "ESZ5", "ESH6"]
    assert all(i.multiplier == "50" and i.min_tick == Decimal("0.25") for i in es)
    assert es[0].last_trade_date == "20250321"
    assert es[0].last_trade_time == "08:30"
    cl = catalogue.match(_fields(symbol="CL", exchange="NYMEX"))
    assert len(cl) == 12
    assert cl[0].local_symbol == "CLJ5"
    assert cl[0].contract_month == "202504"
    gc = catalogue.match(_fields(symbol="GC"))
    assert [i.contract_month[4:] for i in gc] == ["04", "06", "08", "10", "12", "02"]
    expired = catalogue.match(_fields(symbol="ES", exchange="CME"), include_expired=True)
    assert "ESZ4" in {i.local_symbol for i in expired}


def test_expiry_moment_drops_the_contract(as_of: datetime) -> None:
    before = _catalogue(datetime(2025, 3, 21, 13, 29, tzinfo=UTC))  # 08:29 Chicago
    after = _catalogue(datetime(2025, 3, 21, 13, 31, tzinfo=UTC))
    assert before.match(_fields(symbol="ES", sec_type="FUT"))[0].local_symbol == "ESH5"
    assert after.match(_fields(symbol="ES", sec_type="FUT"))[0].local_symbol == "ESM5"


def test_names_and_ids_follow_ib_conventions(as_of: datetime) -> None:
    catalogue = _catalogue(as_of)
    (zn,) = catalogue.match(_fields(symbol="ZN", expiry="202506"))
    assert zn.local_symbol == "ZN   JUN 25"
    assert zn.exchange == "CBOT"
    (euro,) = catalogue.match(_fields(symbol="EUR", sec_type="FUT", expiry="202503"))
    assert (euro.trading_class, euro.local_symbol, euro.multiplier) == ("6E", "6EH5", "125000")
    (cash,) = catalogue.match(_fields(symbol="EUR", sec_type="CASH"))
    assert cash.local_symbol == "EUR.USD"
    assert cash.exchange == "IDEALPRO"
    assert len(catalogue.match(_fields(symbol="EUR"))) == 6
    later = _catalogue(datetime(2025, 6, 30, tzinfo=UTC))
    assert later.by_con_id(zn.con_id) == zn
    assert len({i.con_id for i in catalogue}) == len(catalogue)
    assert zn.contract_fields() == (
        zn.con_id, "ZN", "FUT", "20250618", 0.0, "", "1000", "CBOT", "CBOT", "USD",
        "ZN   JUN 25", "ZN",
    )  # fmt: skip


def test_bad_contract_fields_are_named(as_of: datetime) -> None:
    catalogue = _catalogue(as_of)
    with pytest.raises(ValueError, match="12 fields"):
        catalogue.match(["ES"])
    with pytest.raises(ValueError, match="strike"):
        catalogue.match(_fields(symbol="ES", strike="abc"))


async def test_contract_details_carry_every_field(ib: IB) -> None:
    details = await asyncio.wait_for(ib.reqContractDetailsAsync(Future("ES", exchange="CME")), 3)
    assert len(details) == 5
    front = details[0]
    contract = front.contract
    assert contract is not None
    assert contract.conId > 0
    assert contract.lastTradeDateOrContractMonth == "20250321"
    assert (contract.multiplier, contract.localSymbol, contract.tradingClass) == (
        "50",
        "ESH5",
        "ES",
    )
    assert front.lastTradeTime == "13:30:00"  # UTC, as TWS v176 writes it (08:30 Chicago)
    assert front.realExpirationDate == "20250321"
    assert front.contractMonth == "202503"
    assert front.minTick == 0.25
    assert front.timeZoneId == "US/Central"
    assert front.marketRuleIds == "67"
    assert front.longName == "E-mini S&P 500"
    assert front.underSymbol == "ES"
    assert front.underSecType == "IND"
    assert "STP" in front.orderTypes.split(",")
    assert "LMT" in front.orderTypes.split(",")
    assert front.tradingHours.startswith("20250303:1700-20250304:1600;")
    assert front.liquidHours.startswith("20250304:0830-20250304:1600;")
    sessions = front.tradingSessions()
    assert sessions[0].start.tzinfo is not None
    assert sessions[0].start.time() == time(17, 0)
    assert sessions[0].end.time() == time(16, 0)
    assert front.sizeIncrement == 1


async def test_qualify_by_month_local_symbol_conid_and_continuous(ib: IB) -> None:
    mes = Future("MES", "202503", "CME")
    by_local = Contract(secType="FUT", localSymbol="ESM5", exchange="CME")
    (qualified,) = await asyncio.wait_for(ib.qualifyContractsAsync(mes), 3)
    assert qualified.conId > 0
    assert qualified.localSymbol == "MESH5"
    (local,) = await asyncio.wait_for(ib.qualifyContractsAsync(by_local), 3)
    assert local.lastTradeDateOrContractMonth == "20250620"
    (by_id,) = await asyncio.wait_for(ib.qualifyContractsAsync(Contract(conId=local.conId)), 3)
    assert (by_id.symbol, by_id.secType, by_id.localSymbol) == ("ES", "FUT", "ESM5")
    (front,) = await asyncio.wait_for(ib.qualifyContractsAsync(ContFuture("NQ", "CME")), 3)
    assert front.localSymbol == "NQH5"


async def test_stocks_and_forex(ib: IB) -> None:
    (aapl,) = await asyncio.wait_for(ib.reqContractDetailsAsync(Stock("AAPL", "SMART", "USD")), 3)
    assert aapl.contract is not None
    assert aapl.contract.primaryExchange == "NASDAQ"
    assert aapl.stockType == "COMMON"
    assert aapl.timeZoneId == "US/Eastern"
    assert aapl.minTick == 0.01
    (eurusd,) = await asyncio.wait_for(ib.qualifyContractsAsync(Forex("EURUSD")), 3)
    assert (eurusd.secType, eurusd.localSymbol, eurusd.exchange) == ("CASH", "EUR.USD", "IDEALPRO")


async def test_ambiguous_and_unknown_contracts(ib: IB, record_errors: Any) -> None:
    errors = record_errors(ib)
    ambiguous = await asyncio.wait_for(ib.qualifyContractsAsync(Future("ES", exchange="CME")), 3)
    # nothing qualified: ib_insync drops the contract, ib_async keeps its place with None
    assert ambiguous in ([], [None])
    unknown = await asyncio.wait_for(ib.reqContractDetailsAsync(Future("XYZ", exchange="CME")), 3)
    assert unknown == []
    assert errors.codes == [200]
    assert errors[0][0] > 0


async def test_expired_contracts_only_when_asked(ib: IB) -> None:
    expired = Future("ES", "202412", "CME")
    assert await asyncio.wait_for(ib.reqContractDetailsAsync(expired), 3) == []
    expired.includeExpired = True
    (details,) = await asyncio.wait_for(ib.reqContractDetailsAsync(expired), 3)
    assert details.contract is not None
    assert details.contract.lastTradeDateOrContractMonth == "20241220"


async def test_market_rule(ib: IB) -> None:
    increments = await ib.reqMarketRuleAsync(67)
    assert increments is not None
    assert [(i.lowEdge, i.increment) for i in increments] == [(0.0, 0.25)]
    stock_rule = await ib.reqMarketRuleAsync(26)
    assert stock_rule is not None
    assert [(i.lowEdge, i.increment) for i in stock_rule] == [(0.0, 0.0001), (1.0, 0.01)]


async def test_details_at_an_older_server_version(make_gateway: Any, connect: Any) -> None:
    gateway: PaperGateway = await make_gateway(server_version=160)
    ib = await connect(gateway)
    (details,) = await asyncio.wait_for(ib.reqContractDetailsAsync(Future("CL", "202505")), 3)
    assert details.contract is not None
    assert details.contract.localSymbol == "CLK5"
    assert details.realExpirationDate == "20250422"
    assert details.timeZoneId == "US/Central"
