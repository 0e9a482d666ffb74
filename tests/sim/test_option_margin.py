"""Margins of option positions on the books' margin rule, without a socket: a long option needs
its premium, a short one its premium plus a price and volatility scan, more the deeper in the
money it is; other instruments keep the ordinary rates."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from ibconsole.sim import PaperGateway
from ibconsole.sim.option_margin import OptionMargins
from ibconsole.sim.rates import margin

AS_OF = datetime(2025, 3, 4, 15, 0, tzinfo=UTC)


def _setup() -> tuple[PaperGateway, OptionMargins]:
    gateway = PaperGateway(seed=7, as_of=AS_OF)
    return gateway, OptionMargins(gateway.market, gateway.option_book, gateway.clock)


def _es(gateway: PaperGateway, strike: int, right: str):
    series = next(s for s in gateway.option_chains.series() if s.option_class.trading_class == "ES")
    return gateway.option_chains.instrument(series, Decimal(strike), right)


def test_a_long_option_needs_its_premium() -> None:
    gateway, rule = _setup()
    option = _es(gateway, 6000, "C")
    need = rule(option, Decimal(3), Decimal("61.25"))
    assert need.initial == need.maintenance == Decimal("61.25") * 50 * 3


def test_a_short_option_needs_more_the_deeper_it_is_in_the_money() -> None:
    gateway, rule = _setup()
    forward = float(gateway.market.quote(_es(gateway, 6000, "C").under_con_id).bid)
    far, near, deep = (_es(gateway, round(forward * k / 5) * 5, "P") for k in (0.8, 1.0, 1.1))
    needs = [
        rule(option, Decimal(-1), gateway.market.quote(option.con_id).ask)
        for option in (far, near, deep)
    ]
    assert needs[0].initial < needs[1].initial < needs[2].initial
    assert needs[0].initial >= Decimal("1580")  # a tenth of ES's 15,800 at least
    assert all(need.maintenance < need.initial for need in needs)


def test_other_instruments_keep_the_ordinary_rates() -> None:
    gateway, rule = _setup()
    future = gateway.catalogue.by_con_id(_es(gateway, 6000, "C").under_con_id)
    assert future is not None
    assert rule(future, Decimal(2), Decimal(6000)) == margin(future, Decimal(2), Decimal(6000))
