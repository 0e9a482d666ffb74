"""Market depth as IB streams it: changes by row position (insert, update, delete) on each side,
applied to a book that also answers "what size rests at this price" in constant time, and the
sentences for IB's refusals of a depth request.

IB numbers rows from 0 at the touch on each side; an insert shifts the rows below it down, a
delete shifts them up (IB's reference clients keep the book as a list per side and do exactly
that). A side holds at most the requested number of rows, so a shift moves a few dozen
references at most: the cost of a change does not grow with the session or the price range.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import IntEnum, StrEnum

__all__ = [
    "DepthBook",
    "DepthChange",
    "DepthOperation",
    "DepthSide",
    "DepthState",
    "DepthStatus",
    "depth_refusal",
]


class DepthOperation(IntEnum):
    """IB's ``operation`` of updateMktDepth."""

    INSERT = 0
    UPDATE = 1
    DELETE = 2


class DepthSide(IntEnum):
    """IB's ``side`` of updateMktDepth."""

    ASK = 0
    BID = 1


@dataclass(frozen=True, slots=True)
class DepthChange:
    """One row of one side changed; ``price`` is on the contract's tick grid."""

    operation: DepthOperation
    side: DepthSide
    position: int
    price: Decimal
    size: Decimal


class DepthState(StrEnum):
    """Where a depth subscription stands, as the ladder says it."""

    REQUESTED = "requested"  # asked, nothing received yet
    LIVE = "live"
    REFUSED = "refused"  # IB (or the line limit) said no: top of book only
    WAITING = "waiting"  # not connected or not synced: asked again once synced


@dataclass(frozen=True, slots=True)
class DepthStatus:
    con_id: int
    state: DepthState
    sentence: str = ""


# IB's answers that end a depth request, in the trader's words (IB "Message Codes" reference).
_REFUSALS: dict[int, str] = {
    309: (
        "IB allows only a few market depth subscriptions at once and all are in use (error "
        "309): the ladder shows the top of the book only. Close another ladder or depth "
        "window in TWS, then re-open this one."
    ),
    10092: (
        "IB serves no market depth for this contract on this account (error 10092: no depth "
        "permission for this exchange): the ladder shows the top of the book only."
    ),
    354: (
        "This account has no market data subscription for this contract's depth (error 354): "
        "the ladder shows the top of the book only."
    ),
    10167: (
        "Only delayed data is available for this contract, and IB never serves delayed market "
        "depth (error 10167): the ladder shows the top of the book only."
    ),
    10168: (
        "No market data subscription and no delayed data for this contract (error 10168): "
        "the ladder has no depth and no quote."
    ),
    10197: (
        "Another live session (TWS or the mobile app elsewhere) holds this account's market "
        "data (error 10197): the ladder has no depth until it is released."
    ),
    200: "IB does not know this contract for market depth (error 200).",
}

DELAYED_ONLY = (
    "This session uses delayed market data, and IB serves market depth only live: the ladder "
    "shows the top of the book only."
)
LINES_IN_USE = (
    "The console already holds {lines} market depth subscriptions, IB's usual limit: the "
    "ladder shows the top of the book only. Close another ladder to free one."
)


def depth_refusal(code: int) -> str | None:
    """The sentence for an IB message that ends a depth request; None for any other code."""
    return _REFUSALS.get(code)


class _Side:
    """One side's rows by position, and how many rows show each price (a price may briefly
    appear twice while IB shifts rows), with the size last written for it."""

    __slots__ = ("counts", "rows", "sizes")

    def __init__(self) -> None:
        self.rows: list[tuple[Decimal, Decimal]] = []
        self.sizes: dict[Decimal, Decimal] = {}
        self.counts: dict[Decimal, int] = {}

    def add(self, price: Decimal, size: Decimal) -> None:
        self.sizes[price] = size
        self.counts[price] = self.counts.get(price, 0) + 1

    def drop(self, price: Decimal) -> None:
        left = self.counts[price] - 1
        if left:
            self.counts[price] = left
        else:
            del self.counts[price]
            del self.sizes[price]


class DepthBook:
    """Both sides of one contract's depth, changed row by row as IB sends the rows.

    ``apply`` returns the prices whose resting size changed (at most two), so a view repaints
    only those rows.
    """

    def __init__(self) -> None:
        self._sides = {DepthSide.ASK: _Side(), DepthSide.BID: _Side()}

    def apply(self, change: DepthChange) -> tuple[Decimal, ...]:
        side = self._sides[change.side]
        rows = side.rows
        position = change.position
        if position < 0:
            return ()
        operation = change.operation
        if operation == DepthOperation.DELETE:
            if position >= len(rows):
                return ()  # IB deleting a row it never sent: nothing rests there
            price, _ = rows.pop(position)
            side.drop(price)
            return (price,)
        level = (change.price, change.size)
        if operation == DepthOperation.UPDATE and position < len(rows):
            old, _ = rows[position]
            rows[position] = level
            side.drop(old)
            side.add(*level)
            return (change.price,) if old == change.price else (old, change.price)
        # An insert, or an update of a row not sent yet (read as its insert).
        rows.insert(min(position, len(rows)), level)
        side.add(*level)
        return (change.price,)

    def apply_all(self, changes: Iterable[DepthChange]) -> set[Decimal]:
        touched: set[Decimal] = set()
        for change in changes:
            touched.update(self.apply(change))
        return touched

    def clear(self) -> None:
        for side in self._sides.values():
            side.rows.clear()
            side.sizes.clear()
            side.counts.clear()

    def size_at(self, side: DepthSide, price: Decimal) -> Decimal | None:
        """The size resting at ``price`` on ``side``; None when no row shows that price."""
        return self._sides[side].sizes.get(price)

    def best(self, side: DepthSide) -> Decimal | None:
        rows = self._sides[side].rows
        return rows[0][0] if rows else None

    def rows(self, side: DepthSide) -> tuple[tuple[Decimal, Decimal], ...]:
        """(price, size) by position, best first."""
        return tuple(self._sides[side].rows)

    @property
    def empty(self) -> bool:
        return not any(side.rows for side in self._sides.values())
