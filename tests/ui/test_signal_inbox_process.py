"""The console's signal endpoint in its own process, seen from the window: a child that dies is
shown down in the inbox dock, then listening again on its address, and signals reach the inbox
again; the [signals] settings saved in the window reach the running child (a new rate at once,
a new port with a new child); the console's stop ends the child."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import shiboken6
from PySide6.QtWidgets import QLabel

from ibconsole.app import Console, build_console
from ibconsole.config import SIGNAL_SECRET_VARIABLE
from ibconsole.sim import PaperGateway
from tests.http_sender import post

SECRET = "process-inbox-secret-8Nc4Vb"
RESTARTS_WITHIN = 60.0  # seconds: a second's delay, then a new interpreter on a busy machine


@pytest.fixture
async def console(
    gateway: PaperGateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Console]:
    """A console whose [signals] settings turn the endpoint on, at a free port."""
    monkeypatch.setenv(SIGNAL_SECRET_VARIABLE, SECRET)
    monkeypatch.setenv("IBCONSOLE_SIGNALS__ENABLED", "true")
    monkeypatch.setenv("IBCONSOLE_SIGNALS__PORT", "0")
    config = tmp_path / "config.toml"
    config.write_text(f'schema_version = 1\njournal_path = "{tmp_path / "j.sqlite3"}"\n')
    console = build_console(["--config", str(config), "--port", str(gateway.port)])
    await console.start()
    child = console.signals.pid if console.signals is not None else None
    try:
        yield console
    finally:
        child = console.signals.pid if console.signals is not None else child
        await console.stop()
        shiboken6.delete(console.window)
    assert child is not None
    assert not running(child), "the endpoint's process outlived the console"


def running(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def endpoint_text(console: Console) -> str:
    label = console.window.signal_inbox.findChild(QLabel, "signalEndpoint")
    assert label is not None
    return label.text()


async def send(url: str, ident: str) -> int:
    body = {"secret": SECRET, "id": ident, "symbol": "MES1!", "action": "buy", "quantity": 1}
    return await asyncio.to_thread(post, url, body)


async def applied() -> None:
    """Once the console has applied the settings just saved (its task returns when the endpoint
    uses them)."""
    tasks = [t for t in asyncio.all_tasks() if t.get_name() == "apply the signal settings"]
    assert tasks, "the saved settings were not applied"
    await asyncio.gather(*tasks)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.expect_log_warnings
async def test_a_dead_endpoint_is_shown_down_then_listening_again(
    console: Console, wait_for: Any
) -> None:
    url, endpoint = console.signals_url, console.signals
    assert url is not None
    assert endpoint is not None
    assert endpoint_text(console) == f"Listening on {url}"
    model = console.window.signal_inbox.model
    assert await send(url, "before") == 202
    await wait_for(lambda: model.find("id:before") is not None, what="the first row")
    pid = endpoint.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    await wait_for(
        lambda: "ended unexpectedly" in endpoint_text(console), what="the endpoint shown down"
    )
    assert "starting it again" in endpoint_text(console)
    await wait_for(
        lambda: endpoint_text(console) == f"Listening on {url}",
        timeout=RESTARTS_WITHIN,
        what="the endpoint listening again",
    )
    assert console.signals_url == url
    assert endpoint.pid not in (None, pid)
    assert await send(url, "before") == 409  # journalled before the death
    assert await send(url, "after") == 202
    await wait_for(lambda: model.find("id:after") is not None, what="the row after the restart")
    assert model.rowCount() == 2


async def test_saved_settings_reach_the_running_endpoint(console: Console, wait_for: Any) -> None:
    url, endpoint = console.signals_url, console.signals
    assert url is not None
    assert endpoint is not None
    pid = endpoint.pid
    settings = console.context.settings
    slower = replace(settings, signals=replace(settings.signals, max_per_minute=1))
    console.window.sig_settings_applied.emit(slower)
    await applied()
    assert await send(url, "r-1") == 202
    assert await send(url, "r-2") == 429
    assert endpoint.pid == pid, "a new rate needs no new process"

    port = free_port()
    moved = replace(slower, signals=replace(slower.signals, port=port))
    console.window.sig_settings_applied.emit(moved)
    new_url = f"http://127.0.0.1:{port}/signals"
    await wait_for(
        lambda: endpoint_text(console) == f"Listening on {new_url}",
        timeout=RESTARTS_WITHIN,
        what="the endpoint on its new port",
    )
    assert console.signals_url == new_url
    assert endpoint.pid != pid
    assert pid is not None
    assert not running(pid)
    assert await send(new_url, "r-3") == 202
    await wait_for(
        lambda: console.window.signal_inbox.model.find("id:r-3") is not None, what="its row"
    )
