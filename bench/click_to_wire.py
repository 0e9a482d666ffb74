"""Click Buy → order bytes at the simulator: the order ticket's real ``buyButton`` clicked on the
shown window, until the simulator process receives the placeOrder frame (stamped as it arrives).

Two ways of clicking, each with the market quiet (the demo's 4 quotes a second per instrument)
and under 5,000 ticks/s over 20 instruments:

- ``qtest``: ``QTest.mouseClick`` delivers the click at once, from a moment the loop is free: the
  console's own path from click to socket (checks, journal, placeOrder). Two CPU times of the
  loop's thread are kept beside it, which no other process on the machine can inflate: from the
  click until the placeOrder bytes are handed to the socket (``qtest_cpu_to_bytes``), and of the
  whole click handler (``qtest_handler_cpu``, which goes on after the bytes leave).
- ``posted``: a thread posts the press and release to the button at a random moment, as the
  window system does; the click then also waits for whatever the loop is busy with.

After each buy a sell (clicked the same way, not measured) flattens the position, so the checks
see the same state every time; rounds are 0.1 s apart, a pace that leaves ib_insync's request
pacing (45 a second, which holds every message back once reached) out of the figure. The duplicate-order window is set to 1 ms for the run (a trader's
setting): the benchmark repeats one order on purpose. Clicking starts 1.5 s after the console has
subscribed, once ib_insync's request pacing has let its start-up burst through. Orders are market orders of one contract
of the ticket's default contract (the ES front month).
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QCoreApplication, QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QComboBox, QPushButton

from bench import cli, machine
from bench.console_rig import (
    close_console,
    in_fresh_process,
    open_console,
    run_qasync,
    wait_until,
    watch,
)
from bench.peer import INSTRUMENTS, Peer, in_executor
from bench.summary import summarize
from ibconsole.app import Console

_QUIET_RATE = 4.0  # the demo's quote updates per second per instrument
_PACING_WINDOW = 1.5  # ib_insync throttles to 45 requests in any 1 s
# Between rounds: a buy and a sell every 0.1 s at most stays far below ib_insync's 45 requests a
# second, as a trader's clicking does (clicked back to back they trip it and wait ~0.5 s).
_ROUND_GAP = 0.1


@dataclass(frozen=True, slots=True)
class Size:
    clicks: int
    loaded_ticks_per_s: int


SIZES = {"full": Size(clicks=80, loaded_ticks_per_s=5_000), "smoke": Size(2, 500)}


def _post_click(button: QPushButton, centre: QPointF, screen: QPointF) -> None:
    """Queue a left click at ``centre`` of ``button`` (``screen`` in global coordinates) as the
    window system would. Callable from any thread: it only builds and posts events."""
    for kind in (QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonRelease):
        event = QMouseEvent(
            kind,
            centre,
            screen,
            Qt.MouseButton.LeftButton,
            Qt.MouseButton.LeftButton
            if kind is QEvent.Type.MouseButtonPress
            else Qt.MouseButton.NoButton,
            Qt.KeyboardModifier.NoModifier,
        )
        QCoreApplication.postEvent(button, event)


class SendProbe:
    """Stamps the loop thread's CPU clock each time the IB client hands a message to its socket
    (a wrapper around the connection's ``sendMsg``, the last step before the transport)."""

    def __init__(self, console: Console) -> None:
        self.sent: list[float] = []
        connection = console.broker.session.ib.client.conn
        send = connection.sendMsg

        def stamped(message: bytes) -> None:
            self.sent.append(time.thread_time())
            send(message)

        connection.sendMsg = stamped


async def _click(
    button: QPushButton, posted: bool, probe: SendProbe
) -> tuple[float, tuple[float, float] | None]:
    """Click ``button``; return the perf_counter stamp of the click and, for a QTest click, the
    CPU time the loop's thread spent until the order's bytes went to the socket and in the whole
    handler (no other process can inflate those)."""
    if not posted:
        probe.sent.clear()
        cpu = time.thread_time()
        clicked = time.perf_counter()
        QTest.mouseClick(button, Qt.MouseButton.LeftButton)
        done = time.thread_time()
        # A click that sends nothing at once (ib_insync's pacing holding it) counts as whole.
        return clicked, ((probe.sent[0] if probe.sent else done) - cpu, done - cpu)
    stamp: list[float] = []
    centre = QPointF(button.rect().center())
    screen = button.mapToGlobal(centre)  # widgets are asked on their own thread only

    def later() -> None:
        # A random moment within the next two frames, independent of what the loop is doing.
        time.sleep(random.uniform(0.0, 0.033))
        stamp.append(time.perf_counter())
        _post_click(button, centre, screen)

    thread = threading.Thread(target=later, daemon=True)
    thread.start()
    await asyncio.get_running_loop().run_in_executor(None, thread.join)
    return stamp[0], None


async def _position(console: Console, con_id: int, wanted: float, what: str) -> None:
    ib = console.broker.session.ib

    def held() -> float:
        return sum(p.position for p in ib.positions() if p.contract.conId == con_id)

    await wait_until(lambda: held() == wanted, what, within=10)


async def _received(peer: Peer, ticket_status: Callable[[], str]) -> float:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        orders = await in_executor(peer.orders)
        if orders:
            return float(orders[0][1])
        await asyncio.sleep(0.002)
    raise TimeoutError(f"no order reached the simulator; the ticket says {ticket_status()!r}")


async def _series(ticks_per_s: float, size: Size) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with Peer.start(tick_rate=ticks_per_s / INSTRUMENTS) as peer:
        console = await open_console(peer.port)
        try:
            await watch(console, await in_executor(lambda: peer.instruments(INSTRUMENTS)))
            ticket = console.window.ticket
            buy = ticket.findChild(QPushButton, "buyButton")
            sell = ticket.findChild(QPushButton, "sellButton")
            if buy is None or sell is None:
                raise LookupError("the order ticket has no buyButton/sellButton")
            await wait_until(lambda: ticket.contract is not None and buy.isEnabled(), "ticket")
            kind = ticket.findChild(QComboBox, "ticketOrderType")
            if kind is None:
                raise LookupError("the order ticket has no ticketOrderType")
            kind.setCurrentIndex(kind.findData("MKT"))
            contract = ticket.contract
            assert contract is not None
            # Connecting and watching sent more than ib_insync's 45 requests a second: until that
            # window drains, ib_insync holds every message back, orders too (up to ~0.5 s).
            await asyncio.sleep(_PACING_WINDOW)
            await in_executor(peer.orders)
            probe = SendProbe(console)
            for posted in (False, True):
                latencies, to_bytes_cpu, handler_cpu = [], [], []
                for _ in range(size.clicks):
                    clicked, cpu = await _click(buy, posted, probe)
                    latencies.append(await _received(peer, lambda: ticket.status_text) - clicked)
                    if cpu is not None:
                        to_bytes_cpu.append(cpu[0])
                        handler_cpu.append(cpu[1])
                    await _position(console, contract.con_id, 1, "the buy's fill")
                    await _click(sell, posted, probe)
                    await _received(peer, lambda: ticket.status_text)
                    await _position(console, contract.con_id, 0, "the sell's fill")
                    await asyncio.sleep(_ROUND_GAP)
                results["posted" if posted else "qtest"] = summarize(latencies, 1000)
                if handler_cpu:
                    results["qtest_cpu_to_bytes"] = summarize(to_bytes_cpu, 1000)
                    results["qtest_handler_cpu"] = summarize(handler_cpu, 1000)
            results["load_average"] = machine.load_average()
        finally:
            await close_console(console)
    return results


def _measure_series(ticks_per_s: float, size: Size) -> dict[str, Any]:
    return run_qasync(lambda: _series(ticks_per_s, size))


def measure(size_name: str) -> dict[str, Any]:
    size = SIZES[size_name]
    os.environ["IBCONSOLE_RISK__DUPLICATE_WINDOW_SECONDS"] = "0.001"

    return {
        "quiet_ticks_per_s": _QUIET_RATE * INSTRUMENTS,
        "loaded_ticks_per_s": size.loaded_ticks_per_s,
        "quiet_click_to_bytes_ms": in_fresh_process(
            _measure_series, _QUIET_RATE * INSTRUMENTS, size
        ),
        "loaded_click_to_bytes_ms": in_fresh_process(
            _measure_series, size.loaded_ticks_per_s, size
        ),
    }


if __name__ == "__main__":
    sys.exit(cli.main(__doc__.splitlines()[0], measure))
