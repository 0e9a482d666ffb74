"""Options on futures from IB: which expiries and strikes exist (``reqSecDefOptParams``, cached
per underlying per trading day), the option contracts of a window of strikes (contract details per
strike, on demand and cached), and the price increments of their market rule.

The cache follows what the console uses: at every sync (IB Gateway's daily restart is one) the
options that no market-data line and no position needs are let go, expired ones with them, so a
chain scrolled and switched for days holds what it shows, not every strike it ever showed.

A whole chain's contract details are never asked for: an E-mini S&P expiry lists hundreds of
strikes, and TWS takes seconds to describe them all. Every request has a timeout; a failure is a
``OptionChainError`` whose message is the sentence the trader reads.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import TypeVar
from zoneinfo import ZoneInfo

from ibconsole.broker.ib_client import IB, Contract, ContractDetails, FuturesOption, OptionChain
from ibconsole.broker.mapping import decimal_or_none, listed_contract
from ibconsole.domain.clock import Clock
from ibconsole.domain.contracts import ListedContract, PriceIncrement
from ibconsole.domain.option_chain import OptionExpiry
from ibconsole.domain.products import UnknownProductError, product

log = logging.getLogger(__name__)

_T = TypeVar("_T")


class OptionChainError(RuntimeError):
    """Options could not be listed; the message says why in words a trader understands."""


@dataclass(frozen=True, slots=True)
class _ListedExpiries:
    """The option expiries on one futures month, as IB listed them on one trading day."""

    future: ListedContract
    fetched_on: date
    expiries: tuple[OptionExpiry, ...]


class OptionChainService:
    """Expiries, strikes and option contracts of futures, fetched on demand and cached."""

    def __init__(self, ib: IB, clock: Clock, request_timeout: float) -> None:
        self._ib = ib
        self._clock = clock
        self._timeout = request_timeout
        self._expiries: dict[int, _ListedExpiries] = {}
        self._options: dict[tuple[str, str, Decimal], tuple[ListedContract, ...]] = {}
        self._by_con_id: dict[int, ListedContract] = {}
        self._rules: dict[int, asyncio.Future[tuple[PriceIncrement, ...]]] = {}

    def option(self, con_id: int) -> ListedContract | None:
        """An option contract fetched before, by conId."""
        return self._by_con_id.get(con_id)

    async def lookup(self, con_id: int) -> ListedContract | None:
        """The option with ``con_id`` (a position held from before), from IB's contract details
        when not fetched yet; None when it is no option on a future this console knows."""
        known = self._by_con_id.get(con_id)
        if known is not None:
            return known
        details: list[ContractDetails] = await self._ask(
            lambda: self._ib.reqContractDetailsAsync(Contract(conId=con_id)), f"contract {con_id}"
        )
        for item in details:
            contract = item.contract
            if contract is None or contract.secType != "FOP":
                continue
            try:
                spec = product(contract.symbol)
            except UnknownProductError:
                return None
            option = _with_increments(
                listed_contract(item, spec), await self._rule(item.marketRuleIds)
            )
            self._by_con_id[con_id] = option
            return option
        return None

    def forget_unused(self, in_use: Collection[int]) -> None:
        """Let go of every option not in ``in_use`` (conIds with a market-data line or a
        position), with the strikes that hold none of them, and of expiry lists of an earlier
        trading day. A strike let go costs one contract-details request when shown again."""
        self._options = {
            key: options
            for key, options in self._options.items()
            if any(o.con_id in in_use for o in options)
        }
        kept = {o.con_id for options in self._options.values() for o in options}
        self._by_con_id = {
            con_id: option
            for con_id, option in self._by_con_id.items()
            if con_id in kept or con_id in in_use
        }
        self._expiries = {
            con_id: listed
            for con_id, listed in self._expiries.items()
            if listed.fetched_on == self._trading_day(listed.future)
        }

    # ------------------------------------------------------------------ expiries
    async def expiries(self, futures: Iterable[ListedContract]) -> tuple[OptionExpiry, ...]:
        """Every option expiry on ``futures`` (months of one family), nearest first."""
        months = tuple(futures)
        found: list[OptionExpiry] = []
        for future in months:
            found.extend(await self._expiries_on(future))
        if not found:
            names = ", ".join(f.local_symbol for f in months)
            raise OptionChainError(
                f"IB lists no options on {names} for this account: none are listed, or the "
                "account has no permission for options on futures."
            )
        return tuple(sorted(found, key=lambda e: (e.expiry, e.trading_class)))

    async def _expiries_on(self, future: ListedContract) -> tuple[OptionExpiry, ...]:
        today = self._trading_day(future)
        cached = self._expiries.get(future.con_id)
        if cached is not None and cached.fetched_on == today:
            return cached.expiries
        spec = product(future.symbol)
        chains: list[OptionChain] = await self._ask(
            lambda: self._ib.reqSecDefOptParamsAsync(
                spec.ib_symbol, future.exchange, "FUT", future.con_id
            ),
            f"the options on {future.local_symbol}",
        )
        expiries = tuple(
            OptionExpiry(
                trading_class=chain.tradingClass,
                exchange=chain.exchange,
                multiplier=Decimal(chain.multiplier or future.multiplier),
                expiry=expiry[:8],
                strikes=_strikes(chain.strikes),
                underlying_con_id=future.con_id,
            )
            for chain in chains
            # ib_async hands the underlying's conId over as the text IB sent.
            if str(chain.underlyingConId) in ("", "0", str(future.con_id))
            for expiry in chain.expirations
        )
        self._expiries[future.con_id] = _ListedExpiries(future, today, expiries)
        log.info("%s: %d option expiries", future.local_symbol, len(expiries))
        return expiries

    # --------------------------------------------------------------- contracts
    async def options(
        self, expiry: OptionExpiry, underlying: ListedContract, strikes: Sequence[Decimal]
    ) -> tuple[ListedContract, ...]:
        """The calls and puts of ``expiry`` at ``strikes``, with their market rule's increments.

        One contract-details request per strike not cached yet, all at once; a strike that this
        expiry does not list is left out. The answer is gathered here, not read back from the
        cache: a sync while the requests are out may let cached strikes go."""
        found: dict[Decimal, tuple[ListedContract, ...]] = {}
        wanted: list[Decimal] = []
        for strike in strikes:
            cached = self._options.get((expiry.trading_class, expiry.expiry, strike))
            if cached is None:
                wanted.append(strike)
            else:
                found[strike] = cached
        if wanted:
            answers = await asyncio.gather(
                *(self._strike(expiry, underlying, k) for k in wanted), return_exceptions=True
            )
            for strike, answer in zip(wanted, answers, strict=True):
                if isinstance(answer, BaseException):
                    raise answer
                found[strike] = answer
        return tuple(option for strike in strikes for option in found[strike])

    async def _strike(
        self, expiry: OptionExpiry, underlying: ListedContract, strike: Decimal
    ) -> tuple[ListedContract, ...]:
        spec = product(underlying.symbol)
        query = FuturesOption(
            symbol=spec.ib_symbol,
            lastTradeDateOrContractMonth=expiry.expiry,
            strike=float(strike),
            exchange=expiry.exchange,
            currency=underlying.currency,
            tradingClass=expiry.trading_class,
        )
        details: list[ContractDetails] = await self._ask(
            lambda: self._ib.reqContractDetailsAsync(query),
            f"the {expiry.trading_class} {expiry.expiry} options at {strike.normalize():f}",
        )
        options = []
        for item in details:
            if item.contract is None or item.contract.secType != "FOP":
                continue
            contract = listed_contract(item, spec)
            rule = await self._rule(item.marketRuleIds)
            option = _with_increments(contract, rule)
            options.append(option)
            self._by_con_id[option.con_id] = option
        options.sort(key=lambda c: c.option.right.value if c.option else "")
        found = tuple(options)
        self._options[(expiry.trading_class, expiry.expiry, strike)] = found
        return found

    async def _rule(self, rule_ids: str) -> tuple[PriceIncrement, ...]:
        """The increments of the contract's first market rule (one per exchange it trades on;
        options on futures trade on one). One request per rule: IB answers a rule by its id, so
        two requests for one rule at once would share one answer."""
        first = rule_ids.split(",")[0].strip()
        if not first.isdigit():
            return ()
        rule_id = int(first)
        task = self._rules.get(rule_id)
        if task is None or (task.done() and (task.cancelled() or task.exception())):
            task = asyncio.ensure_future(self._fetch_rule(rule_id))
            self._rules[rule_id] = task
        return await asyncio.shield(task)

    async def _fetch_rule(self, rule_id: int) -> tuple[PriceIncrement, ...]:
        increments = await self._ask(
            lambda: self._ib.reqMarketRuleAsync(rule_id), f"IB's market rule {rule_id}"
        )
        if increments is None:
            raise OptionChainError(
                f"IB did not send its market rule {rule_id} (the option tick sizes)."
            )
        return tuple(
            PriceIncrement(edge, step)
            for edge, step in (
                (decimal_or_none(i.lowEdge), decimal_or_none(i.increment)) for i in increments
            )
            if edge is not None and step is not None and step > 0
        )

    # ------------------------------------------------------------------- plumbing
    async def _ask(self, request: Callable[[], Awaitable[_T]], what: str) -> _T:
        """Send ``request()`` (only while connected) and wait for its answer within the timeout."""
        if not self._ib.isConnected():
            raise OptionChainError(f"Not connected: {what} are unknown.")
        try:
            return await asyncio.wait_for(request(), self._timeout)
        except TimeoutError as exc:
            raise OptionChainError(f"IB did not send {what} within {self._timeout:g} s.") from exc
        except ConnectionError as exc:
            raise OptionChainError(f"The connection dropped while fetching {what}.") from exc

    def _trading_day(self, future: ListedContract) -> date:
        zone = future.last_trade.tzinfo
        return self._clock.now().astimezone(zone if isinstance(zone, ZoneInfo) else None).date()


def _strikes(values: Iterable[float]) -> tuple[Decimal, ...]:
    found = {decimal_or_none(v) for v in values}
    return tuple(sorted(k.normalize() for k in found if k is not None and k > 0))


def _with_increments(
    contract: ListedContract, increments: tuple[PriceIncrement, ...]
) -> ListedContract:
    return replace(contract, price_increments=increments) if increments else contract
