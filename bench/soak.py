"""The soak: an hour of trading compressed into ten minutes, the whole console (the window with the
chart, the price ladder, the options chain and the signal inbox open) against the paper gateway in
its own process, with a daily restart of the gateway every simulated day; what the console holds
must stay flat across the restarts and it must reconnect after every one.

    python -m bench.soak                              # make soak: 600 s, 6 trading days
    python -m bench.soak --seconds 60 --restarts 2    # the test suite's version
    python -m bench.soak --json                       # the figures as one JSON object

A day: orders at a steady pace on three products through the broker (limits near the market that
the ticks fill, markets back toward flat, cancels and changes), and at the window: depth streaming
into the ladder with clicks on it (buys under the bid, sells over the ask, cancels and drags of its
own orders), the chain's option computations flowing while its strikes are scrolled and its
expiries switched, webhook signals posted over loopback HTTP and sent from the inbox. At its end
the trader cancels what works, dismisses waiting signals and closes the position, and the gateway
restarts as IB Gateway does each night: IB connectivity lost (1100), the gateway gone with every
socket, back as a new process (a new day: none of the last one's orders), the console reconnected,
still without IB (1100), then IB back (1102).

The first measure is taken once the first restart is over (the console has been through every
kind of request and recovery once), the last one after the last restart; both at the same point of
a day, once the console is synced and its ladder, chain and chart show data again. The last line
names every figure and its verdict; the exit status is 1 when one grew (or on a crash).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import secrets
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_API", "pyside6")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from bench.cli import isolate
from bench.console_rig import run_qasync
from bench.soak_desk import Desk, describe
from bench.soak_gateway import SoakGateway
from bench.soak_measure import (
    Holdings,
    Verdict,
    hold,
    start_tracing,
    timer_owners,
    top_growth,
    verdicts,
)
from bench.stress_rig import AS_OF, CrashWatch, log_to_stderr, until
from ibconsole.app import Console, build_console
from ibconsole.broker.broker import Broker
from ibconsole.broker.order_values import ConfirmationNeeded, OrderRefused
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.health import HealthState
from ibconsole.domain.orders import build_intent

log = logging.getLogger("bench.soak")

SEED = 5
TICK_RATE = 2.0  # quote updates per second per instrument (options included)
ACTIONS_PER_SECOND = 4.0
MAX_WORKING = 12
RECONNECT_TIMEOUT = 90.0
SETTLE_TIMEOUT = 120.0
PRODUCTS = ("ES", "NQ", "CL")
# The default heartbeats (a shorter timeout has a loaded machine's console drop its own healthy
# connection); reconnects after 0.2-1 s. The breaker stays shut through restarts that come every
# minute or two here (a real one comes once a day). Risk limits leave room for the ladder's
# resting orders; the checks still run on every click.
SETTINGS = """\
schema_version = 1
log_level = "WARNING"

[risk]
max_quantity = 10
max_position = 200
price_band_percent = 5

[health.backoff]
min_delay_seconds = 0.2
max_delay_seconds = 1

[health.breaker]
failure_threshold = 1000

[option_chain]
strikes_each_side = 5

[signals]
max_age_seconds = 60
max_per_minute = 600
"""


@dataclass
class Report:
    seconds: float
    restarts: int = 0
    reconnects: int = 0
    orders: int = 0
    fills: int = 0
    desk: dict[str, Any] = field(default_factory=dict)
    crashes: list[str] = field(default_factory=list)
    start: Holdings | None = None
    end: Holdings | None = None
    days: list[Holdings] = field(default_factory=list)  # each measure, after each restart
    verdicts: list[Verdict] = field(default_factory=list)
    heap_growth: list[str] = field(default_factory=list)

    @property
    def flat(self) -> bool:
        return bool(self.verdicts) and all(v.flat for v in self.verdicts)

    def lines(self) -> list[str]:
        assert self.start is not None
        assert self.end is not None
        desk = self.desk
        return [
            f"soak {self.seconds:.0f} s: {self.restarts} daily restarts, {self.reconnects} "
            f"reconnects, {self.orders} orders, {desk.get('ladder_clicks', 0)} ladder clicks, "
            f"{desk.get('signals_posted', 0)} signals posted, {desk.get('signals_sent', 0)} "
            f"sent from the inbox, {self.fills} fills, {len(self.crashes)} crashes",
            f"start: {_describe(self.start)}",
            f"end:   {_describe(self.end)}",
            "by day: "
            + ", ".join(
                f"rss {d.rss_mib:.1f} heap {d.heap_mib:.1f} pixmap cache {d.pixmap_cache_mib:.1f}"
                for d in self.days
            ),
            *(f"heap growth: {line}" for line in self.heap_growth),
            f"{'flat' if self.flat else 'NOT FLAT'}: " + ", ".join(map(str, self.verdicts)),
        ]


def _describe(h: Holdings) -> str:
    return ", ".join(
        f"{name} {value:.1f}" if isinstance(value, float) else f"{name} {value}"
        for name, value in asdict(h).items()
    )


class Trader:
    """Steady order flow on a few products, kept near flat and with few orders working."""

    def __init__(self, broker: Broker, months: Sequence[ListedContract], seed: int) -> None:
        self.broker = broker
        self.months = months
        self.rng = random.Random(seed)
        self.orders = 0

    def act(self) -> None:
        if self.broker.orders.entry_block():
            return  # a restart is under way: a trader waits too
        try:
            self._act()
        except (OrderRefused, ConfirmationNeeded) as refused:
            log.info("refused: %s", refused)

    def _act(self) -> None:
        rng, orders = self.rng, self.broker.orders
        working = sorted(
            (r for r in orders.rows() if r.ours and r.working), key=lambda r: r.order_id
        )
        if len(working) > MAX_WORKING:
            orders.cancel(working[0].order_id)
            return
        month = rng.choice(self.months)
        quote = self.broker.market.quote(month.con_id)
        held = self.broker.account.position(month.con_id)
        if quote is None or quote.bid is None or quote.ask is None or held is None:
            return
        roll = rng.random()
        if roll < 0.55:
            buy = rng.random() < 0.5
            ticks = rng.randint(0, 6)
            price = (
                quote.bid - ticks * month.min_tick if buy else quote.ask + ticks * month.min_tick
            )
            self._submit(month, "BUY" if buy else "SELL", "LMT", price)
        elif roll < 0.7 and held.quantity:
            self._submit(month, "SELL" if held.quantity > 0 else "BUY", "MKT", None)
        elif roll < 0.9 and working:
            orders.cancel(rng.choice(working).order_id)
        elif working:
            row = rng.choice(working)
            if row.limit_price is not None:
                shift = rng.choice((-1, 1)) * month.min_tick
                orders.modify(row.order_id, limit_price=row.limit_price + shift, confirmed=True)

    async def close_the_day(self, months: Sequence[ListedContract]) -> None:
        """DAY orders end with the session and the position in ``months`` is closed: the new
        day starts flat, as the restarted gateway does."""
        orders, account = self.broker.orders, self.broker.account
        with contextlib.suppress(OrderRefused):
            orders.cancel_all()
        await until(lambda: not any(r.ours and r.working for r in orders.rows()), 10.0)
        for month in months:
            held = account.position(month.con_id)
            if held is not None and held.quantity:
                with contextlib.suppress(OrderRefused):
                    self._submit(
                        month,
                        "SELL" if held.quantity > 0 else "BUY",
                        "MKT",
                        None,
                        abs(held.quantity),
                    )
        await until(
            lambda: all(
                (held := account.position(m.con_id)) is None or not held.quantity for m in months
            ),
            10.0,
        )

    def _submit(
        self,
        month: ListedContract,
        side: str,
        order_type: str,
        price: Decimal | None,
        quantity: Decimal = Decimal(1),
    ) -> None:
        intent = build_intent(
            contract=month,
            side=side,
            quantity=quantity,
            order_type=order_type,
            limit_price=price,
            clock=self.broker.clock,
            account=self.broker.account.account,
        )
        self.broker.orders.submit(intent, confirmed=True)
        self.orders += 1


async def soak(seconds: float, restarts: int, folder: Path) -> Report:
    report = Report(seconds)
    watch = CrashWatch()
    watch.install(asyncio.get_running_loop())
    gateway = SoakGateway(TICK_RATE)
    await gateway.start(SEED)
    try:
        console = await _open_console(gateway.port, folder)
        try:
            await _trade(console, gateway, seconds, restarts, report, folder)
            report.fills = len(console.broker.journal.fills())
        finally:
            await console.stop()
            console.window.deleteLater()
    finally:
        await gateway.stop()
        watch.uninstall()
    report.crashes = watch.take()
    return report


async def _open_console(port: int, folder: Path) -> Console:
    config = folder / "settings.toml"
    config.write_text(SETTINGS)
    os.environ["IBCONSOLE_JOURNAL_PATH"] = str(folder / "journal.sqlite3")
    console = build_console(
        [
            *("--host", "127.0.0.1", "--port", str(port), "--client-id", "1"),
            *("--as-of", AS_OF.isoformat(), "--config", str(config), "--signals-port", "0"),
        ]
    )
    await console.start()
    await asyncio.wait_for(console.window.wait_populated(), SETTLE_TIMEOUT)
    return console


async def _trade(
    console: Console,
    gateway: SoakGateway,
    seconds: float,
    restarts: int,
    report: Report,
    folder: Path,
) -> None:
    broker = console.broker
    synced: list[Any] = []
    broker.session.synced += synced.append
    desk = Desk(console, os.environ["IBCONSOLE_SIGNAL_SECRET"], SEED)
    desk.open()
    months = [(await broker.contracts.chain(p)).contracts[0] for p in PRODUCTS]
    for month in months:
        broker.market.subscribe(month)
    bar_keys = [await broker.market.subscribe_bars(months[1], "5 mins")]
    trader = Trader(broker, months, SEED)
    # The heap's snapshots of the first and of the latest measure, on disk (see ``hold``).
    first_heap, last_heap = folder / "heap-first.snapshot", folder / "heap-last.snapshot"
    loop = asyncio.get_running_loop()
    # Each day trades ``seconds / (restarts + 1)``, then the gateway restarts: the first measure
    # after the first restart, the last one after the last restart, and a day of trading after
    # each (the restarts and the settling after them come on top).
    day = seconds / (restarts + 1)
    try:
        for number in range(restarts + 1):
            end_of_day = loop.time() + day
            steps, busy = 0, 0.0
            while loop.time() < end_of_day:
                began = time.perf_counter()
                trader.act()
                await desk.act()
                busy += time.perf_counter() - began
                steps += 1
                await asyncio.sleep(1 / ACTIONS_PER_SECOND)
            log.info(
                "day %d: %d steps (%.1f s in them), %s", number + 1, steps, busy, describe(desk)
            )
            if number == restarts:
                break
            desk.close_the_day()
            await trader.close_the_day(_ladder_months(console, months))
            await _daily_restart(gateway, number + 1, synced)
            report.restarts += 1
            report.reconnects += 1
            sim = await _settled(console, desk, gateway)
            measured = await hold(console, sim, first_heap if report.start is None else last_heap)
            if report.start is None:
                report.start = measured
            report.end = measured
            report.days.append(measured)
            log.info("day %d measured: %s", number + 1, measured)
            log.info("day %d timers by owner: %s", number + 1, timer_owners(console))
    finally:
        await desk.close()
    for month in months:
        broker.market.unsubscribe(month.con_id)
    for key in bar_keys:
        broker.market.unsubscribe_bars(key)
    broker.session.synced -= synced.append
    report.orders = trader.orders + desk.clicks
    report.desk = describe(desk)
    if report.start is not None and report.end is not None:
        report.verdicts = verdicts(report.start, report.end)
        report.heap_growth = top_growth(first_heap, last_heap)


def _ladder_months(console: Console, months: list[ListedContract]) -> list[ListedContract]:
    """The trader's months and the ladder's (the ticket's front month by the roll rules)."""
    ladder = console.window.ladder.contract
    return [*months, ladder] if ladder is not None and ladder not in months else months


async def _daily_restart(gateway: SoakGateway, day: int, synced: list[Any]) -> None:
    """IB Gateway's daily restart: IB connectivity lost (1100), the gateway gone with every
    socket, back as a new day, the console connected again, still without IB (1100), then IB
    back with the data kept (1102)."""
    before = len(synced)
    await gateway.fault("lose")
    await gateway.stop()
    await gateway.start(SEED + day)
    if not await until(lambda: len(synced) > before, RECONNECT_TIMEOUT):
        raise RuntimeError("the console did not reconnect after the daily restart")
    reconnected = len(synced)
    await gateway.fault("lose")
    await gateway.fault("restore")
    if not await until(lambda: len(synced) > reconnected, RECONNECT_TIMEOUT):
        raise RuntimeError("the console did not resync after 1102")


async def _settled(console: Console, desk: Desk, gateway: SoakGateway) -> Any:
    """Connected, the ladder, chain and chart showing data again, and the simulator serving
    exactly the lines the console holds (a leaked request shows as a difference that stays)."""
    broker = console.broker
    if not await until(
        lambda: broker.session.state is HealthState.CONNECTED and desk.ready(), SETTLE_TIMEOUT
    ):
        raise RuntimeError("the ladder, chain and chart did not show data again after the restart")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE_TIMEOUT
    while True:
        sim = await gateway.lines()
        agreed = (
            sim.market_data == broker.market.lines_in_use
            and sim.depth == len(broker.depth.subscriptions())
            and sim.bar_series == len(broker.market.bar_subscriptions())
        )
        if agreed or loop.time() > deadline:
            if not agreed:
                log.warning("the simulator serves other lines than the console holds: %s", sim)
            return sim
        await asyncio.sleep(0.1)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--seconds", type=float, default=600.0, help="wall time (default 600)")
    parser.add_argument(
        "--restarts", type=int, default=5, help="daily restarts, 2 or more (default 5)"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--verbose", "-v", action="store_true", help="print the log")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.restarts < 2:
        _parser().error(
            "--restarts must be 2 or more: the figures are taken after the first "
            "and the last restart"
        )
    with tempfile.TemporaryDirectory(prefix="ibconsole-soak-") as home:
        isolate(Path(home))
        os.environ["IBCONSOLE_SIGNAL_SECRET"] = secrets.token_urlsafe(18)
        log_to_stderr(args.verbose)
        start_tracing()  # before the console is built: the heap figure is all of it
        began = time.perf_counter()
        report = run_qasync(lambda: soak(args.seconds, args.restarts, Path(home)))
        report.seconds = time.perf_counter() - began
    if args.json:
        print(json.dumps(asdict(report) | {"flat": report.flat}))
    else:
        print("\n".join(report.lines()))
        for crash in report.crashes:
            print(f"crash: {crash}")
    failed = report.crashes or report.reconnects != report.restarts or not report.flat
    return 1 if failed else 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
