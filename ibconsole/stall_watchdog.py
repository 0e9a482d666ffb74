"""A watchdog for the event loop: when the loop is late by more than a frame, it names the job.

A thread asks the loop for a beat (``call_soon_threadsafe``) every few milliseconds. While a
beat is overdue the thread samples the loop thread's stack; when the beat finally runs, a stall
longer than the threshold is logged once, at WARNING, with the job that held the loop (the
innermost console frame of the stack seen most often), that stack, and how much of the wait
the loop thread spent on the CPU: a stall mostly off the CPU is a starved loop (a busy machine,
a blocking call), not a slow job. Qt painting, socket
decoding and asyncio callbacks all run on that one thread, so every kind of stall shows.

Off by default: ``--log-level DEBUG`` and the benchmarks turn it on. Its cost while on is one
posted callback per interval and a stack sample per millisecond of stall.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

__all__ = ["Stall", "StallWatchdog"]

log = logging.getLogger(__name__)

FRAME = 0.016  # one frame at 60 Hz: the longest a job may hold the loop
_PACKAGE = str(Path(__file__).resolve().parent)


@dataclass(frozen=True, slots=True)
class Stall:
    """One late beat: how late the loop ran it, what held the loop, and the stack seen most often.

    The job began at most one interval before the beat was posted, so it held the loop for
    ``seconds`` and up to one interval more.
    """

    seconds: float
    busy: float | None  # CPU time the loop thread used meanwhile; None where unmeasurable
    culprit: str  # "file.py:line in function", the innermost console frame of the stack
    stack: tuple[str, ...]  # outermost first, one "file:line in function" per frame
    samples: int  # stack samples taken while the beat was overdue

    @property
    def starved(self) -> bool:
        """The loop thread was mostly not running: waiting for a CPU, or blocked in a call."""
        return self.busy is not None and self.busy < self.seconds / 2

    def describe(self) -> str:
        busy = "" if self.busy is None else f", {self.busy * 1000:.0f} ms of it on the CPU"
        return (
            f"event loop late by {self.seconds * 1000:.0f} ms{busy}, held by {self.culprit} "
            f"({self.samples} samples)\n  " + "\n  ".join(self.stack)
        )


def _frames(frame: FrameType | None) -> tuple[str, ...]:
    """The stack from ``frame`` outwards, outermost first, read from the frame objects alone:
    no source lines, so nothing is read or imported on the watchdog's thread (PySide6's import
    hook is not safe to enter from a second thread)."""
    lines: list[str] = []
    while frame is not None:
        code = frame.f_code
        lines.append(f"{code.co_filename}:{frame.f_lineno} in {code.co_name}")
        frame = frame.f_back
    return tuple(reversed(lines))


# The innermost frame while Qt's own event loop runs C++ (painting, layout, event delivery)
# between Python callbacks: qasync's run_forever is inside QApplication.exec().
_QT_EXEC = "in run_forever"
QT_ITSELF = "Qt itself (painting, layout or event delivery: no Python code was running)"


def _culprit(stack: tuple[str, ...]) -> str:
    if stack and "qasync" in stack[-1] and stack[-1].endswith(_QT_EXEC):
        return QT_ITSELF
    own = [line for line in stack if line.startswith(_PACKAGE) and __file__ not in line]
    chosen = own[-1] if own else (stack[-1] if stack else "an unknown job")
    return chosen.removeprefix(str(Path(_PACKAGE).parent) + "/")


def _thread_cpu_clock(thread: int) -> int | None:
    """The CPU-time clock of a thread where the platform has one (Linux; not macOS, Windows)."""
    try:
        return time.pthread_getcpuclockid(thread)
    except (AttributeError, OSError):
        return None


class StallWatchdog:
    """``start()`` on the loop's thread; ``stop()`` before the loop closes.

    ``longest`` and ``count`` summarise the session for a benchmark; ``on_stall`` (called on
    the watchdog's thread) lets a test or a benchmark see each stall as it is reported.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        *,
        threshold: float = FRAME,
        interval: float = 0.010,
        sample_every: float = 0.001,
        on_stall: Callable[[Stall], None] | None = None,
    ) -> None:
        self._loop = loop
        self._threshold = threshold
        self._interval = interval
        self._sample_every = sample_every
        self._on_stall = on_stall
        self._beat = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop_thread = 0
        self._cpu_clock: int | None = None
        self.longest: Stall | None = None
        self.count = 0

    def start(self) -> None:
        if self._thread is not None:
            return
        self._loop_thread = threading.get_ident()
        self._cpu_clock = _thread_cpu_clock(self._loop_thread)
        self._stopping.clear()
        self._thread = threading.Thread(target=self._watch, name="stall watchdog", daemon=True)
        self._thread.start()
        log.debug("stall watchdog on: stalls over %.0f ms are logged", self._threshold * 1000)

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stopping.set()
        self._beat.set()
        thread.join()

    def _watch(self) -> None:
        while not self._stopping.wait(self._interval):
            self._beat.clear()
            posted = time.perf_counter()
            cpu = self._cpu_time()
            try:
                self._loop.call_soon_threadsafe(self._beat.set)
            except RuntimeError:  # the loop closed under us
                return
            if self._beat.wait(self._threshold):
                continue
            stacks = self._sample_until_beat()
            if self._stopping.is_set():
                return
            busy = None if cpu is None else (self._cpu_time() or cpu) - cpu
            self._report(time.perf_counter() - posted, busy, stacks)

    def _sample_until_beat(self) -> Counter[tuple[str, ...]]:
        stacks: Counter[tuple[str, ...]] = Counter()
        while True:
            frame = sys._current_frames().get(self._loop_thread)
            if frame is not None:
                stacks[_frames(frame)] += 1
            del frame
            # stop() may be called from the held loop itself: its beat will never run then, and
            # a beat set by stop() can be cleared by the next round before this wait sees it.
            if self._beat.wait(self._sample_every) or self._stopping.is_set():
                return stacks

    def _cpu_time(self) -> float | None:
        return None if self._cpu_clock is None else time.clock_gettime(self._cpu_clock)

    def _report(self, seconds: float, busy: float | None, stacks: Counter[tuple[str, ...]]) -> None:
        stack, _ = stacks.most_common(1)[0] if stacks else ((), 0)
        stall = Stall(seconds, busy, _culprit(stack), stack, sum(stacks.values()))
        self.count += 1
        if self.longest is None or stall.seconds > self.longest.seconds:
            self.longest = stall
        log.warning("%s", stall.describe())
        if self._on_stall is not None:
            self._on_stall(stall)
