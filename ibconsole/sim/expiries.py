"""Last trade dates of futures contracts by each exchange's own rule."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from ibconsole.sim.holidays import add_business_days, is_business_day, last_business_day_of_month

__all__ = [
    "ExpiryRule",
    "crude_oil",
    "equity_index",
    "euro_fx",
    "metals",
    "micro_crude_oil",
    "natural_gas",
    "treasuries",
]

ExpiryRule = Callable[[int, int], date]
"""(contract year, contract month) -> last trade date."""

_FRIDAY = 4
_WEDNESDAY = 2


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def equity_index(year: int, month: int) -> date:
    """CME/CBOT equity index: the third Friday of the contract month, the business day before
    if that Friday is an exchange holiday."""
    day = _nth_weekday(year, month, _FRIDAY, 3)
    while not is_business_day(day):
        day -= timedelta(days=1)
    return day


def crude_oil(year: int, month: int) -> date:
    """NYMEX crude oil: 3 business days before the 25th of the month before the contract month,
    4 when the 25th is not a business day."""
    prior_year, prior_month = (year, month - 1) if month > 1 else (year - 1, 12)
    the_25th = date(prior_year, prior_month, 25)
    return add_business_days(the_25th, -3 if is_business_day(the_25th) else -4)


def micro_crude_oil(year: int, month: int) -> date:
    """NYMEX Micro WTI: one business day before the CL contract of the same month, so the
    micro is cash-settled against a CL price that is still trading."""
    return add_business_days(crude_oil(year, month), -1)


def natural_gas(year: int, month: int) -> date:
    """NYMEX Henry Hub natural gas: 3 business days before the first day of the contract month."""
    return add_business_days(date(year, month, 1), -3)


def metals(year: int, month: int) -> date:
    """COMEX gold: the third-last business day of the contract month."""
    return add_business_days(last_business_day_of_month(year, month), -2)


def treasuries(year: int, month: int) -> date:
    """CBOT Treasury note and bond futures: the 7th business day before the last business day
    of the contract month."""
    return add_business_days(last_business_day_of_month(year, month), -7)


def euro_fx(year: int, month: int) -> date:
    """CME Euro FX: 2 business days before the third Wednesday of the contract month."""
    return add_business_days(_nth_weekday(year, month, _WEDNESDAY, 3), -2)
