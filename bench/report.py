"""The one table of results: each figure beside its DESIGN.md section 6 target with a verdict
that says by how much a missed target was missed; and two result files side by side."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from ibconsole.broker.signal_endpoint import THREAD_NAME as ENDPOINT_THREAD

Results = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Row:
    what: str
    measured: str
    value: float | None  # the figure the target judges
    target: str
    verdict: str


@dataclass(frozen=True, slots=True)
class _Figure:
    what: str
    find: Callable[[Results], Any]  # the benchmark's result object, KeyError when absent
    show: Callable[[Any], str]
    judge: Callable[[Any], float | None]
    unit: str = ""
    limit: float | None = None
    at_least: bool = False  # the target is a floor, not a ceiling


def _dist(figures: Mapping[str, Any], unit: str = "ms") -> str:
    if not figures or figures.get("count", 0) == 0:
        return "nothing measured"
    return f"p50 {figures['median']:g} · p99 {figures['p99']:g} · max {figures['max']:g} {unit}"


def _load(results: Results, rate: int) -> Mapping[str, Any]:
    for load in results["tick_latency"]["loads"]:
        if load["ticks_per_s_offered"] == rate:
            return load  # type: ignore[no-any-return]
    raise KeyError(rate)


def _tick_rows() -> list[_Figure]:
    figures = []
    for rate in (500, 2_000, 5_000, 20_000):
        judged = rate == 5_000

        def chart(results: Results, rate: int = rate) -> Any:
            return _load(results, rate)

        figures += [
            _Figure(
                f"tick → chart data, {rate:,}/s over 20",
                chart,
                lambda load: (
                    _dist(load["tick_to_chart_ms"])
                    + f" (ticks written {load['ticks_per_s_written']:,}/s, unseen {load['ticks_not_seen']})"
                ),
                lambda load: load["tick_to_chart_ms"]["p99"],
                "ms",
                16.0 if judged else None,
            ),
            _Figure(
                f"  charted contract: tick → paint, {rate:,}/s",
                chart,
                lambda load: _dist(load["charted_tick_to_paint_ms"]),
                lambda load: load["charted_tick_to_paint_ms"]["p99"],
            ),
            _Figure(
                f"  loop stall, {rate:,}/s",
                chart,
                lambda load: (
                    _dist(load["loop_stall_ms"])
                    + f" (own CPU in stalls: max {_value_text(load['loop_stall_cpu_ms']['max'], ' ms')})"
                ),
                lambda load: load["loop_stall_ms"]["max"],
                "ms",
                16.0 if judged else None,
            ),
            _Figure(
                f"  chart frame interval, {rate:,}/s",
                chart,
                lambda load: (
                    _dist(load["frame_interval_ms"])
                    + f" (console CPU {load['console_cpu_share']:.0%} of a core)"
                ),
                lambda load: load["frame_interval_ms"]["median"],
            ),
        ]
    return figures


def _cpu(results: Results) -> Any:
    return results["cpu_per_tick"]


def _value_text(value: float | None, unit: str = "") -> str:
    """A figure that may be missing: a distribution of no samples, or a CPU reading below
    /proc's 10 ms resolution (no ratio), as short runs give."""
    return "not measured" if value is None else f"{value:g}{unit}"


def _per_100k(cpu: Mapping[str, Any], client: str) -> str:
    return _value_text(cpu["clients"][client]["cpu_s_per_100k_ticks"], " s")


def _cpu_to_bytes(clicks: Mapping[str, Any]) -> str:
    """The loop thread's CPU from a QTest click until its bytes reach the socket (p99)."""
    return _value_text(clicks.get("qtest_cpu_to_bytes", {}).get("p99"), " ms")


def _click(results: Results) -> Any:
    return results["click_to_wire"]


def _click_figure(load: str, how: str) -> _Figure:
    def show(click: Mapping[str, Any]) -> str:
        series = click[f"{load}_click_to_bytes_ms"]
        text = _dist(series[how]) + f" at {click[f'{load}_ticks_per_s']:,g} ticks/s"
        if how == "qtest":
            text += (
                f" (GUI thread CPU click → bytes p99 {_cpu_to_bytes(series)}, whole handler p99 "
                f"{_value_text(series['qtest_handler_cpu']['p99'], ' ms')})"
            )
        return text

    return _Figure(
        f"click Buy → bytes at sim, {load}, {'QTest' if how == 'qtest' else 'posted click'}",
        _click,
        show,
        lambda click: click[f"{load}_click_to_bytes_ms"][how]["p99"],
        "ms",
        5.0 if how == "qtest" else 16.0,
    )


def _ladder(results: Results) -> Any:
    return results["ladder_latency"]


def _ladder_click(how: str) -> _Figure:
    return _Figure(
        f"ladder Bid click → bytes at sim, loaded, {'QTest' if how == 'qtest' else 'posted click'}",
        _ladder,
        lambda ladder: (
            _dist(ladder["click_to_bytes_ms"][how])
            + (
                f" (GUI thread CPU click → bytes p99 {_cpu_to_bytes(ladder)})"
                if how == "qtest"
                else ""
            )
        ),
        lambda ladder: ladder["click_to_bytes_ms"][how]["p99"],
        "ms",
        5.0 if how == "qtest" else 16.0,
    )


def _signals(results: Results) -> Any:
    return results["signal_latency"]


def _signal_rows() -> list[_Figure]:
    return [
        _Figure(
            "signal POST → 202",
            _signals,
            lambda sig: (
                _dist(sig["post_to_202_ms"])
                + f" ({sig['signals_accepted']} of {sig['signals_posted']} signals at "
                f"{sig['ticks_per_s']:,} ticks/s)"
            ),
            lambda sig: sig["post_to_202_ms"]["p99"],
            "ms",
            20.0,
        ),
        _Figure(
            "  signal POST → shown in the inbox",
            _signals,
            lambda sig: _dist(sig["post_to_shown_ms"]) + f" ({sig['signals_shown']} shown)",
            lambda sig: sig["post_to_shown_ms"]["p99"],
            "ms",
            50.0,
        ),
        _Figure(
            "  signal POST → 202 / → shown, market quiet (reference)",
            _signals,
            lambda sig: (
                f"{_dist(sig['quiet']['post_to_202_ms'])} / "
                f"{_dist(sig['quiet']['post_to_shown_ms'])} at {sig['quiet']['ticks_per_s']} ticks/s"
            ),
            lambda sig: sig["quiet"]["post_to_202_ms"]["p99"],
        ),
        _Figure(
            "  loop stall under a flood of bad secrets",
            _signals,
            lambda sig: (
                _dist(sig["flood_loop_stall_ms"])
                + f" (without the flood: max {sig['loop_stall_without_flood_ms']['max']:g} ms;"
                f" {sig['flood']['posts_per_s']:,} POST/s reached, answers "
                f"{sig['flood']['statuses']}, own CPU in stalls: max "
                f"{_value_text(sig['flood_loop_stall_cpu_ms']['max'], ' ms')}; CPU over the "
                f"flood: GUI thread {_value_text(sig['flood']['thread_cpu_ms'].get('gui'), ' ms')}"
                f", endpoint process "
                f"{_value_text(sig['flood']['thread_cpu_ms'].get(ENDPOINT_THREAD), ' ms')})"
            ),
            lambda sig: sig["flood_loop_stall_ms"]["max"],
            "ms",
            16.0,
        ),
    ]


def _session(results: Results) -> Any:
    return results["long_session"]


def _job_text(job: Mapping[str, Any] | None) -> str:
    if job is None:
        return "none over a frame"
    cpu = "" if job["cpu_ms"] is None else f", {job['cpu_ms']:g} ms of it on the CPU"
    return f"{job['ms']:g} ms{cpu}, in {job['job']}"


FIGURES: tuple[_Figure, ...] = (
    *_tick_rows(),
    _Figure(
        "longest GUI-thread job, 10 minutes at 5,000/s (its own CPU)",
        _session,
        lambda session: (
            f"{_value_text(session['loop_stall_cpu_ms']['max'], ' ms')} "
            f"({session['jobs_over_16ms_of_cpu']} jobs over 16 ms of CPU in "
            f"{session['seconds']:g} s; the longest the watchdog named: "
            f"{_job_text(session['longest_job'])})"
        ),
        lambda session: session["loop_stall_cpu_ms"]["max"],
        "ms",
        16.0,
    ),
    _Figure(
        "  loop stall, 10 minutes at 5,000/s (wall time)",
        _session,
        lambda session: (
            _dist(session["loop_stall_ms"])
            + f" ({session['stalls_over_16ms']} over 16 ms; the longest: "
            f"{_job_text(session['longest_stall'])}"
            + (
                ", the loop thread mostly not running"
                if (session["longest_stall"] or {}).get("starved")
                else ""
            )
            + f"; console CPU {session['console_cpu_share']:.0%} of a core)"
        ),
        lambda session: session["loop_stall_ms"]["max"],
        "ms",
        16.0,
    ),
    _Figure(
        "depth update → ladder painted",
        _ladder,
        lambda ladder: (
            _dist(ladder["depth_to_paint_ms"])
            + f" ({ladder['depth_rows_written_per_s']:,} depth rows/s written on the ladder's "
            f"contract, {ladder['ticks_per_s']:,} ticks/s over 20, loop stall max "
            f"{_value_text(ladder['loop_stall_ms']['max'], ' ms')})"
        ),
        lambda ladder: ladder["depth_to_paint_ms"]["p99"],
        "ms",
        33.0,
    ),
    _ladder_click("qtest"),
    _ladder_click("posted"),
    _Figure(
        "console CPU per tick ÷ bare client reader",
        _cpu,
        lambda cpu: (
            f"{_value_text(cpu['console_vs_bare'], '×')} (console {_per_100k(cpu, 'console')}, "
            f"bare {_per_100k(cpu, 'bare_client')} per 100k ticks at {cpu['ticks_per_s']:,}/s)"
        ),
        lambda cpu: cpu["console_vs_bare"],
        "×",
        3.0,
    ),
    _Figure(
        "  marginal CPU per extra tick ÷ bare client reader",
        _cpu,
        lambda cpu: (
            f"{_value_text(cpu['marginal_console_vs_bare'], '×')} (slope {cpu['low_ticks_per_s']:,} → "
            f"{cpu['ticks_per_s']:,}/s: console "
            f"{_value_text(cpu['clients']['console']['marginal_cpu_s_per_100k_ticks'], ' s')}, bare "
            f"{_value_text(cpu['clients']['bare_client']['marginal_cpu_s_per_100k_ticks'], ' s')} per 100k; console "
            f"fixed {_value_text(cpu['clients']['console']['fixed_cpu_share'])} of a core)"
        ),
        lambda cpu: cpu["marginal_console_vs_bare"],
    ),
    _Figure(
        "console CPU per tick ÷ Qt ticker-table example",
        _cpu,
        lambda cpu: (
            f"{_value_text(cpu['console_vs_qt_example'], '×')} "
            f"(Qt example {_per_100k(cpu, 'qt_example')} per 100k ticks)"
        ),
        lambda cpu: cpu["console_vs_qt_example"],
        "×",
        1.0,
    ),
    *(_click_figure(load, how) for load in ("quiet", "loaded") for how in ("qtest", "posted")),
    _Figure(
        "  order round trip: click → commission handled, loop thread CPU",
        lambda results: results["order_round_trip"],
        lambda trip: (
            _dist(trip["round_trip_cpu_ms"])
            + f" ({trip['orders']} market orders, SQL reads an order "
            + f"{trip['sql_per_order'].get('SELECT', 0):g}; idle over the same time p50 "
            + f"{_value_text(trip['idle_cpu_ms']['median'], ' ms')})"
        ),
        lambda trip: trip["round_trip_cpu_ms"]["median"],
    ),
    *_signal_rows(),
    _Figure(
        "Connect click → synced",
        lambda results: results["connect_sync"],
        lambda sync: (
            _dist(sync["click_to_synced_ms"])
            + f" (socket → synced p50 {_value_text(sync['socket_to_synced_ms']['median'], ' ms')})"
        ),
        lambda sync: sync["click_to_synced_ms"]["p99"],
        "ms",
        250.0,
    ),
    _Figure(
        "bare client connectAsync (reference)",
        lambda results: results["sim_throughput"]["connect_sync"],
        lambda sync: _dist(sync["connect_ms"]),
        lambda sync: sync["connect_ms"]["p99"],
    ),
    _Figure(
        "cold start → first painted window",
        lambda results: results["cold_start"],
        lambda cold: (
            _dist(cold["launch_to_painted_ms"])
            + f" (imports done p50 {_value_text(cold['launch_to_imported_ms']['median'], ' ms')})"
        ),
        lambda cold: cold["launch_to_painted_ms"]["median"],
        "ms",
        1000.0,
    ),
    _Figure(
        "  cold start → demo connected and populated",
        lambda results: results["cold_start"],
        lambda cold: _dist(cold["launch_to_populated_ms"]),
        lambda cold: cold["launch_to_populated_ms"]["median"],
    ),
    _Figure(
        "memory growth 10 k → 1 M ticks",
        lambda results: results["memory_growth"],
        lambda memory: (
            f"{memory['growth_percent']:g} % ({memory['rss_early_mb']:g} → "
            f"{memory['rss_late_mb']:g} MB RSS after {memory['early_ticks']:,} → "
            f"{memory['late_ticks']:,} ticks at {memory['ticks_per_s']:,}/s)"
        ),
        lambda memory: memory["growth_percent"],
        "%",
        5.0,
    ),
    _Figure(
        "option computation → chain painted",
        lambda results: results["chain_paint"],
        lambda chain: (
            _dist(chain["computation_to_paint_ms"])
            + f" ({chain['option_lines']} option lines, {chain['computations_per_s']:,} "
            "computations/s)"
        ),
        lambda chain: chain["computation_to_paint_ms"]["p99"],
        "ms",
        100.0,
    ),
    _Figure(
        "sim outbound throughput, one core",
        lambda results: results["sim_throughput"]["throughput"],
        lambda sim: (
            f"{sim['messages_per_s']:,} msg/s ({sim['instruments']} × "
            f"{sim['tick_rate']:g}/s offered, gateway CPU {sim['gateway_cpu_share']:.0%})"
        ),
        lambda sim: sim["messages_per_s"],
        "msg/s",
        100_000.0,
        at_least=True,
    ),
    _Figure(
        "sim outbound depth throughput, one core",
        lambda results: results["sim_throughput"]["depth_throughput"],
        lambda sim: (
            f"{sim['messages_per_s']:,} msg/s ({sim['instruments']} books × "
            f"{sim['depth_rate']:g} changes/s offered, {sim['rows']} rows, "
            f"gateway CPU {sim['gateway_cpu_share']:.0%})"
        ),
        lambda sim: sim["messages_per_s"],
        "msg/s",
        100_000.0,
        at_least=True,
    ),
)


def _amount(number: float, unit: str) -> str:
    text = f"{number:,.0f}" if abs(number) >= 1000 else f"{number:.3g}"
    return f"{text}{unit}" if unit in ("×", "%") else f"{text} {unit}".strip()


def _verdict(figure: _Figure, value: float | None) -> tuple[str, str]:
    if figure.limit is None:
        return "—", "—"
    relation = "≥" if figure.at_least else "≤"
    target = f"{relation} {_amount(figure.limit, figure.unit)}"
    if value is None:
        return target, "not measured"
    if value >= figure.limit if figure.at_least else value <= figure.limit:
        return target, "met"
    if figure.at_least:
        short = _amount(figure.limit - value, figure.unit)
        return target, f"MISSED: {short} short ({figure.limit / max(value, 1e-9):.1f}× below)"
    over = _amount(value - figure.limit, figure.unit)
    return target, f"MISSED: {over} over ({value / figure.limit:.1f}× the target)"


def rows(results: Results) -> list[Row]:
    table = []
    for figure in FIGURES:
        try:
            found = figure.find(results)
        except (KeyError, TypeError):
            found = None
        if found is None or (isinstance(found, Mapping) and "error" in found):
            target, _ = _verdict(figure, None)
            table.append(Row(figure.what, "not measured", None, target, "not measured"))
            continue
        value = figure.judge(found)
        target, verdict = _verdict(figure, value)
        table.append(Row(figure.what, figure.show(found), value, target, verdict))
    return table


def as_dicts(table: list[Row]) -> list[dict[str, Any]]:
    return [asdict(row) for row in table]


def render(table: list[Row]) -> str:
    headers = ("what", "measured", "target", "verdict")
    cells = [headers, *((r.what, r.measured, r.target, r.verdict) for r in table)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for index, row in enumerate(cells):
        lines.append(" | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if index == 0:
            lines.append("-+-".join("-" * width for width in widths))
    return "\n".join(lines)


def render_markdown(table: list[Row]) -> str:
    lines = ["| what | measured | target | verdict |", "|---|---|---|---|"]
    lines += [f"| {r.what.strip()} | {r.measured} | {r.target} | {r.verdict} |" for r in table]
    return "\n".join(lines)


def compare(old: Results, new: Results) -> str:
    """The same figures from two result files, side by side (same machine, two commits)."""
    before = {row["what"]: row for row in old.get("summary", [])}
    lines = []
    for row in new.get("summary", []):
        earlier = before.get(row["what"])
        lines.append(f"{row['what']}\n    old: {earlier['measured'] if earlier else '—'}")
        lines.append(f"    new: {row['measured']}")
    machine_old, machine_new = old.get("machine", {}), new.get("machine", {})
    if machine_old.get("cpu_model") != machine_new.get("cpu_model"):
        lines.append("warning: the two files come from different CPUs; compare on one machine")
    return "\n".join(lines)
