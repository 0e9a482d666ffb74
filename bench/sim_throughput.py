"""Paper gateway benchmark: outbound messages per second on one core, streaming quotes and
streaming market depth, and how long a bare ib_insync connect sync takes against it.

The gateway runs in this process (one core); a raw TWS API reader in a separate process
subscribes to many instruments (quotes, or 10-row depth books) and counts the frames it
receives, so the figure is the simulator's alone.
``python -m bench.sim_throughput [--size full|smoke] [--json PATH]``.
"""

from __future__ import annotations

import asyncio
import bisect
import math
import multiprocessing
import socket
import struct
import sys
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection as Pipe
from typing import Any

from bench import cli
from bench.peer import AS_OF
from bench.summary import summarize
from ibconsole.broker.ib_client import IB
from ibconsole.sim import PaperGateway
from ibconsole.sim.instruments import Instrument
from ibconsole.sim.wire import encode_fields

_LENGTH = struct.Struct(">I")
_DEPTH_ROWS = 10
_CPU_SAMPLE_INTERVAL = 0.05


def _quote_requests(instruments: list[Instrument]) -> list[bytes]:
    return [
        encode_fields([1, 11, req_id, instrument.con_id, *[""] * 11, 0, "", 0, 0, ""])
        for req_id, instrument in enumerate(instruments, start=1)
    ]


def _depth_requests(instruments: list[Instrument]) -> list[bytes]:
    requests = []
    for req_id, instrument in enumerate(instruments, start=1):
        contract = [instrument.con_id, *[""] * 6, instrument.exchange, *[""] * 4]
        requests.append(encode_fields([10, 5, req_id, *contract, _DEPTH_ROWS, 0, ""]))
    return requests


def _count_frames(
    port: int, requests: list[bytes], warmup: float, seconds: float, out: Pipe
) -> None:
    """Runs in the reader process: subscribe, skip ``warmup`` seconds, count for ``seconds``."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(b"API\0" + _LENGTH.pack(9) + b"v157..176")
    sock.sendall(encode_fields([71, 2, 999, ""]))
    for request in requests:
        sock.sendall(request)
    buffer = bytearray()
    frames = 0
    started = time.perf_counter()
    counting_from = started + warmup
    counting = False
    deadline = counting_from + seconds
    while True:
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        now = time.perf_counter()
        if not counting and now >= counting_from:
            counting, frames, counting_from = True, 0, now
        buffer += chunk
        offset, end = 0, len(buffer)
        while end - offset >= 4:
            (size,) = _LENGTH.unpack_from(buffer, offset)
            if end - offset - 4 < size:
                break
            offset += 4 + size
            frames += 1
        del buffer[:offset]
        if now >= deadline:
            break
    finished = time.perf_counter()
    sock.close()
    out.send((frames, counting_from, finished))


class _CpuTrace:
    """This process's CPU time sampled against the monotonic clock (which every process on the
    machine shares), so the CPU spent during another process's counting window can be read
    back: on a busy machine the gateway's messages per CPU second is its one-core figure."""

    def __init__(self) -> None:
        self._samples: list[tuple[float, float]] = []

    async def run(self) -> None:
        while True:
            self._samples.append((time.perf_counter(), time.process_time()))
            await asyncio.sleep(_CPU_SAMPLE_INTERVAL)

    def between(self, start: float, end: float) -> float:
        return self._at(end) - self._at(start)

    def _at(self, moment: float) -> float:
        samples = self._samples
        index = bisect.bisect_left(samples, (moment, -math.inf))
        if index == 0:
            return samples[0][1]
        if index == len(samples):
            return samples[-1][1]
        (t0, c0), (t1, c1) = samples[index - 1], samples[index]
        return c0 + (c1 - c0) * (moment - t0) / (t1 - t0)


async def _stream(gateway: PaperGateway, requests: list[bytes], seconds: float) -> dict[str, Any]:
    """Run a reader process that sends ``requests`` and counts what streams back."""
    trace = _CpuTrace()
    tracing = asyncio.ensure_future(trace.run())
    receiver, sender = multiprocessing.get_context("spawn").Pipe(duplex=False)
    reader = multiprocessing.get_context("spawn").Process(
        target=_count_frames, args=(gateway.port, requests, 1.0, seconds, sender)
    )
    try:
        reader.start()
        loop = asyncio.get_running_loop()
        frames, start, end = await loop.run_in_executor(None, receiver.recv)
        await loop.run_in_executor(None, reader.join)
    finally:
        tracing.cancel()
    cpu = trace.between(start, end)
    return {
        "messages": frames,
        "seconds": round(end - start, 3),
        "messages_per_s": round(frames / (end - start)),
        "messages_per_cpu_s": round(frames / cpu) if cpu > 0 else None,
        "gateway_cpu_share": round(cpu / (end - start), 3),
    }


async def _throughput(instruments: int, tick_rate: float, seconds: float) -> dict[str, Any]:
    gateway = PaperGateway(seed=1, as_of=AS_OF, tick_rate=tick_rate)
    await gateway.start("127.0.0.1", 0)
    try:
        listed = gateway.catalogue.listed()[:instruments]
        updates = [0]

        def count(con_id: int, quote: object) -> None:
            updates[0] += 1

        gateway.market.add_listener(count)
        started = time.perf_counter()
        streamed = await _stream(gateway, _quote_requests(listed), seconds)
        updates_per_s = updates[0] / (time.perf_counter() - started)
    finally:
        await gateway.stop()
    return {
        "instruments": len(listed),
        "tick_rate": tick_rate,
        "offered_updates_per_s": len(listed) * tick_rate,
        **streamed,
        "quote_updates_per_s": round(updates_per_s),
    }


async def _depth_throughput(instruments: int, depth_rate: float, seconds: float) -> dict[str, Any]:
    """Every instrument's book churning at ``depth_rate`` changes a second (quotes at the
    default rate), each watched by one 10-row exchange depth subscription."""
    gateway = PaperGateway(
        seed=1, as_of=AS_OF, depth_rate=depth_rate, max_depth_requests=instruments
    )
    await gateway.start("127.0.0.1", 0)
    try:
        futures = [i for i in gateway.catalogue.listed() if i.sec_type == "FUT"][:instruments]
        streamed = await _stream(gateway, _depth_requests(futures), seconds)
    finally:
        await gateway.stop()
    return {
        "instruments": len(futures),
        "rows": _DEPTH_ROWS,
        "depth_rate": depth_rate,
        "offered_changes_per_s": len(futures) * depth_rate,
        **streamed,
    }


async def _connect_sync(rounds: int) -> dict[str, Any]:
    gateway = PaperGateway(seed=1, as_of=AS_OF)
    await gateway.start("127.0.0.1", 0)
    timings: list[float] = []
    try:
        for client_id in range(1, rounds + 1):
            ib = IB()
            started = time.perf_counter()
            await ib.connectAsync("127.0.0.1", gateway.port, clientId=client_id, timeout=5)
            timings.append(time.perf_counter() - started)
            ib.disconnect()
    finally:
        await gateway.stop()
    return {"rounds": rounds, "connect_ms": summarize(timings, 1000)}


@dataclass(frozen=True, slots=True)
class Size:
    instruments: int
    tick_rate: float
    seconds: float
    connects: int
    depth_instruments: int
    depth_rate: float


SIZES = {
    "full": Size(
        instruments=80,
        tick_rate=1000.0,
        seconds=5.0,
        connects=30,
        depth_instruments=20,
        depth_rate=20_000.0,
    ),
    "smoke": Size(
        instruments=5,
        tick_rate=50.0,
        seconds=0.5,
        connects=2,
        depth_instruments=2,
        depth_rate=200.0,
    ),
}


def measure(size_name: str) -> dict[str, Any]:
    size = SIZES[size_name]

    async def run() -> dict[str, Any]:
        return {
            "throughput": await _throughput(size.instruments, size.tick_rate, size.seconds),
            "depth_throughput": await _depth_throughput(
                size.depth_instruments, size.depth_rate, size.seconds
            ),
            "connect_sync": await _connect_sync(size.connects),
        }

    return asyncio.run(run())


if __name__ == "__main__":
    sys.exit(cli.main(__doc__.splitlines()[0], measure))
