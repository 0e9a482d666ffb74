"""Bursts cost one update a frame: the depth batches that reach the ladder in one loop turn are
applied to it together when its repaint runs, and only the rows that changed are repainted;
the options chain announces only the rows a burst of quotes touched. Against a quiet simulator
(no quote or depth churn of its own), so every change seen is one the test made."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from PySide6.QtCore import QEvent, QModelIndex, QObject

from ibconsole.broker.market_depth import DepthUpdate
from ibconsole.domain.contracts import OptionRight
from ibconsole.domain.depth import DepthChange, DepthOperation, DepthSide
from ibconsole.domain.option_chain import ChainTable
from ibconsole.domain.order_words import quantity_text
from ibconsole.domain.quotes import MarketDataType, Quote
from ibconsole.sim import PaperGateway
from ibconsole.ui.context import UiContext
from ibconsole.ui.frame_timer import FrameTimer
from ibconsole.ui.ladder import PriceLadder
from ibconsole.ui.option_chain.chain_model import ChainTableModel

QUIET = 0.01  # quote updates per second: the market stands still unless the test moves it
BURST = 50


class Paints(QObject):
    """Counts the paint events a widget receives."""

    def __init__(self, widget: QObject) -> None:
        super().__init__()
        self.count = 0
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False


async def _quiet_context(make_gateway: Any, make_ui_context: Any) -> UiContext:
    gateway: PaperGateway = await make_gateway(tick_rate=QUIET, depth_rate=0.0)
    context: UiContext = await make_ui_context(gateway)
    return context


async def test_depth_batches_of_one_loop_turn_make_one_ladder_update_and_repaint_one_row(
    make_gateway: Any, make_ui_context: Any, qtbot: Any, wait_for: Any
) -> None:
    ctx = await _quiet_context(make_gateway, make_ui_context)
    ladder = PriceLadder(ctx)
    qtbot.addWidget(ladder)
    ladder.resize(380, 900)
    ladder.show()
    contract = (await ctx.broker.contracts.chain("ES")).months[0].contract
    ladder.follow(contract)
    book = ladder.ladder.book
    await wait_for(lambda: not book.empty, what="the depth")
    await wait_for(ladder.ladder.market_in_view, what="the market in the window")
    # Today's volume at each price loads in the background and repaints the ladder when it
    # lands: on a busy machine that could be in the middle of the burst below.
    await wait_for(
        lambda: not any(t.get_name().startswith("volume today") for t in asyncio.all_tasks()),
        what="today's volume loaded",
    )
    timer = ladder.findChild(FrameTimer)
    assert timer is not None
    await wait_for(lambda: not timer.isActive(), what="the ladder at rest")
    bid = ladder.ladder.best_bid
    assert bid is not None
    row = ladder.ladder.row_of(bid)
    assert row is not None
    before = book.size_at(DepthSide.BID, bid)
    runs: list[int] = []
    timer.sig_ran.connect(lambda: runs.append(1))
    announced: list[tuple[int, int]] = []
    ladder.model.dataChanged.connect(
        lambda top, bottom: announced.append((top.row(), bottom.row()))
    )
    paints = Paints(ladder.view.viewport())
    sizes = [before + n for n in range(1, BURST + 1)] if before is not None else []
    assert sizes, "the best bid has a depth row"

    # One loop turn: the bridge hands over BURST batches, each moving the best bid's size.
    for size in sizes:
        change = DepthChange(DepthOperation.UPDATE, DepthSide.BID, 0, bid, size)
        ctx.bridge.sig_depth_updated.emit(DepthUpdate(contract.con_id, (change,)))

    assert book.size_at(DepthSide.BID, bid) == before  # nothing applied per batch
    assert timer.isActive()
    await wait_for(lambda: runs, what="the ladder's repaint")
    assert book.size_at(DepthSide.BID, bid) == sizes[-1]  # every batch, at once
    assert announced == [(row, row)]  # one model update, for the one row that changed
    await wait_for(lambda: paints.count >= 1, what="the row painted")
    assert runs == [1]
    assert ladder.model.data(ladder.model.index(row, 1)) == quantity_text(sizes[-1])


async def test_a_burst_of_quotes_announces_only_the_runs_of_rows_it_touched(
    make_gateway: Any, make_ui_context: Any, wait_for: Any
) -> None:
    ctx = await _quiet_context(make_gateway, make_ui_context)
    month = (await ctx.broker.contracts.chain("ES")).months[0].contract
    (expiry, *_) = await ctx.broker.options.expiries([month])
    strikes = expiry.strikes[len(expiry.strikes) // 2 - 5 : len(expiry.strikes) // 2 + 5]
    options = await ctx.broker.options.options(expiry, month, strikes)
    table = ChainTable(options)
    model = ChainTableModel()
    model.set_table(table)
    announced: list[tuple[int, int]] = []

    def on_changed(top: QModelIndex, bottom: QModelIndex) -> None:
        announced.append((top.row(), bottom.row()))

    model.dataChanged.connect(on_changed)
    now = ctx.clock.now()
    touched = (1, 2, 3, 7)  # two runs: rows 1 to 3, and row 7
    for _ in range(BURST):
        for row in touched:
            contract = table.contract(row, OptionRight.CALL)
            assert contract is not None
            quote = Quote(contract.con_id, Decimal(1), Decimal(2), None, now, MarketDataType.LIVE)
            changed = table.set_quote(quote)
            assert changed is not None
            model.row_changed(changed)

    assert announced == []  # nothing per quote
    await wait_for(lambda: announced, what="the chain's repaint")
    assert announced == [(1, 3), (7, 7)]
