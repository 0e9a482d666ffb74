"""Options on futures (FOP) as the simulated exchanges list them: E-mini S&P 500 quarterly (ES)
and end-of-month (EW) options, WTI crude oil monthly options (LO) and COMEX gold options (OG).

Each series (trading class, contract month) expires by its exchange's rule
(:mod:`ibconsole.sim.option_expiries`), exercises into one futures month of the catalogue and
lists strikes on the product's own grid around the underlying's previous settlement. Option
instruments are made on demand: a conId encodes class, month, strike and right, so the
thousands of strikes cost nothing until a client names one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from ibconsole.sim import option_expiries as rules
from ibconsole.sim.clock import SimClock
from ibconsole.sim.instruments import Catalogue, Instrument

__all__ = ["OptionChains", "OptionClass", "OptionSeries"]

Reference = Callable[[Instrument], Decimal]
"""The underlying future's previous settlement, which centres the strike grid."""
StrikeRule = Callable[[Decimal, int], list[Decimal]]
"""(reference price, days to expiry) -> listed strikes."""

_MONTH_CODES = "FGHJKMNQUVXZ"
_CENTRAL = ZoneInfo("US/Central")
_ID_BASE = 1_100_000_000
_CLASS_STRIDE = 15_000_000
_SERIES_STRIDE = 10_000
_FIRST_YEAR = 2000
_YEARS_BACK = 1


def _percent_bands(*bands: tuple[str, str, str, int]) -> StrikeRule:
    """Strikes at each ``interval`` from ``-down`` to ``+up`` of the reference, a band only
    once the series is at most ``days`` from expiry (0: always)."""

    def strikes(reference: Decimal, days_to_expiry: int) -> list[Decimal]:
        found: set[Decimal] = set()
        for interval_text, up_text, down_text, days in bands:
            if days and days_to_expiry > days:
                continue
            interval = Decimal(interval_text)
            low = reference * (1 - Decimal(down_text))
            high = reference * (1 + Decimal(up_text))
            strike = (low / interval).to_integral_value(rounding=ROUND_CEILING) * interval
            while strike <= high:
                if strike > 0:
                    found.add(strike)
                strike += interval
        return sorted(found)

    return strikes


def _count_bands(*bands: tuple[str, int]) -> StrikeRule:
    """``count`` strikes at each ``interval`` above and below the at-the-money strike, each
    band continuing from the end of the one before (CME energy listing)."""

    def strikes(reference: Decimal, days_to_expiry: int) -> list[Decimal]:
        first = Decimal(bands[0][0])
        atm = (reference / first).to_integral_value() * first
        found = {atm}
        high = low = atm
        for interval_text, count in bands:
            interval = Decimal(interval_text)
            for _ in range(count):
                high += interval
                low -= interval
                found.add(high)
                if low > 0:
                    found.add(low)
        return sorted(found)

    return strikes


@dataclass(frozen=True, slots=True)
class OptionClass:
    """One trading class of options on one futures family."""

    trading_class: str
    symbol: str
    future_class: str
    exchange: str
    multiplier: str
    months: str
    rule: rules.OptionExpiryRule
    underlying: rules.UnderlyingMonth
    last_trade_time: str
    listed: int
    strikes: StrikeRule
    strike_unit: Decimal
    strike_scale: int
    market_rule_id: int
    min_tick: Decimal
    long_name: str
    index: int


_ALL_MONTHS = _MONTH_CODES
_QUARTERS = "HMUZ"
# E-mini S&P 500: 100-point strikes +30 %/-50 %, 50-point +20 %/-40 %, 10-point +10 %/-25 %,
# 5-point +5 %/-15 % within 35 days of expiry (CME strike listing procedure, 358A).
_EQUITY_STRIKES = _percent_bands(
    ("100", "0.30", "0.50", 0),
    ("50", "0.20", "0.40", 0),
    ("10", "0.10", "0.25", 0),
    ("5", "0.05", "0.15", 35),
)
# LO: 100 strikes at $0.50 above and below the at-the-money strike, then 20 at $2.50, then 10
# at $5.00 (CME Crude Oil Options contract specs).
_CRUDE_STRIKES = _count_bands(("0.5", 100), ("2.5", 20), ("5", 10))
# OG: $5 strikes near the money, $10, $25 and $50 farther out (a simplified COMEX 115 grid).
_GOLD_STRIKES = _percent_bands(
    ("50", "0.50", "0.50", 0),
    ("25", "0.30", "0.30", 0),
    ("10", "0.20", "0.20", 0),
    ("5", "0.10", "0.10", 0),
)

# Market rule of E-mini S&P 500 options: 0.05 for premiums up to 5.00, 0.25 above (CME:
# "0.25 index points for premium > 5.00; reduced tick 0.05 for premium at or below 5.00").
EQUITY_OPTION_RULE = 1100

OPTION_CLASSES: tuple[OptionClass, ...] = (
    OptionClass("ES", "ES", "ES", "CME", "50", _QUARTERS, rules.equity_index_quarterly,
                rules.same_month, "08:30", 4, _EQUITY_STRIKES, Decimal(5), 1,
                EQUITY_OPTION_RULE, Decimal("0.05"), "E-mini S&P 500", 0),
    OptionClass("EW", "ES", "ES", "CME", "50", _ALL_MONTHS, rules.end_of_month,
                rules.next_quarter, "15:00", 3, _EQUITY_STRIKES, Decimal(5), 1,
                EQUITY_OPTION_RULE, Decimal("0.05"), "E-mini S&P 500", 1),
    OptionClass("LO", "CL", "CL", "NYMEX", "1000", _ALL_MONTHS, rules.crude_oil_options,
                rules.same_month, "13:30", 6, _CRUDE_STRIKES, Decimal("0.5"), 100, 86,
                Decimal("0.01"), "Light Sweet Crude Oil", 2),
    OptionClass("OG", "GC", "GC", "COMEX", "100", _ALL_MONTHS, rules.gold_options,
                rules.gold_cycle_month, "12:30", 6, _GOLD_STRIKES, Decimal(5), 1, 70,
                Decimal("0.1"), "Gold", 3),
)  # fmt: skip


@dataclass(slots=True, eq=False)
class OptionSeries:
    """One expiry of one trading class and the future it exercises into."""

    option_class: OptionClass
    year: int
    month: int
    last_trade_date: date
    underlying: Instrument
    expires_at: datetime
    strike_set: tuple[Decimal, ...] = field(default=())

    @property
    def code(self) -> int:
        return (self.year - _FIRST_YEAR) * 12 + self.month - 1

    @property
    def contract_month(self) -> str:
        return f"{self.year}{self.month:02d}"

    @property
    def expiry(self) -> str:
        return f"{self.last_trade_date:%Y%m%d}"


class OptionChains:
    """Every option series on the catalogue's futures, and the option instruments in them."""

    def __init__(self, catalogue: Catalogue, clock: SimClock, reference: Reference) -> None:
        self._clock = clock
        self._reference = reference
        futures = {
            (instrument.trading_class, instrument.contract_month): instrument
            for instrument in catalogue
            if instrument.sec_type == "FUT"
        }
        now = clock.now()
        self._series: dict[tuple[int, int], OptionSeries] = {}
        for option_class in OPTION_CLASSES:
            live = 0
            for year, month in _months(option_class.months, now.year - _YEARS_BACK):
                under_year, under_month = option_class.underlying(year, month)
                underlying = futures.get(
                    (option_class.future_class, f"{under_year}{under_month:02d}")
                )
                if underlying is None:
                    if live or year > now.year + 3:
                        break
                    continue
                day = option_class.rule(year, month)
                at = time.fromisoformat(option_class.last_trade_time)
                series = OptionSeries(
                    option_class,
                    year,
                    month,
                    day,
                    underlying,
                    datetime.combine(day, at, tzinfo=_CENTRAL),
                )
                self._series[(option_class.index, series.code)] = series
                if now < series.expires_at:
                    live += 1
                    if live == option_class.listed:
                        break
        self._instruments: dict[int, Instrument] = {}

    def series(self, include_expired: bool = False) -> list[OptionSeries]:
        """Series sorted by expiry; only those still trading unless ``include_expired``."""
        now = self._clock.now()
        found = [s for s in self._series.values() if include_expired or now < s.expires_at]
        return sorted(found, key=lambda s: (s.expires_at, s.option_class.index))

    def strikes(self, series: OptionSeries) -> tuple[Decimal, ...]:
        """The series' strikes, fixed the first time they are asked for (as an exchange lists
        a strike once and keeps it)."""
        if not series.strike_set:
            days = (series.last_trade_date - self._clock.now().date()).days
            reference = self._reference(series.underlying)
            series.strike_set = tuple(series.option_class.strikes(reference, max(days, 0)))
        return series.strike_set

    # --- instruments ----------------------------------------------------------------------

    def instrument(self, series: OptionSeries, strike: Decimal, right: str) -> Instrument:
        con_id = _con_id(series, strike, right)
        found = self._instruments.get(con_id)
        if found is None:
            found = self._instruments[con_id] = _option(series, strike, right, con_id)
        return found

    def by_con_id(self, con_id: int) -> Instrument | None:
        found = self._instruments.get(con_id)
        if found is not None:
            return found
        offset = con_id - _ID_BASE
        if offset < 0:
            return None
        index, rest = divmod(offset, _CLASS_STRIDE)
        code, strike_code = divmod(rest, _SERIES_STRIDE)
        series = self._series.get((index, code))
        if series is None:
            return None
        units, put = divmod(strike_code, 2)
        strike = units * series.option_class.strike_unit
        if strike not in self.strikes(series):
            return None
        return self.instrument(series, strike, "P" if put else "C")

    def match(self, fields: Sequence[str], include_expired: bool = False) -> list[Instrument]:
        """Options matching the 12 inbound contract fields (empty fields are wildcards; the
        expiry is the contract month ``YYYYMM`` or the last trade date ``YYYYMMDD``)."""
        (con_id, symbol, sec_type, expiry, strike_text, right, multiplier, exchange, _primary,
         currency, local_symbol, trading_class) = (f.strip().upper() for f in fields)  # fmt: skip
        if sec_type not in ("", "FOP"):
            return []
        if con_id not in ("", "0"):
            found = self.by_con_id(int(con_id))
            expired = found is not None and found.is_expired(self._clock.now())
            return [found] if found is not None and (include_expired or not expired) else []
        strike = _decimal(strike_text, "strike")
        rights = _rights(right)
        matches: list[Instrument] = []
        for series in self.series(include_expired):
            option_class = series.option_class
            if (
                (symbol and symbol != option_class.symbol)
                or (trading_class and trading_class != option_class.trading_class)
                or (exchange and exchange != option_class.exchange)
                or (currency and currency != "USD")
                or (expiry and expiry not in (series.contract_month, series.expiry))
                or (multiplier and _decimal(multiplier, "multiplier") != Decimal(option_class.multiplier))
            ):  # fmt: skip
                continue
            strikes = self.strikes(series)
            wanted = [strike] if strike else list(strikes)
            for value in wanted:
                if value not in strikes:
                    continue
                for side in rights:
                    option = self.instrument(series, value, side)
                    if not local_symbol or local_symbol == option.local_symbol:
                        matches.append(option)
        return matches

    def chains(
        self, symbol: str, exchange: str, under_con_id: int
    ) -> Iterator[tuple[OptionClass, Instrument, list[OptionSeries]]]:
        """reqSecDefOptParams: per trading class and underlying future, its live series."""
        grouped: dict[tuple[int, int], list[OptionSeries]] = {}
        for series in self.series():
            option_class = series.option_class
            if under_con_id and series.underlying.con_id != under_con_id:
                continue
            if symbol and symbol.upper() != option_class.symbol:
                continue
            if exchange and exchange.upper() != option_class.exchange:
                continue
            grouped.setdefault((option_class.index, series.underlying.con_id), []).append(series)
        for members in grouped.values():
            yield members[0].option_class, members[0].underlying, members

    def series_of(self, instrument: Instrument) -> OptionSeries:
        """The series an option instrument of this catalogue belongs to."""
        index, rest = divmod(instrument.con_id - _ID_BASE, _CLASS_STRIDE)
        return self._series[(index, rest // _SERIES_STRIDE)]


def _months(codes: str, first_year: int) -> Iterator[tuple[int, int]]:
    year = first_year
    while True:
        for month in range(1, 13):
            if _MONTH_CODES[month - 1] in codes:
                yield year, month
        year += 1


def _con_id(series: OptionSeries, strike: Decimal, right: str) -> int:
    units = int(strike / series.option_class.strike_unit)
    return (
        _ID_BASE
        + series.option_class.index * _CLASS_STRIDE
        + series.code * _SERIES_STRIDE
        + units * 2
        + (1 if right == "P" else 0)
    )


def _strike_text(strike: Decimal, scale: int) -> str:
    return str(int(strike * scale))


def _option(series: OptionSeries, strike: Decimal, right: str, con_id: int) -> Instrument:
    option_class = series.option_class
    future = series.underlying
    code = _MONTH_CODES[series.month - 1]
    # IB's local symbol of a CME option: class, month code, year digit, then right and strike
    # ("ESH5 C5800", "LOZ6 C7500", "R3EX3 P1775").
    local = (
        f"{option_class.trading_class}{code}{series.year % 10} "
        f"{right}{_strike_text(strike, option_class.strike_scale)}"
    )
    return Instrument(
        con_id=con_id,
        symbol=option_class.symbol,
        sec_type="FOP",
        exchange=option_class.exchange,
        primary_exchange="",
        currency="USD",
        local_symbol=local,
        trading_class=option_class.trading_class,
        multiplier=option_class.multiplier,
        min_tick=option_class.min_tick,
        last_trade_date=series.expiry,
        last_trade_time=option_class.last_trade_time,
        contract_month=series.contract_month,
        time_zone=future.time_zone,
        long_name=option_class.long_name,
        market_rule_id=option_class.market_rule_id,
        valid_exchanges=option_class.exchange,
        order_types=future.order_types,
        session=future.session,
        under_sec_type="FUT",
        strike=strike,
        right=right,
        under_con_id=future.con_id,
    )


def _decimal(text: str, name: str) -> Decimal | None:
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"contract field {name} is not a number: {text!r}") from None
    return value.normalize() if value else None


def _rights(text: str) -> tuple[str, ...]:
    if text in ("", "?", "0"):
        return ("C", "P")
    if text in ("C", "CALL"):
        return ("C",)
    if text in ("P", "PUT"):
        return ("P",)
    raise ValueError(f"contract field right must be C or P, got {text!r}")
