"""The chart against the simulator: bars of the ES active month, live updates, timeframe switch,
data type label, reconnect gaps, and a repaint rate bounded by the frame timer under a tick flood."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QComboBox, QLabel, QToolButton, QWidget

from ibconsole.broker.market_data import BarKey
from ibconsole.domain.bars import Bar, bar_length
from ibconsole.domain.quotes import MarketDataType, Quote
from ibconsole.sim import PaperGateway
from ibconsole.ui.charts import ChartPanel
from ibconsole.ui.context import UiContext
from ibconsole.ui.frame_timer import FrameTimer
from ibconsole.ui.months import rollover_view

T = TypeVar("T", bound=QObject)


def child(widget: QWidget, kind: type[T], name: str) -> T:
    found = widget.findChild(kind, name)
    assert found is not None, f"no {kind.__name__} named {name}"
    return found


async def loaded_chart(ctx: UiContext, qtbot: Any, wait_for: Any) -> ChartPanel:
    chart = ChartPanel(ctx)
    qtbot.addWidget(chart)
    chart.show()  # a hidden chart keeps its data but paints nothing
    chart.resize(1000, 560)
    await wait_for(lambda: chart.is_populated, what="bars on the chart")
    return chart


async def test_chart_loads_the_es_active_month_with_live_quotes(
    ui_context: UiContext, qtbot: Any, wait_for: Any, as_of: datetime
) -> None:
    chart = await loaded_chart(ui_context, qtbot, wait_for)
    view = await rollover_view(ui_context.broker, "ES", ui_context.settings.rollover, as_of)
    assert chart.contract == view.active
    assert chart.bar_size == "1 min"
    assert len(chart.bars) > 100
    assert all(b.start < c.start for b, c in zip(chart.bars, chart.bars[1:], strict=False))
    await wait_for(lambda: chart.data_state == "● LIVE", what="the live data label")
    await wait_for(lambda: "Bid" in child(chart, QLabel, "chartQuote").text(), what="quote")


# 2.5 s before a 5-second boundary: the next bar opens while the test watches.
@pytest.mark.parametrize("as_of", [datetime(2025, 3, 4, 14, 59, 57, 500000, tzinfo=UTC)])
async def test_new_bars_from_the_live_stream_extend_the_chart(
    ui_context: UiContext, qtbot: Any, wait_for: Any
) -> None:
    chart = ChartPanel(ui_context)
    qtbot.addWidget(chart)
    chart.show()  # a hidden chart keeps its data but paints nothing
    chart.set_bar_size("5 secs")
    await wait_for(lambda: chart.is_populated, what="5-second bars")
    first_count, newest = len(chart.bars), chart.bars[-1]
    await wait_for(lambda: len(chart.bars) > first_count, timeout=10, what="a new 5-second bar")
    assert chart.bars[-1].start - newest.start == timedelta(seconds=5)
    assert chart.bars[-2].start == newest.start


async def test_switching_timeframe_cancels_the_old_bar_stream(
    ui_context: UiContext, qtbot: Any, wait_for: Any
) -> None:
    chart = await loaded_chart(ui_context, qtbot, wait_for)
    contract = chart.contract
    assert contract is not None
    market = ui_context.broker.market
    assert market.bar_subscriptions() == {BarKey(contract.con_id, "1 min"): 1}
    one_minute = chart.bars

    child(chart, QToolButton, "chartTimeframe5m").click()
    await wait_for(lambda: chart.is_populated and chart.bars != one_minute, what="5-minute bars")
    assert chart.bar_size == "5 mins"
    assert market.bar_subscriptions() == {BarKey(contract.con_id, "5 mins"): 1}
    steps = {b.start - a.start for a, b in zip(chart.bars, chart.bars[1:], strict=False)}
    assert timedelta(minutes=5) in steps
    assert min(steps) == timedelta(minutes=5)


async def test_switching_contract_releases_the_old_quote_and_bars(
    ui_context: UiContext, qtbot: Any, wait_for: Any, as_of: datetime
) -> None:
    chart = await loaded_chart(ui_context, qtbot, wait_for)
    es = chart.contract
    assert es is not None
    cl = (await rollover_view(ui_context.broker, "CL", ui_context.settings.rollover, as_of)).active
    chart.show_contract(cl)
    await wait_for(lambda: chart.is_populated, what="CL bars")
    market = ui_context.broker.market
    assert market.subscriptions() == {cl.con_id: 1}
    assert market.bar_subscriptions() == {BarKey(cl.con_id, "1 min"): 1}
    assert child(chart, QComboBox, "chartSymbol").currentText() == "CL"
    assert cl.local_symbol in child(chart, QLabel, "chartContract").text()


async def test_delayed_data_is_labelled_delayed(
    gateway: PaperGateway, ui_context: UiContext, qtbot: Any, wait_for: Any
) -> None:
    gateway.faults.delayed_data_only()
    chart = await loaded_chart(ui_context, qtbot, wait_for)
    await wait_for(lambda: chart.data_state == "● DELAYED", what="the delayed data label")
    label = child(chart, QLabel, "chartDataState")
    assert "#" in label.styleSheet()  # coloured as well as worded


@pytest.mark.expect_log_warnings  # the dropped connection is logged as an error
async def test_a_reconnect_marks_a_gap_and_reloads_the_bars(
    gateway: PaperGateway, ui_context: UiContext, qtbot: Any, wait_for: Any
) -> None:
    chart = await loaded_chart(ui_context, qtbot, wait_for)
    lost = ui_context.clock.now()
    gateway.drop_connections()
    await wait_for(lambda: chart.gaps, timeout=10, what="a gap after the reconnect")
    gap = chart.gaps[0]
    assert gap.start >= lost - timedelta(seconds=2)
    assert gap.end > gap.start
    await wait_for(lambda: chart.is_populated, what="bars reloaded after the reconnect")
    await wait_for(lambda: chart.gap_regions, what="the gap shaded")
    (start, end), *_ = chart.gap_regions
    assert start == pytest.approx(gap.start.timestamp())
    assert end >= gap.end.timestamp() - 1e-3


async def test_a_flood_of_ticks_repaints_at_the_timer_rate_not_the_event_rate(
    ui_context: UiContext, qtbot: Any, wait_for: Any
) -> None:
    chart = await loaded_chart(ui_context, qtbot, wait_for)
    contract = chart.contract
    assert contract is not None
    bridge = ui_context.bridge
    key = BarKey(contract.con_id, chart.bar_size)
    newest = chart.bars[-1]
    base = Decimal(str(newest.close))
    timer = chart.findChild(FrameTimer)
    assert timer is not None
    fires: list[int] = []
    timer.sig_ran.connect(lambda: fires.append(chart.repaint_count))
    before = chart.repaint_count
    bursts, per_burst = 40, 200
    events = 0
    price = base
    for _ in range(bursts):
        for _ in range(per_burst):
            events += 1
            price = base + Decimal(events % 40) * contract.min_tick
            now = ui_context.clock.now()
            bridge.sig_quotes_updated.emit(
                (
                    Quote(
                        contract.con_id,
                        price - contract.min_tick,
                        price,
                        price,
                        now,
                        MarketDataType.LIVE,
                    ),
                )
            )
            bar = Bar(
                newest.start,
                newest.open,
                max(newest.high, float(price)),
                min(newest.low, float(price)),
                float(price),
                newest.volume + events,
            )
            bridge.sig_bar_updated.emit(key, bar, False)
        await asyncio.sleep(0)  # one turn of the loop between bursts: the timer may fire there
    await wait_for(lambda: chart.bars[-1].close == float(price), what="the last bar shown")
    await wait_for(
        lambda: f"Last <b>{price:,.2f}</b>" in child(chart, QLabel, "chartQuote").text(),
        what="the last price shown",
    )
    repaints = chart.repaint_count - before
    assert events == bursts * per_burst
    # Every repaint came from the coalescing timer, never from an event, and the events of one
    # burst (between two turns of the loop) were drawn at most once.
    assert 1 <= repaints <= len(fires)
    assert repaints <= bursts + 1


async def test_a_hidden_chart_keeps_its_data_and_paints_it_when_shown(
    ui_context: UiContext, qtbot: Any, wait_for: Any
) -> None:
    chart = await loaded_chart(ui_context, qtbot, wait_for)
    contract = chart.contract
    assert contract is not None
    newest = chart.bars[-1]
    chart.hide()
    before = chart.repaint_count
    later = Bar(
        newest.start + bar_length(chart.bar_size),
        newest.close,
        newest.close + 1,
        newest.close - 1,
        newest.close + 1,
        7,
    )
    ui_context.bridge.sig_bar_updated.emit(BarKey(contract.con_id, chart.bar_size), later, True)
    await wait_for(lambda: chart.bars[-1] == later, what="the bar kept while hidden")
    timer = chart.findChild(FrameTimer)
    assert timer is not None
    await wait_for(lambda: not timer.isActive(), what="the repaint timer to fire while hidden")
    assert chart.repaint_count == before

    chart.show()
    await wait_for(lambda: chart.repaint_count > before, what="a repaint once shown")


async def test_the_family_picker_charts_that_family_s_active_month(
    ui_context: UiContext, qtbot: Any, wait_for: Any, as_of: datetime
) -> None:
    chart = await loaded_chart(ui_context, qtbot, wait_for)
    picker = child(chart, QComboBox, "chartSymbol")
    picker.setCurrentText("NQ")
    picker.activated.emit(picker.currentIndex())
    nq = (await rollover_view(ui_context.broker, "NQ", ui_context.settings.rollover, as_of)).active
    await wait_for(lambda: chart.contract == nq and chart.is_populated, what="NQ bars")
    assert set(ui_context.broker.market.subscriptions()) == {nq.con_id}


async def test_switches_within_one_loop_turn_leave_only_the_last_subscription(
    ui_context: UiContext, qtbot: Any, wait_for: Any, as_of: datetime
) -> None:
    chart = await loaded_chart(ui_context, qtbot, wait_for)
    cl = (await rollover_view(ui_context.broker, "CL", ui_context.settings.rollover, as_of)).active
    chart.show_contract(cl)
    chart.set_bar_size("15 mins")  # before the 1-minute CL request has even started
    market = ui_context.broker.market
    final = {BarKey(cl.con_id, "15 mins"): 1}
    await wait_for(
        lambda: chart.is_populated and market.bar_subscriptions() == final,
        what="only the 15-minute CL bars subscribed",
    )
    assert market.subscriptions() == {cl.con_id: 1}
    assert chart.bars[1].start - chart.bars[0].start >= timedelta(minutes=15)
