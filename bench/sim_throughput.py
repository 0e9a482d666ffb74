"""Paper gateway benchmark: outbound messages per second on one core, and how long a bare
ib_insync connect sync takes against it.

The gateway runs in this process (one core); a raw TWS API reader in a separate process
subscribes to many instruments and counts the frames it receives, so the figure is the
simulator's alone. ``python -m bench.sim_throughput [--size full|smoke] [--json PATH]``.
"""

from __future__ import annotations

import asyncio
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
from ibconsole.sim.wire import encode_fields

_LENGTH = struct.Struct(">I")


def _count_frames(port: int, con_ids: list[int], warmup: float, seconds: float, out: Pipe) -> None:
    """Runs in the reader process: subscribe, skip ``warmup`` seconds, count for ``seconds``."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(b"API\0" + _LENGTH.pack(9) + b"v157..176")
    sock.sendall(encode_fields([71, 2, 999, ""]))
    for req_id, con_id in enumerate(con_ids, start=1):
        contract = [con_id, "", "", "", "", "", "", "", "", "", "", ""]
        sock.sendall(encode_fields([1, 11, req_id, *contract, 0, "", 0, 0, ""]))
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
    elapsed = time.perf_counter() - counting_from
    sock.close()
    out.send((frames, elapsed))


async def _throughput(instruments: int, tick_rate: float, seconds: float) -> dict[str, Any]:
    gateway = PaperGateway(seed=1, as_of=AS_OF, tick_rate=tick_rate)
    await gateway.start("127.0.0.1", 0)
    try:
        con_ids = [i.con_id for i in gateway.catalogue.listed()][:instruments]
        updates = [0]

        def count(con_id: int, quote: object) -> None:
            updates[0] += 1

        gateway.market.add_listener(count)
        receiver, sender = multiprocessing.get_context("spawn").Pipe(duplex=False)
        reader = multiprocessing.get_context("spawn").Process(
            target=_count_frames, args=(gateway.port, con_ids, 1.0, seconds, sender)
        )
        cpu_started = time.process_time()
        wall_started = time.perf_counter()
        reader.start()
        loop = asyncio.get_running_loop()
        frames, elapsed = await loop.run_in_executor(None, receiver.recv)
        cpu = time.process_time() - cpu_started
        updates_per_s = updates[0] / (time.perf_counter() - wall_started)
        wall = time.perf_counter() - wall_started
        await loop.run_in_executor(None, reader.join)
    finally:
        await gateway.stop()
    return {
        "instruments": len(con_ids),
        "tick_rate": tick_rate,
        "offered_updates_per_s": len(con_ids) * tick_rate,
        "messages": frames,
        "seconds": round(elapsed, 3),
        "messages_per_s": round(frames / elapsed),
        "quote_updates_per_s": round(updates_per_s),
        "gateway_cpu_share": round(cpu / wall, 3),
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


SIZES = {
    "full": Size(instruments=80, tick_rate=1000.0, seconds=5.0, connects=30),
    "smoke": Size(instruments=5, tick_rate=50.0, seconds=0.5, connects=2),
}


def measure(size_name: str) -> dict[str, Any]:
    size = SIZES[size_name]

    async def run() -> dict[str, Any]:
        return {
            "throughput": await _throughput(size.instruments, size.tick_rate, size.seconds),
            "connect_sync": await _connect_sync(size.connects),
        }

    return asyncio.run(run())


if __name__ == "__main__":
    sys.exit(cli.main(__doc__.splitlines()[0], measure))
