"""Memory after 10 k and after 1 M ticks with the chart open: the console's resident set size
(RSS) at both points and the growth between them, with what it holds counted at the start, at
10 k and at 1 M: quote and bar subscriptions (console and simulator side), asyncio tasks,
eventkit handlers on ib_insync's and the broker's events, Qt objects under the window and
Python objects.

Ticks are the simulator's (20 instruments, one high total rate so 1 M fit in the run); the
console runs as the trader has it, in this process, probed only by these readings.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject

from bench import cli
from bench.console_rig import close_console, open_console, run_qasync, watch
from bench.peer import INSTRUMENTS, Peer, in_executor, wait_for_peer
from bench.process_meter import rss_bytes
from ibconsole.app import Console
from ibconsole.broker.ib_client import Event


@dataclass(frozen=True, slots=True)
class Size:
    ticks_per_s: int
    early: int
    late: int


SIZES = {
    "full": Size(ticks_per_s=10_000, early=10_000, late=1_000_000),
    "smoke": Size(ticks_per_s=2_000, early=500, late=2_000),
}


def _handlers(*owners: object) -> int:
    return sum(
        len(value) for owner in owners for value in vars(owner).values() if isinstance(value, Event)
    )


def _holdings(console: Console, simulator_subscriptions: int) -> dict[str, int]:
    broker = console.broker
    ib = broker.session.ib
    tickers = ib.tickers()
    gc.collect()
    return {
        "quote_subscriptions": sum(broker.market.subscriptions().values()),
        "bar_subscriptions": sum(broker.market.bar_subscriptions().values()),
        "ib_tickers": len(tickers),
        "simulator_subscriptions": simulator_subscriptions,
        "asyncio_tasks": len(asyncio.all_tasks()),
        "event_handlers": _handlers(
            ib, ib.client, broker.session, broker.market, broker.account, broker.orders
        )
        + sum(len(t.updateEvent) for t in tickers),
        "qt_objects": len(console.window.findChildren(QObject)),
        "python_objects": len(gc.get_objects()),
    }


def _reached(peer: Peer, total: int) -> Callable[[], bool]:
    return lambda: peer.ticks() >= total


async def _run(size: Size) -> dict[str, Any]:
    with Peer.start(tick_rate=size.ticks_per_s / INSTRUMENTS) as peer:
        console = await open_console(peer.port)
        try:
            await watch(console, await in_executor(lambda: peer.instruments(INSTRUMENTS)))
            start = await in_executor(peer.ticks)
            holdings = {"start": _holdings(console, await in_executor(peer.subscriptions))}
            rss: dict[str, int] = {}
            started = time.perf_counter()
            for label, count in (("early", size.early), ("late", size.late)):
                await wait_for_peer(_reached(peer, start + count), f"{count:,} ticks", 600)
                holdings[label] = _holdings(console, await in_executor(peer.subscriptions))
                rss[label] = rss_bytes(os.getpid())
            seconds = time.perf_counter() - started
            ticks = await in_executor(peer.ticks) - start
        finally:
            await close_console(console)
    return {
        "ticks_per_s": size.ticks_per_s,
        "ticks": ticks,
        "seconds": round(seconds, 1),
        "early_ticks": size.early,
        "late_ticks": size.late,
        "rss_early_mb": round(rss["early"] / 1e6, 1),
        "rss_late_mb": round(rss["late"] / 1e6, 1),
        "growth_percent": round((rss["late"] - rss["early"]) / rss["early"] * 100, 2),
        "holdings": holdings,
    }


def measure(size_name: str) -> dict[str, Any]:
    size = SIZES[size_name]
    return run_qasync(lambda: _run(size))


if __name__ == "__main__":
    sys.exit(cli.main(__doc__.splitlines()[0], measure))
