"""Account data over real TCP: the connect sync, account values after fills, account summary,
P&L streams and gateways with several paper and live-style accounts."""

from __future__ import annotations

import asyncio

import pytest

from ibconsole.broker.ib_client import IB, Contract, MarketOrder
from ibconsole.sim import PaperGateway
from ibconsole.sim.accounts import SUMMARY_TAGS

ACCOUNT = "DU1234567"
TIMEOUT = 5.0


def value(ib: IB, tag: str, account: str = ACCOUNT, currency: str = "USD") -> str | None:
    for item in ib.accountValues(account):
        if item.tag == tag and item.currency == currency and not item.modelCode:
            return item.value
    return None


async def test_connect_sync_gives_account_values_and_no_positions(ib: IB) -> None:
    assert ib.managedAccounts() == [ACCOUNT]
    assert value(ib, "NetLiquidation") == "1000000.00"
    assert value(ib, "AccountType", currency="") == "INDIVIDUAL"
    assert ib.positions() == []
    assert ib.portfolio() == []
    assert ib.openTrades() == []


async def test_fill_updates_positions_portfolio_and_account_values(
    gateway: PaperGateway, ib: IB, wait_for, front
) -> None:
    es = front(gateway, "ES")
    trade = ib.placeOrder(Contract(conId=es.con_id, exchange="CME"), MarketOrder("BUY", 1))
    await asyncio.wait_for(trade.filledEvent, TIMEOUT)
    await wait_for(lambda: value(ib, "InitMarginReq") == "15800.00", what="margin after fill")
    assert value(ib, "TotalCashValue") == "999997.75"
    assert value(ib, "MaintMarginReq") == "14378.00"
    (item,) = ib.portfolio()
    assert item.position == 1
    assert item.averageCost == trade.orderStatus.avgFillPrice * 50 + 2.25  # with commission
    assert item.account == ACCOUNT
    snapshot = gateway.desk.account(ACCOUNT)
    assert snapshot.init_margin == 15800
    (view,) = gateway.desk.positions(ACCOUNT)
    assert view.quantity == 1


async def test_account_summary_answers_the_ib_insync_tag_list(
    gateway: PaperGateway, ib: IB
) -> None:
    summary = await asyncio.wait_for(ib.accountSummaryAsync(), TIMEOUT)
    tags = {item.tag for item in summary}
    assert tags >= set(SUMMARY_TAGS)
    by_tag = {item.tag: item for item in summary if item.currency in ("USD", "")}
    assert by_tag["NetLiquidation"].value == "1000000.00"
    assert by_tag["BuyingPower"].value == "4000000.00"
    assert by_tag["Cushion"].value == "1.0000"
    assert {item.account for item in summary} == {ACCOUNT}
    assert ("CashBalance", "BASE") in {(item.tag, item.currency) for item in summary}


async def test_pnl_streams_about_once_a_second(
    gateway: PaperGateway, ib: IB, wait_for, front
) -> None:
    mes = front(gateway)
    trade = ib.placeOrder(Contract(conId=mes.con_id, exchange="CME"), MarketOrder("BUY", 2))
    await asyncio.wait_for(trade.filledEvent, TIMEOUT)
    updates: list[float] = []
    ib.pnlEvent += lambda pnl: updates.append(pnl.unrealizedPnL)
    pnl = ib.reqPnL(ACCOUNT)
    single = ib.reqPnLSingle(ACCOUNT, "", mes.con_id)
    await wait_for(lambda: len(updates) >= 2, timeout=4, what="two P&L updates")
    assert pnl.realizedPnL == 0
    await wait_for(lambda: single.position == 2, what="P&L of the position")
    snapshot = gateway.desk.account(ACCOUNT)
    assert single.value == pytest.approx(float(gateway.desk.positions(ACCOUNT)[0].market_value))
    assert pnl.dailyPnL == pytest.approx(float(snapshot.daily_pnl), abs=100)
    ib.cancelPnL(ACCOUNT)
    ib.cancelPnLSingle(ACCOUNT, "", mes.con_id)


async def test_several_accounts_on_one_gateway(make_gateway, connect, wait_for, front) -> None:
    gateway = await make_gateway(accounts=["DU1111111", "U2222222"])
    ib = await connect(gateway)
    assert ib.managedAccounts() == ["DU1111111", "U2222222"]
    # with two accounts the client syncs them through accountUpdatesMulti
    assert value(ib, "NetLiquidation", "U2222222") == "1000000.00"
    mes = front(gateway)
    trade = ib.placeOrder(
        Contract(conId=mes.con_id, exchange="CME"), MarketOrder("SELL", 1, account="U2222222")
    )
    await asyncio.wait_for(trade.filledEvent, TIMEOUT)
    await wait_for(lambda: ib.positions(), what="position in the live-style account")
    (position,) = ib.positions()
    assert position.account == "U2222222"
    assert position.position == -1
    assert trade.fills[0].execution.acctNumber == "U2222222"
    assert gateway.desk.positions("DU1111111") == []
    await wait_for(lambda: value(ib, "InitMarginReq", "U2222222") == "1580.00", what="multi update")
    assert value(ib, "InitMarginReq", "DU1111111") == "0.00"
