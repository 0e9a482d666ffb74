"""The order round-trip benchmark still runs (its tiny ``smoke`` size) and gives the keys a
report reads; its figures mean nothing at that size and are not judged."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_DIST = {"count", "median", "p99", "max"}


@pytest.mark.slow
def test_the_order_round_trip_benchmark_gives_cpu_and_statements_per_order(
    tmp_path: Path,
) -> None:
    out = tmp_path / "order_round_trip.json"
    command = [sys.executable, "-m", "bench.order_round_trip", "--size", "smoke", "--json"]
    done = subprocess.run(
        [*command, str(out)], cwd=ROOT, capture_output=True, text=True, timeout=170
    )
    assert done.returncode == 0, done.stderr[-4000:]
    results = json.loads(out.read_text())
    assert results["orders"] == 2
    assert set(results["round_trip_cpu_ms"]) == _DIST
    assert set(results["idle_cpu_ms"]) == _DIST
    assert results["round_trip_cpu_ms"]["count"] == 2
    assert results["sql_per_order"]["INSERT"] > 0  # each order's events were written
