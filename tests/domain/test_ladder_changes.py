"""The prices whose ladder row may look different since a view last asked (``take_changed``):
what each change of the market, the orders or the position touches (a quote that moves no
price touches none, so the ladder need not repaint for it), and which changes touch every row (the window moved, the book started over, the volume was replaced)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from ibconsole.domain.depth import DepthChange, DepthOperation, DepthSide
from ibconsole.domain.ladder import Ladder
from ibconsole.domain.orders import OrderType, Side
from tests.domain.test_ladder import TICK, book, working

D = Decimal


def _ladder() -> Ladder:
    """Bid 100.00 × 5, 99.75 × 8; ask 100.25 × 4, 100.50 × 9; 10 rows centred on the market;
    nothing changed since."""
    ladder = Ladder(TICK, rows=10)
    book(ladder, [("100.00", 5), ("99.75", 8)], [("100.25", 4), ("100.50", 9)])
    ladder.recentre()
    ladder.take_changed()
    return ladder


def _depth(operation: DepthOperation, side: DepthSide, position: int, price: str, size: int):
    change = DepthChange(operation, side, position, D(price), D(size))
    return lambda ladder: ladder.apply_depth([change])


def _prices(*prices: str) -> frozenset[Decimal]:
    return frozenset(D(price) for price in prices)


CHANGES: list[tuple[str, Callable[[Ladder], object], frozenset[Decimal] | None]] = [
    ("nothing", lambda ladder: None, frozenset()),
    (
        "a size behind the touch",
        _depth(DepthOperation.UPDATE, DepthSide.BID, 1, "99.75", 12),
        _prices("99.75"),
    ),
    (
        "a better bid two ticks up: the rows it crosses change side",
        _depth(DepthOperation.INSERT, DepthSide.BID, 0, "100.50", 3),
        _prices("100.00", "100.25", "100.50"),
    ),
    (
        "the quote's best ask where depth shows one: no row changes",
        lambda ladder: ladder.set_quote(D("100.00"), D("101.00"), None),
        frozenset(),
    ),
    (
        "the same quote again (its sizes or time changed)",
        lambda ladder: ladder.set_quote(D("100.00"), D("100.25"), None),
        frozenset(),
    ),
    (
        "the quote's last trade moves",
        lambda ladder: ladder.set_quote(D("100.00"), D("100.25"), D("100.25")),
        _prices("100.25"),
    ),
    (
        "a trade at the ask, then one at the bid",
        lambda ladder: ladder.record_trades([(D("100.25"), D(2)), (D("100.00"), D(1))]),
        _prices("100.25", "100.00"),
    ),
    (
        "a working buy at 99.50",
        lambda ladder: ladder.set_orders([working(1, Side.BUY, OrderType.LIMIT, limit="99.50")]),
        _prices("99.50"),
    ),
    (
        "a long position bought at 99.80 (its average shows on 99.75)",
        lambda ladder: ladder.set_position(D(1), D("99.80")),
        _prices("99.75"),
    ),
    ("the window scrolls", lambda ladder: ladder.scroll(2, 0.0), None),
    ("the window grows", lambda ladder: ladder.resize(20), None),
    ("the book starts over", lambda ladder: ladder.reset_depth(), None),
    ("the day's volume arrives", lambda ladder: ladder.set_volume({D("100.00"): D(7)}), None),
]


@pytest.mark.parametrize(
    ("change", "expected"), [(c, e) for _, c, e in CHANGES], ids=[n for n, _, _ in CHANGES]
)
def test_what_each_change_touches(
    change: Callable[[Ladder], object], expected: frozenset[Decimal] | None
) -> None:
    ladder = _ladder()
    change(ladder)
    assert ladder.changed is (expected != frozenset())
    assert ladder.take_changed() == expected
    assert ladder.take_changed() == frozenset()  # taken: nothing left until the next change
    assert not ladder.changed


def test_a_new_ladder_says_every_row_may_look_different() -> None:
    assert Ladder(TICK).take_changed() is None


def test_a_stop_protecting_a_long_position_touches_its_trigger_when_it_is_marked() -> None:
    ladder = _ladder()
    ladder.set_orders([working(2, Side.SELL, OrderType.STOP, stop="99.00")])
    assert ladder.take_changed() == _prices("99.00")  # the sell order's row
    ladder.set_position(D(1), D("100.00"))
    assert ladder.take_changed() == _prices("100.00", "99.00")  # the average, and the stop mark
    ladder.set_orders([])
    assert ladder.take_changed() == _prices("99.00")


def test_a_best_bid_leaping_past_the_window_touches_every_row() -> None:
    ladder = _ladder()
    _depth(DepthOperation.INSERT, DepthSide.BID, 0, "120.00", 1)(ladder)
    assert ladder.take_changed() is None
