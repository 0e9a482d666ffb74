"""IB's own ``ibapi`` client against the paper gateway over TCP: the handshake, contract
details, market data and an order's life cycle decode in the reference implementation as they
do in ib_insync (tests/sim/test_connect.py, test_contracts.py, test_orders.py)."""

from __future__ import annotations

from decimal import Decimal

from ibapi.contract import Contract
from ibapi.order import Order

from ibconsole.sim import PaperGateway

ACCOUNT = "DU1234567"


def es_future(month: str = "202503") -> Contract:
    contract = Contract()
    contract.symbol = "ES"
    contract.secType = "FUT"
    contract.exchange = "CME"
    contract.currency = "USD"
    contract.lastTradeDateOrContractMonth = month
    return contract


async def test_handshake_gives_accounts_next_order_id_and_time(
    gateway: PaperGateway, ibapi_connect, wait_for
) -> None:
    peer = await ibapi_connect(gateway)
    await wait_for(lambda: peer.calls("managedAccounts"), what="managedAccounts")
    assert peer.client.serverVersion() == 176
    assert peer.calls("managedAccounts")[-1]["accountsList"] == ACCOUNT
    assert peer.next_order_id >= 1

    peer.client.reqCurrentTime()
    await wait_for(lambda: peer.calls("currentTime"), what="currentTime")
    assert peer.calls("currentTime")[-1]["time"] == int(gateway.clock.epoch())


async def test_contract_details_of_a_future(gateway: PaperGateway, ibapi_connect, wait_for) -> None:
    peer = await ibapi_connect(gateway)
    peer.client.reqContractDetails(7, es_future())
    await wait_for(lambda: list(peer.by_request("contractDetailsEnd", 7)), what="details end")

    (details,) = [call["contractDetails"] for call in peer.by_request("contractDetails", 7)]
    assert details.contract.localSymbol == "ESH5"
    assert details.contract.multiplier == "50"
    assert details.minTick == 0.25
    assert details.contract.lastTradeDateOrContractMonth.startswith("20250321")
    assert details.timeZoneId
    assert details.tradingHours


async def test_market_data_ticks_follow_the_gateway_quote(
    gateway: PaperGateway, ibapi_connect, wait_for
) -> None:
    peer = await ibapi_connect(gateway)
    peer.client.reqMktData(3, es_future(), "", False, False, [])

    def price(tick_type: int) -> float | None:
        ticks = [c for c in peer.by_request("tickPrice", 3) if c["tickType"] == tick_type]
        return ticks[-1]["price"] if ticks else None

    await wait_for(lambda: price(1) and price(2), what="bid and ask")
    assert price(1) < price(2)
    sizes = [c for c in peer.by_request("tickSize", 3) if c["tickType"] in (0, 3)]
    assert sizes
    assert all(isinstance(c["size"], Decimal) and c["size"] > 0 for c in sizes)
    peer.client.cancelMktData(3)


async def test_a_market_order_fills_with_status_execution_and_commission(
    gateway: PaperGateway, ibapi_connect, wait_for
) -> None:
    peer = await ibapi_connect(gateway)
    order = Order()
    order.action = "BUY"
    order.orderType = "MKT"
    order.totalQuantity = Decimal(1)
    order.orderRef = "ibapi-1"
    order_id = peer.next_order_id
    peer.client.placeOrder(order_id, es_future(), order)

    def filled() -> bool:
        return any(c["status"] == "Filled" for c in peer.by_request("orderStatus", order_id))

    await wait_for(filled, what="Filled status")
    await wait_for(lambda: peer.calls("commissionAndFeesReport"), what="commission report")

    (execution,) = [c["execution"] for c in peer.calls("execDetails")]
    assert execution.orderId == order_id
    assert execution.side == "BOT"
    assert execution.shares == Decimal(1)
    assert execution.acctNumber == ACCOUNT
    assert execution.orderRef == "ibapi-1"
    (report,) = [c["commissionAndFeesReport"] for c in peer.calls("commissionAndFeesReport")]
    assert report.execId == execution.execId
    assert report.commissionAndFees > 0
    open_orders = list(peer.by_request("openOrder", order_id))
    assert open_orders
    assert open_orders[-1]["order"].orderRef == "ibapi-1"
    assert open_orders[-1]["contract"].localSymbol == "ESH5"
    assert not [e for e in peer.errors if e[1] < 2100]
