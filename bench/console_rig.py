"""The whole console as a trader runs it, set up for measuring: ``build_console`` on a qasync loop
(offscreen), connected to a simulator peer, its chart populated and the benchmark's instruments
watched through the broker's quote subscriptions.

Run as a program it is the console side of the CPU benchmark: it prints ``ready`` once it watches
the instruments named on its command line, then runs until its standard input closes.

    python -m bench.console_rig --port PORT --instruments 1234:ES,5678:NQ
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import multiprocessing
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

os.environ.setdefault("QT_API", "pyside6")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from bench.bare_client import arguments, parse_instruments
from bench.cli import isolate
from bench.peer import AS_OF, INSTRUMENTS, Instrument, Peer, in_executor
from ibconsole.app import Console, build_console
from ibconsole.broker.ib_client import Ticker
from ibconsole.domain.contracts import ListedContract

T = TypeVar("T")

_STARTUP_TIMEOUT = 30.0


def in_fresh_process(function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` in a new interpreter: one console per process, as the console runs,
    so no run inherits another's heap, caches or Qt objects."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(function, *args).result()


def run_qasync(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``main()`` on a qasync loop over the console's QApplication, as ``ibconsole`` does."""
    import qasync

    from ibconsole.ui.application import create_application

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app = create_application()
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        result: T = loop.run_until_complete(main())
        return result


async def wait_until(predicate: Callable[[], object], what: str, within: float = 30.0) -> None:
    """Let the loop run until ``predicate()`` holds; TimeoutError naming ``what`` after
    ``within`` seconds."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {within:g} s")
        await asyncio.sleep(0.01)


async def open_console(port: int, client_id: int = 1) -> Console:
    """Build and start the console against the peer on ``port``; return once it is synced and
    its chart shows bars. Each console journals to a fresh file: simulators started with one seed
    hand out the same execution ids, which one journal rightly refuses to take twice."""
    # Under the run's throw-away data folder (bench.cli), removed with it.
    folder = tempfile.mkdtemp(prefix="journal-", dir=os.environ.get("XDG_DATA_HOME"))
    journal = Path(folder) / "journal.sqlite3"
    os.environ["IBCONSOLE_JOURNAL_PATH"] = str(journal)
    console = build_console(
        [
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--client-id",
            str(client_id),
            "--as-of",
            AS_OF.isoformat(),
        ]
    )
    await console.start()
    window = console.window
    await wait_until(
        lambda: console.broker.session.sync_info is not None, "sync", within=_STARTUP_TIMEOUT
    )
    await wait_until(lambda: window.chart.is_populated, "chart bars", within=_STARTUP_TIMEOUT)
    return console


async def close_console(console: Console) -> None:
    await console.stop()
    console.window.close()
    console.window.deleteLater()


async def watch(console: Console, instruments: Sequence[Instrument]) -> list[ListedContract]:
    """Subscribe to the quotes of ``instruments`` as a watch list does (one reference each)."""
    broker = console.broker
    watched: list[ListedContract] = []
    for instrument in instruments:
        chain = await broker.contracts.chain(instrument.family)
        contract = next((c for c in chain.contracts if c.con_id == instrument.con_id), None)
        if contract is None:
            raise LookupError(f"the console's {instrument.family} chain lacks {instrument}")
        broker.market.subscribe(contract)
        watched.append(contract)
    tickers = tickers_by_con_id(console)
    await wait_until(
        lambda: all(c.con_id in tickers and not math.isnan(tickers[c.con_id].bid) for c in watched),
        "first quotes",
    )
    return watched


@contextlib.asynccontextmanager
async def watched_console(total_rate: float) -> AsyncIterator[tuple[Console, Peer]]:
    """A fresh simulator process ticking ``total_rate`` quotes a second over the benchmark's
    instruments, and a fresh console watching them; both stopped after."""
    peer = Peer.start(tick_rate=total_rate / INSTRUMENTS)
    try:
        console = await open_console(peer.port)
        try:
            instruments = await in_executor(lambda: peer.instruments(INSTRUMENTS))
            await watch(console, instruments)
            yield console, peer
        finally:
            await close_console(console)
    finally:
        peer.stop()


def tickers_by_con_id(console: Console) -> dict[int, Ticker]:
    """ib_insync's live tickers of the session, by conId (they stay the same while connected)."""
    return {
        t.contract.conId: t for t in console.broker.session.ib.tickers() if t.contract is not None
    }


async def _serve(port: int, instruments: list[Instrument]) -> None:
    console = await open_console(port)
    try:
        await watch(console, instruments)
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    finally:
        await close_console(console)


def main(argv: Sequence[str] | None = None) -> int:
    args = arguments(argv, "The console as a CPU benchmark client")
    instruments = parse_instruments(args.instruments)
    with tempfile.TemporaryDirectory(prefix="ibconsole-bench-") as home:
        isolate(Path(home))
        run_qasync(lambda: _serve(args.port, instruments))
    return 0


if __name__ == "__main__":
    sys.exit(main())
