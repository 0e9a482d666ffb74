"""Tick → chart, loop stalls and frames: the console under 20 instruments' quotes at several total
rates, each against a fresh simulator process and a fresh console.

For every tick the simulator writes (stamped in the simulator as it queues the frames), the
latency is the time until a slot connected after the chart's on the bridge's
``sig_quotes_updated`` sees ib_insync's ticker in the state that tick left it in: the chart then
holds it (DESIGN.md section 6 "tick → pixels"). Ticks coalesced into one network read are held
together, each measured from its own write. For the charted contract it also measures, for each
tick that moves one of the chart's quote lines (bid, ask, last), until the chart's plot next
receives a paint event (the pixels). A 2 ms precise Qt timer measures the loop's stalls (and how
much of each was the console's own CPU work), the stall watchdog names the jobs that held the loop
longer than a frame, and paint events of the plot give the frame intervals. The console's CPU time
per written tick is the figure to compare across runs on a loaded machine: latencies there include
the time the loop waited for a core.
"""

from __future__ import annotations

import asyncio
import bisect
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtWidgets import QGraphicsView

from bench import cli, machine
from bench.console_rig import in_fresh_process, run_qasync, tickers_by_con_id, watched_console
from bench.peer import INSTRUMENTS, TickKey, in_executor, judge_load
from bench.probes import DeliveryProbe, LoopProbe, PaintProbe
from bench.summary import summarize
from ibconsole.stall_watchdog import FRAME, Stall, StallWatchdog

# Total ticks per second over the 20 instruments.
RATES = (500, 2_000, 5_000, 20_000)


@dataclass(frozen=True, slots=True)
class Size:
    rates: tuple[int, ...]
    warmup: float
    seconds: float
    grace: float  # how long to keep watching after the last logged tick, for those in flight


SIZES = {
    "full": Size(RATES, warmup=2.0, seconds=10.0, grace=1.0),
    "smoke": Size((500,), warmup=0.2, seconds=0.5, grace=0.3),
}


@dataclass(frozen=True, slots=True)
class Match:
    """The simulator ticks the console was seen holding, per instrument, and how many never were."""

    latencies: dict[int, list[tuple[float, float]]]  # conId -> (written, held) per matched tick
    unmatched_ticks: int


def match(
    written: Sequence[tuple[int, float, TickKey]], held: Sequence[tuple[int, float, TickKey]]
) -> Match:
    """Pair the console's views with the simulator's ticks, per instrument and in order.

    A view matches the first not yet held tick with the same key written before it; every
    earlier unheld tick of that instrument is held by then too (it was coalesced into the view).
    """
    sim: dict[int, list[tuple[float, TickKey]]] = defaultdict(list)
    for con_id, at, key in written:
        sim[con_id].append((at, key))
    views: dict[int, list[tuple[float, TickKey]]] = defaultdict(list)
    for con_id, at, key in held:
        views[con_id].append((at, key))
    latencies: dict[int, list[tuple[float, float]]] = defaultdict(list)
    unmatched_ticks = 0
    for con_id, ticks in sim.items():
        first_unheld = 0
        for seen_at, key in views.get(con_id, ()):
            found = -1
            index = first_unheld
            while index < len(ticks) and ticks[index][0] <= seen_at:
                if ticks[index][1] == key:
                    found = index
                    break
                index += 1
            if found < 0:
                continue  # a view of ticks written before the log started
            for written_at, _ in ticks[first_unheld : found + 1]:
                latencies[con_id].append((written_at, seen_at))
            first_unheld = found + 1
        unmatched_ticks += len(ticks) - first_unheld
    return Match(dict(latencies), unmatched_ticks)


def _visible_ticks(written: Sequence[tuple[int, float, TickKey]], con_id: int) -> set[float]:
    """Stamps of the ticks of ``con_id`` that move its chart's bid, ask or last line. Sizes are not
    drawn, and volume reaches the chart with the bar stream's own updates, not with quotes."""
    visible: set[float] = set()
    previous: tuple[float, ...] | None = None
    for tick_con_id, at, key in written:
        if tick_con_id != con_id:
            continue
        drawn = (key[0], key[2], key[4])
        if drawn != previous:
            visible.add(at)
        previous = drawn
    return visible


async def _one_rate(total_rate: int, size: Size) -> dict[str, Any]:
    async with watched_console(total_rate) as (console, peer):
        chart = console.window.chart
        charted = chart.contract
        if charted is None:
            raise RuntimeError("the chart shows no contract")
        plot = chart.findChild(QGraphicsView)
        if plot is None:
            raise RuntimeError("the chart has no plot view")
        tickers = tickers_by_con_id(console)
        deliveries = DeliveryProbe(console.bridge, tickers)
        paints = PaintProbe(plot.viewport())
        loop_probe = LoopProbe()
        stalls: list[Stall] = []
        watchdog = StallWatchdog(asyncio.get_running_loop(), on_stall=stalls.append)
        await asyncio.sleep(size.warmup)

        deliveries.start()
        paints.start()
        loop_probe.start()
        watchdog.start()
        ticks_before = await in_executor(peer.ticks)
        await in_executor(peer.start_log)
        cpu_before, wall_before = time.process_time(), time.perf_counter()
        await asyncio.sleep(size.seconds)
        written = await in_executor(peer.stop_log)
        cpu = time.process_time() - cpu_before
        wall = time.perf_counter() - wall_before
        ticks = await in_executor(peer.ticks) - ticks_before
        watchdog.stop()
        loop_probe.stop()
        paints.stop()
        await asyncio.sleep(size.grace)
        deliveries.stop()

    # The quiet lines the console opened after the probe (the chain's options) tick too; they
    # are not what is measured, and counting them unseen would hide a watched one that is.
    matched = match([tick for tick in written if tick[0] in tickers], deliveries.held)
    all_latencies = [seen - sent for pairs in matched.latencies.values() for sent, seen in pairs]
    chart_pairs = matched.latencies.get(charted.con_id, [])
    shown = _visible_ticks(written, charted.con_id)
    to_paint = []
    for sent, seen in chart_pairs:
        if sent not in shown:
            continue
        index = bisect.bisect_left(paints.paints, seen)
        if index < len(paints.paints):
            to_paint.append(paints.paints[index] - sent)
    frames = [b - a for a, b in zip(paints.paints, paints.paints[1:], strict=False)]
    return {
        "ticks_per_s_offered": total_rate,
        "ticks_per_s_written": round(ticks / wall),
        "instruments_ticking": len({con_id for con_id, _, _ in written}),
        "instruments": INSTRUMENTS,
        "seconds": round(wall, 2),
        "ticks_written": len(written),
        "ticks_held": len(all_latencies),
        "ticks_not_seen": matched.unmatched_ticks,
        "quote_batches": deliveries.batches,
        "tick_to_chart_ms": summarize(all_latencies, 1000),
        "charted_contract": charted.local_symbol,
        "charted_tick_to_chart_ms": summarize([seen - sent for sent, seen in chart_pairs], 1000),
        "charted_tick_to_paint_ms": summarize(to_paint, 1000),
        "loop_stall_ms": summarize(loop_probe.stalls(), 1000),
        "loop_stall_cpu_ms": summarize(loop_probe.stall_cpu(), 1000),
        "loop_stalls_over_16ms_of_cpu": loop_probe.cpu_over(FRAME),
        "frame_interval_ms": summarize(frames, 1000),
        "console_cpu_share": round(cpu / wall, 3),
        "console_cpu_us_per_tick": round(cpu / ticks * 1e6, 1) if ticks else None,
        "stalls_over_16ms": stall_jobs(stalls),
        "load_average": machine.load_average(),
    }


def stall_jobs(stalls: Sequence[Stall]) -> list[dict[str, Any]]:
    """What held the loop longer than a frame, most often first; a starved stall is one where the
    loop thread mostly did not run (no core free for it), not a slow job."""
    return [
        {
            "job": job,
            "count": count,
            "starved": sum(1 for s in stalls if s.culprit == job and s.starved),
            "longest_ms": round(max(s.seconds for s in stalls if s.culprit == job) * 1000, 1),
        }
        for job, count in Counter(s.culprit for s in stalls).most_common(5)
    ]


def _measure_rate(rate: int, size: Size) -> dict[str, Any]:
    return run_qasync(lambda: _one_rate(rate, size))


def measure(size_name: str) -> dict[str, Any]:
    size = SIZES[size_name]
    loads = [in_fresh_process(_measure_rate, rate, size) for rate in size.rates]
    if size_name != "full":
        return {"loads": loads}
    # A smoke run's window holds a few timer firings: too few to judge its rate by.
    runs = [(load, load["ticks_per_s_offered"], load["ticks_per_s_written"]) for load in loads]
    return judge_load({"loads": loads}, runs)


if __name__ == "__main__":
    sys.exit(cli.main(__doc__.splitlines()[0], measure))
