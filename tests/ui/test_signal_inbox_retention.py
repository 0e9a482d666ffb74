"""A console that runs for days keeps the signals of the last day only: signals done with (sent,
filled, expired, dismissed) that arrived more than a day ago leave the inbox and its dock, as they
would at a restart, while newer ones stay. The console's clock runs from a wall clock the test
moves, against the simulator over TCP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import shiboken6

from ibconsole.broker.session import Endpoint
from ibconsole.broker.signal_endpoint import SignalEndpoint
from ibconsole.config import Settings
from ibconsole.domain.clock import ManualClock, OffsetClock
from ibconsole.sim import PaperGateway
from ibconsole.ui.context import UiContext, close_context, open_context
from ibconsole.ui.main_window import MainWindow

SECRET = "retention-test-secret-8Qw2xL"


@pytest.fixture
async def console(
    gateway: PaperGateway, as_of: datetime, tmp_path: Path, make_main_window: Any
) -> AsyncIterator[tuple[UiContext, MainWindow, SignalEndpoint, ManualClock]]:
    wall = ManualClock(datetime.now(UTC))
    settings = Settings()
    ctx = open_context(
        settings,
        Endpoint("127.0.0.1", gateway.port, 1),
        tmp_path / "journal.sqlite3",
        OffsetClock(as_of, wall=wall),
        settings.default_profile,
    )
    endpoint = SignalEndpoint(
        ctx.settings.signals, SECRET, ctx.inbox.signal_log, ctx.inbox.accept, ctx.clock
    )
    window: MainWindow | None = None
    try:
        await ctx.broker.start()
        window = make_main_window(ctx)
        await endpoint.start(0)
        yield ctx, window, endpoint, wall
    finally:
        await endpoint.stop()
        if window is not None:  # closed before its context stops: no timer fires into it
            window.close()
            shiboken6.delete(window)
        await close_context(ctx)


async def _post(endpoint: SignalEndpoint, signal_id: str) -> str:
    body = {"secret": SECRET, "id": signal_id, "symbol": "ES1!", "action": "buy", "quantity": 1}
    assert endpoint.url is not None
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            endpoint.url, data=json.dumps(body), headers={"Content-Type": "application/json"}
        ) as answer,
    ):
        assert answer.status == 202
        return str((await answer.json())["key"])


async def test_signals_done_with_a_day_ago_leave_the_inbox_and_newer_ones_stay(
    console: tuple[UiContext, MainWindow, SignalEndpoint, ManualClock], wait_for: Any
) -> None:
    ctx, window, endpoint, wall = console
    model = window.signal_inbox.model
    dismissed = await _post(endpoint, "yesterday-dismissed")
    waiting = await _post(endpoint, "yesterday-waiting")
    await wait_for(
        lambda: model.find(dismissed) is not None and model.find(waiting) is not None,
        what="both rows",
    )
    assert ctx.inbox.dismiss(dismissed)

    wall.advance(timedelta(hours=25))
    today = await _post(endpoint, "today")

    # the dock's expiry check expires the waiting one, then lets both of yesterday's go
    await wait_for(
        lambda: model.find(dismissed) is None and model.find(waiting) is None,
        timeout=10,
        what="yesterday's signals gone from the dock",
    )
    assert [entry.key for entry in ctx.inbox.entries] == [today]
    assert model.find(today) is not None
    assert model.rowCount() == 1
