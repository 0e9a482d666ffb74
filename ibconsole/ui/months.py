"""The window's way to a futures family's months (``broker.family_months`` decides them, for the
window and the signal inbox alike), and how the window writes a contract's name and dates.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from ibconsole.broker.broker import Broker
from ibconsole.broker.family_months import FamilyMonths, chain_calendar, load_family_months
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.products import product
from ibconsole.domain.rollover import RolloverSettings, RolloverView

__all__ = [
    "WATCH_LIST",
    "FamilyMonths",
    "chain_calendar",
    "contract_name",
    "exchange_day",
    "exchange_time",
    "family_months",
    "rollover_view",
]

# The futures families the window watches and charts by default.
WATCH_LIST: tuple[str, ...] = (
    "ES", "MES", "NQ", "MNQ", "RTY", "M2K", "YM", "MYM",
    "CL", "MCL", "GC", "MGC", "ZN", "6E",
)  # fmt: skip


async def family_months(
    broker: Broker, symbol: str, settings: RolloverSettings, now: datetime
) -> FamilyMonths:
    """Fetch ``symbol``'s chain (cached by the broker per trading day) and find its months."""
    return await load_family_months(broker.contracts, broker.calendars, symbol, settings, now)


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
