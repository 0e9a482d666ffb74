"""Which month of a futures family is front, next and active now: the chain from the broker, the
exchange's business calendar over it and the rollover rules, in the one place every part asks
(the ticket's contract picker, the rollover panel, the chart, the signal inbox).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from ibconsole.broker.calendars import ExchangeCalendars
from ibconsole.broker.contracts import ContractService, FuturesChain
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.products import product
from ibconsole.domain.rollover import RolloverSettings, RolloverView, front_months
from ibconsole.domain.sessions import BusinessCalendar

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


async def chain_calendar(
    calendars: ExchangeCalendars, symbol: str, contracts: Sequence[ListedContract]
) -> BusinessCalendar:
    """The business calendar of ``symbol``'s expiry rules, covering every listed month."""
    if not contracts:
        raise ValueError(f"No listed {symbol} contracts were given, so no calendar range is known")
    item = product(symbol)
    days = [c.last_trade.date() for c in contracts]
    first = min(days) - _LOOK_BACK
    last = max(days) + _LOOK_AHEAD
    # Whole years: every family on the same calendar shares one (cached) business calendar.
    return await calendars.business_calendar(
        item.business_calendar, date(first.year, 1, 1), date(last.year, 12, 31)
    )


async def load_family_months(
    contracts: ContractService,
    calendars: ExchangeCalendars,
    symbol: str,
    settings: RolloverSettings,
    now: datetime,
) -> FamilyMonths:
    """Fetch ``symbol``'s chain (cached per trading day) and find its months at ``now``."""
    chain = await contracts.chain(symbol)
    calendar = await chain_calendar(calendars, chain.product.symbol, chain.contracts)
    view = front_months(chain.contracts, now, calendar, settings)
    return FamilyMonths(chain, calendar, view)
