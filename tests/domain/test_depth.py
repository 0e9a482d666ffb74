"""The depth book: IB's row changes (insert shifts down, delete shifts up, update in place)
applied by position, with the size at each price answered without a search, and IB's refusals
of a depth request in words."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ibconsole.domain.depth import (
    DepthBook,
    DepthChange,
    DepthOperation,
    DepthSide,
    depth_refusal,
)

INS, UPD, DEL = DepthOperation.INSERT, DepthOperation.UPDATE, DepthOperation.DELETE
BID, ASK = DepthSide.BID, DepthSide.ASK


def ch(op: DepthOperation, side: DepthSide, position: int, price: str, size: int) -> DepthChange:
    return DepthChange(op, side, position, Decimal(price), Decimal(size))


CASES = [
    pytest.param(
        [ch(INS, BID, 0, "100.00", 5), ch(INS, BID, 1, "99.75", 7)],
        [("100.00", 5), ("99.75", 7)],
        id="inserts fill the side best first",
    ),
    pytest.param(
        [ch(INS, BID, 0, "100.00", 5), ch(INS, BID, 0, "100.25", 2)],
        [("100.25", 2), ("100.00", 5)],
        id="an insert at the top shifts the rows below down",
    ),
    pytest.param(
        [ch(INS, BID, 0, "100.00", 5), ch(INS, BID, 1, "99.75", 7), ch(DEL, BID, 0, "100.00", 0)],
        [("99.75", 7)],
        id="a delete shifts the rows below up",
    ),
    pytest.param(
        [ch(INS, BID, 0, "100.00", 5), ch(UPD, BID, 0, "100.00", 9)],
        [("100.00", 9)],
        id="an update changes the size in place",
    ),
    pytest.param(
        [ch(INS, BID, 0, "100.00", 5), ch(UPD, BID, 0, "99.50", 3)],
        [("99.50", 3)],
        id="an update may change the price of its row (market by price)",
    ),
    pytest.param(
        [ch(UPD, BID, 0, "100.00", 4)],
        [("100.00", 4)],
        id="an update of a row never sent reads as its insert",
    ),
    pytest.param(
        [ch(INS, BID, 0, "100.00", 5), ch(DEL, BID, 3, "98.00", 0)],
        [("100.00", 5)],
        id="a delete of a row never sent changes nothing",
    ),
    pytest.param(
        [ch(INS, BID, 0, "100.00", 5), ch(INS, BID, 7, "99.00", 1)],
        [("100.00", 5), ("99.00", 1)],
        id="an insert past the end appends",
    ),
]


@pytest.mark.parametrize(("changes", "bids"), CASES)
def test_changes_by_position(changes: list[DepthChange], bids: list[tuple[str, int]]) -> None:
    book = DepthBook()
    book.apply_all(changes)
    expected = tuple((Decimal(p), Decimal(s)) for p, s in bids)
    assert book.rows(BID) == expected
    assert book.rows(ASK) == ()
    for price, size in expected:
        assert book.size_at(BID, price) == size
        assert book.size_at(ASK, price) is None
    assert book.best(BID) == (expected[0][0] if expected else None)


def test_a_price_shown_twice_while_rows_shift_keeps_its_size_until_both_rows_go() -> None:
    book = DepthBook()
    book.apply_all([ch(INS, ASK, 0, "101.00", 3), ch(INS, ASK, 1, "101.25", 4)])
    # the second row takes the first row's price before the first row is deleted
    assert book.apply(ch(UPD, ASK, 1, "101.00", 6)) == (Decimal("101.25"), Decimal("101.00"))
    assert book.size_at(ASK, Decimal("101.00")) == 6
    assert book.size_at(ASK, Decimal("101.25")) is None
    book.apply(ch(DEL, ASK, 0, "101.00", 0))
    assert book.size_at(ASK, Decimal("101.00")) == 6
    book.apply(ch(DEL, ASK, 0, "101.00", 0))
    assert book.size_at(ASK, Decimal("101.00")) is None
    assert book.empty


def test_apply_names_the_prices_to_repaint_and_clear_empties_both_sides() -> None:
    book = DepthBook()
    assert book.apply(ch(INS, BID, 0, "100.00", 5)) == (Decimal("100.00"),)
    assert book.apply(ch(INS, ASK, 0, "100.25", 5)) == (Decimal("100.25"),)
    assert book.apply(ch(DEL, BID, 5, "90.00", 0)) == ()
    book.clear()
    assert book.empty
    assert book.best(BID) is None
    assert book.size_at(ASK, Decimal("100.25")) is None


def test_a_negative_position_is_ignored() -> None:
    book = DepthBook()
    assert book.apply(ch(INS, BID, -1, "100.00", 5)) == ()
    assert book.empty


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (309, "all are in use"),
        (10092, "no depth permission"),
        (354, "no market data subscription"),
        (10167, "delayed"),
        (10168, "no delayed data"),
        (10197, "Another live session"),
    ],
)
def test_refusals_are_sentences_that_keep_the_ladder_on_top_of_book(code: int, words: str) -> None:
    sentence = depth_refusal(code)
    assert sentence is not None
    assert words in sentence
    assert f"error {code}" in sentence


def test_other_codes_are_not_refusals() -> None:
    assert depth_refusal(2104) is None
    assert depth_refusal(317) is None
