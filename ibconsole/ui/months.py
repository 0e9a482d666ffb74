"""Which month of a futures family is front, next and active now: the chain from the broker, the
exchange's business calendar over it and the rollover rules, in the one place the window asks;
and how the window writes a contract's name and dates.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from ibconsole.broker.broker import Broker
from ibconsole.broker.contracts import FuturesChain
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.products import product
from ibconsole.domain.rollover import RolloverSettings, RolloverView, front_months
from ibconsole.domain.sessions import BusinessCalendar, business_calendar

# The futures families the window watches and charts by default.
WATCH_LIST: tuple[str, ...] = (
    "ES", "MES", "NQ", "MNQ", "RTY", "M2K", "YM", "MYM",
    "CL", "MCL", "GC", "MGC", "ZN", "6E",
)  # fmt: skip

# Expiry rules look back into the month before the contract month (CL, first notice days) and
# roll rules a few weeks before the deadline; they look forward to the contract month's end.
_LOOK_BACK = timedelta(days=120)
_LOOK_AHEAD = timedelta(days=62)


@dataclass(frozen=True, slots=True)
class FamilyMonths:
    """A product's listed months, the calendar its dates are counted on and what is front now."""

    chain: FuturesChain
    calendar: BusinessCalendar
    view: RolloverView


def chain_calendar(symbol: str, contracts: Sequence[ListedContract]) -> BusinessCalendar:
    """The business calendar of ``symbol``'s expiry rules, covering every listed month."""
    if not contracts:
        raise ValueError(f"No listed {symbol} contracts were given, so no calendar range is known")
    item = product(symbol)
    days = [c.last_trade.date() for c in contracts]
    first = min(days) - _LOOK_BACK
    last = max(days) + _LOOK_AHEAD
    # Whole years: every family on the same calendar shares one (cached) business calendar.
    return business_calendar(
        item.business_calendar, date(first.year, 1, 1), date(last.year, 12, 31)
    )


async def family_months(
    broker: Broker, symbol: str, settings: RolloverSettings, now: datetime
) -> FamilyMonths:
    """Fetch ``symbol``'s chain (cached by the broker per trading day) and find its months."""
    chain = await broker.contracts.chain(symbol)
    # The first reading of a calendar each day is pandas work of a few hundred milliseconds
    # (and, the first time, the import of exchange_calendars): never on the loop's thread.
    calendar = await asyncio.to_thread(chain_calendar, chain.product.symbol, chain.contracts)
    view = front_months(chain.contracts, now, calendar, settings)
    return FamilyMonths(chain, calendar, view)


async def rollover_view(
    broker: Broker, symbol: str, settings: RolloverSettings, now: datetime
) -> RolloverView:
    """Front, next and active month of ``symbol`` (a product key such as "ES") at ``now``.

    New orders for a family go to ``view.active``: the next month from the front's roll date.
    """
    return (await family_months(broker, symbol, settings, now)).view


def contract_name(contract: ListedContract) -> str:
    """The local symbol as the window writes it: IB pads CBOT names ("YM   MAR 25")."""
    return " ".join(contract.local_symbol.split())


def exchange_time(instant: datetime, contract: ListedContract, *, year: bool = True) -> str:
    """``instant`` on the exchange's clock with its zone: "Fri 21 Mar 2025 08:30 CDT"."""
    local = instant.astimezone(ZoneInfo(product(contract.symbol).time_zone))
    return local.strftime("%a %d %b %Y %H:%M %Z" if year else "%a %d %b %H:%M %Z")


def exchange_day(day: date, *, year: bool = True) -> str:
    """A trade date as the window writes it: "Thu 13 Mar 2025"."""
    return day.strftime("%a %d %b %Y" if year else "%a %d %b")
