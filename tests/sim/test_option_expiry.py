"""Settlement of option positions at expiry, table-driven on the books alone: every side and
right in and out of the money, physically settled options and those that expire with their
future."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from ibconsole.sim.accounts import Accounts
from ibconsole.sim.clock import SimClock
from ibconsole.sim.instruments import Catalogue, Instrument
from ibconsole.sim.option_chains import OptionChains
from ibconsole.sim.option_expiry import intrinsic_value, settle

ACCOUNT = "DU1"
AS_OF = datetime(2025, 3, 4, 15, 0, tzinfo=UTC)


def _option(trading_class: str, strike: str, right: str) -> tuple[Instrument, Instrument]:
    clock = SimClock(AS_OF)
    catalogue = Catalogue(clock)
    chains = OptionChains(
        catalogue, clock, lambda future: Decimal(70 if future.symbol == "CL" else 6000)
    )
    series = next(s for s in chains.series() if s.option_class.trading_class == trading_class)
    return chains.instrument(series, Decimal(strike), right), series.underlying


@pytest.mark.parametrize(
    ("right", "strike", "held", "future_after"),
    [
        ("C", "65", 2, 2),  # long call in the money: long the future
        ("C", "65", -2, -2),  # short call assigned: short the future
        ("P", "75", 1, -1),  # long put: short the future
        ("P", "75", -1, 1),  # short put assigned: long the future
        ("C", "80", 3, 0),  # out of the money: nothing
        ("P", "60", -3, 0),
    ],
)
def test_crude_options_settle_into_the_future_at_the_strike(
    right: str, strike: str, held: int, future_after: int
) -> None:
    option, future = _option("LO", strike, right)
    books = Accounts([ACCOUNT])
    premium = Decimal("1.25")
    books.apply_fill(ACCOUNT, option, "BUY" if held > 0 else "SELL", Decimal(abs(held)), premium)
    cash = books.snapshot(ACCOUNT, lambda _: premium).cash
    changed = settle(books, ACCOUNT, option, future, Decimal(70))
    assert books.quantity(ACCOUNT, option.con_id) == 0
    assert books.quantity(ACCOUNT, future.con_id) == future_after
    assert changed == ([option, future] if future_after else [option])
    # the premium stays where it went; the exercise itself costs nothing
    assert books.snapshot(ACCOUNT, lambda _: Decimal(70)).cash == cash
    position = books.position(ACCOUNT, future.con_id, lambda _: Decimal(70))
    if future_after:
        assert position is not None
        assert position.avg_cost == Decimal(strike) * 1000


def test_quarterly_equity_options_are_settled_in_cash_at_intrinsic_value() -> None:
    option, future = _option("ES", "5900", "C")
    assert option.last_trade_date == future.last_trade_date
    books = Accounts([ACCOUNT])
    books.apply_fill(ACCOUNT, option, "BUY", Decimal(1), Decimal("150"))
    settle(books, ACCOUNT, option, future, Decimal("6010.25"))
    assert books.quantity(ACCOUNT, future.con_id) == 0
    snapshot = books.snapshot(ACCOUNT, lambda _: Decimal(0))
    assert snapshot.realized_pnl == (Decimal("110.25") - 150) * 50
    assert snapshot.cash == Decimal(1_000_000) - 150 * 50 - Decimal("1.42") + Decimal("110.25") * 50


def test_intrinsic_value() -> None:
    call, _ = _option("OG", "2700", "C")
    put, _ = _option("OG", "2700", "P")
    assert intrinsic_value(call, Decimal(2750)) == 50
    assert intrinsic_value(call, Decimal(2650)) == 0
    assert intrinsic_value(put, Decimal(2650)) == 50
    assert intrinsic_value(put, Decimal(2750)) == 0


def test_nothing_happens_without_a_position() -> None:
    option, future = _option("LO", "65", "C")
    books = Accounts([ACCOUNT])
    assert settle(books, ACCOUNT, option, future, Decimal(70)) == []
