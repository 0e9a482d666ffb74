"""Positions, portfolio, account values and P&L from the paper gateway, as frozen snapshots; a
position is unknown (None) before the sync and after the session ended, never assumed flat."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest

from ibconsole.broker.broker import Broker
from ibconsole.broker.ib_client import IB, Event, Future, MarketOrder
from ibconsole.domain.account import SUMMARY_TAGS, AccountSnapshot, PortfolioRow
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.orders import Position
from ibconsole.sim import PaperGateway

Record = Callable[[Event], Any]
WaitFor = Callable[..., Any]
BrokerFactory = Callable[..., Broker]
Spy = Callable[[PaperGateway], Any]
Fill = Callable[[ListedContract, str, int], Awaitable[None]]

REQ_PNL = 92
CANCEL_PNL = 93
REQ_PNL_SINGLE = 94
CANCEL_PNL_SINGLE = 95
OTHER_CLIENT = 40


@pytest.fixture
async def fill(gateway: PaperGateway) -> AsyncIterator[Fill]:
    """``await fill(contract, "BUY", 2)``: a market order filled for the same account, placed
    by another API client (as if from TWS)."""
    ib = IB()
    await ib.connectAsync("127.0.0.1", gateway.port, clientId=OTHER_CLIENT, timeout=2)

    async def trade(contract: ListedContract, action: str, quantity: int) -> None:
        placed = ib.placeOrder(
            Future(conId=contract.con_id, exchange=contract.exchange), MarketOrder(action, quantity)
        )
        while not placed.isDone():
            await placed.statusEvent
        assert placed.orderStatus.status == "Filled", placed.log

    yield trade
    ib.disconnect()


async def test_positions_are_unknown_until_synced_then_known_flat(
    gateway: PaperGateway, make_broker: BrokerFactory, record: Record
) -> None:
    broker = make_broker(gateway)
    portfolios = record(broker.account.portfolio_changed)

    assert broker.account.position(12345) is None
    assert broker.account.positions() is None
    assert broker.account.portfolio() == ()
    assert not broker.account.positions_known

    await broker.start()

    assert broker.account.positions_known
    assert broker.account.account == "DU1234567"
    assert broker.account.position(12345) == Position.flat(12345, "DU1234567")
    assert broker.account.positions() == ()
    assert portfolios.values == [()]


async def test_a_fill_shows_in_position_portfolio_account_values_and_pnl(
    broker: Broker,
    es_front: ListedContract,
    fill: Fill,
    record: Record,
    wait_for: WaitFor,
) -> None:
    portfolios = record(broker.account.portfolio_changed)
    accounts = record(broker.account.account_changed)

    await fill(es_front, "BUY", 2)

    await wait_for(
        lambda: (
            broker.account.position(es_front.con_id) != Position.flat(es_front.con_id, "DU1234567")
        ),
        what="the position",
    )
    position = broker.account.position(es_front.con_id)
    assert position is not None
    assert position.quantity == Decimal(2)
    assert position.avg_cost > 0
    assert position.account == "DU1234567"
    assert broker.account.positions() == (position,)
    await wait_for(
        lambda: any(row.market_price is not None for row in broker.account.portfolio()),
        what="the position valued in the portfolio",
    )
    (row,) = broker.account.portfolio()
    assert isinstance(row, PortfolioRow)
    assert row.con_id == es_front.con_id
    assert row.local_symbol == es_front.local_symbol
    assert row.quantity == Decimal(2)
    assert row.market_value is not None
    await wait_for(
        lambda: any(rows and rows[0].quantity == 2 for rows in portfolios.values),
        what="the portfolio event with the position",
    )

    await wait_for(lambda: accounts.values, what="an account update")
    snapshot: AccountSnapshot = broker.account.snapshot()
    assert snapshot.account == "DU1234567"
    assert snapshot.currency == "USD"
    assert all(snapshot.value(tag) is not None for tag in SUMMARY_TAGS)
    net = snapshot.value("NetLiquidation")
    assert net is not None
    assert net > 0
    assert snapshot.updated_at is not None
    await wait_for(lambda: broker.account.daily_pnl() is not None, what="P&L from reqPnL")
    assert broker.account.snapshot().daily_pnl == broker.account.daily_pnl()


async def test_each_held_position_streams_its_own_daily_pnl_until_it_is_flat(
    gateway: PaperGateway,
    broker: Broker,
    es_front: ListedContract,
    fill: Fill,
    wait_for: WaitFor,
    inbound: Spy,
) -> None:
    seen = inbound(gateway)
    await fill(es_front, "BUY", 1)

    await wait_for(
        lambda: any(row.daily_pnl is not None for row in broker.account.portfolio()),
        what="the position's own daily P&L (reqPnLSingle)",
    )
    assert seen.count(REQ_PNL_SINGLE) == 1

    await fill(es_front, "SELL", 1)
    await wait_for(
        lambda: seen.count(CANCEL_PNL_SINGLE) == 1, what="the stream cancelled when flat"
    )
    assert broker.account.portfolio() == ()


async def test_an_account_snapshot_cannot_be_changed_by_its_reader(broker: Broker) -> None:
    snapshot = broker.account.snapshot()

    with pytest.raises(TypeError):
        snapshot.values["NetLiquidation"] = Decimal(0)  # type: ignore[index]
    assert snapshot.value("NetLiquidation") == Decimal("1000000.00")


@pytest.mark.expect_log_warnings
async def test_a_position_is_unknown_while_the_session_is_lost_and_known_again_after(
    gateway: PaperGateway,
    broker: Broker,
    es_front: ListedContract,
    fill: Fill,
    record: Record,
    wait_for: WaitFor,
) -> None:
    await fill(es_front, "SELL", 3)
    await wait_for(
        lambda: broker.account.position(es_front.con_id).quantity == -3,  # type: ignore[union-attr]
        what="the short position",
    )
    during: list[object] = []
    broker.session.ended += lambda reason: during.append(broker.account.position(es_front.con_id))
    portfolios = record(broker.account.portfolio_changed)
    synced = record(broker.session.synced)

    gateway.faults.drop(1)

    await wait_for(lambda: synced.values, what="the resync")
    assert during == [None], "unknown, not flat, once the session ended"
    # (an update from before the drop may still be emitted first: one per loop turn)
    assert () in portfolios.values, "the portfolio emptied when the session ended"
    position = broker.account.position(es_front.con_id)
    assert position is not None
    assert position.quantity == Decimal(-3)


async def test_positions_are_unknown_after_stop(broker: Broker, es_front: ListedContract) -> None:
    await broker.stop()

    assert broker.account.position(es_front.con_id) is None
    assert broker.account.positions() is None
    assert broker.account.portfolio() == ()
    assert broker.account.daily_pnl() is None


async def test_stop_cancels_the_pnl_subscription(
    gateway: PaperGateway, broker: Broker, inbound: Spy
) -> None:
    seen = inbound(gateway)

    await broker.stop()

    assert seen.count(CANCEL_PNL) == 1


@pytest.mark.expect_log_warnings
async def test_a_resync_after_1102_keeps_one_pnl_subscription_and_shows_the_account(
    gateway: PaperGateway, broker: Broker, inbound: Spy, record: Record, wait_for: WaitFor
) -> None:
    seen = inbound(gateway)
    accounts = record(broker.account.account_changed)
    synced = record(broker.session.synced)

    gateway.faults.lose_connectivity(restore_after=0.05, data_maintained=True)

    await wait_for(lambda: synced.values, what="the resync after 1102")
    assert accounts.values, "the account is shown again after the resync"
    assert seen.count(REQ_PNL) - seen.count(CANCEL_PNL) <= 1
    assert len(broker.session.ib.pnl()) == 1
    await wait_for(lambda: broker.account.daily_pnl() is not None, what="P&L after the resync")
