"""Paper gateway benchmark: outbound messages per second on one core, and how long an
ib_insync connect sync takes against it.

The gateway runs in this process (one core); a raw TWS API reader in a separate process
subscribes to many instruments and counts the frames it receives. Prints a table and writes
``bench/results/sim_throughput.json``.

    .venv/bin/python bench/sim_throughput.py [--instruments 80] [--tick-rate 1000] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import platform
import socket
import statistics
import struct
import sys
import time
from datetime import UTC, datetime
from multiprocessing.connection import Connection as Pipe
from pathlib import Path

from ib_insync import IB

from ibconsole.sim import PaperGateway
from ibconsole.sim.wire import encode_fields

_RESULTS = Path(__file__).with_name("results") / "sim_throughput.json"
_AS_OF = datetime(2025, 3, 4, 15, 0, tzinfo=UTC)
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


async def _throughput(instruments: int, tick_rate: float, seconds: float) -> dict[str, float]:
    gateway = PaperGateway(seed=1, as_of=_AS_OF, tick_rate=tick_rate)
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


async def _connect_sync(rounds: int) -> dict[str, float]:
    gateway = PaperGateway(seed=1, as_of=_AS_OF)
    await gateway.start("127.0.0.1", 0)
    timings: list[float] = []
    try:
        for client_id in range(1, rounds + 1):
            ib = IB()
            started = time.perf_counter()
            await ib.connectAsync("127.0.0.1", gateway.port, clientId=client_id, timeout=5)
            timings.append((time.perf_counter() - started) * 1000)
            ib.disconnect()
    finally:
        await gateway.stop()
    timings.sort()
    return {
        "rounds": rounds,
        "median_ms": round(statistics.median(timings), 2),
        "p95_ms": round(timings[int(0.95 * (len(timings) - 1))], 2),
        "max_ms": round(timings[-1], 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instruments", type=int, default=80)
    parser.add_argument("--tick-rate", type=float, default=1000.0)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connects", type=int, default=30)
    args = parser.parse_args()

    async def run() -> dict[str, object]:
        return {
            "throughput": await _throughput(args.instruments, args.tick_rate, args.seconds),
            "connect_sync": await _connect_sync(args.connects),
        }

    results = asyncio.run(run())
    results["python"] = platform.python_version()
    results["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    throughput = results["throughput"]
    connect = results["connect_sync"]
    assert isinstance(throughput, dict)
    assert isinstance(connect, dict)
    target = 50_000
    rows = [
        ("instruments x tick rate", f"{throughput['instruments']} x {throughput['tick_rate']:g}/s"),
        ("quote updates/s (all)", f"{throughput['quote_updates_per_s']:,}"),
        (
            "outbound messages/s",
            f"{throughput['messages_per_s']:,} (target >= {target:,}: "
            f"{'met' if throughput['messages_per_s'] >= target else 'MISSED'})",
        ),
        ("gateway CPU share", f"{throughput['gateway_cpu_share']:.0%} of one core"),
        ("connect sync median", f"{connect['median_ms']} ms"),
        ("connect sync p95 / max", f"{connect['p95_ms']} / {connect['max_ms']} ms"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    _RESULTS.parent.mkdir(parents=True, exist_ok=True)
    _RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {_RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
