"""The orders panel over several trading days against the simulator: IB Gateway restarts each
night as a new process that knows none of the last day's orders, and the orders of each day
leave the table once the new session is reconciled (before, the panel kept every order since it
started, with its journal entry); the history and the CSV export still have them all."""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ibconsole.broker.ib_client import Future, LimitOrder
from ibconsole.broker.order_values import Reconciliation
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.orders import OrderType, Side, build_intent
from ibconsole.sim import PaperGateway
from ibconsole.ui.blotter import OrdersPanel
from ibconsole.ui.context import UiContext
from ibconsole.ui.months import rollover_view


class Nights:
    """The gateway of ``ui_context`` stopped and started again on its port as a new day."""

    def __init__(self, gateway: PaperGateway, as_of: datetime) -> None:
        self.gateway = gateway
        self.as_of = as_of
        self.port = gateway.port
        self.count = 0

    async def restart(self) -> None:
        await self.gateway.stop()
        self.count += 1
        self.gateway = PaperGateway(seed=7 + self.count, as_of=self.as_of)
        await self.gateway.start("127.0.0.1", self.port)


@pytest.fixture
async def nights(gateway: PaperGateway, as_of: datetime) -> AsyncIterator[Nights]:
    restarts = Nights(gateway, as_of)
    yield restarts
    if restarts.gateway is not gateway:  # the first one is the fixture's to stop
        await restarts.gateway.stop()


async def _es(ctx: UiContext, wait_for: Any) -> ListedContract:
    view = await rollover_view(ctx.broker, "ES", ctx.settings.rollover, ctx.clock.now())
    market = ctx.broker.market
    market.subscribe(view.active)
    await wait_for(lambda: market.quote(view.active.con_id) is not None, what="an ES quote")
    return view.active


def _send(ctx: UiContext, es: ListedContract, side: Side, limit: Decimal | None) -> str:
    intent = build_intent(
        contract=es,
        side=side,
        quantity=1,
        order_type=OrderType.LIMIT if limit is not None else OrderType.MARKET,
        limit_price=limit,
        clock=ctx.clock,
        account=ctx.broker.account.account,
        key_factory=ctx.broker.orders.new_key,
    )
    ctx.broker.orders.submit(intent, confirmed=True)
    return intent.key


def _status(panel: OrdersPanel, key: str) -> str:
    return panel.model.text(key, "Status") if panel.model.find(key) is not None else ""


async def _trade_a_day(
    ctx: UiContext, orders: OrdersPanel, wait_for: Any, *, cancel: bool
) -> tuple[str, str, str]:
    """A buy and a sell at the market, filled, and a buy limit under the bid, cancelled unless
    ``cancel`` is False (then it still works when the gateway goes)."""
    es = await _es(ctx, wait_for)
    quote = ctx.broker.market.quote(es.con_id)
    assert quote is not None
    assert quote.bid is not None
    bought = _send(ctx, es, Side.BUY, None)
    sold = _send(ctx, es, Side.SELL, None)
    resting = _send(ctx, es, Side.BUY, quote.bid - 12 * es.min_tick)
    await wait_for(
        lambda: (
            _status(orders, bought) == _status(orders, sold) == "Filled"
            and _status(orders, resting) == "Working"
        ),
        what="the day's orders shown",
    )
    if cancel:
        ctx.broker.orders.cancel_all()
        await wait_for(lambda: _status(orders, resting) == "Cancelled", what="the cancel")
    return bought, sold, resting


async def _night(nights: Nights, reconciled: list[Reconciliation], wait_for: Any) -> None:
    """The gateway restarts as a new day; the console reconnects and reconciles."""
    before = len(reconciled)
    await nights.restart()
    await wait_for(lambda: len(reconciled) > before, what="the reconciliation")


@pytest.mark.expect_log_warnings  # each restart's dropped connection is logged as an error
async def test_each_day_s_orders_leave_the_table_at_the_daily_restart(
    ui_context: UiContext,
    orders: OrdersPanel,
    nights: Nights,
    tmp_path: Path,
    wait_for: Any,
) -> None:
    reconciled: list[Reconciliation] = []
    ui_context.bridge.sig_reconciled.connect(reconciled.append)
    every_key: list[str] = []

    for day in range(2):
        every_key += await _trade_a_day(ui_context, orders, wait_for, cancel=True)
        assert orders.model.rowCount() == 3, f"day {day + 1}: its own orders"
        await _night(nights, reconciled, wait_for)
        assert orders.model.rowCount() == 0, f"night {day + 1}: the day's orders left"

    *_, working = await _trade_a_day(ui_context, orders, wait_for, cancel=False)
    await _night(nights, reconciled, wait_for)
    # The new session does not know it: it stays in view as unknown (check TWS) for the day,
    # and leaves with the next restart.
    assert [line.ident for line in orders.model.lines()] == [working]
    assert _status(orders, working) == "Unknown"
    every_key += await _trade_a_day(ui_context, orders, wait_for, cancel=True)
    assert orders.model.rowCount() == 4
    await _night(nights, reconciled, wait_for)
    assert orders.model.rowCount() == 0

    orders.history_toggle.setChecked(True)
    assert {line.ident for line in orders.model.lines()} >= {*every_key, working}
    assert {_status(orders, k) for k in every_key[:2]} == {"Filled"}
    # A restart while the history is shown: the day's orders stay in view, as history.
    bought, *_ = await _trade_a_day(ui_context, orders, wait_for, cancel=True)
    line = orders.model.find(bought)
    assert line is not None
    assert line.live
    await _night(nights, reconciled, wait_for)
    line = orders.model.find(bought)
    assert line is not None, "still shown with the history"
    assert not line.live
    assert _status(orders, bought) == "Filled"
    orders.history_toggle.setChecked(False)
    assert orders.model.rowCount() == 0

    exported = tmp_path / "journal.csv"
    assert orders.export_csv(exported) > 0
    with exported.open(newline="", encoding="utf-8") as handle:
        written = {value for row in csv.DictReader(handle) for value in row.values()}
    assert {*every_key, working, bought} <= written


@pytest.mark.expect_log_warnings  # the dropped connection is logged as an error
async def test_a_reconnect_within_the_day_keeps_each_line_and_when_it_was_first_seen(
    ui_context: UiContext,
    make_ui_context: Any,
    gateway: PaperGateway,
    orders: OrdersPanel,
    wait_for: Any,
) -> None:
    other = await make_ui_context(gateway, client_id=2)
    es = await _es(other, wait_for)
    quote = other.broker.market.quote(es.con_id)
    assert quote is not None
    assert quote.ask is not None
    # Placed as TWS would: no key of this console, so nothing in its journal says when.
    placed = other.broker.session.ib.placeOrder(
        Future(conId=es.con_id, exchange=es.exchange),
        LimitOrder("SELL", 1, float(quote.ask + 12 * es.min_tick)),
    )
    ours = _send(ui_context, await _es(ui_context, wait_for), Side.BUY, None)

    def theirs() -> str:
        found = [
            line
            for line in orders.model.lines()
            if line.order_id == placed.order.orderId and not line.key
        ]
        return found[0].ident if found else ""

    reconciled: list[Reconciliation] = []
    ui_context.bridge.sig_reconciled.connect(reconciled.append)
    # IB tells this client of another's orders when it loads them all, at a sync.
    await wait_for(lambda: _status(orders, ours) == "Filled", what="ours filled")
    gateway.faults.drop(1)
    await wait_for(lambda: reconciled and theirs(), what="the other client's order, after a sync")
    first_seen = orders.model.find(theirs())
    assert first_seen is not None
    reconciled.clear()

    gateway.faults.drop(1)
    await wait_for(lambda: reconciled, what="the reconciliation after the next reconnect")
    orders.cancel_all()  # Cancel all shows the rows the reconnect brought first

    assert "1 working order(s) placed elsewhere" in orders.status.text()
    assert orders.model.rowCount() == 2
    assert _status(orders, ours) == "Filled"
    line = orders.model.find(theirs())
    assert line is not None
    assert line.working
    assert line.time == first_seen.time, "first seen at the first sync, not at the second"
