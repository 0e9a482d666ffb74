"""The simulator's tradable instruments: futures families with rule-generated expiries, a few
stocks and EUR.USD, and the catalogue that answers contract look-ups against them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal, InvalidOperation
from typing import Protocol
from zoneinfo import ZoneInfo

from ibconsole.sim import expiries
from ibconsole.sim.clock import SimClock
from ibconsole.sim.sessions import CME_GLOBEX, IDEALPRO_FX, US_STOCKS, SessionRule, globex

__all__ = ["MARKET_RULES", "Catalogue", "Instrument", "InstrumentSource", "price_increment"]


# reqMarketRule answers: rule id -> (low edge, increment) pairs.
MARKET_RULES: dict[int, tuple[tuple[Decimal, Decimal], ...]] = {
    26: ((Decimal(0), Decimal("0.0001")), (Decimal(1), Decimal("0.01"))),
    67: ((Decimal(0), Decimal("0.25")),),
    70: ((Decimal(0), Decimal("0.1")),),
    85: ((Decimal(0), Decimal("1")),),
    86: ((Decimal(0), Decimal("0.01")),),
    87: ((Decimal(0), Decimal("0.001")),),
    88: ((Decimal(0), Decimal("0.015625")),),
    89: ((Decimal(0), Decimal("0.03125")),),
    90: ((Decimal(0), Decimal("0.00005")),),
    # E-mini S&P 500 options: 0.05 up to a premium of 5.00, 0.25 above
    1100: ((Decimal(0), Decimal("0.05")), (Decimal(5), Decimal("0.25"))),
}
_RULE_BY_TICK = {rules[0][1]: rule_id for rule_id, rules in MARKET_RULES.items() if len(rules) == 1}

_FUTURE_ORDER_TYPES = "ACTIVETIM,AD,ADJUST,ALERT,ALGO,ALLOC,AVGCOST,BASKET,DAY,GAT,GTC,GTD,GTT,"
_FUTURE_ORDER_TYPES += "HID,ICE,IOC,LIT,LMT,MIT,MKT,MTL,NGCOMB,NONALGO,OCA,SCALE,STP,STPLMT,TRAIL,"
_FUTURE_ORDER_TYPES += "TRAILLIT,TRAILLMT,WHATIF"
_STOCK_ORDER_TYPES = _FUTURE_ORDER_TYPES + ",MOC,LOC,REL,MIDPRICE"


@dataclass(frozen=True, slots=True)
class Instrument:
    """One contract as the simulated exchange lists it (IB's naming: symbol ``EUR`` and trading
    class ``6E`` for Euro FX futures)."""

    con_id: int
    symbol: str
    sec_type: str
    exchange: str
    primary_exchange: str
    currency: str
    local_symbol: str
    trading_class: str
    multiplier: str
    min_tick: Decimal
    last_trade_date: str
    last_trade_time: str
    contract_month: str
    time_zone: str
    long_name: str
    market_rule_id: int = 0
    valid_exchanges: str = ""
    order_types: str = _FUTURE_ORDER_TYPES
    session: SessionRule = CME_GLOBEX
    under_sec_type: str = ""
    stock_type: str = ""
    strike: Decimal = Decimal(0)
    right: str = ""
    under_con_id: int = 0

    def contract_fields(self) -> tuple[object, ...]:
        """The 12-field contract block: conId symbol secType lastTradeDateOrContractMonth strike
        right multiplier exchange primaryExchange currency localSymbol tradingClass.

        Outbound messages that carry 11 contract fields drop either ``exchange`` or
        ``primaryExchange`` from it (position and execDetails keep ``exchange``, updatePortfolio
        keeps ``primaryExchange``).
        """
        return (
            self.con_id,
            self.symbol,
            self.sec_type,
            self.last_trade_date,
            float(self.strike),
            self.right,
            self.multiplier,
            self.exchange,
            self.primary_exchange,
            self.currency,
            self.local_symbol,
            self.trading_class,
        )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def expires_at(self) -> datetime | None:
        """The last instant it trades (last trade date and time in its zone), ``None`` if never."""
        if not self.last_trade_date:
            return None
        day = datetime.strptime(self.last_trade_date, "%Y%m%d").date()
        at = time.fromisoformat(self.last_trade_time or "23:59")
        return datetime.combine(day, at, tzinfo=self.zone)

    def is_expired(self, now: datetime) -> bool:
        expires = self.expires_at
        return expires is not None and now >= expires


def price_increment(instrument: Instrument, price: Decimal) -> Decimal:
    """The price increment at ``price`` under the instrument's market rule (the rule's last
    band whose low edge is at or below the price), or its minTick when it has no rule."""
    increment = instrument.min_tick
    for low_edge, step in MARKET_RULES.get(instrument.market_rule_id, ()):
        if abs(price) >= low_edge:
            increment = step
    return increment


class InstrumentSource(Protocol):
    """More instruments the catalogue answers for (options on its futures)."""

    def by_con_id(self, con_id: int) -> Instrument | None: ...

    def match(self, fields: Sequence[str], include_expired: bool = False) -> list[Instrument]: ...


@dataclass(frozen=True, slots=True)
class _Family:
    symbol: str
    trading_class: str
    exchange: str
    multiplier: str
    min_tick: Decimal
    months: str
    rule: expiries.ExpiryRule
    last_trade_time: str
    listed: int
    long_name: str
    session: SessionRule
    id_base: int
    cbot_local_symbol: bool = False
    under_sec_type: str = ""


_MONTH_CODES = "FGHJKMNQUVXZ"
_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_QUARTERLY = "HMUZ"
_MONTHLY = _MONTH_CODES
_GOLD_MONTHS = "GJMQVZ"

_EQUITY_RTH = CME_GLOBEX
_ENERGY_RTH = globex("08:00", "13:30")
_METALS_RTH = globex("07:20", "12:30")
_RATES_RTH = globex("07:20", "14:00")
_FX_FUTURES_RTH = globex("07:20", "14:00")


def _family(
    symbol: str,
    trading_class: str,
    exchange: str,
    multiplier: str,
    min_tick: str,
    months: str,
    rule: expiries.ExpiryRule,
    last_trade_time: str,
    long_name: str,
    session: SessionRule,
    id_base: int,
    *,
    cbot: bool = False,
    under_sec_type: str = "",
) -> _Family:
    listed = {4: 5, 6: 6, 12: 12}[len(months)]
    return _Family(
        symbol=symbol,
        trading_class=trading_class,
        exchange=exchange,
        multiplier=multiplier,
        min_tick=Decimal(min_tick),
        months=months,
        rule=rule,
        last_trade_time=last_trade_time,
        listed=listed,
        long_name=long_name,
        session=session,
        id_base=id_base,
        cbot_local_symbol=cbot,
        under_sec_type=under_sec_type,
    )


_EQ = expiries.equity_index
_FAMILIES: tuple[_Family, ...] = (
    _family("ES", "ES", "CME", "50", "0.25", _QUARTERLY, _EQ, "08:30", "E-mini S&P 500",
            _EQUITY_RTH, 710_000_000, under_sec_type="IND"),
    _family("MES", "MES", "CME", "5", "0.25", _QUARTERLY, _EQ, "08:30",
            "Micro E-Mini S&P 500 Stock Price Index", _EQUITY_RTH, 711_000_000,
            under_sec_type="IND"),
    _family("NQ", "NQ", "CME", "20", "0.25", _QUARTERLY, _EQ, "08:30", "E-mini NASDAQ 100",
            _EQUITY_RTH, 712_000_000, under_sec_type="IND"),
    _family("MNQ", "MNQ", "CME", "2", "0.25", _QUARTERLY, _EQ, "08:30",
            "Micro E-Mini Nasdaq-100 Index", _EQUITY_RTH, 713_000_000, under_sec_type="IND"),
    _family("RTY", "RTY", "CME", "50", "0.1", _QUARTERLY, _EQ, "08:30",
            "E-Mini Russell 2000 Index", _EQUITY_RTH, 714_000_000, under_sec_type="IND"),
    _family("M2K", "M2K", "CME", "5", "0.1", _QUARTERLY, _EQ, "08:30",
            "Micro E-Mini Russell 2000 Index", _EQUITY_RTH, 715_000_000, under_sec_type="IND"),
    _family("YM", "YM", "CBOT", "5", "1", _QUARTERLY, _EQ, "08:30",
            "Mini Sized Dow Jones Industrial Average $5", _EQUITY_RTH, 716_000_000, cbot=True,
            under_sec_type="IND"),
    _family("MYM", "MYM", "CBOT", "0.5", "1", _QUARTERLY, _EQ, "08:30",
            "Micro E-Mini Dow Jones Industrial Average Index", _EQUITY_RTH, 717_000_000,
            cbot=True, under_sec_type="IND"),
    _family("CL", "CL", "NYMEX", "1000", "0.01", _MONTHLY, expiries.crude_oil, "13:30",
            "Light Sweet Crude Oil", _ENERGY_RTH, 720_000_000),
    _family("MCL", "MCL", "NYMEX", "100", "0.01", _MONTHLY, expiries.micro_crude_oil, "13:30",
            "Micro WTI Crude Oil", _ENERGY_RTH, 721_000_000),
    _family("NG", "NG", "NYMEX", "10000", "0.001", _MONTHLY, expiries.natural_gas, "13:30",
            "Henry Hub Natural Gas", _ENERGY_RTH, 722_000_000),
    _family("GC", "GC", "COMEX", "100", "0.1", _GOLD_MONTHS, expiries.metals, "12:30", "Gold",
            _METALS_RTH, 730_000_000),
    _family("MGC", "MGC", "COMEX", "10", "0.1", _GOLD_MONTHS, expiries.metals, "12:30",
            "E-Micro Gold", _METALS_RTH, 731_000_000),
    _family("ZN", "ZN", "CBOT", "1000", "0.015625", _QUARTERLY, expiries.treasuries, "12:01",
            "10 Year US Treasury Note", _RATES_RTH, 740_000_000, cbot=True),
    _family("ZB", "ZB", "CBOT", "1000", "0.03125", _QUARTERLY, expiries.treasuries, "12:01",
            "US Treasury Bond", _RATES_RTH, 741_000_000, cbot=True),
    _family("EUR", "6E", "CME", "125000", "0.00005", _QUARTERLY, expiries.euro_fx, "09:16",
            "European Monetary Union Euro", _FX_FUTURES_RTH, 750_000_000),
)  # fmt: skip

_STOCKS: tuple[Instrument, ...] = tuple(
    Instrument(
        con_id=con_id,
        symbol=symbol,
        sec_type="STK",
        exchange="SMART",
        primary_exchange=primary,
        currency="USD",
        local_symbol=symbol,
        trading_class=trading_class,
        multiplier="",
        min_tick=Decimal("0.01"),
        last_trade_date="",
        last_trade_time="",
        contract_month="",
        time_zone="US/Eastern",
        long_name=long_name,
        market_rule_id=26,
        valid_exchanges=f"SMART,{exchanges}",
        order_types=_STOCK_ORDER_TYPES,
        session=US_STOCKS,
        stock_type=stock_type,
    )
    for con_id, symbol, primary, trading_class, long_name, stock_type, exchanges in (
        (265598, "AAPL", "NASDAQ", "NMS", "APPLE INC", "COMMON", "NASDAQ,ISLAND,ARCA,BATS,IEX"),
        (272093, "MSFT", "NASDAQ", "NMS", "MICROSOFT CORP", "COMMON", "NASDAQ,ISLAND,ARCA,BATS"),
        (756733, "SPY", "ARCA", "SPY", "SPDR S&P 500 ETF TRUST", "ETF", "ARCA,NYSE,BATS,IEX"),
    )
)
_EURUSD = Instrument(
    con_id=12087792,
    symbol="EUR",
    sec_type="CASH",
    exchange="IDEALPRO",
    primary_exchange="",
    currency="USD",
    local_symbol="EUR.USD",
    trading_class="EUR.USD",
    multiplier="",
    min_tick=Decimal("0.00005"),
    last_trade_date="",
    last_trade_time="",
    contract_month="",
    time_zone="US/Eastern",
    long_name="European Monetary Union Euro",
    market_rule_id=90,
    valid_exchanges="IDEALPRO",
    order_types="AVGCOST,DAY,GTC,IOC,LMT,MKT,OCA,STP,STPLMT,TRAIL,WHATIF",
    session=IDEALPRO_FX,
)


def _contract_months(family: _Family, first_year: int) -> Iterator[tuple[int, int]]:
    year = first_year
    while True:
        for month in range(1, 13):
            if _MONTH_CODES[month - 1] in family.months:
                yield year, month
        year += 1


def _future(family: _Family, year: int, month: int) -> Instrument:
    code = _MONTH_CODES[month - 1]
    if family.cbot_local_symbol:
        # IB names CBOT futures "ZN   DEC 26": symbol padded to five, month name, 2-digit year.
        local = f"{family.trading_class:<5}{_MONTH_NAMES[month - 1]} {year % 100:02d}"
    else:
        local = f"{family.trading_class}{code}{year % 10}"
    return Instrument(
        con_id=family.id_base + (year - 2000) * 100 + month,
        symbol=family.symbol,
        sec_type="FUT",
        exchange=family.exchange,
        primary_exchange=family.exchange,
        currency="USD",
        local_symbol=local,
        trading_class=family.trading_class,
        multiplier=family.multiplier,
        min_tick=family.min_tick,
        last_trade_date=f"{family.rule(year, month):%Y%m%d}",
        last_trade_time=family.last_trade_time,
        contract_month=f"{year}{month:02d}",
        time_zone="US/Central",
        long_name=family.long_name,
        market_rule_id=_RULE_BY_TICK[family.min_tick],
        valid_exchanges=family.exchange,
        session=family.session,
        under_sec_type=family.under_sec_type,
    )


class Catalogue:
    """Every instrument the simulator knows, listed relative to the clock's date.

    Futures cover about two years of expired contracts (visible only with ``includeExpired``)
    and, per family, the next 5 quarterly, 6 bi-monthly or 12 monthly contracts that had not
    expired when the catalogue was built.
    """

    def __init__(self, clock: SimClock, *, years_back: int = 2) -> None:
        self._clock = clock
        now = clock.now()
        instruments: list[Instrument] = [*_STOCKS, _EURUSD]
        for family in _FAMILIES:
            live = 0
            for year, month in _contract_months(family, now.year - years_back):
                future = _future(family, year, month)
                instruments.append(future)
                if not future.is_expired(now):
                    live += 1
                    if live == family.listed:
                        break
        self._by_con_id = {instrument.con_id: instrument for instrument in instruments}
        if len(self._by_con_id) != len(instruments):
            raise RuntimeError("instrument table has duplicate conIds")
        self._instruments = tuple(instruments)
        self._sources: list[InstrumentSource] = []

    def add_source(self, source: InstrumentSource) -> None:
        """Answer look-ups (by conId, and contract matches of security type FOP or naming a
        strike or right) from ``source`` too."""
        self._sources.append(source)

    def __iter__(self) -> Iterator[Instrument]:
        return iter(self._instruments)

    def __len__(self) -> int:
        return len(self._instruments)

    def by_con_id(self, con_id: int) -> Instrument | None:
        found = self._by_con_id.get(con_id)
        if found is None:
            for source in self._sources:
                found = source.by_con_id(con_id)
                if found is not None:
                    break
        return found

    def listed(self) -> list[Instrument]:
        """Every instrument that has not expired by the clock's current time."""
        now = self._clock.now()
        return [instrument for instrument in self._instruments if not instrument.is_expired(now)]

    def match(self, fields: Sequence[str], include_expired: bool = False) -> list[Instrument]:
        """Instruments matching the 12 inbound contract fields (conId symbol secType
        lastTradeDateOrContractMonth strike right multiplier exchange primaryExchange currency
        localSymbol tradingClass); empty fields are wildcards, the expiry is ``YYYYMM`` (contract
        month) or ``YYYYMMDD`` (last trade date). Sorted by expiry. Security type ``CONTFUT``
        gives the front (first unexpired) future of each matching family. Options (security
        type FOP, a strike or a right, or a conId the table does not hold) are the added
        sources' to match."""
        if len(fields) != 12:
            raise ValueError(f"a contract is 12 fields, got {len(fields)}: {list(fields)!r}")
        (con_id, symbol, sec_type, expiry, strike, right, multiplier, exchange, primary,
         currency, local_symbol, trading_class) = (field.strip() for field in fields)  # fmt: skip
        wanted_id = int(_number(con_id, "conId") or 0)
        if (
            sec_type.upper() == "FOP"
            or right not in ("", "0", "?")
            or _number(strike, "strike") not in (None, Decimal(0))
            or (wanted_id and wanted_id not in self._by_con_id)
        ):
            return [
                found for source in self._sources for found in source.match(fields, include_expired)
            ]
        candidates = (
            ([self._by_con_id[wanted_id]] if wanted_id in self._by_con_id else [])
            if wanted_id
            else list(self._instruments)
        )
        wanted_multiplier = _number(multiplier, "multiplier")
        continuous = sec_type.upper() == "CONTFUT"
        if continuous:
            sec_type = "FUT"
        now = self._clock.now()
        found = []
        for instrument in candidates:
            if not include_expired and instrument.is_expired(now):
                continue
            if wanted_id:
                found.append(instrument)
                continue
            if symbol and symbol.upper() != instrument.symbol:
                continue
            if sec_type and sec_type.upper() != instrument.sec_type:
                continue
            if expiry and not _expiry_matches(expiry, instrument):
                continue
            if wanted_multiplier is not None and wanted_multiplier != Decimal(
                instrument.multiplier or "1"
            ):
                continue
            if exchange and exchange.upper() not in (
                instrument.exchange,
                *instrument.valid_exchanges.split(","),
            ):
                continue
            if primary and primary.upper() != instrument.primary_exchange:
                continue
            if currency and currency.upper() != instrument.currency:
                continue
            if local_symbol and local_symbol.upper() != instrument.local_symbol:
                continue
            if trading_class and trading_class.upper() != instrument.trading_class:
                continue
            found.append(instrument)
        found.sort(key=lambda instrument: (instrument.last_trade_date, instrument.con_id))
        if continuous:
            # CONTFUT names the front month of each matching family
            fronts: dict[tuple[str, str], Instrument] = {}
            for instrument in found:
                fronts.setdefault((instrument.trading_class, instrument.exchange), instrument)
            found = list(fronts.values())
        return found


def _number(text: str, name: str) -> Decimal | None:
    if not text:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        raise ValueError(f"contract field {name} is not a number: {text!r}") from None


def _expiry_matches(expiry: str, instrument: Instrument) -> bool:
    if not instrument.last_trade_date:
        return False
    if len(expiry) == 6:
        return expiry == instrument.contract_month
    if len(expiry) == 8:
        return expiry == instrument.last_trade_date
    return instrument.contract_month.startswith(expiry)
