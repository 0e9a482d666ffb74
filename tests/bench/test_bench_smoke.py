"""Every benchmark still runs: each once in its tiny ``smoke`` size through ``python -m bench``,
checked for the result keys the report reads. Figures are not judged: benchmarks are not tests,
and a smoke run's numbers mean nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

_DIST = ("count", "median", "p99", "max")

# The keys each benchmark's result must have; a tuple lists the keys of a nested object.
EXPECTED: dict[str, dict[str, Any]] = {
    "sim_throughput": {
        "throughput": ("messages_per_s", "quote_updates_per_s", "gateway_cpu_share"),
        "depth_throughput": ("messages_per_s", "messages_per_cpu_s", "gateway_cpu_share"),
        "connect_sync": {"connect_ms": _DIST},
    },
    "cold_start": {
        "launch_to_imported_ms": _DIST,
        "launch_to_shown_ms": _DIST,
        "launch_to_painted_ms": _DIST,
        "launch_to_populated_ms": _DIST,
        "cpu_to_painted_ms": _DIST,
    },
    "connect_sync": {"click_to_synced_ms": _DIST, "socket_to_synced_ms": _DIST},
    "click_to_wire": {
        "quiet_click_to_bytes_ms": {
            "qtest": _DIST,
            "posted": _DIST,
            "qtest_cpu_to_bytes": _DIST,
            "qtest_handler_cpu": _DIST,
        },
        "loaded_click_to_bytes_ms": {
            "qtest": _DIST,
            "posted": _DIST,
            "qtest_cpu_to_bytes": _DIST,
            "qtest_handler_cpu": _DIST,
        },
    },
    "tick_latency": {"loads": None},
    "ladder_latency": {
        "depth_to_paint_ms": _DIST,
        "click_to_bytes_ms": {"qtest": _DIST, "posted": _DIST, "qtest_cpu_to_bytes": _DIST},
        "depth_rows_written_per_s": None,
        "loop_stall_ms": _DIST,
    },
    "cpu_per_tick": {
        "clients": dict.fromkeys(
            ("bare_client", "qt_example", "console"),
            ("cpu_s_per_100k_ticks", "ticks", "cpu_seconds"),
        ),
        "console_vs_bare": None,
        "console_vs_qt_example": None,
        "marginal_console_vs_bare": None,
    },
    "memory_growth": {
        "rss_early_mb": None,
        "rss_late_mb": None,
        "growth_percent": None,
        "holdings": dict.fromkeys(
            ("start", "early", "late"),
            ("quote_subscriptions", "asyncio_tasks", "event_handlers", "qt_objects"),
        ),
    },
    "signal_latency": {
        "post_to_202_ms": _DIST,
        "post_to_shown_ms": _DIST,
        "flood": ("posts_per_s", "statuses", "answer_ms"),
        "flood_loop_stall_ms": _DIST,
        "flood_loop_stall_cpu_ms": _DIST,
        "quiet": {"post_to_202_ms": _DIST, "post_to_shown_ms": _DIST},
    },
    "chain_paint": {
        "computation_to_paint_ms": _DIST,
        "option_lines": None,
        "computations_per_s": None,
        "not_painted": None,
    },
    "decode_share": {
        "gui_thread_cpu_ms_per_s": ("total", "decode", "handlers", "other"),
        "slice_decode_ms": _DIST,
        "slice_handlers_ms": _DIST,
        "framing_us_per_message": None,
        "messages_per_s": None,
    },
    "long_session": {
        "loop_stall_ms": _DIST,
        "loop_stall_cpu_ms": _DIST,
        "stalls_over_16ms": None,
        "jobs_over_16ms_of_cpu": None,
        "longest_stall": None,
        "longest_job": None,
        "console_cpu_share": None,
        "seconds": None,
    },
}

_LOAD_KEYS = (
    "tick_to_chart_ms",
    "charted_tick_to_paint_ms",
    "loop_stall_ms",
    "loop_stall_cpu_ms",
    "frame_interval_ms",
    "ticks_not_seen",
)


def _missing(result: Mapping[str, Any], expected: Mapping[str, Any] | tuple[str, ...]) -> list[str]:
    if isinstance(expected, tuple):
        return [key for key in expected if key not in result]
    missing = []
    for key, inner in expected.items():
        if key not in result:
            missing.append(key)
        elif inner is not None:
            missing += [f"{key}.{name}" for name in _missing(result[key], inner)]
    return missing


def _run_bench(tmp_path: Path, *names: str) -> dict[str, Any]:
    out = tmp_path / "results.json"
    command = [sys.executable, "-m", "bench", "--size", "smoke", "--out", str(out), "--only"]
    done = subprocess.run([*command, *names], cwd=ROOT, capture_output=True, text=True, timeout=170)
    assert done.returncode == 0, f"python -m bench failed:\n{done.stderr[-4000:]}"
    results: dict[str, Any] = json.loads(out.read_text())
    return results


@pytest.mark.slow
@pytest.mark.parametrize("name", list(EXPECTED))
def test_benchmark_produces_its_result_keys(name: str, tmp_path: Path) -> None:
    results = _run_bench(tmp_path, name)

    assert _missing(results[name], EXPECTED[name]) == []
    if name == "signal_latency":
        signals = results[name]
        assert signals["signals_accepted"] == signals["signals_posted"] > 0
        assert set(signals["flood"]["statuses"]) == {"401"}
    if name == "tick_latency":
        for load in results[name]["loads"]:
            assert [key for key in _LOAD_KEYS if key not in load] == []
            assert load["tick_to_chart_ms"]["count"] > 0
    if name == "long_session":
        assert results[name]["loop_stall_ms"]["count"] > 0
    if name == "chain_paint":
        assert results[name]["computation_to_paint_ms"]["count"] > 0
        assert results[name]["option_lines"] >= 40


def test_results_file_names_the_machine_and_summarises_each_figure(tmp_path: Path) -> None:
    results = _run_bench(tmp_path, "sim_throughput")

    machine = results["machine"]
    assert machine["cpu_model"]
    assert machine["logical_cpus"] >= 1
    assert machine["commit"]
    rows = {row["what"]: row for row in results["summary"]}
    sim = rows["sim outbound throughput, one core"]
    assert sim["value"] == results["sim_throughput"]["throughput"]["messages_per_s"]
    assert sim["target"] == "≥ 100,000 msg/s"
    assert rows["cold start → first painted window"]["verdict"] == "not measured"


def test_markdown_table_lists_every_figure(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"summary": [], "machine": {}}))
    command = [sys.executable, "-m", "bench", "--markdown", str(results)]

    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "| what | measured | target | verdict |"
    assert (
        "| sim outbound throughput, one core | not measured | ≥ 100,000 msg/s | not measured |"
        in lines
    )
