"""A broker on a paper gateway for the reliability runs (``bench.chaos``, ``bench.soak``), and the
watch on what the console must never do: crash, that is leave an exception nobody handled."""

from __future__ import annotations

import asyncio
import logging
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from ibconsole.broker.broker import Broker
from ibconsole.broker.session import Endpoint
from ibconsole.domain.clock import Clock, OffsetClock
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.health import BackoffPolicy, BreakerPolicy, HealthSettings, HealthState
from ibconsole.domain.risk import RiskLimits, SymbolLimits
from ibconsole.journal import Journal
from ibconsole.sim import PaperGateway

# A Tuesday, 09:00 in Chicago: CME Globex and regular hours open, no holiday nearby.
AS_OF = datetime(2025, 3, 4, 15, 0, tzinfo=UTC)
CLIENT_ID = 7
HOST = "127.0.0.1"
# Handshakes, syncs and requests give up after this long, so a silent gateway is noticed quickly.
REQUEST_TIMEOUT = 0.5
# Heartbeats every 50 ms; two unanswered for 250 ms mean reconnect, after 50-150 ms (long enough
# for another client to grab the clientId first now and then). The breaker stays shut: a campaign
# provokes more failed connects in a minute than a trader sees in a month.
FAST_HEALTH = HealthSettings(
    heartbeat_interval=timedelta(seconds=0.05),
    heartbeat_timeout=timedelta(seconds=0.25),
    heartbeat_failures_before_reconnect=2,
    backoff=BackoffPolicy(min_delay=timedelta(seconds=0.05), max_delay=timedelta(seconds=0.15)),
    breaker=BreakerPolicy(failure_threshold=10_000),
)
# Default checks, with room for the bursts of resting orders that provoke ib_insync's pacing.
LIMITS = RiskLimits(defaults=SymbolLimits(max_position=Decimal(100)))


def log_to_stderr(verbose: bool) -> None:
    """Log to stderr: everything from INFO when ``verbose``; otherwise nothing, since the runs
    provoke warnings on purpose and report crashes and their tally themselves."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(relativeCreated)8.0f %(name)s %(levelname)s %(message)s",
    )
    if not verbose:
        logging.getLogger().handlers[0].setLevel(logging.CRITICAL + 1)


# Loggers whose ERROR records mean an exception escaped: eventkit reports a handler that raised,
# asyncio a task or callback nobody awaited. Any record carrying a traceback counts as well.
_CRASH_LOGGERS = ("eventkit", "asyncio")


@dataclass
class StressRig:
    """A started gateway and a broker synced to it, with the front and next ES months quoted."""

    gw: PaperGateway
    broker: Broker
    journal: Journal
    front: ListedContract
    next_month: ListedContract

    @property
    def synced(self) -> bool:
        """Connected, synced and reconciled: orders may go."""
        session = self.broker.session
        return (
            session.state in (HealthState.CONNECTED, HealthState.DEGRADED)
            and self.broker.orders.entry_block() == ""
        )


async def open_rig(
    seed: int,
    journal_path: Path,
    *,
    tick_rate: float,
    health: HealthSettings = FAST_HEALTH,
) -> StressRig:
    """A fresh gateway (seeded), journal and broker, connected, with both ES months quoted."""
    gw = PaperGateway(seed=seed, as_of=AS_OF, tick_rate=tick_rate)
    await gw.start(HOST, 0)
    clock = OffsetClock(gw.clock.now())
    journal = Journal(journal_path, clock)
    broker = build_broker(gw.port, journal, clock, seed, health)
    rig: StressRig | None = None
    try:
        await broker.start()
        front, next_month = (await broker.contracts.chain("ES")).contracts[:2]
        rig = StressRig(gw, broker, journal, front, next_month)
        for month in (front, next_month):
            broker.market.subscribe(month)
        await until(lambda: all(broker.market.quote(m.con_id) for m in (front, next_month)), 5.0)
    finally:
        if rig is None:
            await broker.stop()
            journal.close()
            await gw.stop()
    return rig


def build_broker(
    port: int, journal: Journal, clock: Clock, seed: int, health: HealthSettings
) -> Broker:
    """A broker for clientId 7 on ``port``, with short request timeouts and bar retries."""
    return Broker(
        Endpoint(HOST, port, CLIENT_ID),
        journal,
        clock,
        health=health,
        limits=LIMITS,
        request_timeout=REQUEST_TIMEOUT,
        history_retry=0.1,
        rng=random.Random(seed),
    )


async def close_rig(rig: StressRig) -> None:
    await rig.broker.stop()
    rig.journal.close()
    await rig.gw.stop()


async def until(predicate: Callable[[], object], seconds: float) -> bool:
    """Yield to the loop until ``predicate`` holds; False if it did not within ``seconds``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not predicate():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.002)
    return True


# ------------------------------------------------------------------------------- crashes


class CrashWatch(logging.Handler):
    """Collects every exception nobody handled: eventkit handler failures, tasks and callbacks
    asyncio reports, and any log record with a traceback. ``take()`` hands them over."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self._found: list[str] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def emit(self, record: logging.LogRecord) -> None:
        crashed = record.exc_info is not None or (
            record.levelno >= logging.ERROR and record.name.split(".")[0] in _CRASH_LOGGERS
        )
        if crashed:
            self._found.append(f"{record.name}: {self.format(record)}")

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        self.setFormatter(logging.Formatter("%(message)s"))
        logging.getLogger().addHandler(self)
        self._loop = loop
        loop.set_exception_handler(self._on_loop_exception)

    def uninstall(self) -> None:
        logging.getLogger().removeHandler(self)
        if self._loop is not None:
            self._loop.set_exception_handler(None)
            self._loop = None

    def take(self) -> list[str]:
        found, self._found = self._found, []
        return found

    def _on_loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        error = context.get("exception")
        detail = f" ({type(error).__name__}: {error})" if error is not None else ""
        self._found.append(f"asyncio: {context.get('message', 'unhandled')}{detail}")


def sim_bar_streams(gw: PaperGateway) -> int:
    """Bar streams kept up to date by the simulator, every client (it counts its quote
    subscriptions publicly, not these)."""
    return sum(len(streams) for streams in gw.history._live.values())
