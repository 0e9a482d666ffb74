"""The signal inbox end to end in the window: signals POSTed over real HTTP to the endpoint on the
console's loop, resolved on the simulator by the rollover rules, shown in the dock, and sent
(through the ticket's checks and confirmations), reviewed into the ticket or dismissed — and
never sent without a click."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractItemView, QDockWidget, QLabel, QLineEdit, QPushButton

from ibconsole.app import build_console
from ibconsole.broker.ib_client import Contract
from ibconsole.broker.signal_endpoint import SignalEndpoint
from ibconsole.config import SIGNAL_SECRET_VARIABLE, Settings
from ibconsole.domain.orders import Side
from ibconsole.domain.signals import SignalState
from ibconsole.sim import PaperGateway
from ibconsole.ui.context import UiContext, close_context, open_context
from ibconsole.ui.decimal_spin_box import DecimalSpinBox
from ibconsole.ui.main_window import MainWindow
from ibconsole.ui.signal_inbox import SignalInboxPanel

SECRET = "inbox-test-secret-4Rw9zP"
# Thursday 10 December 2026, 09:30 in Chicago: the first day of ES's December roll window, so
# ES1! is March 2027 (ESH7) while ESZ6 still trades.
IN_THE_ROLL_WINDOW = datetime(2026, 12, 10, 15, 30, tzinfo=UTC)
# Wednesday 9 December 2026, 09:30 in Chicago: the day before, ES1! is still ESZ6.
BEFORE_THE_ROLL = datetime(2026, 12, 9, 15, 30, tzinfo=UTC)


@pytest.fixture
def as_of() -> datetime:
    return IN_THE_ROLL_WINDOW


@dataclass
class Inbox:
    ctx: UiContext
    window: MainWindow
    panel: SignalInboxPanel
    endpoint: SignalEndpoint
    session: aiohttp.ClientSession
    gateway: PaperGateway
    wait_for: Any

    async def post(self, **fields: Any) -> tuple[int, dict[str, Any]]:
        body = {"secret": SECRET, "symbol": "MES1!", "action": "buy", "quantity": 1, **fields}
        body = {name: value for name, value in body.items() if value is not ...}
        url = self.endpoint.url
        assert url is not None
        async with self.session.post(
            url, data=json.dumps(body), headers={"Content-Type": "application/json"}
        ) as answer:
            return answer.status, await answer.json()

    def text(self, key: str, column: str) -> str:
        """What the row of ``key`` shows in ``column`` ("" while the row is not shown yet)."""
        if self.panel.model.find(key) is None:
            return ""
        return self.panel.model.text(key, column)

    async def resolved(self, key: str) -> None:
        await self.wait_for(
            lambda: (
                self.text(key, "Contract") not in ("", "—")
                and "resolving" not in self.text(key, "Effect")
            ),
            timeout=30,
            what=f"signal {key} resolved",
        )

    def click_secret(self) -> None:
        QTest.mouseClick(
            self.panel.secret.findChild(QPushButton, "signalSecretButton"),
            Qt.MouseButton.LeftButton,
        )

    def click(self, name: str) -> None:
        button = self.panel.findChild(QPushButton, name)
        assert button is not None
        assert button.isEnabled(), f"{name} is disabled"
        QTest.mouseClick(button, Qt.MouseButton.LeftButton)

    async def orders_after_a_round_trip(self) -> int:
        """Orders the simulator received, counted after a request on the same socket came back
        (an order sent before it would have arrived first)."""
        await self.wait_for(lambda: self.ctx.runner.pending == 0, what="background work")
        chain = self.ctx.broker.contracts.cached("MES")
        assert chain is not None
        contract = Contract(conId=chain.contracts[0].con_id)
        await asyncio.wait_for(self.ctx.broker.session.ib.reqContractDetailsAsync(contract), 5)
        return len(self.gateway.orders)


@pytest.fixture
async def inbox(
    make_ui_context: Any, make_main_window: Any, gateway: PaperGateway, wait_for: Any
) -> AsyncIterator[Inbox]:
    # The default heartbeat timings: on a loaded machine the suite's fast ones can resync the
    # session mid-test, and a resync blocks orders (rightly) while it lasts.
    ctx = await make_ui_context(gateway, settings=Settings())
    main_window = make_main_window(ctx)
    endpoint = SignalEndpoint(
        ctx.settings.signals, SECRET, ctx.inbox.signal_log, ctx.inbox.accept, ctx.clock
    )
    await endpoint.start(0)
    session = aiohttp.ClientSession()
    yield Inbox(ctx, main_window, main_window.signal_inbox, endpoint, session, gateway, wait_for)
    await session.close()
    await endpoint.stop()


async def test_a_signal_waits_in_the_dock_and_nothing_is_sent_without_a_click(
    inbox: Inbox,
) -> None:
    dock = inbox.window.findChild(QDockWidget, "signalInboxDock")
    assert dock is not None
    table = inbox.window.findChild(QAbstractItemView, "signalTable")
    assert table is not None
    headers = [
        table.model().headerData(c, Qt.Orientation.Horizontal)
        for c in range(table.model().columnCount())
    ]
    assert {"Symbol", "Action", "Qty", "State"} <= set(headers)
    arrived: list[tuple[str, str]] = []
    inbox.panel.sig_signal_arrived.connect(lambda title, text: arrived.append((title, text)))

    status, answer = await inbox.post(id="w-1", quantity=2)
    assert status == 202
    key = answer["key"]
    await inbox.wait_for(lambda: table.model().rowCount() == 1, what="the row")
    await inbox.resolved(key)
    assert inbox.text(key, "Symbol") == "MES1!"
    assert inbox.text(key, "Contract") == "MESH7"
    assert inbox.text(key, "Action") == "buy"
    assert inbox.text(key, "Qty") == "2"
    assert inbox.text(key, "State") == "new"
    assert inbox.text(key, "Effect") == "buy 2: flat → long +2"
    assert arrived == [("Signal received", "buy 2 MES1! at market from webhook")]
    assert "waiting in the signal inbox" in inbox.window.statusBar().currentMessage()
    assert await inbox.orders_after_a_round_trip() == 0


@pytest.mark.parametrize(
    ("as_of", "symbol", "local"),
    [
        (BEFORE_THE_ROLL, "ES1!", "ESZ6"),
        (IN_THE_ROLL_WINDOW, "ES1!", "ESH7"),
        (IN_THE_ROLL_WINDOW, "ESZ2026", "ESZ6"),
        (IN_THE_ROLL_WINDOW, "CME_MINI:MES2!", "MESM7"),
    ],
)
async def test_symbols_resolve_to_the_month_the_rollover_rules_say(
    inbox: Inbox, symbol: str, local: str
) -> None:
    _, answer = await inbox.post(symbol=symbol)
    await inbox.resolved(answer["key"])
    assert inbox.text(answer["key"], "Contract") == local


async def test_send_goes_through_the_checks_and_the_order_reaches_the_exchange(
    inbox: Inbox,
) -> None:
    _, answer = await inbox.post(id="send-1")
    key = answer["key"]
    await inbox.resolved(key)
    entry = inbox.ctx.inbox.get(key)
    assert entry is not None
    assert entry.contract is not None
    contract = entry.contract
    await inbox.wait_for(
        lambda: inbox.ctx.broker.market.quote(contract.con_id) is not None, what="a quote"
    )
    inbox.panel.select(key)
    inbox.click("signalSendButton")
    if inbox.panel.confirmation is not None:
        inbox.panel.confirmation.accept()
    await inbox.wait_for(lambda: len(inbox.gateway.orders) == 1, what="the order at the sim")
    (order,) = inbox.gateway.orders
    assert order.request.action == "BUY"
    assert order.request.quantity == Decimal(1)
    assert order.request.order_type == "MKT"
    await inbox.wait_for(lambda: inbox.text(key, "State") == "filled", what="the fill")
    assert inbox.panel.findChild(QPushButton, "signalSendButton").isEnabled() is False
    assert inbox.ctx.inbox.send(key).message == "That signal is filled: not sent."
    journalled = inbox.ctx.broker.journal.orders(limit=5)
    assert any(o.intent.contract == contract and o.intent.side is Side.BUY for o in journalled)


async def test_a_limit_signal_is_sent_as_a_limit_at_its_price(inbox: Inbox) -> None:
    _, answer = await inbox.post(id="lmt-1", action="sell", order_type="limit", price="100.00")
    key = answer["key"]
    await inbox.resolved(key)
    assert inbox.text(key, "Type") == "limit 100.00"
    inbox.panel.select(key)
    inbox.click("signalSendButton")
    # Far below the market: the price band asks or blocks; either way nothing goes unasked.
    if inbox.panel.confirmation is not None:
        inbox.panel.confirmation.reject()
        await inbox.wait_for(lambda: inbox.panel.confirmation is None, what="the dialog closed")
        assert "Declined" in inbox.panel.status_text
        assert inbox.ctx.inbox.get(key).state is SignalState.NEW  # type: ignore[union-attr]
    else:
        await inbox.wait_for(lambda: inbox.text(key, "State") == "refused", what="refused")
    assert await inbox.orders_after_a_round_trip() == 0


async def test_review_loads_the_ticket_and_sends_nothing(inbox: Inbox) -> None:
    _, answer = await inbox.post(id="rev-1", quantity=3, order_type="limit", price="6000.25")
    key = answer["key"]
    await inbox.resolved(key)
    entry = inbox.ctx.inbox.get(key)
    assert entry is not None
    inbox.panel.select(key)
    inbox.click("signalReviewButton")
    ticket = inbox.window.ticket
    await inbox.wait_for(lambda: ticket.contract == entry.contract, what="the ticket's contract")
    quantity = ticket.findChild(DecimalSpinBox, "ticketQuantity")
    limit = ticket.findChild(DecimalSpinBox, "ticketLimitPrice")
    assert quantity is not None
    assert limit is not None
    assert quantity.text() == "3"
    assert limit.text() == "6000.25"
    assert "press Buy to send" in ticket.status_text
    assert inbox.text(key, "State") == "new"
    assert await inbox.orders_after_a_round_trip() == 0


async def test_dismiss_puts_it_aside_for_good(inbox: Inbox) -> None:
    _, answer = await inbox.post(id="dis-1")
    key = answer["key"]
    await inbox.resolved(key)
    inbox.panel.select(key)
    inbox.click("signalDismissButton")
    await inbox.wait_for(lambda: inbox.text(key, "State") == "dismissed", what="dismissed")
    assert not inbox.panel.findChild(QPushButton, "signalSendButton").isEnabled()
    assert inbox.ctx.inbox.send(key).message.startswith("That signal is dismissed")
    assert await inbox.orders_after_a_round_trip() == 0
    (item,) = [
        i for i in inbox.ctx.inbox.signal_log.since(IN_THE_ROLL_WINDOW) if i.signal.key == key
    ]
    assert item.state is SignalState.DISMISSED


async def test_an_old_signal_is_shown_expired_and_cannot_be_sent(inbox: Inbox) -> None:
    stamp = (inbox.ctx.clock.now() - timedelta(minutes=2)).isoformat()
    _, answer = await inbox.post(id="old-1", time=stamp)
    key = answer["key"]
    await inbox.wait_for(lambda: inbox.panel.model.find(key) is not None, what="the row")
    await inbox.wait_for(lambda: inbox.text(key, "State") == "expired", what="expired")
    assert inbox.ctx.inbox.send(key).message == "That signal is expired: not sent."
    assert await inbox.orders_after_a_round_trip() == 0


async def test_a_signal_expires_while_it_waits(inbox: Inbox) -> None:
    max_age = inbox.ctx.settings.signals.max_age
    stamp = (inbox.ctx.clock.now() - max_age + timedelta(seconds=1)).isoformat()
    _, answer = await inbox.post(id="ageing-1", time=stamp)
    key = answer["key"]
    await inbox.wait_for(lambda: inbox.panel.model.find(key) is not None, what="the row")
    await inbox.wait_for(lambda: inbox.text(key, "State") == "expired", timeout=10, what="expiry")
    assert await inbox.orders_after_a_round_trip() == 0


async def test_exit_flattens_after_asking(inbox: Inbox) -> None:
    _, bought = await inbox.post(id="in-1", quantity=2)
    await inbox.resolved(bought["key"])
    entry = inbox.ctx.inbox.get(bought["key"])
    assert entry is not None
    contract = entry.contract
    assert contract is not None
    await inbox.wait_for(
        lambda: inbox.ctx.broker.market.quote(contract.con_id) is not None, what="a quote"
    )
    inbox.panel.select(bought["key"])
    inbox.click("signalSendButton")
    if inbox.panel.confirmation is not None:
        inbox.panel.confirmation.accept()

    def held() -> Decimal | None:
        position = inbox.ctx.broker.entry.position(contract)
        return position.quantity if position is not None else None

    await inbox.wait_for(lambda: held() == 2, what="the long position")
    _, out = await inbox.post(id="out-1", action="exit", quantity=...)
    await inbox.resolved(out["key"])
    await inbox.wait_for(
        lambda: inbox.text(out["key"], "Effect") == "flatten 2: long +2 → flat", what="the effect"
    )
    await inbox.wait_for(
        lambda: inbox.ctx.broker.market.quote(contract.con_id) is not None, what="a quote"
    )
    inbox.panel.select(out["key"])
    inbox.click("signalSendButton")
    dialog = inbox.panel.confirmation
    assert dialog is not None, f"a flatten always asks: {inbox.panel.status_text}"
    assert await inbox.orders_after_a_round_trip() == 1
    dialog.accept()
    await inbox.wait_for(lambda: held() == 0, what="flat again")
    assert [o.request.action for o in inbox.gateway.orders] == ["BUY", "SELL"]


async def test_after_a_restart_the_inbox_shows_its_signals_and_refuses_their_ids(
    inbox: Inbox, wait_for: Any
) -> None:
    _, answer = await inbox.post(id="again-1")
    key = answer["key"]
    await inbox.resolved(key)
    inbox.panel.select(key)
    inbox.click("signalDismissButton")
    await wait_for(lambda: inbox.text(key, "State") == "dismissed", what="dismissed")

    ctx = inbox.ctx
    restarted = open_context(
        ctx.settings,
        ctx.broker.session.endpoint,
        ctx.broker.journal.path,
        ctx.clock,
        ctx.profile_name,
    )
    try:
        restarted.inbox.restore()
        entry = restarted.inbox.get(key)
        assert entry is not None
        assert entry.state is SignalState.DISMISSED
        endpoint = SignalEndpoint(
            ctx.settings.signals,
            SECRET,
            restarted.inbox.signal_log,
            restarted.inbox.accept,
            ctx.clock,
        )
        await endpoint.start(0)
        try:
            url = endpoint.url
            assert url is not None
            body = {
                "secret": SECRET,
                "id": "again-1",
                "symbol": "MES1!",
                "action": "buy",
                "quantity": 1,
            }
            async with inbox.session.post(url, json=body) as again:
                assert again.status == 409
        finally:
            await endpoint.stop()
    finally:
        await close_context(restarted)


async def test_the_secret_is_kept_in_the_keyring_from_the_dock(
    inbox: Inbox, memory_keyring: Any
) -> None:
    edit = inbox.panel.findChild(QLineEdit, "signalSecretEdit")
    origin = inbox.panel.findChild(QLabel, "signalSecretOrigin")
    assert edit is not None
    assert origin is not None
    assert edit.echoMode() is QLineEdit.EchoMode.Password
    inbox.window.docks["signalInbox"].raise_()  # read once the box is on screen
    await inbox.wait_for(lambda: "No secret is set" in origin.text(), what="the secret's origin")
    saved: list[bool] = []
    inbox.panel.secret.sig_saved.connect(lambda: saved.append(True))
    edit.setText("short")
    inbox.click_secret()
    assert "at least 16" in origin.text()
    assert memory_keyring.items == {}
    edit.setText("a-long-enough-secret-Qz7")
    inbox.click_secret()
    assert memory_keyring.items == {
        ("ibconsole", "signal-inbox:secret"): "a-long-enough-secret-Qz7"
    }
    assert saved == [True]
    assert edit.text() == ""
    assert origin.text() == "The secret is in the keyring."


async def test_the_console_turns_the_endpoint_on_with_signals_port(
    gateway: PaperGateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, wait_for: Any
) -> None:
    monkeypatch.setenv(SIGNAL_SECRET_VARIABLE, SECRET)
    config = tmp_path / "config.toml"
    config.write_text(f'schema_version = 1\njournal_path = "{tmp_path / "j.sqlite3"}"\n')
    base = ["--config", str(config), "--port", str(gateway.port)]
    off = build_console(base)
    try:
        await off.start()
        assert off.signals_url is None
    finally:
        await off.stop()
        shiboken6.delete(off.window)
    console = build_console([*base, "--signals-port", "0"])
    try:
        await console.start()
        url = console.signals_url
        assert url is not None
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/signals", url)
        async with aiohttp.ClientSession() as session:
            body = {"secret": SECRET, "symbol": "ES1!", "action": "exit"}
            async with session.post(url, json=body) as answer:
                assert answer.status == 202
        await wait_for(lambda: console.window.signal_inbox.model.rowCount() == 1, what="the row")
    finally:
        await console.stop()
        shiboken6.delete(console.window)
    assert console.signals_url is None
