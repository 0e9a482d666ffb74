"""Futures chains from IB's contract details, cached per product per trading day.

The broker only fetches: which month is front, when to roll and whether the market is open are
decided by ``domain.rollover`` and ``domain.sessions`` from what is fetched here.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from ibconsole.broker.calendars import ExchangeCalendars
from ibconsole.broker.ib_client import IB, ContractDetails, Future
from ibconsole.broker.mapping import listed_contract
from ibconsole.domain.clock import Clock
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.products import Product, product
from ibconsole.domain.sessions import TradingSessions, parse_ib_hours, schedule_at

log = logging.getLogger(__name__)


class ContractLookupError(RuntimeError):
    """A chain could not be fetched; the message says why in words a trader understands."""


@dataclass(frozen=True, slots=True)
class ListedMonth:
    contract: ListedContract
    trading_hours: TradingSessions | None  # None when IB sent no usable hours for it
    liquid_hours: TradingSessions | None


@dataclass(frozen=True, slots=True)
class FuturesChain:
    product: Product
    months: tuple[ListedMonth, ...]  # sorted by last trade, nearest first
    fetched_on: date

    @property
    def contracts(self) -> tuple[ListedContract, ...]:
        return tuple(month.contract for month in self.months)

    def month(self, con_id: int) -> ListedMonth | None:
        return next((m for m in self.months if m.contract.con_id == con_id), None)


class ContractService:
    """Fetch and cache futures chains; one request in flight per product at a time."""

    def __init__(
        self, ib: IB, clock: Clock, request_timeout: float, calendars: ExchangeCalendars
    ) -> None:
        self._ib = ib
        self._clock = clock
        self._calendars = calendars
        self._timeout = request_timeout
        self._cache: dict[str, FuturesChain] = {}
        self._in_flight: dict[str, asyncio.Task[FuturesChain]] = {}

    def cached(self, symbol: str) -> FuturesChain | None:
        chain = self._cache.get(symbol)
        if chain is None or chain.fetched_on != self._trading_day(chain.product):
            return None
        return chain

    def is_open(self, contract: ListedContract) -> bool | None:
        """Is the market of ``contract`` open now: IB's trading hours first, the exchange
        calendar when IB gave none for now (if it has been read: the first ask starts the
        reading); None when neither can tell."""
        now = self._clock.now()
        month = self.by_con_id(contract.con_id)
        schedule = schedule_at(
            now,
            month.trading_hours if month is not None else None,
            lambda: self._calendars.sessions_if_read(product(contract.symbol).calendar, now.date()),
        )
        return schedule.is_open(now) if schedule is not None else None

    def by_con_id(self, con_id: int) -> ListedMonth | None:
        for chain in self._cache.values():
            month = chain.month(con_id)
            if month is not None:
                return month
        return None

    async def chain(self, symbol: str) -> FuturesChain:
        """The listed months of ``symbol`` (a product key such as "ES"), from cache when fresh."""
        spec = product(symbol)
        fresh = self.cached(spec.symbol)
        if fresh is not None:
            return fresh
        task = self._in_flight.get(spec.symbol)
        if task is None:
            task = asyncio.ensure_future(self._fetch(spec))
            task.set_name(f"fetch {spec.symbol} chain")
            self._in_flight[spec.symbol] = task
            task.add_done_callback(lambda done: self._fetched(spec.symbol, done))
        return await asyncio.shield(task)

    def close(self) -> None:
        """Stop every fetch under way; their callers get CancelledError."""
        for task in list(self._in_flight.values()):
            task.cancel()

    def _fetched(self, symbol: str, task: asyncio.Task[FuturesChain]) -> None:
        self._in_flight.pop(symbol, None)
        if not task.cancelled():
            # Read here, so a failure whose callers have all gone away is not reported as lost.
            task.exception()

    def _trading_day(self, spec: Product) -> date:
        return self._clock.now().astimezone(ZoneInfo(spec.time_zone)).date()

    async def _fetch(self, spec: Product) -> FuturesChain:
        query = Future(
            symbol=spec.ib_symbol,
            exchange=spec.exchange,
            currency=spec.currency,
            tradingClass=spec.trading_class,
        )
        if not self._ib.isConnected():
            raise ContractLookupError(
                f"Not connected: the {spec.symbol} contract months are unknown."
            )
        try:
            details = await asyncio.wait_for(self._ib.reqContractDetailsAsync(query), self._timeout)
        except TimeoutError as exc:
            raise ContractLookupError(
                f"IB did not send the {spec.symbol} contract months within {self._timeout:g} s."
            ) from exc
        except ConnectionError as exc:
            raise ContractLookupError(
                f"The connection dropped while fetching the {spec.symbol} contract months."
            ) from exc
        months = sorted(
            (_month(d, spec) for d in details if _is_future(d)),
            key=lambda m: m.contract.last_trade,
        )
        if not months:
            raise ContractLookupError(
                f"IB knows no {spec.symbol} futures on {spec.exchange} "
                f"(symbol {spec.ib_symbol}, trading class {spec.trading_class})."
            )
        chain = FuturesChain(spec, tuple(months), self._trading_day(spec))
        self._cache[spec.symbol] = chain
        log.info("%s: %d listed months fetched", spec.symbol, len(months))
        return chain


def _is_future(details: ContractDetails) -> bool:
    return details.contract is not None and details.contract.secType == "FUT"


def _month(details: ContractDetails, spec: Product) -> ListedMonth:
    zone = details.timeZoneId or spec.time_zone
    return ListedMonth(
        listed_contract(details, spec),
        _hours(details.tradingHours, zone, "IB tradingHours"),
        _hours(details.liquidHours, zone, "IB liquidHours"),
    )


def _hours(text: str, zone: str, source: str) -> TradingSessions | None:
    if not text:
        return None
    try:
        return parse_ib_hours(text, zone, source)
    except ValueError:
        # A schedule IB garbled must not hide the contract: sessions fall back to the calendar.
        log.warning("unusable %s %r: falling back to the exchange calendar", source, text[:80])
        return None
