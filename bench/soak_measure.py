"""What the console holds at one moment of the soak, and whether it stayed flat between two such
moments: memory (RSS and the Python heap as tracemalloc traces it, with the lines whose
allocations grew most), asyncio tasks, Qt objects and timers, the graphics items of the chart
(not QObjects: a leak of them shows nowhere else), the event loop's pending timers,
handlers connected to ib_async's and the broker's events, and the market-data, depth and bar
lines both as the console counts them and as the simulator serves them.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import os
import tracemalloc
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QPixmapCache
from PySide6.QtWidgets import QApplication, QGraphicsView

from bench.process_meter import rss_bytes
from bench.soak_gateway import SimLines
from ibconsole.app import Console
from ibconsole.broker.ib_client import Event
from ibconsole.broker.ticker_retirement import RETIRE_AFTER
from ibconsole.domain.health import HealthState

# Memory may wander this much between the first and the last measure (allocator pools, caches
# that fill once, the journal's pages); a leak of one object per tick or order goes far beyond.
RSS_SLACK_MIB = 8.0
HEAP_SLACK_MIB = 2.0
TOP_GROWTH = 5
_READINGS = 8
# The readings span longer than a cancelled line's Ticker waits to be retired (the chain's
# re-subscription after a restart cancels lines just before the measure), so their least count
# is the settled one.
_READING_GAP = (RETIRE_AFTER + 1.0) / _READINGS
_FRAMES = 4  # frames kept per allocation: enough to see past dataclass and Decimal makers


@dataclass(frozen=True, slots=True)
class Holdings:
    """What the console holds at one moment (memory in MiB, the rest counted)."""

    rss_mib: float  # resident set size, less what tracemalloc itself holds for its traces
    heap_mib: float  # Python's heap as tracemalloc traces it (traced from before the console)
    pixmap_cache_mib: float  # what Qt's pixmap cache held (RSS before less after emptying it)
    tasks: int
    qt_objects: int  # QObjects under the main window and the application
    widgets: int  # every QWidget alive (top-level dialogs included)
    qt_timers: int  # QTimers under the window and the application
    scene_items: int  # graphics items in the window's scenes (candles, lines, marks; not gaps)
    loop_timers: int  # callbacks the event loop holds for later (call_later, timeouts)
    handlers: int  # handlers connected to ib_async's and the broker's events
    tickers: int  # ib_async's live Ticker objects
    console_lines: int  # market-data lines the console holds
    console_depth: int  # depth lines the console holds
    console_bar_series: int  # bar series the console keeps up to date
    sim_market_data: int  # reqMktData lines the simulator serves
    sim_depth: int  # reqMktDepth lines the simulator serves
    sim_bar_series: int  # keepUpToDate bar series the simulator serves


# Counts that must be equal at the start and at the end, with the words the summary uses.
COUNTED = {
    "tasks": "tasks",
    "qt_objects": "Qt objects",
    "widgets": "widgets",
    "qt_timers": "Qt timers",
    "scene_items": "chart items",
    "loop_timers": "loop timers",
    "handlers": "event handlers",
    "tickers": "tickers",
    "console_lines": "console market-data lines",
    "console_depth": "console depth lines",
    "console_bar_series": "console bar series",
    "sim_market_data": "sim market-data lines",
    "sim_depth": "sim depth lines",
    "sim_bar_series": "sim bar series",
}


def start_tracing() -> None:
    """Trace the heap from now on, a few frames per allocation. Start it before the console is
    built: objects made before tracing are not counted, so a later start would show their
    replacements by traced ones as growth."""
    if not tracemalloc.is_tracing():
        tracemalloc.start(_FRAMES)


def _empty_pixmap_cache() -> None:
    """Empty Qt's pixmap cache before RSS is read, as the allocator's free pages are handed back:
    the pixels Qt keeps of styled widgets and of the chart's cached items (``QPixmapCache``,
    bounded by its limit, 10 MiB by default) build up over days of repaints, a cache that fills
    once and no leak. Read on the soak, it held 4.4 MiB after the first day; left in, its filling
    was read as the console's RSS growing. What it held is reported beside RSS."""
    QPixmapCache.clear()


def _return_free_memory() -> None:
    """Hand the allocator's free pages back to the OS before RSS is read (glibc's malloc_trim,
    where there is one): memory freed but kept in malloc's arenas is no leak, and without this
    it reads as one. Memory still in use stays in RSS."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        return


async def hold(console: Console, sim: SimLines, snapshot: Path) -> Holdings:
    """Read everything the console holds now. Counts are the least of a few readings over three
    seconds (a repaint timer, a request's timeout or a Ticker waiting to be retired comes and
    goes; a leak stays), memory is read once after a full collection; then the heap's snapshot
    is written to ``snapshot`` (see ``write_heap_snapshot``). RSS is read with Qt's pixmap cache
    emptied (see ``_empty_pixmap_cache``)."""
    readings: list[dict[str, int]] = []
    session = console.broker.session
    while len(readings) < _READINGS:
        if session.state is HealthState.CONNECTED:  # a reconnect in between is no reading
            readings.append(_count(console, sim))
        await asyncio.sleep(_READING_GAP)
    counts = {name: min(r[name] for r in readings) for name in readings[0]}
    gc.collect()
    _return_free_memory()
    with_pixmaps = rss_bytes(os.getpid())
    _empty_pixmap_cache()
    _return_free_memory()
    rss = rss_bytes(os.getpid())
    holdings = Holdings(
        rss_mib=(rss - tracemalloc.get_tracemalloc_memory()) / 2**20,
        heap_mib=tracemalloc.get_traced_memory()[0] / 2**20,
        pixmap_cache_mib=max(with_pixmaps - rss, 0) / 2**20,
        **counts,
    )
    write_heap_snapshot(snapshot)
    return holdings


def write_heap_snapshot(path: Path) -> None:
    """Write a snapshot of the traced heap to ``path`` from a forked copy of this process, so the
    console's own process never builds one. A snapshot holds every live trace as Python objects
    that tracemalloc does not trace (about 20 MiB for the console). Kept from one measure to the
    next, it was read as RSS growing by 20 MiB a day; built and freed in the console's process at
    each measure, it still left the allocator's arenas fragmented, read as RSS growing by 2 to 5
    MiB a day while the traced heap stayed flat. The copy shares the console's pages, writes the
    file and exits; the console waits for it (a second or two, between two readings)."""
    with warnings.catch_warnings():
        # Python 3.12 warns of fork() in a threaded process: a child that goes on running may
        # find a lock another thread held. This one only reads the heap's traces and exits.
        warnings.simplefilter("ignore", DeprecationWarning)
        child = os.fork()
    if child == 0:
        written = False
        try:
            tracemalloc.take_snapshot().dump(str(path))
            written = True
        finally:
            os._exit(0 if written else 1)
    _, status = os.waitpid(child, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"the heap snapshot was not written to {path}")


def _scene_items(console: Console) -> int:
    """Graphics items in the window's scenes, less the chart's reconnect-gap marks (a region and
    its two edges): one mark is added for each reconnect of the charted series and kept, as it
    marks the bars that were backfilled, so they grow by design with the daily restarts."""
    items = [
        item
        for view in console.window.findChildren(QGraphicsView)
        if view.scene() is not None
        for item in view.scene().items()
    ]
    gap = pg.LinearRegionItem
    return sum(
        1 for item in items if not isinstance(item, gap) and not isinstance(item.parentItem(), gap)
    )


def _count(console: Console, sim: SimLines) -> dict[str, int]:
    broker = console.broker
    ib = broker.session.ib
    app = QApplication.instance()
    owners: list[QObject] = [console.window] + ([app] if app is not None else [])
    objects = [child for owner in owners for child in owner.findChildren(QObject)]
    return {
        "tasks": len(asyncio.all_tasks()),
        "qt_objects": len(objects),
        "widgets": len(QApplication.allWidgets()),
        "qt_timers": sum(1 for o in objects if isinstance(o, QTimer)),
        "scene_items": _scene_items(console),
        "loop_timers": _loop_timers(asyncio.get_running_loop()),
        "handlers": _handlers(console),
        "tickers": len(ib.tickers()),
        "console_lines": broker.market.lines_in_use,
        "console_depth": len(broker.depth.subscriptions()),
        "console_bar_series": len(broker.market.bar_subscriptions()),
        "sim_market_data": sim.market_data,
        "sim_depth": sim.depth,
        "sim_bar_series": sim.bar_series,
    }


def timer_owners(console: Console) -> dict[str, int]:
    """QTimers by the class of their parent, for the log: where a growing count comes from."""
    owners: dict[str, int] = {}
    for timer in console.window.findChildren(QTimer):
        parent = timer.parent()
        name = type(parent).__name__ if parent is not None else "-"
        owners[name] = owners.get(name, 0) + 1
    return owners


def _handlers(console: Console) -> int:
    """Handlers on every eventkit Event of ib_async (the IB object, its client and wrapper), of
    each broker service and the signal inbox, and of every live Ticker."""
    broker = console.broker
    ib = broker.session.ib
    owners: list[object] = [ib, ib.client, ib.wrapper, console.context.inbox]
    owners += [value for value in vars(broker).values() if hasattr(value, "__dict__")]
    events = [
        value for owner in owners for value in vars(owner).values() if isinstance(value, Event)
    ]
    events += [ticker.updateEvent for ticker in ib.tickers()]
    return sum(len(event) for event in events)


def _loop_timers(loop: asyncio.AbstractEventLoop) -> int:
    """Callbacks waiting for their time on the loop: qasync keeps them in its timer object,
    asyncio's own loops in ``_scheduled``; cancelled ones are not counted."""
    timer = getattr(loop, "_timer", None)
    handles: Any = (
        getattr(timer, "_SimpleTimer__callbacks", {}).values()
        if timer is not None
        else getattr(loop, "_scheduled", ())
    )
    return sum(1 for handle in handles if not handle.cancelled())


@dataclass(frozen=True, slots=True)
class Verdict:
    figure: str
    start: float
    end: float
    flat: bool
    unit: str = ""

    def __str__(self) -> str:
        if self.unit == "agree":
            return f"{self.figure} {'yes' if self.flat else 'NO'}"
        word = "flat" if self.flat else "GREW"
        if not self.unit:
            word = "fell" if self.end < self.start else word
            return f"{self.figure} {self.start:g}→{self.end:g} {word}"
        return f"{self.figure} {self.end - self.start:+.1f} {self.unit} {word}"


def verdicts(start: Holdings, end: Holdings) -> list[Verdict]:
    """Each figure, start and end, and whether it stayed flat: memory within its slack, every
    count no higher at the end (one that fell is said, a leak cannot make it fall), and the
    simulator serving the lines the console holds at both measures."""
    rss, heap = end.rss_mib - start.rss_mib, end.heap_mib - start.heap_mib
    found = [
        Verdict("rss", start.rss_mib, end.rss_mib, rss <= RSS_SLACK_MIB, "MiB"),
        Verdict("heap", start.heap_mib, end.heap_mib, heap <= HEAP_SLACK_MIB, "MiB"),
    ]
    for name, words in COUNTED.items():
        before, after = getattr(start, name), getattr(end, name)
        found.append(Verdict(words, before, after, after <= before))
    for held in (start, end):
        agreed = (held.sim_market_data, held.sim_depth, held.sim_bar_series) == (
            held.console_lines,
            held.console_depth,
            held.console_bar_series,
        )
        which = "start" if held is start else "end"
        found.append(Verdict(f"sim lines = console's at {which}", 1, 1, agreed, "agree"))
    return found


def top_growth(start: Path, end: Path) -> list[str]:
    """The places whose live allocations grew most between the two snapshots written by
    ``hold``, each named by the first frame in a source file (a dataclass's generated
    ``__init__`` is named by its caller)."""
    ignored = (
        tracemalloc.Filter(False, tracemalloc.__file__),
        tracemalloc.Filter(False, "<frozen importlib._bootstrap>"),
    )
    first, last = (tracemalloc.Snapshot.load(str(p)).filter_traces(ignored) for p in (start, end))
    differences = last.compare_to(first, "traceback")
    grown = [d for d in differences if d.size_diff > 0][:TOP_GROWTH]
    return [
        f"{d.size_diff / 1024:+.1f} KiB in {d.count_diff:+d} blocks at {_place(d.traceback)}"
        for d in grown
    ]


def _place(traceback: tracemalloc.Traceback) -> str:
    """Innermost frame first: the first one with a real file, and the one that called it."""
    frames = [f for f in reversed(list(traceback)) if not f.filename.startswith("<")]
    frames = frames or list(traceback)
    return " < ".join(f"{f.filename.rsplit('/', 2)[-1]}:{f.lineno}" for f in frames[:2])
