"""BAG combos through IB's own ``ibapi`` client: the calendar's quote, a combo order's
executions (each leg and the combo), commissions per leg, the echoed openOrder and
completedOrder with their combo legs, positions per leg, and IB's refusals."""

from __future__ import annotations

from decimal import Decimal

import pytest
from ibapi.const import UNSET_DOUBLE
from ibapi.contract import ComboLeg, Contract
from ibapi.execution import ExecutionFilter
from ibapi.order import Order, OrderComboLeg
from ibapi.tag_value import TagValue

from ibconsole.sim import PaperGateway
from ibconsole.sim.combos import COMBO_CON_ID
from ibconsole.sim.instruments import Instrument

ACCOUNT = "DU1234567"


@pytest.fixture
async def gateway(make_gateway) -> PaperGateway:
    """A gateway whose market stands still unless a test steps it."""
    return await make_gateway(tick_rate=0.01)


def es_months(gateway: PaperGateway) -> tuple[Instrument, Instrument]:
    near, far = [i for i in gateway.catalogue.listed() if i.symbol == "ES"][:2]
    return near, far


def leg(con_id: int, action: str) -> ComboLeg:
    combo_leg = ComboLeg()
    combo_leg.conId = con_id
    combo_leg.ratio = 1
    combo_leg.action = action
    combo_leg.exchange = "CME"
    return combo_leg


def calendar(near: Instrument, far: Instrument, exchange: str = "CME") -> Contract:
    contract = Contract()
    contract.symbol = "ES"
    contract.secType = "BAG"
    contract.currency = "USD"
    contract.exchange = exchange
    contract.comboLegs = [leg(far.con_id, "BUY"), leg(near.con_id, "SELL")]
    return contract


def order(action: str, quantity: int, order_type: str = "MKT", price: float = 0.0) -> Order:
    made = Order()
    made.action = action
    made.orderType = order_type
    made.totalQuantity = Decimal(quantity)
    if order_type == "LMT":
        made.lmtPrice = price
    return made


async def test_calendar_quote_ticks_on_the_spread_tick(
    gateway: PaperGateway, ibapi_connect, wait_for
) -> None:
    near, far = es_months(gateway)
    peer = await ibapi_connect(gateway)
    peer.client.reqMktData(5, calendar(near, far), "", False, False, [])

    def price(tick_type: int) -> float | None:
        ticks = [c for c in peer.by_request("tickPrice", 5) if c["tickType"] == tick_type]
        return ticks[-1]["price"] if ticks else None

    await wait_for(lambda: price(1) is not None and price(2) is not None, what="bid and ask")
    await wait_for(lambda: peer.calls("tickReqParams"), what="tickReqParams")
    assert peer.calls("tickReqParams")[-1]["minTick"] == 0.05
    bid, ask = Decimal(str(price(1))), Decimal(str(price(2)))
    assert ask - bid == Decimal("0.05")
    near_quote, far_quote = gateway.market.quote(near.con_id), gateway.market.quote(far.con_id)
    assert far_quote.bid - near_quote.ask <= bid
    assert ask <= far_quote.ask - near_quote.bid
    peer.client.cancelMktData(5)


async def test_a_combo_order_reports_every_leg_and_the_combo(
    gateway: PaperGateway, ibapi_connect, wait_for
) -> None:
    near, far = es_months(gateway)
    peer = await ibapi_connect(gateway)
    order_id = peer.next_order_id
    peer.client.placeOrder(order_id, calendar(near, far), order("BUY", 3))

    def filled() -> bool:
        return any(c["status"] == "Filled" for c in peer.by_request("orderStatus", order_id))

    await wait_for(filled, what="Filled status")
    await wait_for(lambda: len(peer.calls("commissionAndFeesReport")) == 2, what="commissions")

    executions = peer.calls("execDetails")
    assert [c["contract"].secType for c in executions] == ["FUT", "FUT", "BAG"]
    far_exec, near_exec, combo_exec = (c["execution"] for c in executions)
    assert [c["contract"].conId for c in executions] == [far.con_id, near.con_id, COMBO_CON_ID]
    assert (far_exec.side, near_exec.side, combo_exec.side) == ("BOT", "SLD", "BOT")
    assert far_exec.shares == near_exec.shares == combo_exec.shares == Decimal(3)
    spread = Decimal(str(far_exec.price)) - Decimal(str(near_exec.price))
    assert spread == Decimal(str(combo_exec.price))
    assert {e.orderId for e in (far_exec, near_exec, combo_exec)} == {order_id}
    reports = [c["commissionAndFeesReport"] for c in peer.calls("commissionAndFeesReport")]
    assert [r.execId for r in reports] == [far_exec.execId, near_exec.execId]
    assert [r.commissionAndFees for r in reports] == [6.75, 6.75]

    status = [c for c in peer.by_request("orderStatus", order_id) if c["status"] == "Filled"][-1]
    assert status["avgFillPrice"] == combo_exec.price
    opened = list(peer.by_request("openOrder", order_id))[-1]
    assert opened["contract"].secType == "BAG"
    assert opened["contract"].comboLegsDescrip == f"{far.con_id}|1,{near.con_id}|-1"
    assert [(c.conId, c.action) for c in opened["contract"].comboLegs] == [
        (far.con_id, "BUY"),
        (near.con_id, "SELL"),
    ]

    peer.client.reqPositions()
    await wait_for(lambda: peer.calls("positionEnd"), what="positionEnd")
    held = {c["contract"].conId: c["position"] for c in peer.calls("position")}
    assert held == {far.con_id: Decimal(3), near.con_id: Decimal(-3)}


async def test_completed_combo_orders_and_executions_as_another_client_asks(
    gateway: PaperGateway, ibapi_connect, wait_for
) -> None:
    near, far = es_months(gateway)
    trader = await ibapi_connect(gateway)
    placed = order("SELL", 1)
    placed.smartComboRoutingParams = [TagValue("NonGuaranteed", "1")]
    order_id = trader.next_order_id
    trader.client.placeOrder(order_id, calendar(near, far, exchange="SMART"), placed)
    await wait_for(lambda: len(trader.calls("execDetails")) == 3, what="executions")

    other = await ibapi_connect(gateway)
    other.client.reqCompletedOrders(True)
    await wait_for(lambda: other.calls("completedOrdersEnd"), what="completedOrdersEnd")
    (done,) = other.calls("completedOrder")
    assert done["contract"].secType == "BAG"
    assert len(done["contract"].comboLegs) == 2
    assert [(t.tag, t.value) for t in done["order"].smartComboRoutingParams] == [
        ("NonGuaranteed", "1")
    ]
    assert done["orderState"].status == "Filled"

    other.client.reqExecutions(8, ExecutionFilter())
    await wait_for(lambda: list(other.by_request("execDetailsEnd", 8)), what="execDetailsEnd")
    replayed = list(other.by_request("execDetails", 8))
    assert [c["contract"].secType for c in replayed] == ["FUT", "FUT", "BAG"]
    assert [c["execution"].side for c in replayed] == ["SLD", "BOT", "SLD"]


async def test_refusals_of_a_combo_reach_the_ibapi_error_callback(
    gateway: PaperGateway, ibapi_connect, wait_for
) -> None:
    near, far = es_months(gateway)
    peer = await ibapi_connect(gateway)
    order_id = peer.next_order_id
    peer.client.placeOrder(order_id, calendar(near, far, exchange="SMART"), order("BUY", 1))
    peer.client.reqContractDetails(12, calendar(near, far))
    await wait_for(
        lambda: {order_id, 12} <= {req_id for req_id, _, _ in peer.errors}, what="both refusals"
    )
    codes = {req_id: code for req_id, code, _ in peer.errors}
    assert codes[order_id] == 10043
    assert codes[12] == 321
    assert not peer.calls("execDetails")
    assert not gateway.desk.executions()


async def test_per_leg_prices_and_routing_tags_are_echoed_in_open_order(
    gateway: PaperGateway, ibapi_connect, wait_for
) -> None:
    near, far = es_months(gateway)
    peer = await ibapi_connect(gateway)
    placed = order("BUY", 1, "LMT", 1.0)  # far below the spread: it rests
    placed.smartComboRoutingParams = [TagValue("NonGuaranteed", "1")]
    leg_prices = []
    for price in (6050.0, UNSET_DOUBLE):
        leg_price = OrderComboLeg()
        leg_price.price = price
        leg_prices.append(leg_price)
    placed.orderComboLegs = leg_prices
    order_id = peer.next_order_id
    peer.client.placeOrder(order_id, calendar(near, far, exchange="SMART"), placed)
    await wait_for(lambda: list(peer.by_request("openOrder", order_id)), what="openOrder")

    opened = list(peer.by_request("openOrder", order_id))[-1]
    assert [leg.price for leg in opened["order"].orderComboLegs] == [6050.0, UNSET_DOUBLE]
    assert [(t.tag, t.value) for t in opened["order"].smartComboRoutingParams] == [
        ("NonGuaranteed", "1")
    ]
    assert opened["contract"].exchange == "SMART"
    assert opened["orderState"].status == "Submitted"
