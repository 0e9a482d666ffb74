"""The results table survives figures a short run cannot give: a client whose CPU stayed below
/proc's 10 ms resolution has no per-tick figure, and the table says so instead of failing."""

from __future__ import annotations

from typing import Any

from bench import report


def _client(per_100k: float | None, marginal: float | None) -> dict[str, Any]:
    return {
        "cpu_s_per_100k_ticks": per_100k,
        "marginal_cpu_s_per_100k_ticks": marginal,
        "fixed_cpu_share": None if marginal is None else 0.05,
    }


def _cpu_results(bare_per_100k: float | None) -> dict[str, Any]:
    ratio = None if bare_per_100k is None else round(4.0 / bare_per_100k, 2)
    return {
        "cpu_per_tick": {
            "ticks_per_s": 500,
            "low_ticks_per_s": 200,
            "clients": {
                "console": _client(4.0, None),
                "bare_client": _client(bare_per_100k, None),
                "qt_example": _client(2.0, None),
            },
            "console_vs_bare": ratio,
            "console_vs_qt_example": 2.0,
            "marginal_console_vs_bare": None,
        }
    }


def _row(table: list[report.Row], what: str) -> report.Row:
    return next(row for row in table if row.what.strip() == what)


def test_a_ratio_below_the_cpu_clock_resolution_is_reported_as_not_measured() -> None:
    table = report.rows(_cpu_results(bare_per_100k=None))

    row = _row(table, "console CPU per tick ÷ bare client reader")
    assert row.value is None
    assert row.verdict == "not measured"
    assert row.measured.startswith("not measured (console 4 s, bare not measured")
    marginal = _row(table, "marginal CPU per extra tick ÷ bare client reader")
    assert marginal.measured.startswith("not measured (slope 200 → 500/s")


def test_a_measured_ratio_is_judged_against_its_target() -> None:
    table = report.rows(_cpu_results(bare_per_100k=1.0))

    row = _row(table, "console CPU per tick ÷ bare client reader")
    assert row.value == 4.0
    assert row.measured.startswith("4× (console 4 s, bare 1 s per 100k ticks at 500/s)")
    assert row.verdict == "MISSED: 1× over (1.3× the target)"
    example = _row(table, "console CPU per tick ÷ Qt ticker-table example")
    assert (example.value, example.target) == (2.0, "≤ 1×")
    assert example.verdict == "MISSED: 1× over (2.0× the target)"


def test_a_load_that_measured_nothing_is_reported_as_such() -> None:
    empty = {"count": 0, "median": None, "p99": None, "max": None}
    load = {
        "ticks_per_s_offered": 5_000,
        "ticks_per_s_written": 0,
        "ticks_not_seen": 0,
        "console_cpu_share": 0.0,
        **dict.fromkeys(
            (
                "tick_to_chart_ms",
                "charted_tick_to_paint_ms",
                "loop_stall_ms",
                "loop_stall_cpu_ms",
                "frame_interval_ms",
            ),
            empty,
        ),
    }
    table = report.rows({"tick_latency": {"loads": [load]}})

    stall = _row(table, "loop stall, 5,000/s")
    assert stall.measured == "nothing measured (own CPU in stalls: max not measured)"
    assert stall.verdict == "not measured"


def test_the_long_session_is_judged_by_its_longest_job_s_cpu_and_by_its_longest_stall() -> None:
    def dist(most: float) -> dict[str, float]:
        return {"count": 300_000, "median": 0.1, "p99": 3.0, "max": most}

    session = {
        "seconds": 600.0,
        "loop_stall_ms": dist(46.0),
        "loop_stall_cpu_ms": dist(9.5),
        "stalls_over_16ms": 12,
        "jobs_over_16ms_of_cpu": 0,
        "longest_stall": {
            "ms": 46.0,
            "cpu_ms": 4.0,
            "starved": True,
            "job": "ibconsole/ui/ladder/view.py:90 in paintEvent",
            "stack": [],
        },
        "longest_job": {
            "ms": 12.0,
            "cpu_ms": 9.5,
            "starved": False,
            "job": "ibconsole/ui/charts.py:300 in _repaint",
            "stack": [],
        },
        "console_cpu_share": 0.47,
    }
    table = report.rows({"long_session": session})

    job = _row(table, "longest GUI-thread job, 10 minutes at 5,000/s (its own CPU)")
    assert (job.value, job.target, job.verdict) == (9.5, "≤ 16 ms", "met")
    assert "0 jobs over 16 ms of CPU in 600 s" in job.measured
    assert (
        "12 ms, 9.5 ms of it on the CPU, in ibconsole/ui/charts.py:300 in _repaint" in job.measured
    )
    stall = _row(table, "loop stall, 10 minutes at 5,000/s (wall time)")
    assert (stall.value, stall.verdict) == (46.0, "MISSED: 30 ms over (2.9× the target)")
    assert "12 over 16 ms" in stall.measured
    assert "the loop thread mostly not running" in stall.measured
