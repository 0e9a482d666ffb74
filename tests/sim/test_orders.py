"""Orders over real TCP: an unmodified ib_insync client trading against the paper gateway.

Single-order life cycles: fills with commissions and positions, cancels, rejects, what-if.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import pytest

from ibconsole.broker.ib_client import IB, Contract, Future, LimitOrder, MarketOrder, StopOrder
from ibconsole.sim import PaperGateway
from ibconsole.sim.instruments import Instrument

ACCOUNT = "DU1234567"
TIMEOUT = 5.0


def contract_of(instrument: Instrument) -> Contract:
    return Contract(conId=instrument.con_id, exchange=instrument.exchange)


async def test_market_order_fills_with_commission_and_position(
    gateway: PaperGateway, ib: IB, wait_for, front, statuses
) -> None:
    mes = front(gateway)
    seen: list[str] = []
    trade = ib.placeOrder(contract_of(mes), MarketOrder("BUY", 2, orderRef="k-1"))
    trade.statusEvent += lambda t: seen.append(t.orderStatus.status)
    ask = gateway.market.quote(mes.con_id).ask
    await asyncio.wait_for(trade.filledEvent, TIMEOUT)
    await wait_for(lambda: trade.fills[-1].commissionReport.execId, what="commission report")
    await wait_for(lambda: ib.positions() and ib.portfolio(), what="position and portfolio")

    assert statuses(trade) == ["PendingSubmit", "Submitted", "Submitted", "Filled"]
    assert seen[-1] == "Filled"
    assert trade.orderStatus.filled == 2
    assert trade.orderStatus.avgFillPrice == float(ask)
    (fill,) = trade.fills
    assert fill.execution.side == "BOT"
    assert fill.execution.orderRef == "k-1"
    assert fill.execution.acctNumber == ACCOUNT
    assert fill.commissionReport.commission == pytest.approx(1.24)
    assert fill.contract.conId == mes.con_id
    (position,) = ib.positions()
    assert position.position == 2
    assert position.avgCost == pytest.approx(float(ask) * 5 + 1.24 / 2)  # commission included
    (item,) = ib.portfolio()
    assert item.contract.conId == mes.con_id
    await wait_for(
        lambda: (
            ib.accountValues()
            and any(
                v.tag == "TotalCashValue" and v.currency == "USD" and v.value == "999998.76"
                for v in ib.accountValues()
            )
        ),
        what="cash net of commission",
    )
    (received,) = gateway.orders
    assert received.request.order_ref == "k-1"
    assert received.client_id == ib.client.clientId
    assert not gateway.market.is_held(mes.con_id)


async def test_qualified_contract_and_stop_through_market_fill(
    gateway: PaperGateway, ib: IB, front, away
) -> None:
    mes = front(gateway)
    (contract,) = await asyncio.wait_for(
        ib.qualifyContractsAsync(Future("MES", mes.contract_month, "CME")), TIMEOUT
    )
    # a buy stop below the last trade is already triggered: it fills as a market order
    trade = ib.placeOrder(contract, StopOrder("BUY", 1, away(gateway, mes, -40)))
    await asyncio.wait_for(trade.filledEvent, TIMEOUT)
    assert trade.orderStatus.status == "Filled"
    assert trade.fills[0].contract.conId == mes.con_id


async def test_limit_order_rests_then_cancel_gives_202(
    gateway: PaperGateway, ib: IB, wait_for, front, away, statuses, record_errors
) -> None:
    mes = front(gateway)
    errors = record_errors(ib)
    trade = ib.placeOrder(contract_of(mes), LimitOrder("BUY", 1, away(gateway, mes, -400)))
    await wait_for(lambda: trade.orderStatus.status == "Submitted", what="Submitted")
    assert gateway.market.is_held(mes.con_id)
    assert trade.order.permId > 0
    ib.cancelOrder(trade.order)
    assert trade.orderStatus.status == "PendingCancel"
    await asyncio.wait_for(trade.cancelledEvent, TIMEOUT)
    await wait_for(lambda: errors, what="error 202")
    assert statuses(trade) == ["PendingSubmit", "Submitted", "PendingCancel", "Cancelled"]
    assert errors == [(trade.order.orderId, 202, "Order Canceled - reason:")]
    assert not gateway.market.is_held(mes.con_id)
    assert gateway.desk.open_orders() == []


async def test_cancel_of_an_unknown_order_gives_10147(ib: IB, wait_for, record_errors) -> None:
    errors = record_errors(ib)
    ib.client.cancelOrder(424242)
    await wait_for(lambda: errors, what="error 10147")
    assert errors == [(424242, 10147, "OrderId 424242 that needs to be cancelled is not found.")]


async def test_reject_on_demand_sets_advanced_error(gateway: PaperGateway, ib: IB, front) -> None:
    mes = front(gateway)
    gateway.desk.reject_next("Margin requirement not met")
    trade = ib.placeOrder(contract_of(mes), MarketOrder("BUY", 1))
    await asyncio.wait_for(trade.cancelledEvent, TIMEOUT)
    assert trade.log[-1].errorCode == 201
    assert "Order rejected - reason:Margin requirement not met" in trade.log[-1].message
    assert json.loads(trade.advancedError)["rejectReason"] == "Margin requirement not met"
    assert trade.fills == []
    # the next order goes through
    next_trade = ib.placeOrder(contract_of(mes), MarketOrder("BUY", 1))
    await asyncio.wait_for(next_trade.filledEvent, TIMEOUT)


@pytest.mark.parametrize(
    ("order", "code", "text"),
    [
        (LimitOrder("BUY", 1, 6000.1), 201, "minimum price variation"),
        (MarketOrder("BUY", 0), 201, "quantity must be positive"),
        (LimitOrder("SELL", 1, 0.0, account="DU999"), 201, "not managed"),
    ],
)
async def test_bad_orders_are_rejected(
    gateway: PaperGateway, ib: IB, order: LimitOrder, code: int, text: str, front, away
) -> None:
    if order.orderType == "LMT" and order.lmtPrice == 0.0:
        order.lmtPrice = away(gateway, front(gateway), 0)
    trade = ib.placeOrder(contract_of(front(gateway)), order)
    await asyncio.wait_for(trade.cancelledEvent, TIMEOUT)
    assert trade.log[-1].errorCode == code
    assert text in trade.log[-1].message
    assert text in json.loads(trade.advancedError)["rejectReason"]


async def test_unknown_contract_gives_200(gateway: PaperGateway, ib: IB) -> None:
    trade = ib.placeOrder(Contract(conId=999, exchange="CME"), MarketOrder("BUY", 1))
    await asyncio.wait_for(trade.cancelledEvent, TIMEOUT)
    assert trade.log[-1].errorCode == 200
    assert gateway.orders[-1].request.contract.con_id == 999


async def test_what_if_returns_margins_and_commission_without_a_trade(
    gateway: PaperGateway, ib: IB, front
) -> None:
    mes = front(gateway)
    state = await asyncio.wait_for(
        ib.whatIfOrderAsync(contract_of(mes), MarketOrder("BUY", 2)), TIMEOUT
    )
    assert Decimal(state.initMarginBefore) == 0
    assert Decimal(state.initMarginChange) == Decimal("3160.00")
    assert Decimal(state.maintMarginAfter) == Decimal("2875.60")
    assert Decimal(state.equityWithLoanBefore) == Decimal("1000000.00")
    assert state.commission == pytest.approx(1.24)
    assert state.commissionCurrency == "USD"
    assert ib.trades() == []
    assert gateway.orders == []
    assert ib.positions() == []


async def test_what_if_of_a_bad_order_ends_empty(gateway: PaperGateway, ib: IB, front) -> None:
    state = await asyncio.wait_for(
        ib.whatIfOrderAsync(contract_of(front(gateway)), LimitOrder("BUY", 1, 6000.1)), TIMEOUT
    )
    assert state == []


@pytest.mark.expect_log_warnings
async def test_malformed_place_order_is_answered_with_320(
    gateway: PaperGateway, ib: IB, wait_for, record_errors
) -> None:
    errors = record_errors(ib)
    ib.client.send(3, 77, 711002503, "MES")
    await wait_for(lambda: errors, what="error 320")
    ((req_id, code, message),) = errors
    assert (req_id, code) == (77, 320)
    assert "placeOrder ended after 4 fields" in message
    assert gateway.orders == []
    # the connection lives on
    await asyncio.wait_for(ib.reqCurrentTimeAsync(), TIMEOUT)
