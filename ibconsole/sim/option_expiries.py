"""Last trade dates of options on futures, and the futures month each option series exercises
into, by each exchange's own rule (CME Group contract specifications, quoted per rule)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from ibconsole.sim import expiries
from ibconsole.sim.holidays import add_business_days, is_business_day, last_business_day_of_month

__all__ = [
    "OptionExpiryRule",
    "UnderlyingMonth",
    "crude_oil_options",
    "end_of_month",
    "equity_index_quarterly",
    "gold_cycle_month",
    "gold_options",
    "next_quarter",
    "same_month",
]

OptionExpiryRule = Callable[[int, int], date]
"""(option contract year, option contract month) -> last trade date."""

UnderlyingMonth = Callable[[int, int], tuple[int, int]]
"""(option contract year, month) -> (year, month) of the futures contract it exercises into."""

_GOLD_CYCLE = (2, 4, 6, 8, 10, 12)


def equity_index_quarterly(year: int, month: int) -> date:
    """E-mini S&P 500 quarterly options (ES): "Trading terminates at 9:30 a.m. ET on the 3rd
    Friday of the contract quarter" (CME, E-mini S&P 500 options contract specs, CME rulebook
    358A), with the future itself; in-the-money options are exercised into the expiring future,
    which settles to the Special Opening Quotation (AM settlement)."""
    return expiries.equity_index(year, month)


def end_of_month(year: int, month: int) -> date:
    """E-mini S&P 500 end-of-month options (EW): "Trading terminates at 3:00 p.m. CT on the
    last business day of the contract month" (CME contract specs; PM settlement)."""
    return last_business_day_of_month(year, month)


def crude_oil_options(year: int, month: int) -> date:
    """NYMEX WTI crude oil monthly options (LO): "Trading ends three business days before the
    termination of trading in the underlying futures contract" (CME, Crude Oil Options
    contract specs)."""
    return add_business_days(expiries.crude_oil(year, month), -3)


def gold_options(year: int, month: int) -> date:
    """COMEX gold monthly options (OG): "Trading terminates on the 4th last business day of the
    month prior to the contract month. If that day is a Friday or immediately precedes an
    Exchange holiday, trading terminates on the previous business day" (CME, Gold Options
    contract specs, COMEX rulebook chapter 115)."""
    prior_year, prior_month = (year, month - 1) if month > 1 else (year - 1, 12)
    day = add_business_days(last_business_day_of_month(prior_year, prior_month), -3)
    # the rule applies again to the day it moves to: a Friday before a Thursday holiday
    # becomes the Tuesday (December 2011 options: 22 November)
    while day.weekday() == 4 or not is_business_day(day + timedelta(days=1)):
        day = add_business_days(day, -1)
    return day


def same_month(year: int, month: int) -> tuple[int, int]:
    """Quarterly ES and monthly LO options exercise into the future of their own month."""
    return year, month


def next_quarter(year: int, month: int) -> tuple[int, int]:
    """EW end-of-month options exercise into the first quarterly E-mini future still trading
    at the month's end: the quarter's own in January or February, the next quarter's in March
    (the March future stopped on the 3rd Friday)."""
    quarter = (month // 3 + 1) * 3
    return (year, quarter) if quarter <= 12 else (year + 1, 3)


def gold_cycle_month(year: int, month: int) -> tuple[int, int]:
    """OG options exercise into the nearest gold future of the Feb/Apr/Jun/Aug/Oct/Dec cycle
    at or after their month (a January option into February, a February one into February;
    CME fact card "Understanding and Pricing COMEX Gold Options")."""
    for cycle in _GOLD_CYCLE:
        if cycle >= month:
            return year, cycle
    raise ValueError(f"month must be 1-12, got {month}")
