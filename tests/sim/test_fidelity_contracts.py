"""Contract details as real TWS sends them, over TCP with ib_insync and IB's ibapi: equity
index futures' liquid hours 08:30-16:00 Chicago, no ``CLOSED`` for a date whose evening opens a
session, the ISIN of a stock and the underlying index's conId of a future."""

from __future__ import annotations

import asyncio
from datetime import time
from zoneinfo import ZoneInfo

import pytest
from ibapi.contract import Contract as IbapiContract

from ibconsole.broker.ib_client import IB, Future, Stock
from ibconsole.sim import PaperGateway

TIMEOUT = 3.0
CHICAGO = ZoneInfo("America/Chicago")
ISINS = {"AAPL": "US0378331005", "MSFT": "US5949181045", "SPY": "US78462F1030"}
# IB's conIds of the ES and MES indices (IB Client Portal API documentation, /trsrv/futures)
UNDERLYING_INDEX = {"ES": 11004968, "MES": 362673777}


async def _details(ib: IB, contract) -> list:
    return await asyncio.wait_for(ib.reqContractDetailsAsync(contract), TIMEOUT)


@pytest.mark.parametrize("symbol", ["ES", "MES"])
async def test_equity_index_liquid_hours_are_0830_to_1600_chicago(ib: IB, symbol: str) -> None:
    (details,) = await _details(ib, Future(symbol, "202503", "CME"))
    assert details.timeZoneId == "US/Central"
    liquid = [entry for entry in details.liquidHours.split(";") if "CLOSED" not in entry]
    assert liquid
    for entry in liquid:
        opens, closes = entry.split("-")
        assert opens.endswith(":0830"), entry
        assert closes.endswith(":1600"), entry
        assert opens[:8] == closes[:8]
    session = details.liquidSessions()[0]
    assert (session.start.time(), session.end.time()) == (time(8, 30), time(16, 0))
    assert session.start.utcoffset() == session.start.astimezone(CHICAGO).utcoffset()


async def test_trading_hours_list_closed_only_for_dates_without_a_session(ib: IB) -> None:
    # the suite's clock is Tuesday 2025-03-04: the listing runs into the weekend
    (details,) = await _details(ib, Future("ES", "202503", "CME"))
    entries = details.tradingHours.split(";")
    closed = {entry[:8] for entry in entries if entry.endswith(":CLOSED")}
    opening = {entry[:8] for entry in entries if not entry.endswith(":CLOSED")}
    assert "20250308" in closed  # Saturday
    assert "20250309" not in closed  # Sunday: Monday's session opens at 17:00
    assert "20250309" in opening
    assert not closed & opening
    assert "20250309:1700-20250310:1600" in entries


@pytest.mark.parametrize("symbol", sorted(ISINS))
async def test_stock_details_carry_the_isin(ib: IB, symbol: str) -> None:
    (details,) = await _details(ib, Stock(symbol, "SMART", "USD"))
    assert [(tag.tag, tag.value) for tag in details.secIdList] == [("ISIN", ISINS[symbol])]


@pytest.mark.parametrize("symbol", ["ES", "MES", "NQ", "CL", "GC"])
async def test_future_details_name_the_underlying_index(ib: IB, symbol: str) -> None:
    exchange = {"CL": "NYMEX", "GC": "COMEX"}.get(symbol, "CME")
    found = await _details(ib, Future(symbol, exchange=exchange))
    assert found
    under_ids = {details.underConId for details in found}
    assert len(under_ids) == 1  # every month of a family has the same underlying
    (under_id,) = under_ids
    assert under_id == UNDERLYING_INDEX.get(symbol, under_id)
    assert under_id > 0
    assert under_id not in {details.contract.conId for details in found}
    assert {details.underSecType for details in found} == {"IND"}
    assert not any(details.secIdList for details in found)


async def test_ibapi_decodes_isin_and_under_con_id(
    gateway: PaperGateway, ibapi_connect, wait_for
) -> None:
    peer = await ibapi_connect(gateway)
    stock = IbapiContract()
    stock.symbol, stock.secType, stock.exchange, stock.currency = "AAPL", "STK", "SMART", "USD"
    future = IbapiContract()
    future.symbol, future.secType, future.exchange, future.currency = "ES", "FUT", "CME", "USD"
    future.lastTradeDateOrContractMonth = "202503"
    peer.client.reqContractDetails(1, stock)
    peer.client.reqContractDetails(2, future)
    for req_id in (1, 2):
        await wait_for(lambda r=req_id: list(peer.by_request("contractDetailsEnd", r)), what="end")
    (aapl,) = [c["contractDetails"] for c in peer.by_request("contractDetails", 1)]
    (es,) = [c["contractDetails"] for c in peer.by_request("contractDetails", 2)]
    assert [(t.tag, t.value) for t in aapl.secIdList] == [("ISIN", "US0378331005")]
    assert es.underConId == 11004968
    assert all(
        entry.endswith(":1600") for entry in es.liquidHours.split(";") if "CLOSED" not in entry
    )
