"""CPU seconds per 100,000 ticks: the console against the floor (a bare ib_insync client that only
reads) and against ib_insync's Qt ticker-table example wiring (``util.useQt`` polling), each on
the same stream: a fresh simulator process with the same seed, rate and 20 instruments.

Each client runs in a process of its own; its CPU time (user + system, every thread) is read
from /proc over a window after a warm-up, and divided by the ticks the simulator wrote in that
window. The console runs as a trader has it: window shown, chart and order ticket live, the 20
instruments watched through its broker.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

from bench import cli
from bench.bare_client import format_instruments
from bench.peer import INSTRUMENTS, Peer
from bench.process_meter import cpu_seconds, rss_bytes

CLIENTS = {
    "bare_ib_insync": "bench.bare_client",
    "ib_insync_qt_example": "bench.qt_ticker_table",
    "console": "bench.console_rig",
}
_READY_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class Size:
    ticks_per_s: int
    warmup: float
    seconds: float


SIZES = {
    "full": Size(ticks_per_s=5_000, warmup=3.0, seconds=20.0),
    "smoke": Size(ticks_per_s=500, warmup=0.3, seconds=1.0),
}


def _measure_client(module: str, size: Size) -> dict[str, Any]:
    with Peer.start(tick_rate=size.ticks_per_s / INSTRUMENTS) as peer:
        instruments = peer.instruments(INSTRUMENTS)
        client = subprocess.Popen(
            [
                sys.executable,
                "-m",
                module,
                "--port",
                str(peer.port),
                "--instruments",
                format_instruments(instruments),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert client.stdout is not None
            assert client.stdin is not None
            started = time.monotonic()
            line = client.stdout.readline().strip()
            if line != "ready":
                raise RuntimeError(f"{module} did not get ready (said {line!r})")
            ready_s = time.monotonic() - started
            time.sleep(size.warmup)
            cpu_before, ticks_before = cpu_seconds(client.pid), peer.ticks()
            wall_before = time.perf_counter()
            time.sleep(size.seconds)
            cpu = cpu_seconds(client.pid) - cpu_before
            ticks = peer.ticks() - ticks_before
            wall = time.perf_counter() - wall_before
            rss = rss_bytes(client.pid)
            client.stdin.close()
            client.wait(30)
        finally:
            if client.poll() is None:
                client.kill()
                client.wait()
    if client.returncode != 0:
        raise RuntimeError(f"{module} exited with status {client.returncode}")
    return {
        "ticks": ticks,
        "seconds": round(wall, 2),
        "cpu_seconds": round(cpu, 2),
        "cpu_s_per_100k_ticks": round(cpu / ticks * 100_000, 3) if ticks else None,
        "cpu_share": round(cpu / wall, 3),
        "rss_mb": round(rss / 1e6, 1),
        "ready_s": round(ready_s, 2),
    }


def measure(size_name: str) -> dict[str, Any]:
    size = SIZES[size_name]
    clients = {name: _measure_client(module, size) for name, module in CLIENTS.items()}
    console = clients["console"]["cpu_s_per_100k_ticks"]

    def ratio(baseline: str) -> float | None:
        floor = clients[baseline]["cpu_s_per_100k_ticks"]
        return round(console / floor, 2) if console and floor else None

    return {
        "ticks_per_s": size.ticks_per_s,
        "instruments": INSTRUMENTS,
        "clients": clients,
        "console_vs_bare": ratio("bare_ib_insync"),
        "console_vs_qt_example": ratio("ib_insync_qt_example"),
    }


if __name__ == "__main__":
    sys.exit(cli.main(__doc__.splitlines()[0], measure))
