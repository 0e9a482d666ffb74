"""One instrument's order book as market depth shows it: price levels on the tick grid, best
first on each side, whose best bid and ask always equal the walk's quote, thicker away from the
touch, and which change one position at a time (insert, update, delete) as IB streams them."""

from __future__ import annotations

import random
from collections.abc import Callable

__all__ = ["ASK", "BID", "DELETE", "INSERT", "UPDATE", "BookListener", "BookSide", "OrderBook"]

# IB's codes: operation 0 insert / 1 update / 2 delete; side 0 ask / 1 bid.
INSERT, UPDATE, DELETE = 0, 1, 2
ASK, BID = 0, 1

# Called after every change with (operation, side, position, price in ticks, size, maker index);
# the side already holds the change, and a deleted level's size is reported as 0.
BookListener = Callable[[int, int, int, int, int, int], None]

# Mean resting size grows by this fraction of the touch's mean per tick away from the touch.
_THICKENING = 0.3
# A level's size is its mean times a factor drawn from [_NOISE_LOW, _NOISE_LOW + _NOISE_SPAN).
_NOISE_LOW, _NOISE_SPAN = 0.4, 1.2
# Shares of the changes away from the touch: levels pulled, gaps filled; the rest resize.
_DELETE_SHARE, _INSERT_SHARE = 0.08, 0.08
# Changes cluster near the touch: the position (from 1) is 1 + an exponential draw of this mean.
_NEAR_TOUCH_MEAN = 2.5
# A new level at the far edge of the book leaves a one-tick gap this often.
_EDGE_GAP_CHANCE = 0.1


class BookSide:
    """One side's levels, best first: ``prices`` (in ticks), ``sizes`` and ``makers`` (an index
    into the instrument's market maker names, for SMART depth)."""

    __slots__ = ("code", "direction", "makers", "prices", "sizes")

    def __init__(self, code: int) -> None:
        self.code = code
        # prices move away from the touch downwards for bids, upwards for asks
        self.direction = -1 if code == BID else 1
        self.prices: list[int] = []
        self.sizes: list[int] = []
        self.makers: list[int] = []

    def __len__(self) -> int:
        return len(self.prices)


class OrderBook:
    """Levels of one instrument, at most ``depth`` a side.

    ``follow`` moves the touch to a new quote (levels the quote crossed go first, on both sides,
    so a client replaying the changes never sees a crossed book); ``churn`` makes ``count``
    changes away from the touch (sizes, pulled levels, filled gaps), which never alter the best
    bid or ask. Every change is reported to ``listener`` as it happens.
    """

    def __init__(
        self,
        *,
        bid: int,
        bid_size: int,
        ask: int,
        ask_size: int,
        depth: int,
        sizes: tuple[int, int, int],
        makers: int,
        rng: random.Random,
    ) -> None:
        if depth < 1:
            raise ValueError(f"a book needs at least one level a side, got depth {depth}")
        if makers < 1:
            raise ValueError(f"a book needs at least one market maker, got {makers}")
        if ask <= bid:
            raise ValueError(f"ask {ask} must be above bid {bid} (in ticks)")
        low, high, lot = sizes
        self.depth = depth
        self.listener: BookListener | None = None
        self._rng = rng
        self._lot = lot
        self._mean_lots = (low + high) / 2
        self._makers = makers
        self.bids = BookSide(BID)
        self.asks = BookSide(ASK)
        for side, price, size in ((self.bids, bid, bid_size), (self.asks, ask, ask_size)):
            side.prices.append(price)
            side.sizes.append(size)
            side.makers.append(self._maker())
            self._refill(side)

    def side(self, code: int) -> BookSide:
        return self.asks if code == ASK else self.bids

    # ---- changes driven by the market --------------------------------------------------------

    def follow(self, bid: int, bid_size: int, ask: int, ask_size: int) -> None:
        """Make the touch the quote's: best bid ``bid`` x ``bid_size``, best ask ``ask`` x
        ``ask_size`` (prices in ticks)."""
        if ask <= bid:
            raise ValueError(f"ask {ask} must be above bid {bid} (in ticks)")
        asks, bids = self.asks, self.bids
        while asks.prices and asks.prices[0] < ask:
            self._delete(asks, 0)
        while bids.prices and bids.prices[0] > bid:
            self._delete(bids, 0)
        self._touch(asks, ask, ask_size)
        self._touch(bids, bid, bid_size)
        self._refill(asks)
        self._refill(bids)

    def churn(self, count: int) -> None:
        """``count`` changes behind the touch: most resize a level near it, some pull a level
        (the edge of the book refills) and some fill a gap."""
        rng = self._rng
        for _ in range(count):
            side = self.bids if rng.random() < 0.5 else self.asks
            levels = len(side.prices)
            if levels < 2:
                self._refill(side)
                continue
            roll = rng.random()
            position = 1 + min(levels - 2, int(rng.expovariate(1 / _NEAR_TOUCH_MEAN)))
            if roll < _DELETE_SHARE:
                self._delete(side, position)
                self._refill(side)
                continue
            if roll < _DELETE_SHARE + _INSERT_SHARE:
                gap = self._first_gap(side)
                if gap is not None:
                    price = side.prices[gap - 1] + side.direction
                    self._insert(side, gap, price, self._deep_size(side, price))
                    if len(side.prices) > self.depth:
                        self._delete(side, len(side.prices) - 1)
                    continue
            size = self._deep_size(side, side.prices[position])
            if size == side.sizes[position]:
                size += self._lot
            self._update(side, position, size)

    # ---- helpers ------------------------------------------------------------------------------

    def _touch(self, side: BookSide, price: int, size: int) -> None:
        if side.prices and side.prices[0] == price:
            if side.sizes[0] != size:
                self._update(side, 0, size)
            return
        self._insert(side, 0, price, size)
        if len(side.prices) > self.depth:
            self._delete(side, len(side.prices) - 1)

    def _refill(self, side: BookSide) -> None:
        """Extend the far edge of the book back to ``depth`` levels."""
        while len(side.prices) < self.depth:
            step = 2 if self._rng.random() < _EDGE_GAP_CHANCE else 1
            price = side.prices[-1] + side.direction * step
            if price <= 0:
                return  # no levels at or below zero
            self._insert(side, len(side.prices), price, self._deep_size(side, price))

    def _first_gap(self, side: BookSide) -> int | None:
        prices = side.prices
        for index in range(1, len(prices)):
            if abs(prices[index] - prices[index - 1]) > 1:
                return index
        return None

    def _deep_size(self, side: BookSide, price: int) -> int:
        distance = abs(price - side.prices[0])
        lots = self._mean_lots * (1 + _THICKENING * distance)
        noisy = lots * (_NOISE_LOW + _NOISE_SPAN * self._rng.random())
        return self._lot * max(1, round(noisy))

    def _maker(self) -> int:
        return self._rng.randrange(self._makers) if self._makers > 1 else 0

    def _insert(self, side: BookSide, position: int, price: int, size: int) -> None:
        maker = self._maker()
        side.prices.insert(position, price)
        side.sizes.insert(position, size)
        side.makers.insert(position, maker)
        if self.listener is not None:
            self.listener(INSERT, side.code, position, price, size, maker)

    def _update(self, side: BookSide, position: int, size: int) -> None:
        side.sizes[position] = size
        if self.listener is not None:
            self.listener(
                UPDATE, side.code, position, side.prices[position], size, side.makers[position]
            )

    def _delete(self, side: BookSide, position: int) -> None:
        price = side.prices.pop(position)
        side.sizes.pop(position)
        maker = side.makers.pop(position)
        if self.listener is not None:
            self.listener(DELETE, side.code, position, price, 0, maker)
