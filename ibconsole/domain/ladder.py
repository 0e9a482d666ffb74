"""The price ladder's settings and its model: one row per tick of the contract, highest price
first, in a window the view shows; the depth on each side, the trader's own working orders at
each price (pending until IB acknowledges them), the volume traded at each price today, the
best bid and ask, the last trade and its side, the position's average price and its exits.

The ladder keeps the prices whose row may look different since a view last asked
(``take_changed``), so a view rebuilds those rows only, not its whole window every frame.

Re-centring follows the market when it leaves the window, but never while the trader is
aiming: a pointer moving over the ladder, or a scroll, holds the window still for
``AIM_HOLD_SECONDS``. What a click or a drag means is decided in ``ladder_clicks``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import Flag, IntEnum, StrEnum, auto
from typing import TypeVar

from ibconsole.domain.depth import DepthBook, DepthChange, DepthSide
from ibconsole.domain.orders import OrderType, Side, WorkingOrder

__all__ = [
    "AIM_HOLD_SECONDS",
    "EDGE_ROWS",
    "FarSideClick",
    "Ladder",
    "LadderColumn",
    "LadderRow",
    "LadderSettings",
    "Mark",
    "OwnOrders",
    "order_price",
]


class FarSideClick(StrEnum):
    """What a click on the far side of the market does (a buy at or above the ask, a sell at or
    below the bid)."""

    CONFIRM = "confirm"  # ask before sending a marketable limit
    STOP = "stop"  # place a stop at that price


@dataclass(frozen=True, slots=True)
class LadderSettings:
    far_side_click: FarSideClick = FarSideClick.CONFIRM
    quantity_presets: tuple[int, ...] = (1, 2, 5, 10)


K = TypeVar("K")

# The window stays still this long after the pointer moved over the ladder or it was scrolled.
AIM_HOLD_SECONDS = 1.5
# The market this close to the window's edge counts as leaving it.
EDGE_ROWS = 2
# IB's statuses of an order it has not acknowledged yet (or whose cancel it has not).
_PENDING = frozenset({"PendingSubmit", "ApiPending", "PendingCancel"})


class LadderColumn(IntEnum):
    BUY = 0
    BID = 1
    PRICE = 2
    ASK = 3
    SELL = 4
    VOLUME = 5

    @property
    def title(self) -> str:
        return _TITLES[self]


_TITLES = {
    LadderColumn.BUY: "Buy",
    LadderColumn.BID: "Bid",
    LadderColumn.PRICE: "Price",
    LadderColumn.ASK: "Ask",
    LadderColumn.SELL: "Sell",
    LadderColumn.VOLUME: "Volume",
}


class Mark(Flag):
    """What a row's price is besides a price."""

    NONE = 0
    BEST_BID = auto()
    BEST_ASK = auto()
    LAST = auto()
    AVERAGE = auto()  # the position's average price
    STOP = auto()  # a working stop protecting the position
    TAKE_PROFIT = auto()  # a working limit that takes the position's profit


@dataclass(frozen=True, slots=True)
class OwnOrders:
    """The trader's working orders on one side at one price."""

    side: Side
    orders: tuple[WorkingOrder, ...]

    @property
    def quantity(self) -> Decimal:
        return sum((order.remaining for order in self.orders), Decimal(0))

    @property
    def pending(self) -> bool:
        """Some order here is not acknowledged by IB yet (sent, or its cancel sent)."""
        return any(order.status in _PENDING for order in self.orders)

    @property
    def order_ids(self) -> tuple[int, ...]:
        return tuple(order.order_id for order in self.orders)


@dataclass(frozen=True, slots=True)
class LadderRow:
    price: Decimal
    bid_size: Decimal | None
    ask_size: Decimal | None
    buys: OwnOrders | None
    sells: OwnOrders | None
    volume: Decimal | None
    marks: Mark
    last_side: Side | None  # the aggressor of the last trade, on the row of the last trade

    def own(self, side: Side) -> OwnOrders | None:
        return self.buys if side is Side.BUY else self.sells


def order_price(order: WorkingOrder) -> Decimal | None:
    """The price a working order rests at on the ladder: its limit, a stop's trigger."""
    if order.order_type is OrderType.LIMIT:
        return order.limit_price
    if order.order_type in (OrderType.STOP, OrderType.STOP_LIMIT):
        return order.stop_price
    return None


class Ladder:
    """One contract's ladder: depth, quote, trades, own orders and position, and the window of
    ``rows`` rows the view shows (``top`` is the price of row 0; None until the market is
    known)."""

    def __init__(self, tick: Decimal, rows: int = 40) -> None:
        if not tick > 0:
            raise ValueError(f"a ladder needs a positive tick, got {tick}")
        self.tick = tick
        self.book = DepthBook()
        self._rows = max(1, rows)
        self._top: Decimal | None = None
        self._quote: tuple[Decimal | None, Decimal | None] = (None, None)
        self._last: Decimal | None = None
        self._last_side: Side | None = None
        self._volume: dict[Decimal, Decimal] = {}
        self._orders: tuple[WorkingOrder, ...] = ()
        self._own: dict[tuple[Side, Decimal], OwnOrders] = {}
        self._exits: dict[Decimal, Mark] = {}
        self._position = Decimal(0)
        self._average: Decimal | None = None
        self._aimed_at = -math.inf
        self._changed: set[Decimal] | None = None  # None: any row may look different

    # ------------------------------------------------------------------ what changed
    def take_changed(self) -> frozenset[Decimal] | None:
        """The prices whose row may look different since the last call (a depth size, a mark,
        an own order, the volume, or the side of the market the price is on); None when any row
        may (the window moved, the book was reset, the volume replaced)."""
        changed, self._changed = self._changed, set()
        return None if changed is None else frozenset(changed)

    @property
    def changed(self) -> bool:
        """Some row may look different since ``take_changed`` was last called."""
        return self._changed is None or bool(self._changed)

    def _touch(self, *prices: Decimal | None) -> None:
        if self._changed is not None:
            self._changed.update(price for price in prices if price is not None)

    def _touch_all(self) -> None:
        self._changed = None

    def _touch_between(self, old: Decimal | None, new: Decimal | None) -> None:
        """A best price moved from ``old`` to ``new``: the rows between change side."""
        if old == new:
            return
        if old is None or new is None:
            self._touch_all()  # every row on that side of the market changed side
            return
        low, high = min(old, new), max(old, new)
        steps = int((high - low) / self.tick)
        if steps > self._rows:
            self._touch_all()
            return
        self._touch(*(low + step * self.tick for step in range(steps + 1)), old, new)

    def _touch_market(self, bid: Decimal | None, ask: Decimal | None) -> None:
        """Touch the rows the best bid and ask moved across since they were ``bid``, ``ask``."""
        self._touch_between(bid, self.best_bid)
        self._touch_between(ask, self.best_ask)

    # ------------------------------------------------------------------ the window
    @property
    def rows(self) -> int:
        return self._rows

    @property
    def top(self) -> Decimal | None:
        return self._top

    def price_at(self, row: int) -> Decimal | None:
        """The price of ``row`` (0 at the top); None before the window is placed or outside it."""
        if self._top is None or not 0 <= row < self._rows:
            return None
        return self._top - row * self.tick

    def row_of(self, price: Decimal) -> int | None:
        """The row showing ``price`` (snapped to the tick); None when it is outside the window."""
        if self._top is None:
            return None
        row = int(((self._top - self.snap(price)) / self.tick).to_integral_value())
        return row if 0 <= row < self._rows else None

    def snap(self, price: Decimal) -> Decimal:
        """``price`` on the tick grid (half a tick rounds away from zero)."""
        ticks = (price / self.tick).quantize(Decimal(1), rounding=ROUND_HALF_UP)
        return ticks * self.tick

    def resize(self, rows: int) -> None:
        """Show ``rows`` rows, keeping the price in the middle where it was."""
        rows = max(1, rows)
        if self._top is not None:
            middle = self._top - (self._rows // 2) * self.tick
            self._top = middle + (rows // 2) * self.tick
        self._rows = rows
        self._touch_all()

    def scroll(self, rows: int, now: float) -> None:
        """Move the window ``rows`` rows up (positive: higher prices); the trader is aiming."""
        if self._top is not None:
            self._top += rows * self.tick
            self._touch_all()
        self.aim(now)

    def aim(self, now: float) -> None:
        """The trader is pointing at the ladder at ``now`` (seconds, any monotonic origin)."""
        self._aimed_at = now

    def anchor(self) -> Decimal | None:
        """The price the window centres on: the best ask (the bid just below the middle), else
        the tick above the best bid, else the last trade."""
        bid, ask = self.best_bid, self.best_ask
        if ask is not None:
            return ask
        if bid is not None:
            return bid + self.tick
        return self._last

    def recentre(self) -> bool:
        """Centre the window on the market; False when the market is unknown or already there."""
        anchor = self.anchor()
        if anchor is None:
            return False
        top = self.snap(anchor) + (self._rows // 2 - 1) * self.tick
        moved = top != self._top
        self._top = top
        if moved:
            self._touch_all()
        return moved

    def market_in_view(self) -> bool:
        """The best bid and ask (or the last trade) lie inside the window, off its edges."""
        if self._top is None:
            return False
        edge = min(EDGE_ROWS, (self._rows - 1) // 2) * self.tick
        high = self._top - edge
        low = self._top - (self._rows - 1) * self.tick + edge
        prices = [p for p in (self.best_bid, self.best_ask) if p is not None]
        if not prices and self._last is not None:
            prices = [self._last]
        return all(low <= price <= high for price in prices)

    def auto_recentre(self, now: float) -> bool:
        """Re-centre when the market left the window, unless the trader aimed within
        ``AIM_HOLD_SECONDS`` of ``now`` (the first placement never waits). True if it moved."""
        if self._top is None:
            return self.recentre()
        if now - self._aimed_at < AIM_HOLD_SECONDS or self.market_in_view():
            return False
        return self.recentre()

    # ------------------------------------------------------------------ the market
    def apply_depth(self, changes: Iterable[DepthChange]) -> set[Decimal]:
        """Apply IB's depth changes in order; the prices whose resting size changed."""
        bid, ask = self.best_bid, self.best_ask
        touched = self.book.apply_all(changes)
        self._touch(*touched)
        self._touch_market(bid, ask)
        return touched

    def reset_depth(self) -> None:
        """The depth stream starts over (a re-request after a reconnect, or refused)."""
        self.book.clear()
        self._touch_all()

    def set_quote(self, bid: Decimal | None, ask: Decimal | None, last: Decimal | None) -> None:
        """The top of the book from the quote stream (used where depth shows no row), and its
        last trade."""
        best_bid, best_ask = self.best_bid, self.best_ask
        self._quote = (bid, ask)
        self._touch_market(best_bid, best_ask)
        if last is not None and last != self._last:
            self._touch(self._last, last)
            self._last = last
            self._last_side = None  # a trade not printed to the ladder: its side is unknown

    def record_trades(self, trades: Iterable[tuple[Decimal, Decimal]]) -> None:
        """Trades printed at (price, size): volume at price, and the last trade's aggressor
        (at or above the ask a buyer lifted it, at or below the bid a seller hit it)."""
        for price, size in trades:
            bid, ask = self.best_bid, self.best_ask
            if ask is not None and price >= ask:
                self._last_side = Side.BUY
            elif bid is not None and price <= bid:
                self._last_side = Side.SELL
            else:
                self._last_side = None
            self._touch(self._last, price)
            self._last = price
            if size > 0:
                self._volume[price] = self._volume.get(price, Decimal(0)) + size

    def set_volume(self, profile: Mapping[Decimal, Decimal]) -> None:
        """Volume traded at each price so far today (trades recorded later add to it)."""
        self._volume = {self.snap(price): size for price, size in profile.items() if size > 0}
        self._touch_all()

    @property
    def best_bid(self) -> Decimal | None:
        best = self.book.best(DepthSide.BID)
        return best if best is not None else self._quote[0]

    @property
    def best_ask(self) -> Decimal | None:
        best = self.book.best(DepthSide.ASK)
        return best if best is not None else self._quote[1]

    @property
    def last(self) -> Decimal | None:
        return self._last

    @property
    def last_side(self) -> Side | None:
        return self._last_side

    def volume_at(self, price: Decimal) -> Decimal | None:
        return self._volume.get(price)

    # ---------------------------------------------------------- orders and position
    def set_orders(self, working: Iterable[WorkingOrder]) -> None:
        """The working orders on this contract (any other contract's are the caller's to
        leave out); orders without a price on the ladder (market orders) are not shown."""
        self._orders = tuple(working)
        grouped: dict[tuple[Side, Decimal], list[WorkingOrder]] = {}
        for order in self._orders:
            price = order_price(order)
            if price is not None:
                grouped.setdefault((order.side, price), []).append(order)
        own = {key: OwnOrders(key[0], tuple(orders)) for key, orders in grouped.items()}
        self._touch(*(price for (_, price) in _differing(self._own, own)))
        self._own = own
        self._mark_exits()

    def set_position(self, quantity: Decimal, average_price: Decimal | None) -> None:
        """The signed position and its average price (per unit of price, not IB's avg cost)."""
        average = average_price if quantity else None
        if average != self._average:
            self._touch(
                *(self.snap(price) for price in (self._average, average) if price is not None)
            )
        self._position = quantity
        self._average = average
        self._mark_exits()

    def _mark_exits(self) -> None:
        """Stops and take-profits of the position: orders on the side that reduces it, stops
        at their trigger, limits that belong to a bracket or OCA group at their limit."""
        before, self._exits = self._exits, {}
        self._mark_position_exits()
        self._touch(*_differing(before, self._exits))

    def _mark_position_exits(self) -> None:
        if not self._position:
            return
        closing = Side.SELL if self._position > 0 else Side.BUY
        for order in self._orders:
            if order.side is not closing:
                continue
            price = order_price(order)
            if price is None:
                continue
            if order.order_type in (OrderType.STOP, OrderType.STOP_LIMIT):
                mark = Mark.STOP
            elif order.parent_id or order.oca_group:
                mark = Mark.TAKE_PROFIT
            else:
                continue
            self._exits[price] = self._exits.get(price, Mark.NONE) | mark

    @property
    def position(self) -> Decimal:
        return self._position

    @property
    def average_price(self) -> Decimal | None:
        return self._average

    def open_pnl(self, multiplier: Decimal) -> Decimal | None:
        """The position's profit or loss at the last trade; None when flat or either price is
        unknown."""
        if not self._position or self._last is None or self._average is None:
            return None
        return (self._last - self._average) * self._position * multiplier

    @property
    def working(self) -> tuple[WorkingOrder, ...]:
        return self._orders

    def own(self, side: Side, price: Decimal) -> OwnOrders | None:
        return self._own.get((side, price))

    # -------------------------------------------------------------------- reading
    def row(self, row: int) -> LadderRow | None:
        price = self.price_at(row)
        if price is None:
            return None
        return self.row_at(price)

    def row_at(self, price: Decimal) -> LadderRow:
        marks = self._exits.get(price, Mark.NONE)
        if price == self.best_bid:
            marks |= Mark.BEST_BID
        if price == self.best_ask:
            marks |= Mark.BEST_ASK
        last = self._last
        if price == last:
            marks |= Mark.LAST
        if self._average is not None and price == self.snap(self._average):
            marks |= Mark.AVERAGE
        book = self.book
        return LadderRow(
            price=price,
            bid_size=book.size_at(DepthSide.BID, price),
            ask_size=book.size_at(DepthSide.ASK, price),
            buys=self._own.get((Side.BUY, price)),
            sells=self._own.get((Side.SELL, price)),
            volume=self._volume.get(price),
            marks=marks,
            last_side=self._last_side if price == last else None,
        )


def _differing(old: Mapping[K, object], new: Mapping[K, object]) -> set[K]:
    """The keys of ``old`` and ``new`` whose values differ (one of them missing counts)."""
    return {key for key in old.keys() | new.keys() if old.get(key) != new.get(key)}
