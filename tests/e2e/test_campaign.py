"""The fault campaign and the soak, short: ``bench.chaos`` runs 20 seeded scenarios of trading
under faults (``make chaos`` runs 2,000) and ``bench.soak`` 20 seconds of trading with two daily
restarts (``make soak`` ten minutes). Each runs in a process of its own, as the make targets do.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = 20
KINDS = ("ticket", "roll", "ladder", "spread", "option", "signal")
KIND_LINE = re.compile(
    r"^kind (\w+) scenarios (\d+) faults (\d+) orders (\d+) signals (\d+) failed (\d+)$"
)
TALLY = re.compile(
    r"^scenarios (\d+) faults (\d+) orders (\d+) lost (\d+) duplicated (\d+) "
    r"mismatches (\d+) crashes (\d+)$"
)
# The soak's figures after its first and its last daily restart: memory may wander this much.
RSS_SLACK_MIB = 4.0


def _run(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.slow
def test_a_short_campaign_loses_nothing_and_sends_nothing_twice() -> None:
    run = _run("bench.chaos", f"--scenarios={SCENARIOS}", timeout=240)

    lines = run.stdout.strip().splitlines()
    tally = TALLY.match(lines[-1]) if lines else None
    assert tally is not None, f"no tally line:\n{run.stdout}\n{run.stderr}"
    scenarios, faults, orders, lost, duplicated, mismatches, crashes = map(int, tally.groups())
    # a failing scenario printed its seed, what went wrong and the command that replays it
    assert (lost, duplicated, mismatches, crashes) == (0, 0, 0, 0), run.stdout
    assert run.returncode == 0, run.stdout
    assert scenarios == SCENARIOS
    assert faults >= SCENARIOS, "faults were injected"
    assert orders >= 5 * SCENARIOS, "orders were entered"
    # every kind is named with its own counts, and the first 20 seeds draw each of them
    kinds = {m[1]: tuple(map(int, m.groups()[1:])) for m in map(KIND_LINE.match, lines) if m}
    assert set(kinds) == set(KINDS), run.stdout
    assert sum(k[0] for k in kinds.values()) == SCENARIOS
    assert all(k[0] > 0 and k[2] > 0 and k[4] == 0 for k in kinds.values()), kinds
    assert kinds["signal"][3] > 0, "signals were acknowledged"


@pytest.mark.slow
def test_the_soak_stays_flat_and_reconnects_after_every_daily_restart() -> None:
    run = _run("bench.soak", "--seconds=20", "--restarts=2", "--json", timeout=120)

    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}"
    report = json.loads(run.stdout)
    assert report["crashes"] == []
    assert report["restarts"] == report["reconnects"] == 2
    assert report["orders"] > 0
    assert report["fills"] > 0
    start, end = report["start"], report["end"]
    for held in ("tasks", "quote_streams", "bar_streams", "tickers", "handlers"):
        assert end[held] == start[held], (held, start, end)
    assert (start["quote_streams"], start["bar_streams"]) == (3, 2)
    assert end["rss_mib"] - start["rss_mib"] <= RSS_SLACK_MIB, (start, end)
