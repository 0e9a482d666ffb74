"""A contract's prices converted once each: the remembered conversion is exactly
``decimal_or_none``'s, bad values stay None, and nothing grows without bound."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from ibconsole.broker.ib_client import UNSET_DOUBLE
from ibconsole.broker.mapping import decimal_or_none
from ibconsole.broker.tick_grid import TickGrid

QUARTER = Decimal("0.25")


@pytest.mark.parametrize(
    ("tick", "value", "expected"),
    [
        (QUARTER, 5001.25, Decimal("5001.25")),
        (QUARTER, 5001.3, Decimal("5001.25")),  # off the grid: the nearest tick
        (QUARTER, -0.75, Decimal("-0.75")),  # a spread's price may be negative
        (QUARTER, 0.0, Decimal("0")),
        (Decimal("0.01"), 5001.3, Decimal("5001.30")),
        (Decimal("0.0001"), 1.08345, Decimal("1.0834")),  # ties to even, as decimal_or_none
        (None, 0.1, Decimal("0.1")),  # no grid: the float's shortest text
        (QUARTER, math.nan, None),
        (QUARTER, math.inf, None),
        (QUARTER, -math.inf, None),
        (QUARTER, UNSET_DOUBLE, None),
        (QUARTER, 1e300, None),  # beyond any tick grid
    ],
)
def test_a_price_is_decimal_or_none_on_the_grid_first_and_every_time_after(
    tick: Decimal | None, value: float, expected: Decimal | None
) -> None:
    grid = TickGrid(tick)

    first, again = grid.price(value), grid.price(value)

    assert first == expected
    assert again == expected
    assert first == decimal_or_none(value, tick)
    if expected is not None:
        assert str(first) == str(decimal_or_none(value, tick))  # the same digits shown


def test_a_repeated_price_is_the_remembered_decimal() -> None:
    grid = TickGrid(QUARTER)

    first = grid.price(5001.25)

    assert grid.price(5001.25) is first
    assert len(grid) == 1


def test_nan_is_never_remembered() -> None:
    grid = TickGrid(QUARTER)

    assert grid.price(float("nan")) is None
    assert grid.price(math.nan) is None
    assert len(grid) == 0


def test_contracts_on_different_ticks_do_not_share_prices() -> None:
    quarter, cent = TickGrid(QUARTER), TickGrid(Decimal("0.01"))

    assert quarter.price(5001.3) == Decimal("5001.25")
    assert cent.price(5001.3) == Decimal("5001.30")


def test_a_runaway_stream_of_prices_starts_the_memory_afresh() -> None:
    grid = TickGrid(QUARTER, limit=4)

    prices = [grid.price(100.0 + n * 0.25) for n in range(10)]

    assert prices == [Decimal("100.00") + Decimal("0.25") * n for n in range(10)]
    assert 1 <= len(grid) <= 4


def test_a_grid_remembering_nothing_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one price"):
        TickGrid(QUARTER, limit=0)
