"""The longest GUI-thread job of a ten-minute session at 5,000 ticks/s.

The console runs as a trader has it (window shown, chart, ladder and options chain live) under 20
instruments' quotes at 5,000 ticks/s against a fresh simulator process, for ten minutes.

A 2 ms precise Qt timer measures every stall of the loop, and the CPU time the loop's thread used
in it: a stall much longer than its CPU time is the operating system running something else (the
simulator, the benchmark, another program: this machine has two cores), not a job of the
console. The stall watchdog names what held the loop in each stall over a frame, with the stack
it saw most often. Reported: the longest stall and the longest job (by the loop thread's own
CPU), each with what it was, and how many stalls and jobs took longer than a frame.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass
from typing import Any

from bench import cli, machine
from bench.console_rig import in_fresh_process, run_qasync, watched_console
from bench.peer import INSTRUMENTS, in_executor, judge_load
from bench.probes import LoopProbe
from bench.summary import summarize
from bench.tick_latency import stall_jobs
from ibconsole.stall_watchdog import FRAME, Stall, StallWatchdog

RATE = 5_000  # ticks per second over the 20 instruments


@dataclass(frozen=True, slots=True)
class Size:
    warmup: float
    seconds: float


SIZES = {
    "full": Size(warmup=5.0, seconds=600.0),
    "smoke": Size(warmup=0.2, seconds=1.0),
}


def _described(stall: Stall | None) -> dict[str, Any] | None:
    if stall is None:
        return None
    return {
        "ms": round(stall.seconds * 1000, 1),
        "cpu_ms": None if stall.busy is None else round(stall.busy * 1000, 1),
        "starved": stall.starved,
        "job": stall.culprit,
        "stack": list(stall.stack[-8:]),
    }


async def _session(size: Size) -> dict[str, Any]:
    async with watched_console(RATE) as (_, peer):
        loop_probe = LoopProbe()
        stalls: list[Stall] = []
        watchdog = StallWatchdog(asyncio.get_running_loop(), on_stall=stalls.append)
        await asyncio.sleep(size.warmup)
        loop_probe.start()
        watchdog.start()
        ticks_before = await in_executor(peer.ticks)
        cpu_before, wall_before = time.process_time(), time.perf_counter()
        await asyncio.sleep(size.seconds)
        cpu = time.process_time() - cpu_before
        wall = time.perf_counter() - wall_before
        ticks = await in_executor(peer.ticks) - ticks_before
        watchdog.stop()
        loop_probe.stop()
    longest = max(stalls, key=lambda s: s.seconds, default=None)
    busiest = max(
        (s for s in stalls if s.busy is not None), key=lambda s: s.busy or 0.0, default=None
    )
    stall_ms = loop_probe.stalls()
    return {
        "ticks_per_s_offered": RATE,
        "ticks_per_s_written": round(ticks / wall),
        "instruments": INSTRUMENTS,
        "seconds": round(wall, 1),
        "loop_stall_ms": summarize(stall_ms, 1000),
        "loop_stall_cpu_ms": summarize(loop_probe.stall_cpu(), 1000),
        "stalls_over_16ms": sum(1 for s in stall_ms if s > FRAME),
        "jobs_over_16ms_of_cpu": loop_probe.cpu_over(FRAME),
        "longest_stall": _described(longest),
        "longest_job": _described(busiest),
        "stalls_by_job": stall_jobs(stalls),
        "console_cpu_share": round(cpu / wall, 3),
        "load_average": machine.load_average(),
    }


def _measure(size: Size) -> dict[str, Any]:
    return run_qasync(lambda: _session(size))


def measure(size_name: str) -> dict[str, Any]:
    result = in_fresh_process(_measure, SIZES[size_name])
    if size_name != "full":
        return result
    return judge_load(
        result, [(result, result["ticks_per_s_offered"], result["ticks_per_s_written"])]
    )


if __name__ == "__main__":
    sys.exit(cli.main(__doc__.splitlines()[0], measure))
