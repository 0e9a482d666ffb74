"""The console's signal endpoint answers from its own process: a sender hears its 202 while the
GUI loop is held busy by a job (as a long paint or a burst of market data holds it), the signal's
row follows once the loop is free, a flood of bad secrets is answered 401 meanwhile and never
reaches the inbox, and stopping the console ends the endpoint's process.

The job holding the GUI loop waits on a ``threading.Event`` that the sender sets once it has its
answers (with a deadline, so an endpoint that waited for the loop fails the test, not hangs it)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import shiboken6

from ibconsole.app import build_console
from ibconsole.config import SIGNAL_SECRET_VARIABLE
from ibconsole.sim import PaperGateway
from tests.http_sender import post

SECRET = "handoff-test-secret-5Tq8Wz"
HELD_AT_MOST = 30.0


def hold_the_gui_loop_while(sender: Callable[[], list[int]]) -> list[int]:
    """Block the GUI loop (this is called on it) until ``sender``, on a thread of its own, has
    its answers; those answers."""
    answered = threading.Event()
    statuses: list[int] = []

    def send() -> None:
        try:
            statuses.extend(sender())
        finally:
            answered.set()

    thread = threading.Thread(target=send, name="sender")
    thread.start()
    held = answered.wait(HELD_AT_MOST)
    thread.join()
    assert held, "the sender got no answer while the GUI loop was held"
    return statuses


def running(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def signal(ident: str, secret: str = SECRET) -> dict[str, Any]:
    return {"secret": secret, "id": ident, "symbol": "MES1!", "action": "buy", "quantity": 1}


async def test_a_202_arrives_while_the_gui_loop_is_held_and_the_row_follows(
    gateway: PaperGateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, wait_for: Any
) -> None:
    monkeypatch.setenv(SIGNAL_SECRET_VARIABLE, SECRET)
    config = tmp_path / "config.toml"
    config.write_text(f'schema_version = 1\njournal_path = "{tmp_path / "j.sqlite3"}"\n')
    console = build_console(
        ["--config", str(config), "--port", str(gateway.port), "--signals-port", "0"]
    )
    try:
        await console.start()
        url = console.signals_url
        assert url is not None
        model = console.window.signal_inbox.model
        wrong = SECRET[:-1] + "x"

        def sender() -> list[int]:
            flood = [post(url, signal(f"bad-{n}", secret=wrong)) for n in range(30)]
            return [*flood, post(url, signal("held"))]

        statuses = hold_the_gui_loop_while(sender)
        assert statuses == [401] * 30 + [202]
        assert model.find("id:held") is None, "shown while the GUI loop was held"
        await wait_for(lambda: model.find("id:held") is not None, what="the held signal's row")
        assert model.rowCount() == 1
        assert model.text("id:held", "State") == "new"
        assert console.signals is not None
        assert await console.signals.refusals() == {401: 30}
        assert gateway.orders == [], "a signal was sent without a click"
        child = console.signals.pid
        assert child is not None
    finally:
        await console.stop()
        shiboken6.delete(console.window)
    assert not running(child), "the endpoint's process outlived the console"
