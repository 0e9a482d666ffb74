"""The paper gateway in a process of its own, as TWS is, with probes a client cannot disturb:
every quote update and depth row stamped as the simulator writes it and every placeOrder stamped
as it arrives.

``Peer.start(tick_rate=...)`` spawns it and returns once it listens; the benchmark then asks it
over a pipe for its tick count, the stamped ticks of a window, the order receipts and its
subscription count. The benchmark's 20 instruments update ``tick_rate`` times a second each;
whatever else the console subscribes (the options chain's 42 options, other months) updates
:data:`QUIET_SHARE` as often, as quiet contracts do beside the busiest, so the simulator writes the load a benchmark offers
(20 × ``tick_rate``) and not that times every open view's instruments. Stamps are ``time.perf_counter()``, which on Linux reads CLOCK_MONOTONIC, one
clock for every process on the machine, so they compare directly with the client's.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection as Pipe
from multiprocessing.process import BaseProcess
from typing import Any

from ibconsole.sim import PaperGateway
from ibconsole.sim import depth as sim_depth
from ibconsole.sim.connection import Connection
from ibconsole.sim.market import Quote

# A Tuesday, 09:00 in Chicago: CME Globex open, no holiday near, as in the test suite.
AS_OF = datetime(2025, 3, 4, 15, 0, tzinfo=UTC)
# The families the console watches, in its order; 20 instruments are every front month and the
# second month of the first six (the equity index families roll first, so both months matter).
FAMILIES = (
    "ES",
    "MES",
    "NQ",
    "MNQ",
    "RTY",
    "M2K",
    "YM",
    "MYM",
    "CL",
    "MCL",
    "GC",
    "MGC",
    "ZN",
    "6E",
)
INSTRUMENTS = 20
# How often each instrument subscribed beside the benchmark's 20 updates, as a share of a
# benchmark instrument's rate: the options chain's 42 options add 2% to the offered load (at
# 5,000 ticks/s, 2.5 updates a second of each option).
QUIET_SHARE = 0.01
# How far the ticks written may stray from the ticks offered before a result is an error.
LOAD_TOLERANCE = 0.10
_PLACE_ORDER = "3"

# What a client can compare with its own view of one depth row it was sent: operation, side,
# position, price (as written), size.
DepthKey = tuple[int, int, int, float, float]

# What a client can compare with its own view of a quote, as floats in this order: bid, bid size,
# ask, ask size, last, last size, volume. Sizes change on almost every update, so the key names
# one update of one instrument among its neighbours.
TickKey = tuple[float, float, float, float, float, float, float]


def _quote_key(quote: Quote) -> TickKey:
    return (
        float(quote.bid),
        float(quote.bid_size),
        float(quote.ask),
        float(quote.ask_size),
        float(quote.last),
        float(quote.last_size),
        float(quote.volume),
    )


@dataclass(frozen=True, slots=True)
class Instrument:
    """One of the benchmark's instruments: its conId and the family (trading class) it is in."""

    con_id: int
    family: str
    local_symbol: str


def pick_instruments(gateway: PaperGateway, count: int = INSTRUMENTS) -> list[Instrument]:
    """Front months of every family, then second months, in the console's watch-list order."""
    months: dict[str, list[Any]] = {family: [] for family in FAMILIES}
    for listed in gateway.catalogue.listed():
        if listed.sec_type == "FUT" and listed.trading_class in months:
            months[listed.trading_class].append(listed)
    for chain in months.values():
        chain.sort(key=lambda item: item.expires_at)
    picked: list[Instrument] = []
    for depth in range(3):
        for family in FAMILIES:
            chain = months[family]
            if depth < len(chain) and len(picked) < count:
                item = chain[depth]
                picked.append(Instrument(item.con_id, family, item.local_symbol))
    if len(picked) < count:
        raise ValueError(f"the simulator lists only {len(picked)} futures, {count} were asked for")
    return picked


class _Probe:
    """Runs inside the peer: counts and stamps, answers the benchmark's questions."""

    def __init__(self, gateway: PaperGateway) -> None:
        self.gateway = gateway
        self.ticks = 0
        self.logging = False
        self.log: list[tuple[int, float, Quote]] = []
        self.orders: list[tuple[int, float]] = []
        gateway.market.add_listener(self._on_quote)
        dispatch = gateway.dispatch

        def stamped(connection: Connection, fields: list[str]) -> None:
            if fields and fields[0] == _PLACE_ORDER:
                self.orders.append((int(fields[1]), time.perf_counter()))
            dispatch(connection, fields)

        # The gateway is the connections' owner: they hand it every inbound message here.
        gateway.dispatch = stamped  # type: ignore[method-assign]
        self.depth_logging = False
        self.depth_log: list[tuple[float, DepthKey]] = []
        send = sim_depth._Subscription.send
        feeds: dict[int, float] = {}

        def stamped_depth(
            row: Any, operation: int, side: int, position: int, price: int, size: int, maker: int
        ) -> None:
            # Stamped as the row is queued; it leaves on the loop's next write, so at or before.
            if self.depth_logging:
                tick = feeds.get(id(row.feed))
                if tick is None:
                    tick = feeds[id(row.feed)] = float(row.feed.instrument.min_tick)
                key = (operation, side, position, round(price * tick, 9), float(size))
                self.depth_log.append((time.perf_counter(), key))
            send(row, operation, side, position, price, size, maker)

        sim_depth._Subscription.send = stamped_depth  # type: ignore[method-assign,assignment]

    def _on_quote(self, con_id: int, quote: Quote) -> None:
        # Listeners run after the gateway's own, which has queued the tick's frames by now; the
        # frames leave on the next loop iteration, so this stamp is at or before the write.
        self.ticks += 1
        if self.logging:
            self.log.append((con_id, time.perf_counter(), quote))

    def answer(self, command: str, argument: object) -> object:
        if command == "ticks":
            return self.ticks
        if command == "log":
            self.logging = bool(argument)
            stamps = [(con_id, at, _quote_key(quote)) for con_id, at, quote in self.log]
            self.log = []
            return stamps
        if command == "orders":
            orders, self.orders = self.orders, []
            return orders
        if command == "instruments":
            return pick_instruments(self.gateway, int(str(argument)))
        if command == "depth_rate":
            # Forced on every book for the rest of the run: the book's own bursts stay out.
            self.gateway.depth.burst(float(str(argument)), 3600.0)
            return argument
        if command == "depth_log":
            self.depth_logging = bool(argument)
            rows, self.depth_log = self.depth_log, []
            return rows
        if command == "subscriptions":
            return self.gateway.market_data.subscription_count()
        if command == "connections":
            return len(self.gateway.connections)
        raise ValueError(f"the peer does not know the command {command!r}")


def _serve(pipe: Pipe, seed: int, tick_rate: float, quiet_share: float | None) -> None:
    asyncio.run(_main(pipe, seed, tick_rate, quiet_share))


async def _main(pipe: Pipe, seed: int, tick_rate: float, quiet_share: float | None) -> None:
    gateway = PaperGateway(seed=seed, as_of=AS_OF, tick_rate=tick_rate)
    if quiet_share is not None:
        busy = [instrument.con_id for instrument in pick_instruments(gateway)]
        gateway.market.pace(busy, tick_rate * quiet_share)
    await gateway.start("127.0.0.1", 0)
    probe = _Probe(gateway)
    pipe.send(gateway.port)
    loop = asyncio.get_running_loop()
    try:
        while True:
            try:
                command, argument = await loop.run_in_executor(None, pipe.recv)
            except EOFError:
                break  # the benchmark is gone: stop with it
            if command == "stop":
                break
            try:
                pipe.send(("ok", probe.answer(command, argument)))
            except Exception as error:
                pipe.send(("error", f"{type(error).__name__}: {error}"))
    finally:
        await gateway.stop()
        with contextlib.suppress(OSError):
            pipe.send(("ok", "stopped"))


class Peer:
    """Handle on a running peer process. Calls block briefly: the peer answers at once."""

    def __init__(self, process: BaseProcess, pipe: Pipe, port: int, tick_rate: float) -> None:
        self._process = process
        self._pipe = pipe
        self.port = port
        self.tick_rate = tick_rate

    @classmethod
    def start(
        cls, *, tick_rate: float = 4.0, seed: int = 1, quiet_share: float | None = QUIET_SHARE
    ) -> Peer:
        """Spawn the gateway and wait: ``tick_rate`` quote updates per second of each of the
        benchmark's instruments, ``quiet_share`` of that of any other subscribed instrument
        (``None``: every subscribed one, and each option with its underlying, at ``tick_rate``)."""
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        process = context.Process(
            target=_serve,
            args=(theirs, seed, tick_rate, quiet_share),
            name="bench-peer",
            daemon=True,
        )
        process.start()
        if not ours.poll(30):
            process.kill()
            raise RuntimeError("the simulator process did not start listening within 30 s")
        return cls(process, ours, int(ours.recv()), tick_rate)

    def ask(self, command: str, argument: object = None) -> Any:
        self._pipe.send((command, argument))
        status, answer = self._pipe.recv()
        if status != "ok":
            raise RuntimeError(f"the simulator process failed on {command!r}: {answer}")
        return answer

    def ticks(self) -> int:
        """Quote updates the simulator has written since it started (all instruments)."""
        return int(self.ask("ticks"))

    def instruments(self, count: int = INSTRUMENTS) -> list[Instrument]:
        return list(self.ask("instruments", count))

    def start_log(self) -> None:
        self.ask("log", True)

    def stop_log(self) -> list[tuple[int, float, TickKey]]:
        """Every tick written since ``start_log``: (conId, perf_counter stamp, key)."""
        return list(self.ask("log", False))

    def set_depth_rate(self, rate: float) -> None:
        """Depth changes per second behind the touch of every book with subscribers, exactly
        (the books' own random bursts are off from then on)."""
        self.ask("depth_rate", rate)

    def start_depth_log(self) -> None:
        self.ask("depth_log", True)

    def stop_depth_log(self) -> list[tuple[float, DepthKey]]:
        """Every depth row written since ``start_depth_log``: (perf_counter stamp, key)."""
        return list(self.ask("depth_log", False))

    def orders(self) -> list[tuple[int, float]]:
        """(orderId, perf_counter stamp) of every placeOrder received since the last call."""
        return list(self.ask("orders"))

    def subscriptions(self) -> int:
        """Market data subscriptions the simulator is serving."""
        return int(self.ask("subscriptions"))

    def connections(self) -> int:
        """Client connections open at the simulator."""
        return int(self.ask("connections"))

    def stop(self) -> None:
        if self._process.is_alive():
            self._pipe.send(("stop", None))
            if self._pipe.poll(10):
                self._pipe.recv()
            self._process.join(10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()

    def __enter__(self) -> Peer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def load_error(offered: float, written: float) -> str | None:
    """What is wrong with a run whose simulator wrote ``written`` ticks/s where ``offered`` were
    asked for, or ``None`` when the two agree within :data:`LOAD_TOLERANCE`: figures labelled
    with one load and measured at another are not figures of that load."""
    if offered > 0 and abs(written / offered - 1) <= LOAD_TOLERANCE:
        return None
    return (
        f"the simulator wrote {written:,.0f} ticks/s where {offered:,.0f} were offered "
        f"(more than {LOAD_TOLERANCE:.0%} apart): the figures are not of the offered load"
    )


def judge_load(
    result: dict[str, Any], runs: Iterable[tuple[dict[str, Any], float, float]]
) -> dict[str, Any]:
    """Each run (its figures, the ticks/s offered and written) not at its offered load gets an
    ``error``, and so does ``result``, which a benchmark that crashed has: its figures stay in
    it, for reading, not for a verdict."""
    errors = []
    for run, offered, written in runs:
        error = load_error(offered, written)
        if error is not None:
            run["error"] = error
            errors.append(error)
    if errors:
        result["error"] = "; ".join(errors)
    return result


def in_executor(call: Callable[[], Any]) -> asyncio.Future[Any]:
    """Run a blocking peer call off the event loop thread (pipes block; the loop must not)."""
    return asyncio.get_running_loop().run_in_executor(None, call)


async def wait_for_peer(question: Callable[[], bool], what: str, within: float = 30.0) -> None:
    """Ask the peer (off the loop) until ``question()`` holds; TimeoutError naming ``what``."""
    deadline = time.monotonic() + within
    while True:
        if await in_executor(question):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {within:g} s")
        await asyncio.sleep(0.01)
