"""The small look-ups TWS answers from its reference data, over TCP with ib_insync and IB's
ibapi: matching symbols, family codes, SMART components, news providers, soft-dollar tiers,
user info, display groups, positions by account and price histograms; and a request no service
serves ends in an error instead of a client waiting forever."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from ibapi.contract import Contract as IbapiContract

from ibconsole.broker.ib_client import IB, Contract, MarketOrder
from ibconsole.sim import PaperGateway

TIMEOUT = 3.0
ACCOUNT = "DU1234567"


def _ibapi_es() -> IbapiContract:
    contract = IbapiContract()
    contract.symbol, contract.secType, contract.exchange = "ES", "FUT", "CME"
    contract.currency, contract.lastTradeDateOrContractMonth = "USD", "202503"
    return contract


async def test_matching_symbols_list_the_index_of_a_future_family_and_stocks(ib: IB) -> None:
    found = await asyncio.wait_for(ib.reqMatchingSymbolsAsync("ES"), TIMEOUT)
    assert found
    first = found[0]
    assert (first.contract.symbol, first.contract.secType) == ("ES", "IND")
    assert first.contract.conId == 11004968
    assert first.derivativeSecTypes == ["FUT", "FOP"]
    stocks = await asyncio.wait_for(ib.reqMatchingSymbolsAsync("AAP"), TIMEOUT)
    (aapl,) = stocks
    assert (aapl.contract.conId, aapl.contract.primaryExchange) == (265598, "NASDAQ")
    assert aapl.contract.secType == "STK"
    assert await asyncio.wait_for(ib.reqMatchingSymbolsAsync("QQQQZZ"), TIMEOUT) == []


async def test_news_providers_and_smart_components(ib: IB) -> None:
    assert await asyncio.wait_for(ib.reqNewsProvidersAsync(), TIMEOUT) == []
    components = await asyncio.wait_for(ib.reqSmartComponentsAsync("a6"), TIMEOUT)
    assert components
    assert {component.exchange for component in components} >= {"NASDAQ", "ARCA", "NYSE"}
    assert len({component.bitNumber for component in components}) == len(components)


async def test_option_chain_request_ends_instead_of_waiting_forever(ib: IB, record_errors) -> None:
    errors = record_errors(ib)
    chains = await asyncio.wait_for(ib.reqSecDefOptParamsAsync("ES", "CME", "FUT", 0), TIMEOUT)
    assert chains == [] or all(chain.tradingClass for chain in chains)
    if not chains:
        assert any(code in (200, 321) for code in errors.codes)


async def test_ibapi_decodes_the_reference_answers(
    gateway: PaperGateway, ibapi_connect, wait_for
) -> None:
    peer = await ibapi_connect(gateway)
    peer.client.reqMatchingSymbols(1, "MSFT")
    peer.client.reqSoftDollarTiers(2)
    peer.client.reqUserInfo(3)
    peer.client.queryDisplayGroups(4)
    peer.client.subscribeToGroupEvents(5, 1)
    peer.client.updateDisplayGroup(5, "265598@SMART")
    peer.client.reqFamilyCodes()
    await wait_for(lambda: peer.calls("familyCodes"), what="familyCodes")
    for name, req_id in (
        ("symbolSamples", 1),
        ("softDollarTiers", 2),
        ("userInfo", 3),
        ("displayGroupList", 4),
    ):
        await wait_for(lambda n=name, r=req_id: list(peer.by_request(n, r)), what=name)
    await wait_for(lambda: len(list(peer.by_request("displayGroupUpdated", 5))) == 2, what="group")
    (samples,) = peer.by_request("symbolSamples", 1)
    (msft,) = samples["contractDescriptions"]
    assert (msft.contract.conId, msft.contract.symbol) == (272093, "MSFT")
    assert msft.contract.description == "MICROSOFT CORP"
    assert next(peer.by_request("softDollarTiers", 2))["tiers"] == []
    assert next(peer.by_request("userInfo", 3))["whiteBrandingId"] == ""
    assert next(peer.by_request("displayGroupList", 4))["groups"] == "1|2|3|4|5|6|7"
    updates = [c["contractInfo"] for c in peer.by_request("displayGroupUpdated", 5)]
    assert updates == ["none", "265598@SMART"]
    (codes,) = [call["familyCodes"] for call in peer.calls("familyCodes")]
    assert [(code.accountID, code.familyCodeStr) for code in codes] == [(ACCOUNT, "")]
    assert not peer.errors or all(code >= 2100 for _, code, _ in peer.errors)


async def test_ibapi_positions_by_account(
    gateway: PaperGateway, ibapi_connect, connect, wait_for, front
) -> None:
    mes = front(gateway)
    ib = await connect(gateway)
    trade = ib.placeOrder(Contract(conId=mes.con_id, exchange="CME"), MarketOrder("SELL", 2))
    await asyncio.wait_for(trade.filledEvent, TIMEOUT)
    peer = await ibapi_connect(gateway)
    peer.client.reqPositionsMulti(9, ACCOUNT, "")
    await wait_for(lambda: list(peer.by_request("positionMultiEnd", 9)), what="positionMultiEnd")
    (position,) = peer.by_request("positionMulti", 9)
    assert position["account"] == ACCOUNT
    assert position["contract"].conId == mes.con_id
    assert position["pos"] == Decimal(-2)
    assert position["avgCost"] == trade.orderStatus.avgFillPrice * 5 - 0.62
    peer.client.reqPositionsMulti(10, "", "")  # every account
    await wait_for(lambda: list(peer.by_request("positionMultiEnd", 10)), what="all accounts")
    assert len(list(peer.by_request("positionMulti", 10))) == 1


async def test_histogram_of_a_day_adds_up_to_its_volume(
    gateway: PaperGateway, ib: IB, ibapi_connect, wait_for, qualified_future
) -> None:
    contract = await qualified_future(ib)
    histogram = await asyncio.wait_for(ib.reqHistogramDataAsync(contract, False, "1 day"), TIMEOUT)
    assert len(histogram) > 10
    assert all(entry.count > 0 for entry in histogram)
    prices = [entry.price for entry in histogram]
    assert prices == sorted(prices)
    bars = await asyncio.wait_for(
        ib.reqHistoricalDataAsync(contract, "", "86400 S", "1 min", "TRADES", False, timeout=0),
        TIMEOUT,
    )
    assert sum(entry.count for entry in histogram) == pytest.approx(
        sum(bar.volume for bar in bars), rel=0.01
    )
    peer = await ibapi_connect(gateway)
    peer.client.reqHistogramData(4, _ibapi_es(), False, "3 days")
    await wait_for(lambda: list(peer.by_request("histogramData", 4)), what="histogramData")
    (call,) = peer.by_request("histogramData", 4)
    assert call["items"]
    peer.client.reqHistogramData(5, _ibapi_es(), False, "forever")
    await wait_for(lambda: any(e[0] == 5 for e in peer.errors), what="the period refused")
