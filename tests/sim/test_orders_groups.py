"""Orders over real TCP that involve more than one order or more than one step: brackets, OCA
groups, modifications, global cancel and partial fills."""

from __future__ import annotations

import asyncio

from ibconsole.broker.ib_client import IB, Contract, LimitOrder, MarketOrder, StopOrder
from ibconsole.sim import PaperGateway

TIMEOUT = 5.0


async def test_bracket_is_held_until_transmitted_then_released(
    gateway: PaperGateway, ib: IB, wait_for, front, away
) -> None:
    mes = front(gateway)
    contract = Contract(conId=mes.con_id, exchange="CME")
    parent, take_profit, stop_loss = ib.bracketOrder(
        "BUY",
        1,
        away(gateway, mes, -200),
        away(gateway, mes, 200),
        away(gateway, mes, -400),
    )
    parent_trade = ib.placeOrder(contract, parent)
    tp_trade = ib.placeOrder(contract, take_profit)
    await wait_for(lambda: len(gateway.orders) == 2, what="two untransmitted orders received")
    assert parent_trade.orderStatus.status == "PendingSubmit"
    assert gateway.desk.open_orders() == []
    sl_trade = ib.placeOrder(contract, stop_loss)
    await wait_for(
        lambda: (
            sl_trade.orderStatus.status == "PreSubmitted"
            and tp_trade.orderStatus.status == "PreSubmitted"
            and parent_trade.orderStatus.status == "Submitted"
        ),
        what="bracket released",
    )
    assert sl_trade.orderStatus.parentId == parent.orderId
    assert [o.order_id for o in gateway.desk.open_orders()] == [
        parent.orderId,
        take_profit.orderId,
        stop_loss.orderId,
    ]


async def test_parent_fill_releases_children_and_take_profit_cancels_stop_loss(
    gateway: PaperGateway, ib: IB, wait_for, front, away, record_errors
) -> None:
    mes = front(gateway)
    contract = Contract(conId=mes.con_id, exchange="CME")
    errors = record_errors(ib)
    parent, take_profit, stop_loss = ib.bracketOrder(
        "BUY", 1, away(gateway, mes, 40), away(gateway, mes, 400), away(gateway, mes, -400)
    )
    parent_trade, tp_trade, sl_trade = (
        ib.placeOrder(contract, order) for order in (parent, take_profit, stop_loss)
    )
    await asyncio.wait_for(parent_trade.filledEvent, TIMEOUT)
    await wait_for(
        lambda: tp_trade.orderStatus.status == sl_trade.orderStatus.status == "Submitted",
        what="children active after the parent fill",
    )
    # move the take-profit into the market: it fills and cancels the stop-loss
    take_profit.lmtPrice = away(gateway, mes, -40)
    ib.placeOrder(contract, take_profit)
    await asyncio.wait_for(tp_trade.filledEvent, TIMEOUT)
    await wait_for(lambda: sl_trade.orderStatus.status == "Cancelled", what="stop-loss cancelled")
    await wait_for(
        lambda: (stop_loss.orderId, 202) in [(req_id, code) for req_id, code, _ in errors],
        what="202 for the stop-loss",
    )
    assert "Modified" in [entry.message for entry in tp_trade.log]
    assert sl_trade.fills == []
    await wait_for(lambda: not ib.positions(), what="flat again")
    assert gateway.desk.open_orders() == []


async def test_oca_group_fill_cancels_the_other_orders(
    gateway: PaperGateway, ib: IB, wait_for, front, away, statuses
) -> None:
    mes = front(gateway)
    contract = Contract(conId=mes.con_id, exchange="CME")
    resting = ib.placeOrder(
        contract,
        StopOrder("SELL", 1, away(gateway, mes, -400), ocaGroup="exit-1", ocaType=1),
    )
    await wait_for(lambda: resting.orderStatus.status == "Submitted", what="stop working")
    marketable = ib.placeOrder(
        contract,
        LimitOrder("SELL", 1, away(gateway, mes, -40), ocaGroup="exit-1", ocaType=1),
    )
    await asyncio.wait_for(marketable.filledEvent, TIMEOUT)
    await wait_for(lambda: resting.orderStatus.status == "Cancelled", what="OCA partner cancelled")
    assert statuses(resting)[-1] == "Cancelled"


async def test_modify_reprices_and_is_logged_modified(
    gateway: PaperGateway, ib: IB, wait_for, front, away
) -> None:
    mes = front(gateway)
    contract = Contract(conId=mes.con_id, exchange="CME")
    order = LimitOrder("BUY", 1, away(gateway, mes, -400))
    trade = ib.placeOrder(contract, order)
    await wait_for(lambda: trade.orderStatus.status == "Submitted", what="Submitted")
    order.lmtPrice = away(gateway, mes, -300)
    ib.placeOrder(contract, order)
    await wait_for(lambda: trade.log[-1].message == "Modified", what="modify acknowledged")
    assert gateway.orders[-1].is_modify
    order.totalQuantity = 3
    ib.placeOrder(contract, order)
    await wait_for(lambda: trade.orderStatus.remaining == 3, what="quantity change")
    assert float(gateway.orders[-1].request.quantity) == 3
    (working,) = gateway.desk.open_orders()
    assert float(working.request.lmt_price or 0) == order.lmtPrice
    order.lmtPrice = away(gateway, mes, 40)
    ib.placeOrder(contract, order)
    await asyncio.wait_for(trade.filledEvent, TIMEOUT)
    assert trade.orderStatus.filled == 3
    assert trade.order.permId == working.perm_id


async def test_global_cancel_cancels_every_client(
    gateway: PaperGateway, ib: IB, connect, wait_for, front, away
) -> None:
    other = await connect(gateway)
    mes = front(gateway)
    contract = Contract(conId=mes.con_id, exchange="CME")
    mine = ib.placeOrder(contract, LimitOrder("BUY", 1, away(gateway, mes, -400)))
    theirs = other.placeOrder(contract, LimitOrder("SELL", 2, away(gateway, mes, 400)))
    await wait_for(
        lambda: mine.orderStatus.status == theirs.orderStatus.status == "Submitted",
        what="both working",
    )
    ib.reqGlobalCancel()
    await asyncio.wait_for(mine.cancelledEvent, TIMEOUT)
    await wait_for(lambda: theirs.orderStatus.status == "Cancelled", what="other client cancelled")
    assert gateway.desk.open_orders() == []


async def test_partial_fills_arrive_over_several_quotes(
    make_gateway, connect, wait_for, front
) -> None:
    gateway = await make_gateway(tick_rate=50)
    ib = await connect(gateway)
    mes = front(gateway)
    gateway.desk.set_partial_fills(3)
    filled_steps: list[float] = []
    trade = ib.placeOrder(Contract(conId=mes.con_id, exchange="CME"), MarketOrder("SELL", 3))
    trade.statusEvent += lambda t: filled_steps.append(t.orderStatus.filled)
    await asyncio.wait_for(trade.filledEvent, TIMEOUT)
    await wait_for(lambda: len(ib.positions()) == 1, what="position")
    assert len(trade.fills) == 3
    assert [fill.execution.cumQty for fill in trade.fills] == [1, 2, 3]
    assert len({fill.execution.execId for fill in trade.fills}) == 3
    assert 1 in filled_steps
    assert 2 in filled_steps
    average = sum(f.execution.price for f in trade.fills) / 3
    assert trade.orderStatus.avgFillPrice == average
    assert ib.positions()[0].position == -3


async def test_partially_filled_order_can_be_cancelled(
    gateway: PaperGateway, ib: IB, wait_for, front
) -> None:
    mes = front(gateway)
    gateway.desk.set_partial_fills(2, stall=True)
    trade = ib.placeOrder(Contract(conId=mes.con_id, exchange="CME"), MarketOrder("BUY", 4))
    await wait_for(lambda: trade.orderStatus.filled == 2, what="first partial fill")
    assert trade.orderStatus.status == "Submitted"
    assert trade.orderStatus.remaining == 2
    ib.cancelOrder(trade.order)
    await asyncio.wait_for(trade.cancelledEvent, TIMEOUT)
    assert trade.orderStatus.filled == 2
    await wait_for(lambda: ib.positions() and ib.positions()[0].position == 2, what="position 2")
