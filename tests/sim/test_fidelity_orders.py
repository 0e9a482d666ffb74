"""Orders as real TWS handles them, over TCP with ib_insync, IB's ibapi and a raw peer: an order
without an exchange is refused with 321, averageCost includes commission, execution ids and
permIds never repeat across gateways, and unset doubles are read in every spelling and written
per field as TWS writes them."""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal

import pytest
from ibapi.contract import Contract as IbapiContract
from ibapi.order import Order as IbapiOrder

from ibconsole.broker.ib_client import IB, Contract, MarketOrder
from ibconsole.sim import PaperGateway
from tests.sim.raw_peer import RawClient

ACCOUNT = "DU1234567"
TIMEOUT = 5.0
MISSING_EXCHANGE = "Error validating request.-'bN' : cause - Missing order exchange"
UNSET_DOUBLE_JAVA = "1.7976931348623157E308"
EXEC_ID = re.compile(r"^[0-9a-f]{8}\.[0-9a-f]{8}\.\d{2}\.\d{2}$")
# openOrder positions (v176): msg id, orderId, 11 contract fields, action, quantity, type
LMT_PRICE, AUX_PRICE = 16, 17


def ibapi_market_order(quantity: int = 1) -> IbapiOrder:
    order = IbapiOrder()
    order.action = "BUY"
    order.orderType = "MKT"
    order.totalQuantity = Decimal(quantity)
    return order


# --- 1. an order without an exchange ------------------------------------------------------------


async def test_order_without_exchange_is_refused_with_321_and_never_fills(
    gateway: PaperGateway, ib: IB, record_errors, front, wait_for, refused_status
) -> None:
    errors = record_errors(ib)
    es = front(gateway, "ES")
    trade = ib.placeOrder(Contract(conId=es.con_id), MarketOrder("BUY", 1))
    await wait_for(lambda: 321 in errors.codes, what="error 321")
    assert (trade.order.orderId, 321, MISSING_EXCHANGE) in errors
    assert trade.orderStatus.status == refused_status
    assert not trade.fills
    assert gateway.orders == []
    assert gateway.desk.executions() == []
    assert ib.positions() == []


async def test_ibapi_order_without_exchange_gets_321_naming_the_order(
    gateway: PaperGateway, ibapi_connect, wait_for
) -> None:
    peer = await ibapi_connect(gateway)
    contract = IbapiContract()
    contract.symbol, contract.secType, contract.currency = "ES", "FUT", "USD"
    contract.lastTradeDateOrContractMonth = "202503"
    order_id = peer.next_order_id
    peer.client.placeOrder(order_id, contract, ibapi_market_order())
    await wait_for(lambda: any(e[1] == 321 for e in peer.errors), what="error 321")
    assert (order_id, 321, MISSING_EXCHANGE) in peer.errors
    peer.client.reqCurrentTime()
    await wait_for(lambda: peer.calls("currentTime"), what="round trip")
    assert not peer.calls("execDetails")
    assert not peer.calls("openOrder")
    assert gateway.orders == []


# --- 2. averageCost includes commission ---------------------------------------------------------


async def test_average_cost_includes_commission_and_pnl_agrees(
    gateway: PaperGateway, ib: IB, wait_for, front
) -> None:
    es = front(gateway, "ES")
    trade = ib.placeOrder(Contract(conId=es.con_id, exchange="CME"), MarketOrder("BUY", 1))
    await asyncio.wait_for(trade.filledEvent, TIMEOUT)
    await wait_for(lambda: trade.fills[-1].commissionReport.execId, what="commission report")
    await wait_for(lambda: ib.positions() and ib.portfolio(), what="position and portfolio")
    fill_price = trade.orderStatus.avgFillPrice
    commission = trade.fills[-1].commissionReport.commission
    assert commission == 2.25
    (position,) = ib.positions()
    assert position.avgCost == pytest.approx(fill_price * 50 + 2.25)
    (item,) = ib.portfolio()
    assert item.averageCost == pytest.approx(fill_price * 50 + 2.25)
    assert item.unrealizedPNL == pytest.approx(item.marketValue - item.averageCost)
    view = gateway.desk.account(ACCOUNT)
    assert view.net_liquidation == Decimal(1_000_000) + view.unrealized_pnl + view.realized_pnl


async def test_ibapi_position_and_portfolio_average_cost_include_commission(
    gateway: PaperGateway, ibapi_connect, wait_for, front
) -> None:
    es = front(gateway, "ES")
    peer = await ibapi_connect(gateway)
    contract = IbapiContract()
    contract.conId, contract.exchange = es.con_id, "CME"
    peer.client.placeOrder(peer.next_order_id, contract, ibapi_market_order())
    await wait_for(lambda: peer.calls("commissionAndFeesReport"), what="commission report")
    (execution,) = [c["execution"] for c in peer.calls("execDetails")]
    peer.client.reqPositions()
    peer.client.reqAccountUpdates(True, ACCOUNT)
    await wait_for(lambda: peer.calls("positionEnd"), what="positions")
    await wait_for(lambda: peer.calls("updatePortfolio"), what="portfolio")
    (position,) = [c for c in peer.calls("position") if c["contract"].conId == es.con_id]
    assert position["avgCost"] == pytest.approx(execution.price * 50 + 2.25)
    portfolio = peer.calls("updatePortfolio")[-1]
    assert portfolio["averageCost"] == pytest.approx(execution.price * 50 + 2.25)


# --- 3. ids unique per gateway instance ---------------------------------------------------------


async def _one_fill(gateway: PaperGateway, ib: IB, front) -> tuple[str, int]:
    mes = front(gateway)
    trade = ib.placeOrder(Contract(conId=mes.con_id, exchange="CME"), MarketOrder("BUY", 1))
    await asyncio.wait_for(trade.filledEvent, TIMEOUT)
    (fill,) = trade.fills
    return fill.execution.execId, trade.order.permId


async def test_same_seed_gateways_never_repeat_execution_ids_or_perm_ids(
    make_gateway, connect, front
) -> None:
    first, second = await make_gateway(seed=7), await make_gateway(seed=7)
    first_ids = await _one_fill(first, await connect(first), front)
    second_ids = await _one_fill(second, await connect(second), front)
    assert first_ids[0] != second_ids[0]
    assert first_ids[1] != second_ids[1]
    for exec_id, perm_id in (first_ids, second_ids):
        assert EXEC_ID.match(exec_id), exec_id
        assert 1_000_000_000 <= perm_id < 2**31


async def test_ibapi_sees_ib_shaped_execution_ids(
    gateway: PaperGateway, ibapi_connect, wait_for, front
) -> None:
    mes = front(gateway)
    peer = await ibapi_connect(gateway)
    contract = IbapiContract()
    contract.conId, contract.exchange = mes.con_id, "CME"
    peer.client.placeOrder(peer.next_order_id, contract, ibapi_market_order(2))
    peer.client.placeOrder(peer.next_order_id + 1, contract, ibapi_market_order(1))
    await wait_for(lambda: len(peer.calls("execDetails")) == 2, what="two executions")
    exec_ids = [c["execution"].execId for c in peer.calls("execDetails")]
    assert len(set(exec_ids)) == 2
    assert all(EXEC_ID.match(exec_id) for exec_id in exec_ids), exec_ids


# --- 11. unset doubles ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "unset", ["1.7976931348623157e+308", "1.7976931348623157E308", "1.7976931348623157E+308"]
)
async def test_unset_prices_in_any_spelling_are_unset_and_echoed_as_tws_does(
    gateway: PaperGateway, golden_market_order: list[str], front, unset: str
) -> None:
    mes = front(gateway)
    client = await RawClient.open(gateway)
    try:
        await client.start(61)
        fields = golden_market_order
        fields[1], fields[2] = "500", str(mes.con_id)
        fields[19] = fields[20] = unset  # lmtPrice, auxPrice of a market order
        client.send(*fields)
        open_order = await client.receive_until("5")
    finally:
        client.close()
    (received,) = gateway.orders
    assert received.request.lmt_price is None
    assert received.request.aux_price is None
    assert (open_order[LMT_PRICE], open_order[AUX_PRICE]) == ("0.0", "0.0")
    assert max(len(field) for field in open_order) < 64  # never a 309-digit integer


async def test_ibapi_reads_open_order_unset_fields_as_tws_sends_them(
    gateway: PaperGateway, ibapi_connect, wait_for, front
) -> None:
    mes = front(gateway)
    peer = await ibapi_connect(gateway)
    contract = IbapiContract()
    contract.conId, contract.exchange = mes.con_id, "CME"
    order_id = peer.next_order_id
    peer.client.placeOrder(order_id, contract, ibapi_market_order())
    await wait_for(lambda: list(peer.by_request("openOrder", order_id)), what="openOrder")
    call = next(peer.by_request("openOrder", order_id))
    order, state = call["order"], call["orderState"]
    assert (order.lmtPrice, order.auxPrice) == (0.0, 0.0)
    assert order.tif == "DAY"
    assert order.deltaNeutralOrderType == "None"
    assert order.adjustedOrderType == "None"
    assert order.clearingIntent == "IB"
    assert state.initMarginBefore == UNSET_DOUBLE_JAVA
    assert state.equityWithLoanAfter == UNSET_DOUBLE_JAVA
