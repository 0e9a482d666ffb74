"""Historical data as real TWS sends it, over TCP with ib_insync and IB's ibapi: header dates in
TWS's two forms, regular-hours bars starting at the open (09:30), plausible volumes that add up
across bar sizes and meet the live stream, and "N D" of intraday bars meaning N sessions.

The suite's clock is Tuesday 2025-03-04 15:00 UTC: 09:00 in Chicago, 10:00 in New York.
"""

from __future__ import annotations

import asyncio
import re
import statistics
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from ibapi.contract import Contract as IbapiContract

from ibconsole.broker.ib_client import IB, Contract, Stock
from ibconsole.sim import PaperGateway
from tests.sim.raw_peer import RawClient

CHICAGO = ZoneInfo("US/Central")
NEW_YORK = ZoneInfo("US/Eastern")
# rust-ibapi's strict header format below v196, and TWS's UTC form (v176 IB Gateway capture,
# ghill2/pyfutures tests/bytestring: "20240317-16:30:00")
TWO_SPACES = re.compile(r"^\d{8}  \d{2}:\d{2}:\d{2}$")
UTC_FORM = re.compile(r"^\d{8}-\d{2}:\d{2}:\d{2}$")


async def _bars(ib: IB, contract: Contract, *args: Any, **kwargs: Any) -> Any:
    return await asyncio.wait_for(
        ib.reqHistoricalDataAsync(contract, *args, **kwargs, timeout=0), 5
    )


def _ibapi_es() -> IbapiContract:
    contract = IbapiContract()
    contract.symbol, contract.secType, contract.exchange = "ES", "FUT", "CME"
    contract.currency, contract.lastTradeDateOrContractMonth = "USD", "202503"
    return contract


# --- 5. header dates --------------------------------------------------------------------------


async def test_header_dates_take_tws_forms_per_format_date(
    gateway: PaperGateway, ibapi_connect, wait_for, as_of: datetime
) -> None:
    peer = await ibapi_connect(gateway)
    peer.client.reqHistoricalData(1, _ibapi_es(), "", "5 D", "1 day", "TRADES", 0, 1, False, [])
    peer.client.reqHistoricalData(2, _ibapi_es(), "", "60 S", "1 min", "BID", 0, 2, False, [])
    for req_id in (1, 2):
        await wait_for(lambda r=req_id: list(peer.by_request("historicalDataEnd", r)), what="end")
    (local,) = peer.by_request("historicalDataEnd", 1)
    (utc,) = peer.by_request("historicalDataEnd", 2)
    assert TWO_SPACES.match(local["start"]), local["start"]
    assert TWO_SPACES.match(local["end"]), local["end"]
    assert UTC_FORM.match(utc["start"]), utc["start"]
    assert UTC_FORM.match(utc["end"]), utc["end"]
    end = datetime.strptime(utc["end"], "%Y%m%d-%H:%M:%S").replace(tzinfo=UTC)
    assert timedelta(0) <= end - as_of < timedelta(seconds=5)
    start = datetime.strptime(utc["start"], "%Y%m%d-%H:%M:%S").replace(tzinfo=UTC)
    assert end - start == timedelta(seconds=60)  # as the capture: 14:47:22 to 14:48:22
    daily_start = datetime.strptime(local["start"], "%Y%m%d  %H:%M:%S")
    daily_end = datetime.strptime(local["end"], "%Y%m%d  %H:%M:%S")
    assert daily_end - daily_start == timedelta(days=5)  # the capture: 5 D, Sunday to Friday
    assert len(list(peer.by_request("historicalData", 1))) == 5


async def test_header_dates_at_v173_have_two_spaces_as_rust_ibapi_reads_them(
    gateway: PaperGateway,
) -> None:
    client = await RawClient.open(gateway)
    try:
        client.send_raw(client.hello(b"v100..173"))
        assert (await client.receive())[0] == "173"
        client.send(71, 2, 0, "")
        await client.receive_until("9")
        client.send(20, 7, 0, "ES", "FUT", "202503", 0.0, "", "", "CME", "", "USD", "", "", 0,
                    "", "1 min", "60 S", 0, "TRADES", 2, 0, "")  # fmt: skip
        header = await client.receive_until("17")
    finally:
        client.close()
    assert TWO_SPACES.match(header[2]), header[2]
    assert TWO_SPACES.match(header[3]), header[3]
    assert header[5].isdigit()  # bar dates in epoch seconds, as asked


# --- 6. regular-hours bars start at the open ----------------------------------------------------


async def test_hourly_regular_hours_stock_bars_start_at_0930(ib: IB) -> None:
    bars = await _bars(ib, Stock("AAPL", "SMART", "USD"), "", "3 D", "1 hour", "TRADES", True)
    by_day: dict[date, list[time]] = {}
    for bar in bars:
        local = bar.date.astimezone(NEW_YORK)
        by_day.setdefault(local.date(), []).append(local.time())
    monday = by_day[date(2025, 3, 3)]
    assert monday == [time(9, 30), *(time(hour) for hour in range(10, 16))]
    assert by_day[date(2025, 3, 4)][0] == time(9, 30)


async def test_hourly_regular_hours_future_bars_start_at_0830_chicago(
    ib: IB, qualified_future: Any
) -> None:
    contract = await qualified_future(ib)
    bars = await _bars(ib, contract, "", "2 D", "1 hour", "TRADES", True)
    monday = [
        b.date.astimezone(CHICAGO).time()
        for b in bars
        if b.date.astimezone(CHICAGO).date() == date(2025, 3, 3)
    ]
    assert monday == [time(8, 30), *(time(hour) for hour in range(9, 16))]


# --- 7. volumes ----------------------------------------------------------------------------------


async def test_past_volumes_are_plausible_per_instrument(ib: IB, qualified_future: Any) -> None:
    aapl = await _bars(ib, Stock("AAPL", "SMART", "USD"), "", "3 D", "1 hour", "TRADES", True)
    aapl_past = [bar.volume for bar in aapl if bar.date.astimezone(NEW_YORK).day == 3]
    assert 1_000_000 < statistics.median(aapl_past) < 10_000_000
    es = await _bars(ib, await qualified_future(ib), "", "2 D", "1 hour", "TRADES", True)
    es_past = [bar.volume for bar in es if bar.date.astimezone(CHICAGO).day == 3]
    assert 20_000 < statistics.median(es_past) < 300_000
    daily = await _bars(ib, await qualified_future(ib), "", "10 D", "1 day", "TRADES", False)
    assert all(500_000 < bar.volume < 2_000_000 for bar in daily[:-1])


async def test_a_deferred_month_trades_a_small_share_of_the_front(
    ib: IB, qualified_future: Any
) -> None:
    front = await qualified_future(ib, "ES", "202503")
    deferred = await qualified_future(ib, "ES", "202506")
    front_days = await _bars(ib, front, "", "5 D", "1 day", "TRADES", False)
    deferred_days = await _bars(ib, deferred, "", "5 D", "1 day", "TRADES", False)
    for near, far in zip(front_days[:-1], deferred_days[:-1], strict=True):
        assert near.date == far.date
        assert 0 < far.volume < near.volume / 10


async def test_a_past_day_adds_up_across_bar_sizes(ib: IB, qualified_future: Any) -> None:
    contract = await qualified_future(ib)
    daily = await _bars(ib, contract, "", "5 D", "1 day", "TRADES", False)
    monday = next(bar for bar in daily if bar.date == date(2025, 3, 3))
    # Monday's session: Sunday 17:00 to Monday 16:00 Chicago
    opens = datetime(2025, 3, 2, 17, tzinfo=CHICAGO)
    closes = datetime(2025, 3, 3, 16, tzinfo=CHICAGO)
    for size, duration in (("1 hour", "2 D"), ("5 mins", "2 D"), ("30 mins", "2 D")):
        bars = await _bars(ib, contract, "", duration, size, "TRADES", False)
        session = [bar.volume for bar in bars if opens <= bar.date < closes]
        assert sum(session) == monday.volume, size


async def test_todays_daily_bar_meets_the_live_volume(
    gateway: PaperGateway, ib: IB, qualified_future: Any, wait_for: Any
) -> None:
    contract = await qualified_future(ib)
    ticker = ib.reqMktData(contract)
    await wait_for(lambda: ticker.volume == ticker.volume and ticker.volume > 0, what="volume")
    daily = await _bars(ib, contract, "", "2 D", "1 day", "TRADES", False)
    today = daily[-1]
    assert today.date == date(2025, 3, 4)
    assert abs(today.volume - ticker.volume) <= 0.01 * today.volume
    intraday = await _bars(ib, contract, "", "1 D", "1 hour", "TRADES", False)
    assert abs(sum(bar.volume for bar in intraday) - today.volume) <= 0.01 * today.volume
    ib.cancelMktData(contract)


# --- 12. "1 D" of intraday bars --------------------------------------------------------------------


async def test_one_day_of_intraday_bars_is_the_current_session(
    ib: IB, qualified_future: Any, as_of: datetime
) -> None:
    contract = await qualified_future(ib)
    bars = await _bars(ib, contract, "", "1 D", "1 hour", "TRADES", False)
    # Tuesday's session opened Monday 17:00 Chicago; nothing of Monday's session
    assert bars[0].date == datetime(2025, 3, 3, 17, tzinfo=CHICAGO)
    assert bars[-1].date <= as_of
    two = await _bars(ib, contract, "", "2 D", "1 hour", "TRADES", False)
    assert two[0].date == datetime(2025, 3, 2, 17, tzinfo=CHICAGO)


@pytest.mark.parametrize("as_of", [datetime(2025, 3, 4, 14, 29, 58, tzinfo=UTC)])
async def test_live_regular_hours_bar_of_the_open_is_dated_0930(
    gateway: PaperGateway, ib: IB, wait_for: Any
) -> None:
    # 09:29:58 in New York: the first live regular-hours bar of the day begins at the open
    bars = await _bars(
        ib, Stock("AAPL", "SMART", "USD"), "", "2 D", "1 hour", "TRADES", True, keepUpToDate=True
    )
    assert bars[-1].date == datetime(2025, 3, 3, 15, tzinfo=NEW_YORK)  # nothing of today yet
    opening = datetime(2025, 3, 4, 9, 30, tzinfo=NEW_YORK)
    await wait_for(lambda: bars and bars[-1].date == opening, timeout=10, what="the 09:30 bar")
    assert [bar.date.astimezone(NEW_YORK).time() for bar in bars[-2:]] == [time(15), time(9, 30)]
