"""Incremental chart painting: the closed bars are recorded when a bar closes or the history changes,
never on a tick; a tick redraws the forming bar and the quote lines without a layout pass; the
frame timer runs once a frame however many requests arrive; a tick that cannot change the
plot's range repaints the forming bar's area, not the whole plot.

The bar items are tested directly (no simulator); the chart against the simulator's own stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import timedelta
from typing import Any, cast

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QEvent, QObject, QRect
from PySide6.QtGui import QPaintEvent, QRegion
from PySide6.QtWidgets import QApplication, QLabel, QWidget

from ibconsole.broker.market_data import BarKey
from ibconsole.domain.bars import Bar, bar_length
from ibconsole.ui.chart_bars import (
    CANDLES,
    CHUNK,
    CLOSE,
    HIGH,
    LOW,
    VOLUME,
    VOLUMES,
    HistoryItem,
    LiveItem,
    Rows,
)
from ibconsole.ui.chart_plots import ChartPlots
from ibconsole.ui.charts import ChartPanel
from ibconsole.ui.context import UiContext
from ibconsole.ui.frame_timer import FrameTimer
from tests.ui.layout_requests import LayoutRequests


def rows(count: int, shift: float = 0.0) -> Rows:
    """``count`` bars a minute apart, rising by one a bar (``shift`` moves every price)."""
    x = np.arange(count, dtype=np.float64) * 60
    base = 100 + np.arange(count, dtype=np.float64) + shift
    return np.column_stack((x, base, base + 2, base - 1, base + 1, np.full(count, 10.0)))


@pytest.fixture
def history(qtbot: Any) -> HistoryItem:
    return HistoryItem(CANDLES)


@pytest.mark.parametrize(
    ("before", "after", "recorded", "kept"),
    [
        (0, 300, 3, 0),  # a first history: every chunk
        (300, 301, 1, 2),  # a bar closed: only the last chunk, the full ones kept
        (2 * CHUNK, 2 * CHUNK + 1, 1, 2),  # a bar closed past a full chunk: one new picture
        (300, 300, 0, 3),  # the same history: nothing recorded
    ],
)
def test_a_closed_bar_records_only_the_last_chunk_of_history(
    history: HistoryItem, before: int, after: int, recorded: int, kept: int
) -> None:
    if before:
        history.set_bars(rows(before), 42.0)
    earlier, count = history.pictures, history.recorded
    history.set_bars(rows(after), 42.0)
    assert history.recorded - count == recorded
    assert len(history.pictures) == -(-after // CHUNK)
    assert history.pictures[:kept] == earlier[:kept]  # the very same pictures, not re-recorded
    assert np.array_equal(history.rows, rows(after))


@pytest.mark.parametrize(
    ("changed", "width"),
    [(rows(300, shift=0.25), 42.0), (rows(300), 30.0), (rows(299), 42.0)],
    ids=["prices", "bar width", "shorter"],
)
def test_a_new_history_is_recorded_whole(history: HistoryItem, changed: Rows, width: float) -> None:
    history.set_bars(rows(300), 42.0)
    count, earlier = history.recorded, history.pictures
    history.set_bars(changed, width)
    assert history.recorded - count == len(history.pictures) == -(-len(changed) // CHUNK)
    assert not set(history.pictures) & set(earlier)


def test_bounds_follow_the_visible_bars(history: HistoryItem) -> None:
    history.set_bars(rows(10), 42.0)
    assert history.dataBounds(1) == (99.0, 111.0)
    assert history.dataBounds(1, orthoRange=(60.0, 120.0)) == (100.0, 104.0)
    assert history.dataBounds(1, orthoRange=(10_000.0, 20_000.0)) is None
    assert history.dataBounds(0) == (-21.0, 9 * 60 + 21.0)
    volumes = HistoryItem(VOLUMES)
    volumes.set_bars(rows(3), 42.0)
    assert volumes.dataBounds(1) == (0.0, 10.0)


def test_the_live_item_holds_only_the_forming_bar(qtbot: Any) -> None:
    live = LiveItem(CANDLES)
    live.set_bar(rows(1), 42.0)
    assert live.boundingRect().width() == pytest.approx(42.0)
    live.set_bar(rows(0), 42.0)
    assert live.dataBounds(1) is None
    assert live.boundingRect().isNull()


async def test_the_frame_timer_runs_once_a_frame_and_at_once_after_a_quiet_one(
    qtbot: Any, wait_for: Any
) -> None:
    owner = QObject()
    runs: list[int] = []
    timer = FrameTimer(owner, lambda: runs.append(1), frame_ms=60_000)
    for _ in range(100):
        timer.request()
    assert timer.interval() == 0  # nothing ran in the last frame: at once
    await wait_for(lambda: runs == [1], what="one run for a hundred requests")
    await asyncio.sleep(0)
    timer.request()
    assert timer.isActive()
    assert timer.interval() > 59_000  # it ran just now: once this (long) frame is over
    assert runs == [1]
    timer.stop()


# ------------------------------------------------------------------ against the simulator


async def hourly_chart(ctx: UiContext, qtbot: Any, wait_for: Any) -> ChartPanel:
    """A shown chart of hourly bars: no bar closes while a test watches its ticks."""
    chart = ChartPanel(ctx)
    qtbot.addWidget(chart)
    chart.show()
    chart.resize(1000, 560)
    chart.set_bar_size("1 hour")
    await wait_for(lambda: chart.is_populated, timeout=15, what="hourly bars on the chart")
    return chart


def item(chart: ChartPanel, kind: type[Any]) -> Any:
    (found,) = [i for i in chart.price_plot.items if isinstance(i, kind)]
    return found


def row_of(bar: Bar) -> tuple[float, ...]:
    return (bar.open, bar.high, bar.low, bar.close, bar.volume)


async def test_a_tick_redraws_the_forming_bar_and_quote_not_the_history_nor_the_layout(
    ui_context: UiContext, qtbot: Any, wait_for: Any
) -> None:
    chart = await hourly_chart(ui_context, qtbot, wait_for)
    history, live = item(chart, HistoryItem), item(chart, LiveItem)
    readout = chart.findChild(QLabel, "chartQuote")
    assert readout is not None
    await wait_for(lambda: "Last" in readout.text(), what="the quote shown")
    QApplication.sendPostedEvents()
    recorded, pictures, closed = history.recorded, history.pictures, history.rows.copy()
    first_live, first_text = tuple(live.rows[0, 1:]), readout.text()
    layouts = LayoutRequests(chart)

    # The simulator's own ticks move the forming bar and the quote.
    await wait_for(
        lambda: (
            tuple(live.rows[0, 1:]) != first_live
            and tuple(live.rows[0, 1:]) == row_of(chart.bars[-1])
            and readout.text() != first_text
        ),
        what="the forming bar and the quote redrawn",
    )
    QApplication.sendPostedEvents()
    assert history.recorded == recorded
    assert history.pictures == pictures
    assert np.array_equal(history.rows, closed)
    assert live.rows[0, HIGH] >= live.rows[0, LOW]
    assert layouts.count == 0


async def test_a_bar_closing_moves_the_forming_bar_into_the_history(
    ui_context: UiContext, qtbot: Any, wait_for: Any
) -> None:
    chart = await hourly_chart(ui_context, qtbot, wait_for)
    contract = chart.contract
    assert contract is not None
    history, live = item(chart, HistoryItem), item(chart, LiveItem)
    count, recorded, pictures = len(history.rows), history.recorded, history.pictures
    newest = chart.bars[-1]
    opened = Bar(newest.start + bar_length(chart.bar_size), 1.0, 3.0, 0.5, 2.0, 7)
    key = BarKey(contract.con_id, chart.bar_size)
    ui_context.bridge.sig_bar_updated.emit(key, opened, True)

    await wait_for(lambda: len(history.rows) == count + 1, what="the closed bar in the history")
    closed = chart.bars[-2]
    assert closed.start == newest.start
    assert tuple(history.rows[-1, 1:]) == row_of(closed)
    assert history.rows[-1, 0] == (closed.start - chart.bars[0].start).total_seconds()
    assert history.recorded == recorded + 1  # the last chunk only
    assert history.pictures[:-1] == pictures[: len(history.pictures) - 1]
    assert tuple(live.rows[0, 1:]) == row_of(opened)
    assert live.rows[0, 0] - history.rows[-1, 0] == timedelta(hours=1).total_seconds()


class PaintRegions(QObject):
    """The regions ``widget`` is asked to paint, in order."""

    def __init__(self, widget: QWidget) -> None:
        super().__init__(widget)
        self.regions: list[QRegion] = []
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if isinstance(event, QPaintEvent):
            self.regions.append(QRegion(event.region()))
        return False


def area(region: QRegion) -> int:
    rects = cast(Iterable[QRect], region)  # PySide6 iterates a region; its stubs do not say so
    return sum(rect.width() * rect.height() for rect in rects)


async def test_a_tick_inside_the_range_repaints_the_bar_not_the_plot(
    qtbot: Any, wait_for: Any
) -> None:
    window = QWidget()
    qtbot.addWidget(window)
    plots = ChartPlots(window)
    plots.widget.resize(800, 500)
    window.show()
    history = rows(200)
    history[-1, 1:] = history[100, 1:]  # the forming bar trades within the range in view
    plots.show_history(history[:-1], 0.0, 42.0)
    plots.show_live(history[-1:], 42.0)
    plots.price.getViewBox().setXRange(0, 200 * 60, padding=0)
    quote_line = pg.InfiniteLine(pos=150.0, angle=0)  # as the chart's quote and order lines
    plots.price.addItem(quote_line, ignoreBounds=True)
    viewport = plots.widget.viewport()
    painted = PaintRegions(viewport)
    await wait_for(
        lambda: plots.price.getViewBox().viewRange()[1][1] >= float(history[:, HIGH].max()),
        what="the plot auto-ranged",
    )
    await wait_for(lambda: painted.regions, what="the plot painted")
    whole = viewport.rect()

    inside = history[-1:].copy()
    for close in (0.5, 1.0):  # the first paint may still settle the range the history set
        inside[0, CLOSE] -= close  # the close moves within the bar's high and low
        seen = len(painted.regions)
        plots.show_live(inside, 42.0)
        await wait_for(
            lambda seen=seen: len(painted.regions) > seen, what="the forming bar repainted"
        )
    # The candle's and its volume bar's areas: a few pixels wide, nothing like the plot.
    assert area(painted.regions[-1]) < area(QRegion(whole)) / 20

    seen = len(painted.regions)
    quote_line.setValue(151.0)  # a line that does not count for the range: its strips only
    await wait_for(lambda: len(painted.regions) > seen, what="the moved line repainted")
    assert area(painted.regions[-1]) < area(QRegion(whole)) / 10

    outside = inside.copy()
    outside[0, HIGH] += 1_000  # a new high beyond every bar in view: the range follows it
    seen = len(painted.regions)
    plots.show_live(outside, 42.0)
    await wait_for(lambda: len(painted.regions) > seen, what="the plot repainted")
    assert area(painted.regions[-1]) > area(QRegion(whole)) / 2
    assert plots.price.getViewBox().viewRange()[1][1] >= float(outside[0, HIGH])


async def test_a_growing_volume_repaints_its_bar_not_the_plot(qtbot: Any, wait_for: Any) -> None:
    """The forming bar's volume grows with every trade: while it fits the range shown, the
    volume plot keeps its range (and its axis and grid) and repaints the bar's strip only; when
    it outgrows the range, the range moves once, leaving room above the bar."""
    window = QWidget()
    qtbot.addWidget(window)
    plots = ChartPlots(window)
    plots.widget.resize(800, 500)
    window.show()
    history = rows(200)
    live = history[-1:].copy()
    plots.show_history(history[:-1], 0.0, 42.0)
    plots.show_live(live, 42.0)
    plots.price.getViewBox().setXRange(0, 200 * 60, padding=0)
    volume_view = plots.volume.getViewBox()
    viewport = plots.widget.viewport()
    painted = PaintRegions(viewport)
    await wait_for(lambda: volume_view.viewRange()[1][1] >= 10.0, what="the volumes ranged")
    await wait_for(lambda: painted.regions, what="the plot painted")

    async def trade(volume: float) -> QRegion:
        live[0, VOLUME] = volume
        seen = len(painted.regions)
        plots.show_live(live, 42.0)
        await wait_for(lambda: len(painted.regions) > seen, what="the volume bar repainted")
        return painted.regions[-1]

    await trade(10.0)  # the first paints may still settle the range the history set
    strip = area(QRegion(viewport.rect())) / 10
    top = volume_view.viewRange()[1][1]
    for step in (0.3, 0.6, 0.9):  # trades within the range shown
        assert area(await trade(10.0 + (top - 10.0) * step)) < strip
    assert volume_view.viewRange()[1] == pytest.approx([0.0, top])

    outgrown = top + 1.0  # a trade beyond the range shown: it moves, with room above the bar
    assert area(await trade(outgrown)) > strip
    moved = volume_view.viewRange()[1]
    assert moved[0] == 0.0
    assert moved[1] > outgrown
    assert area(await trade(outgrown + (moved[1] - outgrown) / 2)) < strip
    assert volume_view.viewRange()[1] == pytest.approx(moved)
