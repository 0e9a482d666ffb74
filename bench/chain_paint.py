"""Option computation → chain painted: the options chain dock of the console showing 21 strikes
(42 option lines) of the ES front month's options, against a simulator process streaming quotes
and IB's option computations for each.

For every option computation the console receives (the broker's ``greeks_updated``, stamped as
ib_async hands it over), the latency runs until the chain table's viewport next receives a paint
event after the model announced that computation's row changed (``dataChanged``), i.e. the new
greeks reached pixels (DESIGN.md section 6, target p99 ≤ 100 ms with 40 option lines).
"""

from __future__ import annotations

import asyncio
import bisect
import sys
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QModelIndex

from bench import cli, machine
from bench.console_rig import close_console, open_console, run_qasync, wait_until
from bench.peer import Peer
from bench.probes import LoopProbe, PaintProbe
from bench.summary import summarize
from ibconsole.domain.option_chain import Greeks
from ibconsole.stall_watchdog import Stall, StallWatchdog

STRIKES = 21  # the default window: ten strikes each side of the money


@dataclass(frozen=True, slots=True)
class Size:
    tick_rate: float  # quote updates per second per subscribed instrument, options included
    warmup: float
    seconds: float
    grace: float


SIZES = {
    "full": Size(tick_rate=4.0, warmup=2.0, seconds=30.0, grace=0.5),
    "smoke": Size(tick_rate=4.0, warmup=0.2, seconds=1.0, grace=0.3),
}


def _painted(
    arrivals: list[tuple[float, int]],
    changes: list[tuple[float, int, int]],
    paints: list[float],
) -> tuple[list[float], int]:
    """Latency from each computation's arrival to the first paint after a ``dataChanged`` that
    covers its row; and how many were never painted within the run."""
    change_times = [at for at, _, _ in changes]
    latencies: list[float] = []
    missed = 0
    for arrived, row in arrivals:
        index = bisect.bisect_left(change_times, arrived)
        while index < len(changes) and not changes[index][1] <= row <= changes[index][2]:
            index += 1
        if index == len(changes):
            missed += 1
            continue
        paint = bisect.bisect_left(paints, changes[index][0])
        if paint == len(paints):
            missed += 1
            continue
        latencies.append(paints[paint] - arrived)
    return latencies, missed


async def _run(size: Size) -> dict[str, Any]:
    # Every option of the chain at the same rate as its future, as this benchmark has measured it.
    peer = Peer.start(tick_rate=size.tick_rate, quiet_share=None)
    try:
        console = await open_console(peer.port)
        try:
            window = console.window
            window.docks["optionChain"].raise_()
            panel = window.option_chain
            market = console.broker.market

            def ready() -> bool:
                table = panel.table
                return (
                    table is not None
                    and len(table) == STRIKES
                    and all(market.greeks(c.con_id) is not None for c in table.contracts)
                )

            await wait_until(ready, "the chain with greeks")
            table = panel.table
            assert table is not None
            arrivals: list[tuple[float, int]] = []
            changes: list[tuple[float, int, int]] = []
            recording = False

            def on_greeks(computed: tuple[tuple[int, Greeks], ...]) -> None:
                if not recording or panel.table is not table:
                    return
                now = time.perf_counter()
                for con_id, _ in computed:
                    row = table.row_of(con_id)
                    if row is not None:
                        arrivals.append((now, row))

            def on_changed(top: QModelIndex, bottom: QModelIndex) -> None:
                if recording:
                    changes.append((time.perf_counter(), top.row(), bottom.row()))

            market.greeks_updated += on_greeks
            panel.model.dataChanged.connect(on_changed)
            paints = PaintProbe(panel.view.viewport())
            loop_probe = LoopProbe()
            stalls: list[Stall] = []
            watchdog = StallWatchdog(
                asyncio.get_running_loop(), threshold=0.05, on_stall=stalls.append
            )
            await asyncio.sleep(size.warmup)
            recording = True
            paints.start()
            loop_probe.start()
            watchdog.start()
            cpu_before, wall_before = time.process_time(), time.perf_counter()
            await asyncio.sleep(size.seconds)
            recording = False
            cpu = time.process_time() - cpu_before
            wall = time.perf_counter() - wall_before
            watchdog.stop()
            loop_probe.stop()
            await asyncio.sleep(size.grace)
            paints.stop()
            market.greeks_updated -= on_greeks
            recentred = panel.table is not table
            option_lines = len(table.contracts)
            lines_in_use = market.lines_in_use
        finally:
            await close_console(console)
    finally:
        peer.stop()
    latencies, missed = _painted(arrivals, changes, paints.paints)
    return {
        "option_lines": option_lines,
        "lines_in_use": lines_in_use,
        "tick_rate": size.tick_rate,
        "seconds": round(wall, 2),
        "computations": len(arrivals),
        "computations_per_s": round(len(arrivals) / wall),
        "not_painted": missed,
        "recentred": recentred,
        "computation_to_paint_ms": summarize(latencies, 1000),
        "loop_stall_ms": summarize(loop_probe.stalls(), 1000),
        # What held the loop for 50 ms or more, most often first: where the tail comes from; a
        # starved stall is one where the loop thread mostly did not run (no CPU for it).
        "stalls_over_50ms": [
            {
                "job": job,
                "count": count,
                "starved": sum(1 for s in stalls if s.culprit == job and s.starved),
                "longest_ms": round(max(s.seconds for s in stalls if s.culprit == job) * 1000, 1),
            }
            for job, count in Counter(s.culprit for s in stalls).most_common(5)
        ],
        "console_cpu_share": round(cpu / wall, 3),
        "load_average": machine.load_average(),
    }


def measure(size_name: str) -> dict[str, Any]:
    size = SIZES[size_name]
    return run_qasync(lambda: _run(size))


if __name__ == "__main__":
    sys.exit(cli.main(__doc__.splitlines()[0], measure))
