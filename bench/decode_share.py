"""The GUI thread's CPU, split by what it was doing: decoding the socket, running the console's
handlers of the decoded data, and everything else (painting, timers, asyncio callbacks).

The console runs as a trader runs it (``build_console``, offscreen, its ladder on the ticket's
contract with depth live) against a simulator process streaming 5,000 ticks/s over 20
instruments and about 2,000 depth rows a second on the ladder's book: the load under which it
must be decided whether the IB client can stay on the GUI thread.

ib_async reads the socket on the loop's thread: each network read (``data_received``) reaches
the client in slices, one per loop turn (``ibconsole.broker.socket_reads``); a slice is split
into messages, decoded and applied to its Tickers and objects, and ends with
``tcpDataProcessed``: the events the console listens to (its quote, depth and order handlers,
and the Qt slots behind them). Both are timed with the thread's CPU clock, so a starved
machine lengthens neither: ``decode`` is a slice less its ``tcpDataProcessed``, ``handlers``
is ``tcpDataProcessed``. Figures are CPU milliseconds per second of wall time (1,000 is a whole
core), and per slice (one loop job: the longest is the longest stall decoding can cause).

256 kB of the run's stream (the most asyncio reads at once, which a read reaches when the loop
is behind) is then framed again, off the clock of the run, by a client of its own whose decoder
does nothing: as one read and in the console's slices (``socket_reads``), which shows what
ib_async's framing costs a message as reads grow.
"""

from __future__ import annotations

import asyncio
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench import cli, machine
from bench.console_rig import close_console, in_fresh_process, open_console, run_qasync, watch
from bench.ladder_latency import _calibrate, _ladder_ready
from bench.peer import INSTRUMENTS, Peer, in_executor, judge_load
from bench.summary import summarize
from ibconsole.app import Console
from ibconsole.broker.ib_client import IB
from ibconsole.broker.socket_reads import READ_SLICE

SAMPLE_BYTES = 256 * 1024  # the most asyncio reads from a socket at once
_SERVER_VERSION = 176  # the simulator's; any but 0 tells the client its handshake is over


@dataclass(frozen=True, slots=True)
class Size:
    ticks_per_s: int
    depth_per_s: int
    warmup: float
    seconds: float


SIZES = {
    "full": Size(ticks_per_s=5_000, depth_per_s=2_000, warmup=2.0, seconds=15.0),
    "smoke": Size(ticks_per_s=500, depth_per_s=200, warmup=0.2, seconds=0.5),
}


class ReadMeter:
    """Wraps one ib_async client's socket reads (its connection's ``data_received``), the slices
    of them it is handed (``hasData``) and its end-of-slice callback, and adds up the loop
    thread's CPU time in each slice: one loop job (all are replaced on this instance only)."""

    def __init__(self, console: Console) -> None:
        client = console.broker.session.ib.client
        self._client = client
        self.on = False
        self.jobs: list[tuple[float, float]] = []  # (decode, handlers) CPU seconds of a slice
        self.reads = 0
        self.messages = 0
        self.largest = 0  # bytes of the largest read
        self.sample = bytearray()  # the stream from a message on, as the client was handed it
        self._handlers = 0.0
        self._read: Callable[[bytes], None] = client.conn.data_received
        self._slice: Callable[[bytes], None] = client._onSocketHasData
        self._processed: Callable[[], None] | None = client._tcpDataProcessed
        client.conn.data_received = self._on_read  # type: ignore[method-assign]
        client.conn.hasData -= self._slice
        client.conn.hasData += self._on_slice
        client._tcpDataProcessed = self._on_processed

    def _on_read(self, data: bytes) -> None:
        if self.on:
            self.reads += 1
            self.largest = max(self.largest, len(data))
        self._read(data)

    def _on_slice(self, data: bytes) -> None:
        if not self.on:
            self._slice(data)
            return
        if len(self.sample) < SAMPLE_BYTES:
            # The client's leftover starts at a message; the slices after it follow it.
            self.sample += data if self.sample else bytes(self._client._data) + data
        self._handlers = 0.0
        counted = self._client._numMsgRecv  # counted per slice: a reconnect starts it over
        started = time.thread_time()
        self._slice(data)
        spent = time.thread_time() - started
        self.messages += max(0, self._client._numMsgRecv - counted)
        self.jobs.append((spent - self._handlers, self._handlers))

    def _on_processed(self) -> None:
        if self._processed is None:
            return
        if not self.on:
            self._processed()
            return
        started = time.thread_time()
        self._processed()
        self._handlers += time.thread_time() - started


def framing_us_per_message(read: bytes, piece: int, repeats: int = 5) -> float:
    """CPU µs a message that ib_async's client spends cutting ``read`` into messages, handed to it
    ``piece`` bytes at a time: a client of its own, whose decoder does nothing, frames it."""
    best = math.inf
    messages = 0
    for _ in range(repeats):
        client = IB().client
        client._serverVersion = _SERVER_VERSION
        client._apiReady = True
        client._tcpDataArrived = client._tcpDataProcessed = None
        client.decoder.interpret = lambda fields: None  # type: ignore[method-assign]
        started = time.thread_time()
        for start in range(0, len(read), piece):
            client._onSocketHasData(read[start : start + piece])
        best = min(best, time.thread_time() - started)
        messages = client._numMsgRecv
    return round(best / max(1, messages) * 1e6, 2)


async def _series(size: Size) -> dict[str, Any]:
    with Peer.start(tick_rate=size.ticks_per_s / INSTRUMENTS) as peer:
        console = await open_console(peer.port)
        try:
            await watch(console, await in_executor(lambda: peer.instruments(INSTRUMENTS)))
            await _ladder_ready(console)
            await _calibrate(peer, size.depth_per_s)
            meter = ReadMeter(console)
            await asyncio.sleep(size.warmup)
            ticks = await in_executor(peer.ticks)
            await in_executor(peer.start_depth_log)
            meter.on = True
            wall, cpu = time.perf_counter(), time.thread_time()
            await asyncio.sleep(size.seconds)
            meter.on = False
            wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
            rows = len(await in_executor(peer.stop_depth_log))
            ticks = await in_executor(peer.ticks) - ticks
        finally:
            await close_console(console)
    messages = meter.messages
    decode = sum(d for d, _ in meter.jobs)
    handlers = sum(h for _, h in meter.jobs)

    def per_s(seconds: float) -> float:
        return round(seconds / wall * 1000, 1)

    return {
        "ticks_per_s_offered": size.ticks_per_s,
        "ticks_per_s": round(ticks / wall),
        "depth_rows_per_s": round(rows / wall),
        "messages_per_s": round(messages / wall),
        "reads_per_s": round(meter.reads / wall),
        "slices_per_s": round(len(meter.jobs) / wall),
        "gui_thread_cpu_ms_per_s": {
            "total": per_s(cpu),
            "decode": per_s(decode),
            "handlers": per_s(handlers),
            "other": per_s(cpu - decode - handlers),
        },
        "decode_us_per_message": round(decode / max(1, messages) * 1e6, 2),
        "handlers_us_per_message": round(handlers / max(1, messages) * 1e6, 2),
        "largest_read_bytes": meter.largest,
        # ib_async's framing alone, on SAMPLE_BYTES of the run's stream: handed over whole, as
        # the largest read a socket gives at once, and in the console's slices.
        "framing_us_per_message": {
            "whole": framing_us_per_message(bytes(meter.sample), SAMPLE_BYTES),
            f"slices_of_{READ_SLICE}": framing_us_per_message(bytes(meter.sample), READ_SLICE),
        },
        # One slice is one loop job: the longest is the longest stall decoding causes.
        "slice_decode_ms": summarize([d for d, _ in meter.jobs], 1000),
        "slice_handlers_ms": summarize([h for _, h in meter.jobs], 1000),
        "seconds": round(wall, 2),
        "load_average": machine.load_average(),
    }


def _measure(size: Size) -> dict[str, Any]:
    return run_qasync(lambda: _series(size))


def measure(size_name: str) -> dict[str, Any]:
    size = SIZES[size_name]
    result = in_fresh_process(_measure, size)
    if size_name != "full":
        return result
    # A smoke run's window holds a few timer firings: too few to judge its rate by.
    return judge_load(result, [(result, size.ticks_per_s, result["ticks_per_s"])])


if __name__ == "__main__":
    sys.exit(cli.main(__doc__.splitlines()[0], measure))
