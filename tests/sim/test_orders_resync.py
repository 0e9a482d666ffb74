"""Orders outlive their connection: reconnecting with the same clientId resyncs open orders,
completed orders and executions; several clients share one gateway."""

from __future__ import annotations

import asyncio

from ibconsole.broker.ib_client import IB, Contract, ExecutionFilter, LimitOrder, MarketOrder
from ibconsole.sim import PaperGateway

TIMEOUT = 5.0


async def disconnect(ib: IB, gateway: PaperGateway, wait_for) -> None:
    client_id = ib.client.clientId
    ib.disconnect()
    await wait_for(
        lambda: all(c.client_id != client_id for c in gateway.connections),
        what="the gateway to drop the connection",
    )


async def test_reconnect_with_same_client_id_resyncs_orders_and_fills(
    make_gateway, connect, wait_for, front, away
) -> None:
    gateway = await make_gateway(tick_rate=20)
    mes = front(gateway)
    contract = Contract(conId=mes.con_id, exchange="CME")
    ib = await connect(gateway, client_id=21)
    resting = ib.placeOrder(contract, LimitOrder("BUY", 1, away(gateway, mes, -400)))
    gateway.desk.set_partial_fills(2)
    partial = ib.placeOrder(contract, MarketOrder("BUY", 2, orderRef="k-7"))
    await wait_for(lambda: partial.orderStatus.filled >= 1, what="first partial fill")
    assert resting.orderStatus.status == "Submitted"
    await disconnect(ib, gateway, wait_for)
    # orders stay live while their client is away: the market order completes meanwhile
    await wait_for(
        lambda: [o.order_id for o in gateway.desk.open_orders()] == [resting.order.orderId],
        what="the rest of the market order to fill while the client is away",
    )

    again = await connect(gateway, client_id=21)
    (open_trade,) = again.openTrades()
    assert open_trade.order.orderId == resting.order.orderId
    assert open_trade.order.permId == resting.order.permId
    assert open_trade.orderStatus.status == "Submitted"
    assert open_trade.contract.localSymbol == mes.local_symbol
    fills = sorted(again.fills(), key=lambda f: f.execution.cumQty)
    assert [f.execution.cumQty for f in fills] == [1, 2]
    assert {f.execution.orderRef for f in fills} == {"k-7"}
    assert all(f.commissionReport.commission > 0 for f in fills)
    (done,) = [t for t in again.trades() if t.order.permId == partial.order.permId]
    assert done.orderStatus.status == "Filled"
    assert again.client.getReqId() > partial.order.orderId
    (position,) = again.positions()
    assert position.position == 2
    assert [e.exec_id for e in gateway.desk.executions()] == [f.execution.execId for f in fills]
    (completed,) = gateway.desk.completed_orders()
    assert completed.perm_id == partial.order.permId
    # the resynced trade can be cancelled from the new session
    again.cancelOrder(open_trade.order)
    await asyncio.wait_for(open_trade.cancelledEvent, TIMEOUT)
    assert gateway.desk.open_orders() == []


async def test_order_events_go_to_the_placing_client_only(
    gateway: PaperGateway, ib: IB, connect, wait_for, front, away
) -> None:
    other = await connect(gateway)
    mes = front(gateway)
    contract = Contract(conId=mes.con_id, exchange="CME")
    resting = ib.placeOrder(contract, LimitOrder("BUY", 1, away(gateway, mes, -400)))
    filled = ib.placeOrder(contract, MarketOrder("SELL", 1))
    await asyncio.wait_for(filled.filledEvent, TIMEOUT)
    await wait_for(lambda: resting.orderStatus.status == "Submitted", what="resting order")
    # positions are per account, so the other client sees the position too
    await wait_for(lambda: other.positions(), what="position pushed to the other client")
    assert other.positions()[0].position == -1
    assert other.trades() == []
    assert other.fills() == []
    everything = await asyncio.wait_for(other.reqAllOpenOrdersAsync(), TIMEOUT)
    assert [(t.order.clientId, t.order.orderId) for t in everything] == [
        (ib.client.clientId, resting.order.orderId)
    ]
    own = await asyncio.wait_for(other.reqOpenOrdersAsync(), TIMEOUT)
    assert own == []


async def test_executions_and_completed_orders_on_request(
    gateway: PaperGateway, ib: IB, connect, front
) -> None:
    mes = front(gateway)
    contract = Contract(conId=mes.con_id, exchange="CME")
    bought = ib.placeOrder(contract, MarketOrder("BUY", 3))
    sold = ib.placeOrder(contract, MarketOrder("SELL", 1))
    await asyncio.wait_for(asyncio.gather(bought.filledEvent, sold.filledEvent), TIMEOUT)
    other = await connect(gateway)

    sells = await asyncio.wait_for(other.reqExecutionsAsync(ExecutionFilter(side="SELL")), TIMEOUT)
    assert [(f.execution.side, f.execution.shares) for f in sells] == [("SLD", 1)]
    mine = ExecutionFilter(clientId=ib.client.clientId, symbol="MES", secType="FUT")
    assert len(await asyncio.wait_for(other.reqExecutionsAsync(mine), TIMEOUT)) == 2
    nobody = ExecutionFilter(clientId=999)
    assert await asyncio.wait_for(other.reqExecutionsAsync(nobody), TIMEOUT) == []
    later = ExecutionFilter(time="20300101 00:00:00")
    assert await asyncio.wait_for(other.reqExecutionsAsync(later), TIMEOUT) == []
    realized = [f.commissionReport.realizedPNL for f in ib.fills()]
    assert realized[0] == 0.0  # opening fill: unset on the wire, 0 in the client

    completed = await asyncio.wait_for(other.reqCompletedOrdersAsync(False), TIMEOUT)
    assert sorted(t.order.permId for t in completed) == sorted(
        [bought.order.permId, sold.order.permId]
    )
    assert {t.orderStatus.status for t in completed} == {"Filled"}
