"""US exchange holidays and business-day arithmetic for the simulator's own expiry and session rules.

The table is the simulator's own (full-day closures of the US futures and equity exchanges), kept
apart from any calendar library the console uses so that the two cannot share a mistake.
"""

from __future__ import annotations

from datetime import date, timedelta

__all__ = [
    "FIRST_YEAR",
    "LAST_YEAR",
    "add_business_days",
    "is_business_day",
    "is_holiday",
    "last_business_day_of_month",
]

# New Year's Day, Martin Luther King Jr. Day, Presidents' Day, Good Friday, Memorial Day,
# Juneteenth (from 2022), Independence Day, Labor Day, Thanksgiving, Christmas; a holiday on a
# Sunday is observed on Monday, on a Saturday on Friday (except New Year's Day, which then has no
# weekday closure).
_HOLIDAYS_BY_YEAR: dict[int, str] = {
    2020: "01-01 01-20 02-17 04-10 05-25 07-03 09-07 11-26 12-25",
    2021: "01-01 01-18 02-15 04-02 05-31 07-05 09-06 11-25 12-24",
    2022: "01-17 02-21 04-15 05-30 06-20 07-04 09-05 11-24 12-26",
    2023: "01-02 01-16 02-20 04-07 05-29 06-19 07-04 09-04 11-23 12-25",
    2024: "01-01 01-15 02-19 03-29 05-27 06-19 07-04 09-02 11-28 12-25",
    2025: "01-01 01-20 02-17 04-18 05-26 06-19 07-04 09-01 11-27 12-25",
    2026: "01-01 01-19 02-16 04-03 05-25 06-19 07-03 09-07 11-26 12-25",
    2027: "01-01 01-18 02-15 03-26 05-31 06-18 07-05 09-06 11-25 12-24",
    2028: "01-17 02-21 04-14 05-29 06-19 07-04 09-04 11-23 12-25",
    2029: "01-01 01-15 02-19 03-30 05-28 06-19 07-04 09-03 11-22 12-25",
    2030: "01-01 01-21 02-18 04-19 05-27 06-19 07-04 09-02 11-28 12-25",
    2031: "01-01 01-20 02-17 04-11 05-26 06-19 07-04 09-01 11-27 12-25",
    2032: "01-01 01-19 02-16 03-26 05-31 06-18 07-05 09-06 11-25 12-24",
}
FIRST_YEAR = min(_HOLIDAYS_BY_YEAR)
LAST_YEAR = max(_HOLIDAYS_BY_YEAR)
_HOLIDAYS = frozenset(
    date.fromisoformat(f"{year}-{month_day}")
    for year, days in _HOLIDAYS_BY_YEAR.items()
    for month_day in days.split()
)
_ONE_DAY = timedelta(days=1)


def is_holiday(day: date) -> bool:
    """Whether ``day`` is a full-day US exchange holiday (years outside the table have none)."""
    return day in _HOLIDAYS


def is_business_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _HOLIDAYS


def add_business_days(day: date, count: int) -> date:
    """The business day ``count`` business days after ``day`` (before it when negative).

    ``day`` itself is never counted, so ``add_business_days(d, -3)`` is "3 business days before d".
    """
    if count == 0:
        raise ValueError("add_business_days needs a non-zero count")
    step = _ONE_DAY if count > 0 else -_ONE_DAY
    remaining = abs(count)
    while remaining:
        day += step
        if is_business_day(day):
            remaining -= 1
    return day


def last_business_day_of_month(year: int, month: int) -> date:
    first_of_next = date(year + month // 12, month % 12 + 1, 1)
    day = first_of_next - _ONE_DAY
    while not is_business_day(day):
        day -= _ONE_DAY
    return day
