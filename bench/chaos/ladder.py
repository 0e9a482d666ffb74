"""The price ladder's steps: clicks in the Bid and Ask columns (resting limits, and far-side
clicks that ask first or place a stop), drags of own orders to another row, clicks on own
orders that cancel them, all during depth bursts.

A click goes the ladder's own way: the ladder model (``domain.ladder``) is fed by the console's
depth service and quotes as the panel feeds it, ``ladder_clicks`` decides what the click means,
and the order-entry model (``broker.entry``) checks, asks, journals and sends, as it does for
the panel (``ui/ladder/panel.py``); only the dialog is the scenario's answer."""

from __future__ import annotations

import logging
import time
from decimal import Decimal

from bench.chaos.scene import SETTLE, Scene
from bench.stress_rig import until
from ibconsole.broker.market_depth import DepthUpdate
from ibconsole.domain.depth import DepthSide
from ibconsole.domain.ladder import FarSideClick, Ladder, LadderColumn, order_price
from ibconsole.domain.ladder_clicks import (
    ClickKind,
    LadderClick,
    click_action,
    drag_changes,
    marketable_confirmation,
)
from ibconsole.domain.order_entry import EntryFields, EntryOutcome, Refused, Sent
from ibconsole.domain.orders import OrderType, OrderValidationError, Side

log = logging.getLogger("bench.chaos")

ROWS = 40


class LadderSteps:
    VERBS = ("ladder_open", "ladder_click", "ladder_drag", "ladder_cancel", "depth_burst")

    def __init__(self, scene: Scene) -> None:
        self.scene = scene
        self.contract = scene.rig.front
        self.ladder = Ladder(self.contract.min_tick, ROWS)
        self.far_side = FarSideClick.CONFIRM
        self._open = False

    async def close(self) -> None:
        if self._open:
            self._open = False
            depth = self.scene.broker.depth
            depth.depth_updated -= self._on_depth
            depth.unsubscribe(self.contract.con_id)

    async def check(self) -> None:
        """After the heal, the ladder shows the simulator's book, level for level."""
        if self._open and not await until(lambda: not self._differences(), SETTLE):
            self.scene.outcome.mismatches += self._differences()

    def _differences(self) -> list[str]:
        book = self.scene.gw.depth.book(self.contract.con_id)
        if book is None:
            return ["the simulator keeps no book of the ladder's contract"]
        tick = self.contract.min_tick
        found = []
        for side, levels in ((DepthSide.BID, book.bids), (DepthSide.ASK, book.asks)):
            theirs = tuple(
                (price * tick, Decimal(size))
                for price, size in zip(levels.prices, levels.sizes, strict=True)
            )
            mine = self.ladder.book.rows(side)
            if mine != theirs:
                found.append(f"the ladder's {side.name.lower()}s {mine}, the simulator's {theirs}")
        return found

    # ------------------------------------------------------------- the panel's feed
    async def ladder_open(self, far_side: str) -> None:
        """The ladder follows the front month: depth subscribed, the far-side setting chosen."""
        depth = self.scene.broker.depth
        self.far_side = FarSideClick(far_side)
        depth.depth_updated += self._on_depth
        self._open = True
        status = depth.subscribe(self.contract)
        log.info("ladder depth: %s", status)

    def _on_depth(self, update: DepthUpdate) -> None:
        if update.con_id != self.contract.con_id:
            return
        if update.reset:
            self.ladder.reset_depth()
        if update.changes:
            self.ladder.apply_depth(update.changes)
        if update.trades:
            self.ladder.record_trades(update.trades)

    def _repaint(self) -> None:
        """What the panel's repaint does before a click can land: quote, own orders, window."""
        entry = self.scene.broker.entry
        quote = self.scene.broker.market.quote(self.contract.con_id)
        if quote is not None:
            self.ladder.set_quote(quote.bid, quote.ask, quote.last)
        self.ladder.set_orders(entry.working_orders(self.contract) or ())
        self.ladder.auto_recentre(time.monotonic())

    # ------------------------------------------------------------- clicks
    async def ladder_click(self, column: str, ticks: int, quantity: int, how: str) -> None:
        """A click in the Bid (Ask) column ``ticks`` rows below (above) the best bid (ask):
        negative ticks reach the far side of the market."""
        if not self._open:
            return
        self._repaint()
        ladder = self.ladder
        tick = self.contract.min_tick
        buy = column == "bid"
        touch = ladder.best_bid if buy else ladder.best_ask
        anchor = touch if touch is not None else ladder.price_at(ROWS // 2)
        if anchor is None:
            return
        price = anchor - ticks * tick if buy else anchor + ticks * tick
        row = ladder.row_of(price)
        if row is None:
            return
        ladder.aim(time.monotonic())
        where = LadderColumn.BID if buy else LadderColumn.ASK
        action = click_action(ladder, row, where, self.far_side)
        self._act(action, quantity, how)

    async def ladder_cancel(self, pick: float) -> None:
        """A click on own working orders in the Buy or Sell column: they are cancelled."""
        found = self._own_row(pick)
        if found is None:
            return
        row, column = found
        self._act(click_action(self.ladder, row, column, self.far_side), 1, "confirm")

    async def ladder_drag(self, pick: float, rows: int) -> None:
        """Own orders dragged ``rows`` rows (up: higher prices) in their Buy or Sell column."""
        found = self._own_row(pick)
        if found is None or not rows:
            return
        row, column = found
        entry = self.scene.broker.entry
        for change in drag_changes(self.ladder, row, column, row - rows):
            outcome = self.scene.answer(entry.modify(change), "confirm")
            if not isinstance(outcome, Sent):
                log.info("ladder drag: %s", Scene.said(outcome))
                break

    async def depth_burst(self, rate: int, seconds: float) -> None:
        self.scene.gw.faults.depth_burst(rate, seconds, self.contract.con_id)

    def _own_row(self, pick: float) -> tuple[int, LadderColumn] | None:
        if not self._open:
            return None
        self._repaint()
        placed = [
            (order, price)
            for order in self.ladder.working
            if (price := order_price(order)) is not None
        ]
        if not placed:
            return None
        order, price = placed[int(pick * len(placed))]
        row = self.ladder.row_of(price)
        if row is None:  # off the window: the trader scrolls to it first
            self.ladder.scroll(
                int((price - (self.ladder.anchor() or price)) / self.contract.min_tick),
                time.monotonic(),
            )
            row = self.ladder.row_of(price)
        if row is None:
            return None
        column = LadderColumn.BUY if order.side is Side.BUY else LadderColumn.SELL
        return row, column

    # ------------------------------------------------------------- what the panel does
    def _act(self, action: LadderClick, quantity: int, how: str) -> None:
        entry = self.scene.broker.entry
        if action.kind is ClickKind.REFUSED:
            log.info("ladder click refused: %s", action.reason)
        elif action.kind is ClickKind.CANCEL:
            for order_id in action.order_ids:
                outcome = entry.cancel(order_id)
                if isinstance(outcome, Refused):
                    log.info("ladder cancel: %s", outcome.message)
        elif action.kind is ClickKind.PLACE:
            log.info("ladder: %s", Scene.said(self._place(action, quantity, how)))

    def _place(self, action: LadderClick, quantity: int, how: str) -> EntryOutcome | str:
        side, order_type, price = action.side, action.order_type, action.price
        if side is None or order_type is None or price is None:
            raise ValueError(f"a ladder order needs a side, a type and a price: {action}")
        entry = self.scene.broker.entry
        fields = EntryFields(
            self.contract,
            Decimal(quantity),
            order_type,
            limit_price=price if order_type is OrderType.LIMIT else None,
            stop_price=price if order_type is OrderType.STOP else None,
        )
        if not action.marketable:
            return self.scene.answer(entry.place(side, fields), how)
        try:
            intent = entry.intent(side, fields)
        except OrderValidationError as error:
            return f"Not sent: {error.message}."
        report = entry.check(intent)
        far = self.ladder.best_ask if side is Side.BUY else self.ladder.best_bid
        if report.blocked or far is None:
            return entry.send(intent)  # journalled as blocked, and says why
        return self.scene.answer(marketable_confirmation(intent, report, far), how)
