"""Frame timers take turns: two views whose redraws fall due together redraw on two turns of the
loop, so their updates and their paints are two jobs, not one."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, QTimer

from ibconsole.ui.frame_timer import FrameTimer


async def test_two_frame_timers_due_together_run_on_distinct_loop_turns(
    qtbot: Any, wait_for: Any
) -> None:
    owner = QObject()
    runs: list[str] = []
    next_turn: list[bool] = []  # a zero timer the first run starts: it runs on the next turn

    def first() -> None:
        runs.append("first")
        QTimer.singleShot(0, lambda: next_turn.append(True))

    def second() -> None:
        runs.append(f"second, next turn begun: {bool(next_turn)}")

    timers = (FrameTimer(owner, first), FrameTimer(owner, second))
    for timer in timers:
        timer.request()

    await wait_for(lambda: len(runs) == 2, what="both redraws")
    assert runs == ["first", "second, next turn begun: True"]


async def test_a_frame_timer_alone_runs_at_once_and_once(qtbot: Any, wait_for: Any) -> None:
    owner = QObject()
    runs: list[int] = []
    timer = FrameTimer(owner, lambda: runs.append(1))
    ran: list[int] = []
    timer.sig_ran.connect(lambda: ran.append(1))
    timer.request()
    timer.request()  # joins the pending run

    await wait_for(lambda: ran, what="the redraw")
    assert runs == [1]
