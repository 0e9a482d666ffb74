"""The soak: an hour of trading compressed into ten minutes against the paper gateway in its own
process, with steady ticks and a daily restart of the gateway every simulated day; the console's
memory, tasks and subscriptions must stay flat and it must reconnect after every restart.

    python -m bench.soak                              # make soak: 600 s, 6 trading days
    python -m bench.soak --seconds 20 --restarts 2    # the test suite's version
    python -m bench.soak --json                       # the figures as one JSON object

A day: orders at a steady pace (limits near the market that the ticks fill, markets that bring
the position back toward flat, cancels and changes of working orders) on three products with
their quotes and two bar series streaming. At its end the trader cancels what works and closes
the position, and the gateway restarts as IB Gateway does each night: IB connectivity lost
(1100), the gateway gone with every socket, back as a new process (a new day: none of the last
one's orders), the console reconnected, still without IB (1100), then IB back (1102).

The first measure is taken once the first restart is over (the console has been through every
kind of request and recovery once), the last one after the last restart; both at the same point
of a day, once the console is synced and its bar series are loaded again.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import os
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.process_meter import rss_bytes
from bench.stress_rig import AS_OF, CrashWatch, build_broker, log_to_stderr, until
from ibconsole.broker.broker import Broker
from ibconsole.broker.ib_client import Event
from ibconsole.broker.order_values import ConfirmationNeeded, OrderRefused
from ibconsole.domain.clock import OffsetClock
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.health import BackoffPolicy, BreakerPolicy, HealthSettings, HealthState
from ibconsole.domain.orders import build_intent
from ibconsole.journal import Journal

log = logging.getLogger("bench.soak")

SEED = 5
TICK_RATE = 10.0  # quote updates per second per instrument
ACTIONS_PER_SECOND = 4.0
MAX_WORKING = 12
RECONNECT_TIMEOUT = 30.0
# Heartbeats every second; reconnects after 0.2-1 s. The breaker stays shut through restarts
# that come every minute or two here (a real one comes once a day).
HEALTH = HealthSettings(
    heartbeat_interval=timedelta(seconds=1),
    heartbeat_timeout=timedelta(seconds=2),
    heartbeat_failures_before_reconnect=2,
    backoff=BackoffPolicy(min_delay=timedelta(seconds=0.2), max_delay=timedelta(seconds=1)),
    breaker=BreakerPolicy(failure_threshold=1000),
)
PRODUCTS = ("ES", "NQ", "CL")


@dataclass(frozen=True, slots=True)
class Holdings:
    """What the console holds at one moment."""

    rss_mib: float
    tasks: int
    quote_streams: int
    bar_streams: int
    tickers: int  # ib_insync's live Ticker objects
    handlers: int  # handlers attached to the broker's and ib_insync's events


@dataclass
class Report:
    seconds: float
    restarts: int = 0
    reconnects: int = 0
    orders: int = 0
    fills: int = 0
    crashes: list[str] = field(default_factory=list)
    start: Holdings | None = None
    end: Holdings | None = None

    def lines(self) -> list[str]:
        assert self.start is not None
        assert self.end is not None
        return [
            f"soak {self.seconds:.0f} s: {self.restarts} daily restarts, {self.reconnects} "
            f"reconnects, {self.orders} orders, {self.fills} fills, {len(self.crashes)} crashes",
            f"start: {_describe(self.start)}",
            f"end:   {_describe(self.end)}",
        ]


def _describe(h: Holdings) -> str:
    return (
        f"rss {h.rss_mib:.1f} MiB, tasks {h.tasks}, quote streams {h.quote_streams}, "
        f"bar streams {h.bar_streams}, tickers {h.tickers}, event handlers {h.handlers}"
    )


class Gateway:
    """``ibconsole-sim`` in its own process, faults given on its standard input; a restart is a
    new process on the same port, a new day with nothing of the last one's orders."""

    def __init__(self) -> None:
        self.process: asyncio.subprocess.Process | None = None
        self.port = 0

    async def start(self, day: int = 0) -> None:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "import sys; from ibconsole.sim.cli import main; sys.exit(main())",
            f"--port={self.port}",
            f"--seed={SEED + day}",
            f"--as-of={AS_OF.isoformat()}",
            f"--tick-rate={TICK_RATE}",
            "--faults-from-stdin",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        if not line.startswith("listening on "):
            raise RuntimeError(f"the simulator did not start: {line!r}")
        self.process = process
        self.port = int(line.rsplit(":", 1)[1])

    async def fault(self, command: str) -> None:
        process = self.process
        assert process is not None
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.write(command.encode() + b"\n")
        await process.stdin.drain()
        answer = (await asyncio.wait_for(process.stdout.readline(), 10)).decode()
        if not answer.startswith("ok:"):
            raise RuntimeError(f"the simulator refused {command!r}: {answer.strip()}")

    async def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.returncode is None:
            process.terminate()
        await process.wait()


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

    async def close_the_day(self) -> None:
        """DAY orders end with the session and the position is closed: the new day starts flat,
        as the restarted gateway does."""
        orders, account = self.broker.orders, self.broker.account
        with contextlib.suppress(OrderRefused):
            orders.cancel_all()
        await until(lambda: not any(r.ours and r.working for r in orders.rows()), 10.0)
        for month in self.months:
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
                (held := account.position(m.con_id)) is not None and not held.quantity
                for m in self.months
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


async def soak(seconds: float, restarts: int) -> Report:
    report = Report(seconds)
    watch = CrashWatch()
    watch.install(asyncio.get_running_loop())
    gateway = Gateway()
    await gateway.start()
    try:
        with tempfile.TemporaryDirectory(prefix="ibconsole-soak-") as folder:
            clock = OffsetClock(AS_OF)
            journal = Journal(Path(folder) / "journal.sqlite3", clock)
            broker = build_broker(gateway.port, journal, clock, SEED, HEALTH)
            try:
                await _trade(broker, gateway, seconds, restarts, report)
                report.fills = len(journal.fills())
            finally:
                await broker.stop()
                journal.close()
    finally:
        await gateway.stop()
        watch.uninstall()
    report.crashes = watch.take()
    return report


async def _trade(
    broker: Broker, gateway: Gateway, seconds: float, restarts: int, report: Report
) -> None:
    session = broker.session
    synced: list[Any] = []
    session.synced += synced.append
    await broker.start()
    months = [(await broker.contracts.chain(p)).contracts[0] for p in PRODUCTS]
    for month in months:
        broker.market.subscribe(month)
    bar_keys = [await broker.market.subscribe_bars(months[0], "1 min")]
    bar_keys.append(await broker.market.subscribe_bars(months[1], "5 mins"))
    trader = Trader(broker, months, SEED)
    loop = asyncio.get_running_loop()
    started = loop.time()
    # A day ends every ``seconds / (restarts + 1)``: the first measure after the first restart,
    # the last one after the last restart, and a day of trading after each.
    day = seconds / (restarts + 1)
    for number in range(restarts + 1):
        end_of_day = started + day * (number + 1)
        while loop.time() < end_of_day:
            trader.act()
            await asyncio.sleep(1 / ACTIONS_PER_SECOND)
        if number == restarts:
            break
        await trader.close_the_day()
        await _daily_restart(gateway, number + 1, synced)
        report.restarts += 1
        report.reconnects += 1
        await _settled(broker)
        measured = _holdings(broker)
        if report.start is None:
            report.start = measured
        report.end = measured
    for month in months:
        broker.market.unsubscribe(month.con_id)
    for key in bar_keys:
        broker.market.unsubscribe_bars(key)
    report.orders = trader.orders
    session.synced -= synced.append


async def _daily_restart(gateway: Gateway, day: int, synced: list[Any]) -> None:
    """IB Gateway's daily restart: IB connectivity lost (1100), the gateway gone with every
    socket, back as a new day, the console connected again, still without IB (1100), then IB
    back with the data kept (1102)."""
    before = len(synced)
    await gateway.fault("lose")
    await gateway.stop()
    await gateway.start(day)
    if not await until(lambda: len(synced) > before, RECONNECT_TIMEOUT):
        raise RuntimeError("the console did not reconnect after the daily restart")
    reconnected = len(synced)
    await gateway.fault("lose")
    await gateway.fault("restore")
    if not await until(lambda: len(synced) > reconnected, RECONNECT_TIMEOUT):
        raise RuntimeError("the console did not resync after 1102")


async def _settled(broker: Broker) -> None:
    """Connected, bar series loaded again, nothing but the heartbeat running."""
    await until(
        lambda: (
            broker.session.state is HealthState.CONNECTED
            and all(t.get_name() == "heartbeat" for t in _broker_tasks())
        ),
        10.0,
    )


def _broker_tasks() -> list[asyncio.Task[Any]]:
    current = asyncio.current_task()
    return [t for t in asyncio.all_tasks() if t is not current]


def _holdings(broker: Broker) -> Holdings:
    gc.collect()
    market, ib = broker.market, broker.session.ib
    owners: list[object] = [
        ib,
        ib.client,
        broker.session,
        broker.market,
        broker.account,
        broker.orders,
    ]
    return Holdings(
        rss_mib=rss_bytes(os.getpid()) / 2**20,
        tasks=len(asyncio.all_tasks()),
        quote_streams=len(market.subscriptions()),
        bar_streams=len(market.bar_subscriptions()),
        tickers=len(ib.tickers()),
        handlers=sum(
            len(value)
            for owner in owners
            for value in vars(owner).values()
            if isinstance(value, Event)
        ),
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--seconds", type=float, default=600.0, help="wall time (default 600)")
    parser.add_argument("--restarts", type=int, default=5, help="daily restarts (default 5)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--verbose", "-v", action="store_true", help="print the log")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.restarts < 1:
        _parser().error("--restarts must be 1 or more: the figures are taken after restarts")
    log_to_stderr(args.verbose)
    began = time.perf_counter()
    report = asyncio.run(soak(args.seconds, args.restarts))
    report.seconds = time.perf_counter() - began
    if args.json:
        print(json.dumps(asdict(report)))
    else:
        print("\n".join(report.lines()))
        for crash in report.crashes:
            print(f"crash: {crash}")
    return 1 if report.crashes or report.reconnects != report.restarts else 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
