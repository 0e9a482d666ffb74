"""The fills panel of a console that runs for days: at the sync after the night's reconnect the
fills of an earlier day leave (before, it kept every fill since it started), while the day's stay
through a reconnect. The console's clock runs from a wall clock the test moves, against the
simulator over TCP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ibconsole.broker.session import Endpoint, SyncInfo
from ibconsole.config import Settings
from ibconsole.domain.clock import ManualClock, OffsetClock
from ibconsole.domain.orders import OrderType, Side, build_intent
from ibconsole.sim import PaperGateway
from ibconsole.ui.blotter import FillsPanel
from ibconsole.ui.context import UiContext, close_context, open_context
from ibconsole.ui.months import rollover_view

from .conftest import FAST_HEALTH


@pytest.fixture
async def console(
    gateway: PaperGateway, as_of: datetime, tmp_path: Path, qtbot: Any
) -> AsyncIterator[tuple[UiContext, FillsPanel, ManualClock]]:
    wall = ManualClock(datetime.now(UTC))
    settings = Settings(health=FAST_HEALTH)
    ctx = open_context(
        settings,
        Endpoint("127.0.0.1", gateway.port, 1),
        tmp_path / "journal.sqlite3",
        OffsetClock(as_of, wall=wall),
        settings.default_profile,
    )
    try:
        await ctx.broker.start()
        panel = FillsPanel(ctx)
        qtbot.addWidget(panel)
        yield ctx, panel, wall
    finally:
        await close_context(ctx)


async def _buy(ctx: UiContext, wait_for: Any) -> str:
    view = await rollover_view(ctx.broker, "ES", ctx.settings.rollover, ctx.clock.now())
    ctx.broker.market.subscribe(view.active)
    await wait_for(lambda: ctx.broker.market.quote(view.active.con_id), what="an ES quote")
    intent = build_intent(
        contract=view.active,
        side=Side.BUY,
        quantity=1,
        order_type=OrderType.MARKET,
        limit_price=None,
        clock=ctx.clock,
        account=ctx.broker.account.account,
        key_factory=ctx.broker.orders.new_key,
    )
    ctx.broker.orders.submit(intent, confirmed=True)
    ctx.broker.market.unsubscribe(view.active.con_id)
    return intent.key


async def _reconnect(ctx: UiContext, gateway: PaperGateway, wait_for: Any) -> None:
    synced: list[SyncInfo] = []
    ctx.bridge.sig_synced.connect(synced.append)
    gateway.faults.drop(1)
    await wait_for(lambda: synced, what="the sync after the reconnect")
    ctx.bridge.sig_synced.disconnect(synced.append)


@pytest.mark.expect_log_warnings  # the dropped connections are logged as errors
async def test_fills_of_an_earlier_day_leave_at_the_sync_and_the_day_s_stay(
    console: tuple[UiContext, FillsPanel, ManualClock], gateway: PaperGateway, wait_for: Any
) -> None:
    ctx, panel, wall = console
    key = await _buy(ctx, wait_for)

    def keys() -> list[str]:
        return [line.key for line in panel.model.lines()]

    await wait_for(lambda: keys() == [key], what="the fill shown")
    await _reconnect(ctx, gateway, wait_for)
    assert keys() == [key], "the day's fill stays through a reconnect"

    wall.advance(timedelta(days=1))
    await _reconnect(ctx, gateway, wait_for)

    assert keys() == [], "yesterday's fill left"
    assert [f.key for f in ctx.broker.journal.fills()] == [key], "the journal keeps it"
