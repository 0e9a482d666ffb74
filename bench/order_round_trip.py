"""An order's whole round trip on the loop's thread: the CPU time the console spends from a
click on Buy (or Sell) until IB's statuses, the fill and the commission report of that order are
handled, journalled and handed to every view (order tracker, blotter, alerts, chart), and the SQL
statements the journal runs for it.

The market is nearly still (one quote every 5 s per instrument), so what the thread does in a
round trip is the order's work; the same wall time measured idle right after each round trip
(``idle_cpu_ms``) shows what the rest costs (timers, those few quotes). Both are CPU time of the
loop's thread (``time.thread_time``), which no other process on the machine can inflate. Market
orders of one contract of the ticket's default contract, a buy then a sell, 0.3 s apart.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QComboBox, QPushButton

from bench import cli, machine
from bench.console_rig import close_console, in_fresh_process, open_console, run_qasync, wait_until
from bench.console_rig import watch as watch_quotes
from bench.peer import INSTRUMENTS, Peer, in_executor
from bench.summary import summarize
from ibconsole.app import Console

_STILL_RATE = 0.2  # quote updates per second per instrument
_PACING_WINDOW = 1.5  # ib_insync throttles to 45 requests in any 1 s
_SETTLE = 0.3  # seconds after the commission: late repaints of the views belong to the order


@dataclass(frozen=True, slots=True)
class Size:
    orders: int


SIZES = {"full": Size(orders=60), "smoke": Size(orders=2)}


def _commissions(console: Console) -> int:
    return sum(1 for f in console.broker.session.ib.fills() if f.commissionReport.execId)


async def _round_trip(
    console: Console, button: QPushButton, statements: Counter[str]
) -> tuple[float, float]:
    """Click ``button``; the loop thread's CPU seconds until the order's commission is handled
    and the views have settled, and the wall time that took."""
    journal = console.broker.journal
    before = _commissions(console)
    journal.trace(lambda sql: statements.update([sql.split(None, 1)[0].upper()]))
    cpu, wall = time.thread_time(), time.monotonic()
    QTest.mouseClick(button, Qt.MouseButton.LeftButton)
    await wait_until(lambda: _commissions(console) > before, "the order's commission", within=10)
    await asyncio.sleep(_SETTLE)
    spent = time.thread_time() - cpu, time.monotonic() - wall
    journal.trace(None)
    return spent


async def _idle(wall: float) -> float:
    """The loop thread's CPU seconds over ``wall`` seconds without an order."""
    cpu = time.thread_time()
    await asyncio.sleep(wall)
    return time.thread_time() - cpu


async def _series(size: Size) -> dict[str, Any]:
    with Peer.start(tick_rate=_STILL_RATE) as peer:
        console = await open_console(peer.port)
        try:
            await watch_quotes(console, await in_executor(lambda: peer.instruments(INSTRUMENTS)))
            ticket = console.window.ticket
            buy = ticket.findChild(QPushButton, "buyButton")
            sell = ticket.findChild(QPushButton, "sellButton")
            kind = ticket.findChild(QComboBox, "ticketOrderType")
            if buy is None or sell is None or kind is None:
                raise LookupError("the order ticket lacks buyButton, sellButton or ticketOrderType")
            await wait_until(lambda: ticket.contract is not None and buy.isEnabled(), "ticket")
            kind.setCurrentIndex(kind.findData("MKT"))
            await asyncio.sleep(_PACING_WINDOW)
            statements: Counter[str] = Counter()
            busy, idle = [], []
            for number in range(size.orders):
                button = buy if number % 2 == 0 else sell
                cpu, wall = await _round_trip(console, button, statements)
                busy.append(cpu)
                idle.append(await _idle(wall))
            return {
                "orders": size.orders,
                "round_trip_cpu_ms": summarize(busy, 1000),
                "idle_cpu_ms": summarize(idle, 1000),
                "sql_per_order": {k: v / size.orders for k, v in sorted(statements.items())},
                "load_average": machine.load_average(),
            }
        finally:
            await close_console(console)


def measure(size_name: str) -> dict[str, Any]:
    os.environ["IBCONSOLE_RISK__DUPLICATE_WINDOW_SECONDS"] = "0.001"
    return in_fresh_process(_measure, SIZES[size_name])


def _measure(size: Size) -> dict[str, Any]:
    return run_qasync(lambda: _series(size))


if __name__ == "__main__":
    sys.exit(cli.main(__doc__.splitlines()[0], measure))
