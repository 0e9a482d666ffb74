"""The order book model behind market depth, without a socket: its best levels are the quote's,
its levels sit on the tick grid and thicken away from the touch, and the changes it reports,
replayed by position as a client does, rebuild it exactly and never show a crossed book."""

from __future__ import annotations

import random
import statistics
from itertools import pairwise

import pytest

from ibconsole.sim.depth_book import ASK, BID, DELETE, INSERT, UPDATE, OrderBook

SIZES = (1, 60, 1)


def make_book(*, bid: int = 24_000, depth: int = 10, seed: int = 1) -> OrderBook:
    return OrderBook(
        bid=bid,
        bid_size=7,
        ask=bid + 1,
        ask_size=9,
        depth=depth,
        sizes=SIZES,
        makers=3,
        rng=random.Random(seed),
    )


class Replica:
    """A client's copy of the book, kept only from the reported changes, as ib_insync keeps
    ``domBids``/``domAsks`` (insert shifts down, delete shifts up, update replaces)."""

    def __init__(self, book: OrderBook) -> None:
        self.sides: dict[int, list[tuple[int, int]]] = {
            code: list(zip(book.side(code).prices, book.side(code).sizes, strict=True))
            for code in (ASK, BID)
        }
        self.crossed = 0
        self.changes = 0
        book.listener = self.apply

    def apply(
        self, operation: int, side: int, position: int, price: int, size: int, maker: int
    ) -> None:
        levels = self.sides[side]
        if operation == INSERT:
            assert position <= len(levels)
            levels.insert(position, (price, size))
        elif operation == UPDATE:
            assert position < len(levels)
            assert levels[position][0] == price
            levels[position] = (price, size)
        else:
            assert operation == DELETE
            assert levels.pop(position)[0] == price
        self.changes += 1
        bids, asks = self.sides[BID], self.sides[ASK]
        if bids and asks and bids[0][0] >= asks[0][0]:
            self.crossed += 1

    def matches(self, book: OrderBook) -> bool:
        return all(
            self.sides[code]
            == list(zip(book.side(code).prices, book.side(code).sizes, strict=True))
            for code in (ASK, BID)
        )


def assert_well_formed(book: OrderBook) -> None:
    bids, asks = book.bids, book.asks
    assert all(a > b for a, b in pairwise(bids.prices))
    assert all(a < b for a, b in pairwise(asks.prices))
    assert bids.prices[0] < asks.prices[0]
    assert all(size > 0 for size in bids.sizes + asks.sizes)
    assert len(bids) <= book.depth
    assert len(asks) <= book.depth
    assert all(0 <= maker < 3 for maker in bids.makers + asks.makers)


def test_a_new_book_starts_at_the_quote_full_and_well_formed() -> None:
    book = make_book()
    assert (book.bids.prices[0], book.bids.sizes[0]) == (24_000, 7)
    assert (book.asks.prices[0], book.asks.sizes[0]) == (24_001, 9)
    assert len(book.bids) == len(book.asks) == 10
    assert_well_formed(book)


@pytest.mark.parametrize(
    ("moves", "what"),
    [
        ([1] * 30, "a steady rise"),
        ([-1] * 30, "a steady fall"),
        ([1, -1] * 20, "back and forth"),
        ([4, -7, 12, -25, 3], "jumps, some past the whole book"),
    ],
)
def test_following_the_quote_keeps_the_touch_equal_and_the_replay_exact(
    moves: list[int], what: str
) -> None:
    book = make_book()
    replica = Replica(book)
    rng = random.Random(what)
    bid = 24_000
    for move in moves:
        bid += move
        bid_size, ask_size = rng.randint(1, 60), rng.randint(1, 60)
        book.follow(bid, bid_size, bid + 1, ask_size)
        assert (book.bids.prices[0], book.bids.sizes[0]) == (bid, bid_size)
        assert (book.asks.prices[0], book.asks.sizes[0]) == (bid + 1, ask_size)
        assert_well_formed(book)
        assert replica.matches(book)
    assert replica.crossed == 0


def test_churn_changes_only_what_lies_behind_the_touch() -> None:
    book = make_book()
    replica = Replica(book)
    touch = (book.bids.prices[0], book.bids.sizes[0], book.asks.prices[0], book.asks.sizes[0])
    book.churn(5_000)
    assert replica.changes >= 5_000
    assert (book.bids.prices[0], book.bids.sizes[0], book.asks.prices[0], book.asks.sizes[0]) == (
        touch
    )
    assert_well_formed(book)
    assert replica.matches(book)
    assert replica.crossed == 0


def test_a_long_session_of_quotes_and_churn_replays_exactly() -> None:
    book = make_book(seed=5)
    replica = Replica(book)
    rng = random.Random(9)
    bid = 24_000
    operations: set[int] = set()
    seen: list[int] = []

    def record(*change: int) -> None:
        operations.add(change[0])
        seen.append(change[2])
        replica.apply(*change)

    book.listener = record
    for _ in range(2_000):
        bid += rng.choice((-1, 0, 0, 1))
        book.follow(bid, rng.randint(1, 60), bid + 1, rng.randint(1, 60))
        book.churn(rng.randint(0, 6))
        assert_well_formed(book)
    assert replica.matches(book)
    assert replica.crossed == 0
    assert operations == {INSERT, UPDATE, DELETE}
    assert max(seen) == book.depth  # the level a full side pushes out is deleted


def test_levels_thicken_away_from_the_touch_and_gaps_appear() -> None:
    book = make_book(seed=3)
    near: list[int] = []
    far: list[int] = []
    gaps = 0
    for _ in range(400):
        book.churn(20)
        for side in (book.bids, book.asks):
            near += side.sizes[1:3]
            far += side.sizes[-3:]
            gaps += any(abs(a - b) > 1 for a, b in pairwise(side.prices))
    assert statistics.mean(far) > 2 * statistics.mean(near)
    assert len(set(far)) > 20  # noisy, not a fixed profile
    assert gaps > 0


def test_levels_never_reach_zero_price() -> None:
    book = make_book(bid=3)
    assert min(book.bids.prices) >= 1
    book.follow(1, 5, 2, 5)
    assert min(book.bids.prices) >= 1
    assert_well_formed(book)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"depth": 0}, "at least one level"),
        ({"makers": 0}, "at least one market maker"),
        ({"ask": 24_000}, "must be above bid"),
    ],
)
def test_a_book_refuses_impossible_shapes(changes: dict[str, int], message: str) -> None:
    arguments = {"bid": 24_000, "bid_size": 1, "ask": 24_001, "ask_size": 1, "depth": 10}
    arguments |= {"makers": 1} | changes
    with pytest.raises(ValueError, match=message):
        OrderBook(**arguments, sizes=SIZES, rng=random.Random(0))


def test_a_crossed_quote_is_refused() -> None:
    book = make_book()
    with pytest.raises(ValueError, match="must be above bid"):
        book.follow(24_005, 1, 24_005, 1)
