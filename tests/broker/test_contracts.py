"""Futures chains from the paper gateway's contract details: mapped to listed months in the
exchange's zone, sessions from IB's trading hours, one request per product per trading day."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ibconsole.broker.broker import Broker
from ibconsole.broker.calendars import ExchangeCalendars
from ibconsole.broker.contracts import ContractLookupError, ContractService
from ibconsole.domain.clock import ManualClock
from ibconsole.domain.products import UnknownProductError
from ibconsole.sim import PaperGateway

BrokerFactory = Callable[..., Broker]
Spy = Callable[[PaperGateway], Any]
WaitFor = Callable[..., Any]

REQ_CONTRACT_DETAILS = 9
CHICAGO = ZoneInfo("America/Chicago")


async def test_the_es_chain_is_mapped_to_listed_months(broker: Broker, as_of: datetime) -> None:
    chain = await broker.contracts.chain("ES")

    assert chain.product.symbol == "ES"
    assert [c.local_symbol for c in chain.contracts][:4] == ["ESH5", "ESM5", "ESU5", "ESZ5"]
    front = chain.contracts[0]
    assert front.symbol == "ES"
    assert front.contract_month == "202503"
    assert front.last_trade == datetime(2025, 3, 21, 8, 30, tzinfo=CHICAGO)
    assert front.last_trade.utcoffset() == timedelta(hours=-5)
    assert front.exchange == "CME"
    assert front.currency == "USD"
    assert front.multiplier == Decimal(50)
    assert front.min_tick == Decimal("0.25")
    assert front.trading_class == "ES"
    assert front.con_id > 0
    last_trades = [c.last_trade for c in chain.contracts]
    assert last_trades == sorted(last_trades)
    assert all(c.last_trade > as_of for c in chain.contracts)
    assert chain.fetched_on == as_of.astimezone(CHICAGO).date()
    assert chain.month(front.con_id) is chain.months[0]
    assert broker.contracts.by_con_id(front.con_id) is chain.months[0]


async def test_sessions_come_from_ib_trading_hours(broker: Broker, as_of: datetime) -> None:
    chain = await broker.contracts.chain("ES")
    month = chain.months[0]

    assert month.trading_hours is not None
    assert month.liquid_hours is not None
    assert month.trading_hours.covers(as_of)
    assert month.trading_hours.is_open(as_of)  # Tuesday 09:00 in Chicago
    assert month.liquid_hours.is_open(as_of)
    assert not month.trading_hours.is_open(as_of.replace(hour=22, minute=30))  # the daily halt
    assert broker.contracts.is_open(month.contract) is True


@pytest.mark.parametrize(
    ("symbol", "trading_class", "multiplier", "exchange"),
    [("MES", "MES", Decimal(5), "CME"), ("CL", "CL", Decimal(1000), "NYMEX")],
)
async def test_other_families_keep_their_own_specs(
    broker: Broker, symbol: str, trading_class: str, multiplier: Decimal, exchange: str
) -> None:
    chain = await broker.contracts.chain(symbol)

    assert chain.contracts
    assert {c.trading_class for c in chain.contracts} == {trading_class}
    assert {c.multiplier for c in chain.contracts} == {multiplier}
    assert {c.exchange for c in chain.contracts} == {exchange}


async def test_cl_lists_consecutive_months(broker: Broker) -> None:
    chain = await broker.contracts.chain("CL")

    months = [c.contract_month for c in chain.contracts[:6]]
    years_months = [(int(m[:4]), int(m[4:])) for m in months]
    steps = [(b[0] - a[0]) * 12 + b[1] - a[1] for a, b in itertools.pairwise(years_months)]
    assert steps == [1] * (len(months) - 1)


async def test_a_chain_is_fetched_once_per_product_and_trading_day(
    gateway: PaperGateway, broker: Broker, as_of: datetime, inbound: Spy
) -> None:
    seen = inbound(gateway)
    clock = ManualClock(as_of)
    contracts = ContractService(broker.session.ib, clock, 2.0, broker.calendars)

    first, same = await asyncio.gather(contracts.chain("ES"), contracts.chain("ES"))
    again = await contracts.chain("ES")

    assert first is same is again
    assert seen.count(REQ_CONTRACT_DETAILS) == 1
    assert contracts.cached("ES") is first

    clock.advance(timedelta(hours=2))
    assert await contracts.chain("ES") is first, "same trading day"
    clock.advance(timedelta(days=1))
    assert contracts.cached("ES") is None
    tomorrow = await contracts.chain("ES")

    assert tomorrow is not first
    assert tomorrow.fetched_on == first.fetched_on + timedelta(days=1)
    assert seen.count(REQ_CONTRACT_DETAILS) == 2
    await contracts.chain("NQ")
    assert seen.count(REQ_CONTRACT_DETAILS) == 3


async def test_a_weekend_is_closed_by_ib_hours_and_beyond_them_the_calendar_decides(
    broker: Broker, as_of: datetime, wait_for: Any
) -> None:
    clock = ManualClock(as_of)
    contracts = ContractService(broker.session.ib, clock, 2.0, ExchangeCalendars())
    front = (await contracts.chain("ES")).contracts[0]

    clock.set(datetime(2025, 3, 8, 12, 0, tzinfo=CHICAGO))  # Saturday
    assert contracts.is_open(front) is False
    clock.set(datetime(2025, 3, 6, 10, 0, tzinfo=CHICAGO))  # Thursday
    assert contracts.is_open(front) is True
    clock.set(datetime(2025, 4, 15, 10, 0, tzinfo=CHICAGO))  # a Tuesday past IB's hours
    assert contracts.is_open(front) is None, "unknown until the calendar has been read"
    await wait_for(
        lambda: contracts.is_open(front) is not None, timeout=30, what="the CMES calendar"
    )
    assert contracts.is_open(front) is True
    clock.set(datetime(2025, 4, 19, 10, 0, tzinfo=CHICAGO))  # a Saturday past IB's hours
    await wait_for(lambda: contracts.is_open(front) is not None, timeout=30, what="its calendar")
    assert contracts.is_open(front) is False


async def test_the_calendar_fallback_is_read_once_per_day_not_per_question(
    broker: Broker, as_of: datetime, monkeypatch: pytest.MonkeyPatch, wait_for: Any
) -> None:
    calendars = ExchangeCalendars()
    readings: list[tuple[object, ...]] = []
    submit = calendars._submit

    def counted(read: Callable[..., object], *args: object) -> object:
        readings.append(args)
        return submit(read, *args)

    monkeypatch.setattr(calendars, "_submit", counted)
    clock = ManualClock(as_of)
    contracts = ContractService(broker.session.ib, clock, 2.0, calendars)
    front = (await contracts.chain("ES")).contracts[0]
    clock.set(datetime(2025, 4, 15, 10, 0, tzinfo=CHICAGO))  # past IB's hours: the calendar

    await wait_for(
        lambda: contracts.is_open(front) is not None, timeout=30, what="the CMES calendar"
    )
    for minutes in range(1, 20):  # a ticket preview asks on every change, twice
        clock.set(datetime(2025, 4, 15, 10, minutes, tzinfo=CHICAGO))
        assert contracts.is_open(front) is True
        assert contracts.is_open(front) is True
    assert readings == [("CMES", date(2025, 4, 15))], "one reading for the day"

    clock.set(datetime(2025, 4, 16, 10, 0, tzinfo=CHICAGO))  # the next day: its own range
    await wait_for(
        lambda: contracts.is_open(front) is not None, timeout=30, what="the next day's calendar"
    )
    assert contracts.is_open(front) is True
    assert readings == [("CMES", date(2025, 4, 15)), ("CMES", date(2025, 4, 16))]


async def test_an_unknown_product_is_refused_by_name(broker: Broker) -> None:
    with pytest.raises(UnknownProductError, match="'XYZ'"):
        await broker.contracts.chain("XYZ")


async def test_without_a_connection_the_months_are_unknown(
    gateway: PaperGateway, make_broker: BrokerFactory
) -> None:
    broker = make_broker(gateway)

    with pytest.raises(ContractLookupError, match="Not connected: the ES contract months"):
        await broker.contracts.chain("ES")


async def test_a_silent_gateway_fails_the_lookup_within_the_timeout(
    gateway: PaperGateway, broker: Broker, request_timeout: float
) -> None:
    gateway.faults.stop_answering()
    loop = asyncio.get_running_loop()
    started = loop.time()

    with pytest.raises(ContractLookupError, match=f"within {request_timeout:g} s"):
        await broker.contracts.chain("NQ")

    assert loop.time() - started < request_timeout + 0.3
    assert broker.contracts.cached("NQ") is None
    gateway.faults.resume_answering()


async def test_stop_cancels_a_lookup_under_way(
    gateway: PaperGateway, broker: Broker, wait_for: WaitFor
) -> None:
    gateway.faults.stop_answering()
    lookup = asyncio.ensure_future(broker.contracts.chain("GC"))
    await wait_for(
        lambda: any(t.get_name() == "fetch GC chain" for t in asyncio.all_tasks()),
        what="the fetch under way",
    )

    await broker.stop()

    with pytest.raises(asyncio.CancelledError):
        await lookup
    assert asyncio.all_tasks() == {asyncio.current_task()}
