"""The stall watchdog names the job that held the event loop longer than a frame."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest

import ibconsole
from ibconsole.stall_watchdog import QT_ITSELF, Stall, StallWatchdog, _culprit

_PACKAGE = Path(ibconsole.__file__).resolve().parent


def _hold_the_loop(seconds: float) -> None:
    """A job that keeps the loop busy, as a long repaint or a slow handler would."""
    until = time.perf_counter() + seconds
    while time.perf_counter() < until:
        pass


@pytest.mark.expect_log_warnings
async def test_a_stall_is_reported_with_the_job_that_held_the_loop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loop = asyncio.get_running_loop()
    reported = asyncio.Event()
    stalls: list[Stall] = []

    def seen(stall: Stall) -> None:
        stalls.append(stall)
        loop.call_soon_threadsafe(reported.set)

    watchdog = StallWatchdog(loop, on_stall=seen)
    watchdog.start()
    try:
        with caplog.at_level(logging.WARNING, logger="ibconsole.stall_watchdog"):
            loop.call_soon(_hold_the_loop, 0.1)
            await asyncio.wait_for(reported.wait(), 10)
    finally:
        watchdog.stop()
    stall = stalls[0]
    assert "_hold_the_loop" in stall.culprit
    # The beat is posted some time after the job began (an interval, or later when the GIL
    # keeps the watchdog's thread waiting), so the lateness is only known to exceed a frame.
    assert stall.seconds > 0.016
    assert stall.samples > 0
    if stall.busy is not None:  # the job spins: the loop was on the CPU, not starved
        assert stall.busy > 0
    assert watchdog.count >= 1
    assert watchdog.longest is not None
    assert watchdog.longest.seconds >= stall.seconds
    assert any("event loop late by" in r.getMessage() for r in caplog.records)
    assert any("_hold_the_loop" in r.getMessage() for r in caplog.records)


def test_the_culprit_is_the_innermost_console_frame() -> None:
    stack = (
        "/usr/lib/python3/asyncio/events.py:84 in _run",
        f"{_PACKAGE}/ui/charts.py:312 in _repaint",
        f"{_PACKAGE}/domain/bars.py:40 in merge",
        "/venv/pyqtgraph/graphicsItems/PlotDataItem.py:900 in setData",
    )
    assert _culprit(stack) == "ibconsole/domain/bars.py:40 in merge"


def test_without_a_console_frame_the_innermost_frame_is_named() -> None:
    stack = ("/usr/lib/python3/asyncio/events.py:84 in _run", "/venv/qt/core.py:1 in paint")
    assert _culprit(stack) == "/venv/qt/core.py:1 in paint"
    assert _culprit(()) == "an unknown job"


def test_a_stall_inside_qt_s_own_loop_is_named_as_qt() -> None:
    stack = (
        f"{_PACKAGE}/app.py:435 in main",
        "/venv/lib/python3.11/site-packages/qasync/__init__.py:404 in run_forever",
    )
    assert _culprit(stack) == QT_ITSELF


def test_a_stall_describes_itself_in_one_block() -> None:
    stall = Stall(
        0.104, 0.1, "ibconsole/ui/charts.py:312 in _repaint", ("a:1 in f", "b:2 in g"), 88
    )
    assert not stall.starved
    assert stall.describe() == (
        "event loop late by 104 ms, 100 ms of it on the CPU, held by "
        "ibconsole/ui/charts.py:312 in _repaint (88 samples)\n"
        "  a:1 in f\n  b:2 in g"
    )


def test_a_stall_mostly_off_the_cpu_is_a_starved_loop() -> None:
    assert Stall(0.2, 0.01, "x", (), 3).starved
    assert not Stall(0.2, None, "x", (), 3).starved  # unmeasured: not claimed


async def test_stop_from_the_held_loop_returns_while_a_beat_is_overdue() -> None:
    loop = asyncio.get_running_loop()
    watchdog = StallWatchdog(loop)
    watchdog.start()
    stopped: list[bool] = []

    def hold_then_stop() -> None:
        _hold_the_loop(0.1)  # a beat is overdue now: the watchdog is sampling the stack
        watchdog.stop()  # the loop cannot run the beat: stop must not wait for it
        stopped.append(True)

    done = loop.create_future()
    loop.call_soon(lambda: (hold_then_stop(), done.set_result(None)))
    await asyncio.wait_for(done, 10)
    assert stopped == [True]
