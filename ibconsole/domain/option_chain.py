"""The options chain as the trader sees it: the expiries of a futures family's options, a window
of strikes centred at the money that fits the market-data line budget, each side's quote and IB's
option computations (greeks), in-the-money sides, and the delta a book holds per underlying.

Pure: the broker feeds it contracts, quotes and greeks; the dock reads rows and cells from it.
Greeks are IB's or absent: nothing here estimates one IB did not send.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from ibconsole.domain.contracts import ListedContract, OptionRight
from ibconsole.domain.quotes import Quote


@dataclass(frozen=True, slots=True)
class OptionChainSettings:
    strikes_each_side: int = 10  # strikes shown above and below the money


@dataclass(frozen=True, slots=True)
class Greeks:
    """IB's option computation for one option (tick types 10-13): what IB sent, None per field
    IB left unset."""

    implied_vol: float | None
    delta: float | None
    gamma: float | None
    theta: float | None
    vega: float | None
    underlying: float | None = None


@dataclass(frozen=True, slots=True)
class OptionExpiry:
    """One expiry of one trading class on one futures month, as ``reqSecDefOptParams`` lists it."""

    trading_class: str
    exchange: str
    multiplier: Decimal
    expiry: str  # YYYYMMDD, the last trade date
    strikes: tuple[Decimal, ...]  # sorted; the class's strikes (not all listed for every expiry)
    underlying_con_id: int  # the futures month it exercises into

    @property
    def key(self) -> tuple[str, str]:
        return self.trading_class, self.expiry


def days_to_expiry(last_trade: datetime, now: datetime) -> int:
    """Whole calendar days from ``now`` to the last trade, in the exchange's zone (0 on the day)."""
    zone = last_trade.tzinfo
    return max((last_trade.date() - now.astimezone(zone).date()).days, 0)


def atm_index(strikes: Sequence[Decimal], underlying: Decimal) -> int:
    """The index of the strike nearest ``underlying`` (the lower one on a tie) among ``strikes``
    sorted ascending; found by bisection, as it is asked on every quote of the underlying."""
    if not strikes:
        raise ValueError("A chain without strikes has no at-the-money strike")
    above = bisect_left(strikes, underlying)
    if above == len(strikes):
        return above - 1
    if above == 0 or strikes[above] - underlying < underlying - strikes[above - 1]:
        return above
    return above - 1


def strike_window(
    strikes: Sequence[Decimal], underlying: Decimal, each_side: int
) -> tuple[Decimal, ...]:
    """The at-the-money strike and up to ``each_side`` strikes above and below it; at the ends of
    the listed strikes the window slides inward so it keeps its width where it can."""
    if each_side < 0:
        raise ValueError(f"strikes each side must be zero or more, got {each_side}")
    width = min(2 * each_side + 1, len(strikes))
    start = atm_index(strikes, underlying) - each_side
    start = max(0, min(start, len(strikes) - width))
    return tuple(strikes[start : start + width])


def needs_recentre(
    window: Sequence[Decimal], strikes: Sequence[Decimal], underlying: Decimal, slack: int = 1
) -> bool:
    """Has the underlying moved so that the at-the-money strike sits more than ``slack`` strikes
    off the window's centre (or outside it)? A step of one strike is tolerated so that a price
    hovering between two strikes does not churn market-data lines."""
    if not window:
        return bool(strikes)
    atm = strikes[atm_index(strikes, underlying)]
    if atm not in window:
        return True
    centre = len(window) // 2
    offset = window.index(atm) - centre
    # At the ends of the strike list the window cannot centre: only moving inward counts.
    if offset > 0 and window[-1] == strikes[-1]:
        return False
    if offset < 0 and window[0] == strikes[0]:
        return False
    return abs(offset) > slack


def lines_for(strikes: int) -> int:
    """Market-data lines a window of ``strikes`` strikes takes: a call and a put each."""
    return 2 * strikes


def fitting_each_side(wanted: int, free_lines: int) -> int:
    """The widest window, at most ``wanted`` strikes each side, whose lines fit in
    ``free_lines``; -1 when not even the at-the-money pair fits."""
    if free_lines < lines_for(1):
        return -1
    return min(wanted, (free_lines // 2 - 1) // 2)


def in_the_money(right: OptionRight, strike: Decimal, underlying: Decimal | None) -> bool | None:
    """Is the option in the money at ``underlying``; None while the underlying is unpriced."""
    if underlying is None:
        return None
    return strike < underlying if right is OptionRight.CALL else strike > underlying


class Column(StrEnum):
    """The figures shown for each side of a strike, in the order the call side shows them."""

    BID = "Bid"
    ASK = "Ask"
    LAST = "Last"
    IV = "IV"
    DELTA = "Delta"
    GAMMA = "Gamma"
    THETA = "Theta"
    VEGA = "Vega"


SIDE_COLUMNS: tuple[Column, ...] = tuple(Column)
PRICE_COLUMNS = frozenset({Column.BID, Column.ASK})


@dataclass(frozen=True, slots=True)
class ChainCell:
    """Where a table cell sits: the strike row and, unless it is the Strike column, its side."""

    row: int
    right: OptionRight | None
    column: Column | None


def table_columns() -> tuple[tuple[OptionRight | None, Column | None], ...]:
    """Left to right: calls (greeks outermost, then Last, Bid, Ask beside the strike), the
    strike, then puts (Bid, Ask, Last, then the greeks outward): each side reads bid before ask,
    and the prices a click trades sit next to the strike."""
    prices = (Column.BID, Column.ASK, Column.LAST)
    greeks = tuple(c for c in SIDE_COLUMNS if c not in prices)
    calls = tuple((OptionRight.CALL, c) for c in (*reversed(greeks), Column.LAST, *prices[:2]))
    puts = tuple((OptionRight.PUT, c) for c in (*prices, *greeks))
    return (*calls, (None, None), *puts)


def greek_text(column: Column, greeks: Greeks | None) -> str:
    """A greek as shown: IV in percent, delta/gamma to 3-4 places, theta/vega per day and per
    point of volatility in premium points; "none" when IB sent no computation, "—" for a field
    IB left unset."""
    if greeks is None:
        return "none"
    value = {
        Column.IV: greeks.implied_vol,
        Column.DELTA: greeks.delta,
        Column.GAMMA: greeks.gamma,
        Column.THETA: greeks.theta,
        Column.VEGA: greeks.vega,
    }[column]
    if value is None:
        return "—"
    if column is Column.IV:
        return f"{value * 100:.1f}%"
    if column is Column.GAMMA:
        return f"{value:.4f}"
    if column is Column.DELTA:
        return f"{value:+.3f}"
    return f"{value:.2f}"


@dataclass(slots=True)
class _Side:
    contract: ListedContract
    quote: Quote | None = None
    greeks: Greeks | None = None


class ChainTable:
    """The strikes of one expiry in view, each with its call and put, their quotes and greeks.

    Updates are O(1) by conId and say which row changed, so a view repaints only that row.
    """

    def __init__(self, contracts: Iterable[ListedContract]) -> None:
        by_strike: dict[Decimal, dict[OptionRight, _Side]] = {}
        for contract in contracts:
            terms = contract.option
            if terms is None:
                raise ValueError(f"{contract.local_symbol} is not an option")
            by_strike.setdefault(terms.strike, {})[terms.right] = _Side(contract)
        self.strikes: tuple[Decimal, ...] = tuple(sorted(by_strike))
        self._rows = [by_strike[strike] for strike in self.strikes]
        self._where: dict[int, tuple[int, OptionRight]] = {
            side.contract.con_id: (row, right)
            for row, sides in enumerate(self._rows)
            for right, side in sides.items()
        }
        self.underlying: Decimal | None = None

    def set_underlying(self, price: Decimal | None) -> bool:
        """Move the underlying; True when the money shading or the at-the-money strike changed
        (the underlying crossed a strike or a midpoint between two), so the rows need repainting."""
        before = self._money_place()
        self.underlying = price
        return self._money_place() != before

    def _money_place(self) -> tuple[int, int | None] | None:
        if self.underlying is None:
            return None
        return bisect_left(self.strikes, self.underlying), self.atm_row()

    def __len__(self) -> int:
        return len(self._rows)

    @property
    def contracts(self) -> tuple[ListedContract, ...]:
        return tuple(side.contract for sides in self._rows for side in sides.values())

    def row_of(self, con_id: int) -> int | None:
        where = self._where.get(con_id)
        return where[0] if where is not None else None

    def contract(self, row: int, right: OptionRight) -> ListedContract | None:
        side = self._rows[row].get(right)
        return side.contract if side is not None else None

    def quote(self, row: int, right: OptionRight) -> Quote | None:
        side = self._rows[row].get(right)
        return side.quote if side is not None else None

    def greeks(self, row: int, right: OptionRight) -> Greeks | None:
        side = self._rows[row].get(right)
        return side.greeks if side is not None else None

    def set_quote(self, quote: Quote) -> int | None:
        """Store ``quote``; the row it changed, or None when it is not in this table."""
        where = self._where.get(quote.con_id)
        if where is None:
            return None
        row, right = where
        self._rows[row][right].quote = quote
        return row

    def set_greeks(self, con_id: int, greeks: Greeks | None) -> int | None:
        where = self._where.get(con_id)
        if where is None:
            return None
        row, right = where
        self._rows[row][right].greeks = greeks
        return row

    def itm(self, row: int, right: OptionRight) -> bool | None:
        return in_the_money(right, self.strikes[row], self.underlying)

    def atm_row(self) -> int | None:
        if self.underlying is None or not self.strikes:
            return None
        return atm_index(self.strikes, self.underlying)

    def price_at(self, row: int, right: OptionRight, column: Column) -> Decimal | None:
        """The bid or ask of a side (what a click on it trades at); None when absent."""
        quote = self.quote(row, right)
        if quote is None or column not in PRICE_COLUMNS:
            return None
        return quote.bid if column is Column.BID else quote.ask

    def text(self, row: int, right: OptionRight | None, column: Column | None) -> str:
        """A cell's display text."""
        if right is None or column is None:
            return f"{self.strikes[row].normalize():,f}"
        contract = self.contract(row, right)
        if contract is None:
            return ""
        if column in (Column.BID, Column.ASK, Column.LAST):
            quote = self.quote(row, right)
            price = None
            if quote is not None:
                price = {Column.BID: quote.bid, Column.ASK: quote.ask, Column.LAST: quote.last}[
                    column
                ]
            return "" if price is None else f"{price:,.{contract.price_places}f}"
        if self.quote(row, right) is None:
            return ""  # not subscribed yet: nothing to say about greeks either
        return greek_text(column, self.greeks(row, right))


@dataclass(frozen=True, slots=True)
class DeltaLine:
    """One position's share of an underlying's delta."""

    underlying_con_id: int
    quantity: Decimal
    delta: float | None  # per contract: 1 for the future itself; None when IB sent none
    multiplier: Decimal
    underlying_multiplier: Decimal

    @property
    def contracts(self) -> float | None:
        """This position's delta in contracts of the underlying future; None when unknown."""
        if self.delta is None:
            return None
        return (
            float(self.quantity) * self.delta * float(self.multiplier / self.underlying_multiplier)
        )


@dataclass(frozen=True, slots=True)
class DeltaTotal:
    """The delta of everything held on one underlying, in futures-equivalent contracts."""

    underlying_con_id: int
    contracts: float
    complete: bool  # False when a position's delta is unknown (and left out)


def delta_totals(lines: Iterable[DeltaLine]) -> Mapping[int, DeltaTotal]:
    """Sum each underlying's delta: futures count one for one, options their delta times their
    multiplier over the future's (an ES option on 50 × the index is one ES per unit delta)."""
    sums: dict[int, float] = {}
    complete: dict[int, bool] = {}
    for line in lines:
        key = line.underlying_con_id
        sums.setdefault(key, 0.0)
        complete.setdefault(key, True)
        contracts = line.contracts
        if contracts is None:
            complete[key] = False
        else:
            sums[key] += contracts
    return {key: DeltaTotal(key, sums[key], complete[key]) for key in sums}
