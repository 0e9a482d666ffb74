"""The price ladder under load: depth update → ladder painted, and ladder click → order bytes.

The console runs as a trader runs it (``build_console``, offscreen), its ladder on the ticket's
contract (the ES front month), against a simulator process streaming 5,000 ticks/s over 20
instruments and 2,000 depth changes a second on the ladder's book.

- Depth → paint: every depth row the simulator writes is stamped as it is queued. The console
  side stamps each network batch of rows as the ladder receives it (one more slot on the
  bridge's ``sig_depth_updated``, connected after the ladder's), each run of the ladder's
  coalescing repaint timer, and each paint event of the ladder's viewport. A row's latency runs
  from its write to the first paint that follows the first repaint run after its batch
  arrived: the first pixels that can show it. Rows whose price lies outside the ladder's window
  have no pixels and are left out.
- Click → bytes: a left click on a ``Bid`` cell six ticks under the best bid (a resting buy
  limit of 1, as a trader clicks it), until the simulator receives the placeOrder frame; then
  the order is cancelled (not measured) so every click meets the same checks. ``qtest`` clicks
  with ``QTest.mouseClick`` at a moment the loop is free; ``posted`` posts the press and release
  from another thread at a random moment, as the window system does. The pointer moves over the
  ladder first, so the window holds still while the trader aims. The duplicate-order window is
  1 ms for the run: the benchmark repeats one order on purpose. For ``qtest`` the loop thread's
  CPU from the click until the bytes reach the socket is kept beside (``qtest_cpu_to_bytes``).
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QWidget

from bench import cli, machine
from bench.click_to_wire import SendProbe
from bench.console_rig import (
    close_console,
    in_fresh_process,
    open_console,
    run_qasync,
    wait_until,
    watch,
)
from bench.peer import INSTRUMENTS, DepthKey, Peer, in_executor, judge_load
from bench.probes import LoopProbe, PaintProbe
from bench.summary import summarize
from bench.tick_latency import stall_jobs
from ibconsole.app import Console
from ibconsole.broker.market_depth import DepthUpdate
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.ladder import LadderColumn
from ibconsole.stall_watchdog import FRAME, Stall, StallWatchdog
from ibconsole.ui.frame_timer import FrameTimer
from ibconsole.ui.ladder import PriceLadder

_CLICK_TICKS_UNDER_BID = 6
_ROUND_GAP = 0.1  # between clicks: far below ib_insync's 45 requests a second
_PACING_WINDOW = 1.5  # ib_insync throttles to 45 requests in any 1 s; let the start-up pass
_CALIBRATION_SECONDS = 1.0
_CLICK_BUDGET_SECONDS = 60.0
_ROWS_PER_CHANGE = 2.5  # depth rows the simulator writes per change behind the touch, about


@dataclass(frozen=True, slots=True)
class Size:
    ticks_per_s: int
    depth_per_s: int
    warmup: float
    seconds: float
    clicks: int


SIZES = {
    "full": Size(ticks_per_s=5_000, depth_per_s=2_000, warmup=2.0, seconds=10.0, clicks=40),
    "smoke": Size(ticks_per_s=500, depth_per_s=200, warmup=0.2, seconds=0.5, clicks=2),
}


class DepthProbe:
    """Stamps each batch of depth rows the ladder received, with the rows' keys in order and
    whether each row's price is in the ladder's window (a row outside it has no pixels)."""

    def __init__(self, console: Console, ladder: PriceLadder, con_id: int) -> None:
        self.batches: list[tuple[float, list[tuple[DepthKey, bool]]]] = []
        self._ladder = ladder
        self._con_id = con_id
        self._on = False
        console.bridge.sig_depth_updated.connect(self._on_bridge_depth_updated)

    def start(self) -> None:
        self.batches.clear()
        self._on = True

    def stop(self) -> None:
        self._on = False

    def _on_bridge_depth_updated(self, update: DepthUpdate) -> None:
        if not self._on or update.con_id != self._con_id or not update.changes:
            return
        window = self._ladder.ladder
        keys = [
            (
                (int(c.operation), int(c.side), c.position, float(c.price), float(c.size)),
                window.row_of(c.price) is not None,
            )
            for c in update.changes
        ]
        self.batches.append((time.perf_counter(), keys))


class RefreshProbe(QObject):
    """Stamps every repaint of the ladder's frame timer, after the ladder's own slot has
    re-read the rows (a slot connected later runs later)."""

    def __init__(self, ladder: PriceLadder) -> None:
        super().__init__()
        self.refreshes: list[float] = []
        for timer in ladder.findChildren(FrameTimer):
            timer.sig_ran.connect(self._on_timer_ran)

    def _on_timer_ran(self) -> None:
        self.refreshes.append(time.perf_counter())


def _first_at_or_after(stamps: list[float], at: float, start: int) -> int:
    index = start
    while index < len(stamps) and stamps[index] < at:
        index += 1
    return index


def depth_to_paint(
    written: list[tuple[float, DepthKey]],
    batches: list[tuple[float, list[tuple[DepthKey, bool]]]],
    refreshes: list[float],
    paints: list[float],
) -> tuple[list[float], int]:
    """Latencies (seconds) of each written row the ladder received inside its window, and the
    written rows never seen (received outside the window counts as seen).

    Rows arrive in the order they were written (one TCP stream): each received row matches the
    next written row with the same key written before the batch arrived."""
    latencies = []
    cursor = refresh_at = paint_at = 0
    matched = 0
    for arrived, keys in batches:
        refresh_at = _first_at_or_after(refreshes, arrived, refresh_at)
        if refresh_at >= len(refreshes):
            break
        paint_at = _first_at_or_after(paints, refreshes[refresh_at], paint_at)
        if paint_at >= len(paints):
            break
        painted = paints[paint_at]
        for key, shown in keys:
            index = cursor
            while index < len(written) and written[index][0] <= arrived:
                if written[index][1] == key:
                    break
                index += 1
            else:
                continue  # written before the log started
            if shown:
                latencies.append(painted - written[index][0])
            cursor = index + 1
            matched += 1
    return latencies, len(written) - matched


async def _ladder_ready(console: Console) -> PriceLadder:
    ladder = console.window.ladder
    await wait_until(lambda: ladder.contract is not None, "the ladder's contract")
    await wait_until(lambda: not ladder.ladder.book.empty, "the ladder's depth")
    await wait_until(ladder.ladder.market_in_view, "the market in the ladder's window")
    return ladder


async def _depth_series(
    peer: Peer, console: Console, ladder: PriceLadder, size: Size
) -> dict[str, Any]:
    contract = ladder.contract
    assert contract is not None
    probe = DepthProbe(console, ladder, contract.con_id)
    refreshes = RefreshProbe(ladder)
    paints = PaintProbe(ladder.view.viewport())
    loop_probe = LoopProbe()
    stalls: list[Stall] = []
    watchdog = StallWatchdog(asyncio.get_running_loop(), on_stall=stalls.append)
    await asyncio.sleep(size.warmup)
    await in_executor(peer.start_depth_log)
    probe.start()
    paints.start()
    loop_probe.start()
    watchdog.start()
    ticks = await in_executor(peer.ticks)
    cpu = time.process_time()
    started = time.perf_counter()
    await asyncio.sleep(size.seconds)
    written = await in_executor(peer.stop_depth_log)
    ticks = await in_executor(peer.ticks) - ticks
    ticking = time.perf_counter() - started
    await asyncio.sleep(0.5)  # rows in flight reach the ladder and its next paint
    probe.stop()
    paints.stop()
    loop_probe.stop()
    watchdog.stop()
    elapsed = time.perf_counter() - started
    share = (time.process_time() - cpu) / elapsed
    latencies, unseen = depth_to_paint(written, probe.batches, refreshes.refreshes, paints.paints)
    return {
        "ticks_per_s_written": round(ticks / ticking),
        "depth_rows_written_per_s": round(len(written) / size.seconds),
        "depth_rows_not_seen": unseen,
        "depth_to_paint_ms": summarize(latencies, 1000),
        "ladder_paints_per_s": round(len(paints.paints) / elapsed, 1),
        "loop_stall_ms": summarize(loop_probe.stalls(), 1000),
        "loop_stall_cpu_ms": summarize(loop_probe.stall_cpu(), 1000),
        "loop_stalls_over_16ms_of_cpu": loop_probe.cpu_over(FRAME),
        "stalls_over_16ms": stall_jobs(stalls),
        "console_cpu_share": round(share, 3),
    }


def _post_click(target: QWidget, point: QPoint) -> None:
    """Queue a move, a press and a release at ``point`` of ``target`` as the window system
    would. Callable from any thread: it only builds and posts events."""
    local = QPointF(point)
    screen = QPointF(point)  # the view reads only the local position
    kinds = (
        (QEvent.Type.MouseMove, Qt.MouseButton.NoButton, Qt.MouseButton.NoButton),
        (QEvent.Type.MouseButtonPress, Qt.MouseButton.LeftButton, Qt.MouseButton.LeftButton),
        (QEvent.Type.MouseButtonRelease, Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton),
    )
    for kind, button, buttons in kinds:
        event = QMouseEvent(kind, local, screen, button, buttons, Qt.KeyboardModifier.NoModifier)
        QCoreApplication.postEvent(target, event)


def _bid_cell(ladder: PriceLadder) -> tuple[Decimal, QPoint]:
    model = ladder.ladder
    bid = model.best_bid
    if bid is None:
        raise LookupError("the ladder has no best bid")
    price = bid - _CLICK_TICKS_UNDER_BID * model.tick
    row = model.row_of(price)
    if row is None:
        # The market drifted while the pointer held the window still: the trader re-centres.
        ladder.recentre()
        row = model.row_of(price)
    if row is None:
        raise LookupError(f"{price} is not in the ladder's window")
    x, y, w, h = ladder.view.cell_rect(row, int(LadderColumn.BID))
    return price, QPoint(x + w // 2, y + h // 2)


def _aim(viewport: QWidget, point: QPoint) -> None:
    """The pointer moves over the ladder: its window holds still while the trader aims. Sent,
    not QTest.mouseMove: that one processes events, re-entering the running task."""
    move = QMouseEvent(
        QEvent.Type.MouseMove,
        QPointF(point),
        QPointF(point),
        Qt.MouseButton.NoButton,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QCoreApplication.sendEvent(viewport, move)


async def _click(ladder: PriceLadder, posted: bool, probe: SendProbe) -> tuple[float, float | None]:
    """Click the Bid cell; the perf_counter stamp of the click and, for a QTest click, the loop
    thread's CPU until the order's bytes went to the socket."""
    viewport = ladder.view.viewport()
    _, point = _bid_cell(ladder)
    _aim(viewport, point)
    if not posted:
        probe.sent.clear()
        cpu = time.thread_time()
        clicked = time.perf_counter()
        QTest.mouseClick(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, point)
        return clicked, (probe.sent[0] if probe.sent else time.thread_time()) - cpu
    stamp: list[float] = []

    def later() -> None:
        time.sleep(random.uniform(0.0, 0.033))
        stamp.append(time.perf_counter())
        _post_click(viewport, point)

    thread = threading.Thread(target=later, daemon=True)
    thread.start()
    await asyncio.get_running_loop().run_in_executor(None, thread.join)
    return stamp[0], None


async def _received(peer: Peer, ladder: PriceLadder) -> tuple[int, float]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        orders = await in_executor(peer.orders)
        if orders:
            return orders[0]
        await asyncio.sleep(0.002)
    raise TimeoutError(f"no order reached the simulator; the ladder says {ladder.status_text!r}")


async def _cancel_working(console: Console, contract: ListedContract) -> None:
    """Cancel the clicked orders (asked again while a busy session refuses or loses a cancel)."""
    entry = console.broker.entry
    deadline = time.monotonic() + 60
    while entry.working_orders(contract):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the clicked orders were not cancelled: {ladder_text(console)}")
        for order in entry.working_orders(contract) or ():
            entry.cancel(order.order_id)
        try:
            await wait_until(lambda: not entry.working_orders(contract), "the cancel", within=2)
        except TimeoutError:
            continue


def _orders_allowed(console: Console) -> Callable[[], bool]:
    session = console.broker.session
    return lambda: not session.order_entry_block()


def ladder_text(console: Console) -> str:
    return console.window.ladder.status_text


async def _click_series(
    peer: Peer, console: Console, ladder: PriceLadder, size: Size
) -> dict[str, Any]:
    contract = ladder.contract
    assert contract is not None
    results: dict[str, Any] = {}
    await in_executor(peer.orders)
    probe = SendProbe(console)
    for posted in (False, True):
        latencies, to_bytes_cpu = [], []
        refused: list[str] = []
        session = console.broker.session
        # A starved machine can make every round slow: each way of clicking gets a time budget.
        budget = time.monotonic() + _CLICK_BUDGET_SECONDS
        for _ in range(size.clicks):
            if time.monotonic() > budget:
                break
            try:
                await wait_until(_orders_allowed(console), "orders allowed", within=10)
            except TimeoutError:
                refused.append(session.order_entry_block())  # the session is not healthy
                continue
            clicked, cpu = await _click(ladder, posted, probe)
            try:
                _, received = await _received(peer, ladder)
            except TimeoutError:
                refused.append(ladder.status_text)  # said why under the ladder; not a sample
                if ladder.confirmation is not None:
                    # The market ran through the clicked price meanwhile, so the ladder asks
                    # before a marketable order: the benchmark's trader says no.
                    ladder.confirmation.cancel()
                continue
            latencies.append(received - clicked)
            if cpu is not None:
                to_bytes_cpu.append(cpu)
            await _cancel_working(console, contract)
            await asyncio.sleep(_ROUND_GAP)
        how = "posted" if posted else "qtest"
        results[how] = summarize(latencies, 1000)
        results[f"{how}_not_sent"] = refused
        if not posted:
            results["qtest_cpu_to_bytes"] = summarize(to_bytes_cpu, 1000)
    return results


async def _calibrate(peer: Peer, rows_per_s: int) -> float:
    """Set the book's churn so that about ``rows_per_s`` depth rows a second reach the ladder.

    The simulator's book follows the quote: a quote that moves the touch shifts every row
    behind it, so the quotes alone write depth rows; churn behind the touch makes up the rest
    (each change writes about ``_ROWS_PER_CHANGE`` rows, as a row shift does)."""
    await in_executor(lambda: peer.set_depth_rate(0.0))
    await in_executor(peer.start_depth_log)
    await asyncio.sleep(_CALIBRATION_SECONDS)
    base = len(await in_executor(peer.stop_depth_log)) / _CALIBRATION_SECONDS
    churn = max(0.0, rows_per_s - base) / _ROWS_PER_CHANGE
    await in_executor(lambda: peer.set_depth_rate(churn))
    return round(churn, 1)


async def _series(size: Size) -> dict[str, Any]:
    with Peer.start(tick_rate=size.ticks_per_s / INSTRUMENTS) as peer:
        console = await open_console(peer.port)
        try:
            await watch(console, await in_executor(lambda: peer.instruments(INSTRUMENTS)))
            ladder = await _ladder_ready(console)
            await asyncio.sleep(_PACING_WINDOW)
            churn = await _calibrate(peer, size.depth_per_s)
            results = await _depth_series(peer, console, ladder, size)
            print(f"depth: {results}", file=sys.stderr, flush=True)
            results["click_to_bytes_ms"] = await _click_series(peer, console, ladder, size)
            results["ticks_per_s"] = size.ticks_per_s
            results["depth_rows_per_s_offered"] = size.depth_per_s
            results["book_churn_per_s"] = churn
            results["load_average"] = machine.load_average()
        finally:
            await close_console(console)
    return results


def _measure(size: Size) -> dict[str, Any]:
    return run_qasync(lambda: _series(size))


def measure(size_name: str) -> dict[str, Any]:
    os.environ["IBCONSOLE_RISK__DUPLICATE_WINDOW_SECONDS"] = "0.001"
    size = SIZES[size_name]
    results = in_fresh_process(_measure, size)
    if size_name != "full":
        return results
    # A smoke run's window holds a few timer firings: too few to judge its rate by.
    return judge_load(results, [(results, size.ticks_per_s, results["ticks_per_s_written"])])


if __name__ == "__main__":
    sys.exit(cli.main(__doc__.splitlines()[0], measure))
