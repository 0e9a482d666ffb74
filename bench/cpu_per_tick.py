"""CPU seconds per 100,000 ticks: the console against the floor (a bare client of the IB client
library the console runs on, ib_async or ib_insync, that only reads) and against ib_insync's Qt
ticker-table example wiring (``util.useQt`` polling), each on the same stream: a fresh simulator process with the same seed, rate and 20 instruments.

Each client runs in a process of its own; its CPU time (user + system, every thread) is read
from /proc over a window after a warm-up, and divided by the ticks the simulator wrote in that
window. The console runs as a trader has it: window shown, chart and order ticket live, the 20
instruments watched through its broker.

The DESIGN.md figure is the ratio at 5,000 ticks/s. Every client is also measured at 1,000
ticks/s, which splits its CPU into a part that grows with the tick rate (the marginal cost of a
tick, the slope between the two rates) and a part that does not (repaints, timers: the
intercept, in share of a core).
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

from bench import cli
from bench.bare_client import format_instruments
from bench.peer import INSTRUMENTS, Peer, judge_load
from bench.process_meter import cpu_seconds, rss_bytes

CLIENTS = {
    "bare_client": "bench.bare_client",
    "qt_example": "bench.qt_ticker_table",
    "console": "bench.console_rig",
}
_READY_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class Size:
    ticks_per_s: int
    low_ticks_per_s: int
    warmup: float
    seconds: float


SIZES = {
    "full": Size(ticks_per_s=5_000, low_ticks_per_s=1_000, warmup=3.0, seconds=12.0),
    "smoke": Size(ticks_per_s=500, low_ticks_per_s=200, warmup=0.3, seconds=1.0),
}


def _measure_client(module: str, ticks_per_s: int, size: Size) -> dict[str, Any]:
    with Peer.start(tick_rate=ticks_per_s / INSTRUMENTS) as peer:
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
        "ticks_per_s_offered": ticks_per_s,
        "ticks_per_s": round(ticks / wall),
        "seconds": round(wall, 2),
        "cpu_seconds": round(cpu, 2),
        "cpu_s_per_100k_ticks": round(cpu / ticks * 100_000, 3) if ticks else None,
        "cpu_share": round(cpu / wall, 3),
        "rss_mb": round(rss / 1e6, 1),
        "ready_s": round(ready_s, 2),
    }


def _client(module: str, size: Size) -> dict[str, Any]:
    high = _measure_client(module, size.ticks_per_s, size)
    low = _measure_client(module, size.low_ticks_per_s, size)
    extra_ticks = high["ticks_per_s"] - low["ticks_per_s"]
    marginal = (high["cpu_share"] - low["cpu_share"]) / extra_ticks if extra_ticks > 0 else None
    return {
        **high,
        "low_rate": low,
        "marginal_cpu_s_per_100k_ticks": round(marginal * 100_000, 3) if marginal else None,
        "fixed_cpu_share": (
            round(high["cpu_share"] - marginal * high["ticks_per_s"], 3) if marginal else None
        ),
    }


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    return round(numerator / denominator, 2) if numerator and denominator else None


def measure(size_name: str) -> dict[str, Any]:
    size = SIZES[size_name]
    clients = {name: _client(module, size) for name, module in CLIENTS.items()}
    console, bare, example = (clients[name] for name in ("console", "bare_client", "qt_example"))
    per_tick, marginal = "cpu_s_per_100k_ticks", "marginal_cpu_s_per_100k_ticks"
    result = {
        "ticks_per_s": size.ticks_per_s,
        "low_ticks_per_s": size.low_ticks_per_s,
        "instruments": INSTRUMENTS,
        "clients": clients,
        "console_vs_bare": _ratio(console[per_tick], bare[per_tick]),
        "console_vs_qt_example": _ratio(console[per_tick], example[per_tick]),
        "marginal_console_vs_bare": _ratio(console[marginal], bare[marginal]),
        "marginal_console_vs_qt_example": _ratio(console[marginal], example[marginal]),
    }
    if size_name != "full":
        return result
    # A smoke run's window holds a few timer firings: too few to judge its rate by.
    runs = [run for client in clients.values() for run in (client, client["low_rate"])]
    return judge_load(
        result, [(run, run["ticks_per_s_offered"], run["ticks_per_s"]) for run in runs]
    )


if __name__ == "__main__":
    sys.exit(cli.main(__doc__.splitlines()[0], measure))
