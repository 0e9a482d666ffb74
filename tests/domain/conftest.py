"""Shared fixtures for the domain tests: an exchange business calendar and listed contracts."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from datetime import date
from functools import cache

import pytest

from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.products import MONTH_CODES, product
from ibconsole.domain.rollover import last_trade
from ibconsole.domain.sessions import BusinessCalendar, business_calendar


@cache
def _xnys() -> BusinessCalendar:
    # Built once per run: exchange_calendars takes a fraction of a second per calendar.
    return business_calendar("XNYS", date(2008, 1, 1), date(2028, 12, 31))


@pytest.fixture(scope="session")
def xnys() -> BusinessCalendar:
    """NYSE business days 2008-2028, the days the expiry rules count."""
    return _xnys()


ListedFactory = Callable[[str, str], ListedContract]


def _listed(symbol: str, contract_month: str) -> ListedContract:
    item = product(symbol)
    year, month = int(contract_month[:4]), int(contract_month[4:])
    return ListedContract(
        symbol=symbol,
        local_symbol=f"{item.trading_class}{MONTH_CODES[month - 1]}{year % 10}",
        con_id=zlib.crc32(f"{symbol}{contract_month}".encode()),
        contract_month=contract_month,
        last_trade=last_trade(item, contract_month, _xnys()),
        exchange=item.exchange,
        currency=item.currency,
        multiplier=item.multiplier,
        min_tick=item.min_tick,
        trading_class=item.trading_class,
    )


@pytest.fixture(scope="session")
def listed() -> ListedFactory:
    """A listed contract as IB would report it, with its last trade from the exchange rule."""
    return _listed
