"""The futures products the console knows: contract specifications and rolling conventions.

Facts are CME Group contract specifications (cmegroup.com, "Contract Specs" page of each
product) and the IB contract fields as IB's contract search reports them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType


class UnknownProductError(ValueError):
    """A product symbol the console has no specification for."""


class RollRuleKind(StrEnum):
    CALENDAR_DAYS = "calendar_days"
    BUSINESS_DAYS = "business_days"


@dataclass(frozen=True, slots=True)
class RollRule:
    """When to roll: this many calendar or exchange business days before the holding deadline.

    The holding deadline is the last trade, or the first notice day for physically delivered
    products whose notice period starts before trading ends (gold, Treasuries).
    """

    kind: RollRuleKind
    days: int

    def __post_init__(self) -> None:
        if self.days < 0:
            raise ValueError(f"A roll rule needs zero or more days before expiry, got {self.days}")


class ExpiryRuleKind(StrEnum):
    """How an exchange fixes a contract month's last trading day."""

    # CME Rulebook ch. 358 (ES) and siblings: the third Friday of the contract month; if the
    # Special Opening Quotation is not scheduled that day, the first earlier business day on
    # which it is.
    THIRD_FRIDAY = "third_friday"
    # NYMEX Rulebook ch. 200 (CL): n business days before the 25th calendar day of the month
    # before the contract month, or n + 1 when the 25th is not a business day.
    BEFORE_25TH_OF_PRIOR_MONTH = "before_25th_of_prior_month"
    # NYMEX Rulebook ch. 220 (NG): the n-th last business day of the month before.
    NTH_LAST_BUSINESS_DAY_OF_PRIOR_MONTH = "nth_last_business_day_of_prior_month"
    # COMEX Rulebook ch. 113 (GC): the n-th last business day of the contract month.
    NTH_LAST_BUSINESS_DAY_OF_MONTH = "nth_last_business_day_of_month"
    # CBOT Rulebook ch. 19/18 (ZN/ZB): n business days before the month's last business day.
    BEFORE_LAST_BUSINESS_DAY_OF_MONTH = "before_last_business_day_of_month"
    # CME Rulebook ch. 261 (6E): n business days before the third Wednesday.
    BEFORE_THIRD_WEDNESDAY = "before_third_wednesday"


@dataclass(frozen=True, slots=True)
class ExpiryRule:
    """The exchange's last-trade rule for every month of a product."""

    kind: ExpiryRuleKind
    business_days: int  # the n of the rule; unused by THIRD_FRIDAY
    time: time  # time of day trading terminates, in the product's time zone
    # Physically delivered with the first notice day on the last business day of the month
    # before the contract month: a long holder must be out before it, weeks before last trade.
    notice_before_expiry: bool = False


class AssetClass(StrEnum):
    EQUITY_INDEX = "equity_index"
    ENERGY = "energy"
    METAL = "metal"
    RATES = "rates"
    FX = "fx"


@dataclass(frozen=True, slots=True)
class Product:
    """One futures product: what IB needs to find it and what the console needs to roll it."""

    symbol: str  # the console's key and the usual trading class: "ES", "MES", "6E"
    ib_symbol: str  # IB's symbol field: "ES", "MES", but "EUR" for 6E
    trading_class: str
    exchange: str  # IB exchange code: CME, CBOT, NYMEX, COMEX
    currency: str
    multiplier: Decimal
    min_tick: Decimal
    calendar: str  # exchange_calendars name used for sessions (fallback when IB gives no hours)
    time_zone: str  # IANA zone of the exchange's last-trade times
    asset_class: AssetClass
    cycle: str  # listed months used for rolling, as month codes: "HMUZ"
    roll_rule: RollRule
    family: str  # full-size symbol whose roll date this follows ("ES" for MES, itself for ES)
    description: str
    expiry: ExpiryRule
    # exchange_calendars name whose sessions are the business days of the expiry rule. Equity
    # index expiries follow the NYSE (no Special Opening Quotation without a cash session);
    # CME Group's own business days are its trade dates, which skip the same US holidays.
    business_calendar: str = "XNYS"

    @property
    def is_micro(self) -> bool:
        return self.family != self.symbol


MONTH_CODES = "FGHJKMNQUVXZ"
"""Futures month codes, January to December."""

_CT = "America/Chicago"
# exchange_calendars 4.13.2 has one CME Group calendar: "CME", "CBOT", "NYMEX" and "COMEX" are
# aliases of "CMES" (Globex 17:00-17:00 Chicago, with noon closes on US holidays), the best fit
# for every product here; "us_futures" is a generic 24-hour futures calendar. Sessions apply
# Globex's daily 16:00-17:00 CT halt on top (see sessions.calendar_sessions).
_GLOBEX = "CMES"

# Roll conventions. Equity index: CME's published roll date is 8 calendar days before the
# last trade (the Thursday before expiration week). The others have no exchange-published
# roll date; the console rolls a trading week before the holding deadline, when volume has
# moved to the next month, and a trader can override per symbol in the settings.
_EQUITY_ROLL = RollRule(RollRuleKind.CALENDAR_DAYS, 8)
_WEEK_BEFORE = RollRule(RollRuleKind.BUSINESS_DAYS, 5)

# Equity index expiries terminate at 8:30 CT, the open of the cash market's SOQ.
_EQUITY_EXPIRY = ExpiryRule(ExpiryRuleKind.THIRD_FRIDAY, 0, time(8, 30))
_CL_EXPIRY = ExpiryRule(ExpiryRuleKind.BEFORE_25TH_OF_PRIOR_MONTH, 3, time(13, 30))
# Micro WTI terminates one business day before CL (NYMEX Rulebook ch. 1011).
_MCL_EXPIRY = ExpiryRule(ExpiryRuleKind.BEFORE_25TH_OF_PRIOR_MONTH, 4, time(13, 30))
_NG_EXPIRY = ExpiryRule(ExpiryRuleKind.NTH_LAST_BUSINESS_DAY_OF_PRIOR_MONTH, 3, time(13, 30))
_GOLD_EXPIRY = ExpiryRule(
    ExpiryRuleKind.NTH_LAST_BUSINESS_DAY_OF_MONTH, 3, time(12, 30), notice_before_expiry=True
)
_TREASURY_EXPIRY = ExpiryRule(
    ExpiryRuleKind.BEFORE_LAST_BUSINESS_DAY_OF_MONTH, 7, time(12, 1), notice_before_expiry=True
)
_EURO_EXPIRY = ExpiryRule(ExpiryRuleKind.BEFORE_THIRD_WEDNESDAY, 2, time(9, 16))


def _cme_group(
    symbol: str,
    exchange: str,
    multiplier: str,
    tick: str,
    asset_class: AssetClass,
    cycle: str,
    expiry: ExpiryRule,
    family: str,
    description: str,
    *,
    roll_rule: RollRule = _WEEK_BEFORE,
    ib_symbol: str | None = None,
) -> Product:
    """A CME Group future: USD, Globex sessions, Chicago time, the symbol as its trading class."""
    return Product(
        symbol=symbol,
        ib_symbol=ib_symbol or symbol,
        trading_class=symbol,
        exchange=exchange,
        currency="USD",
        multiplier=Decimal(multiplier),
        min_tick=Decimal(tick),
        calendar=_GLOBEX,
        time_zone=_CT,
        asset_class=asset_class,
        cycle=cycle,
        roll_rule=roll_rule,
        family=family,
        description=description,
        expiry=expiry,
    )


def _equity(
    symbol: str, exchange: str, multiplier: str, tick: str, family: str, description: str
) -> Product:
    """An equity index future: quarterly, expiring on the third Friday, rolled by CME's date."""
    return _cme_group(
        symbol,
        exchange,
        multiplier,
        tick,
        AssetClass.EQUITY_INDEX,
        "HMUZ",
        _EQUITY_EXPIRY,
        family,
        description,
        roll_rule=_EQUITY_ROLL,
    )


_MONTHLY = MONTH_CODES
# COMEX gold lists every month near the front, but volume and open interest live in the
# active months February, April, June, August, October and December: those are rolled into.
_GOLD_ACTIVE = "GJMQVZ"

_ALL = (
    _equity("ES", "CME", "50", "0.25", "ES", "E-mini S&P 500"),
    _equity("MES", "CME", "5", "0.25", "ES", "Micro E-mini S&P 500"),
    _equity("NQ", "CME", "20", "0.25", "NQ", "E-mini Nasdaq-100"),
    _equity("MNQ", "CME", "2", "0.25", "NQ", "Micro E-mini Nasdaq-100"),
    _equity("RTY", "CME", "50", "0.10", "RTY", "E-mini Russell 2000"),
    _equity("M2K", "CME", "5", "0.10", "RTY", "Micro E-mini Russell 2000"),
    _equity("YM", "CBOT", "5", "1", "YM", "E-mini Dow ($5)"),
    _equity("MYM", "CBOT", "0.5", "1", "YM", "Micro E-mini Dow"),
    _cme_group(
        "CL",
        "NYMEX",
        "1000",
        "0.01",
        AssetClass.ENERGY,
        _MONTHLY,
        _CL_EXPIRY,
        "CL",
        "Crude Oil (WTI)",
    ),
    _cme_group(
        "MCL",
        "NYMEX",
        "100",
        "0.01",
        AssetClass.ENERGY,
        _MONTHLY,
        _MCL_EXPIRY,
        "CL",
        "Micro WTI Crude Oil",
    ),
    _cme_group(
        "NG",
        "NYMEX",
        "10000",
        "0.001",
        AssetClass.ENERGY,
        _MONTHLY,
        _NG_EXPIRY,
        "NG",
        "Henry Hub Natural Gas",
    ),
    _cme_group(
        "GC", "COMEX", "100", "0.10", AssetClass.METAL, _GOLD_ACTIVE, _GOLD_EXPIRY, "GC", "Gold"
    ),
    _cme_group(
        "MGC",
        "COMEX",
        "10",
        "0.10",
        AssetClass.METAL,
        _GOLD_ACTIVE,
        _GOLD_EXPIRY,
        "GC",
        "Micro Gold",
    ),
    _cme_group(
        "ZN",
        "CBOT",
        "1000",
        "0.015625",
        AssetClass.RATES,
        "HMUZ",
        _TREASURY_EXPIRY,
        "ZN",
        "10-Year T-Note",
    ),
    _cme_group(
        "ZB",
        "CBOT",
        "1000",
        "0.03125",
        AssetClass.RATES,
        "HMUZ",
        _TREASURY_EXPIRY,
        "ZB",
        "U.S. Treasury Bond",
    ),
    _cme_group(
        "6E",
        "CME",
        "125000",
        "0.00005",
        AssetClass.FX,
        "HMUZ",
        _EURO_EXPIRY,
        "6E",
        "Euro FX",
        ib_symbol="EUR",
    ),
)

PRODUCTS: Mapping[str, Product] = MappingProxyType({p.symbol: p for p in _ALL})


def product(symbol: str) -> Product:
    """The product with this console symbol, or UnknownProductError naming the known ones."""
    try:
        return PRODUCTS[symbol]
    except KeyError:
        known = ", ".join(PRODUCTS)
        raise UnknownProductError(
            f"Unknown futures product {symbol!r}; the console knows {known}"
        ) from None


def siblings(symbol: str) -> tuple[Product, ...]:
    """The other members of the symbol's family (MES -> (ES,), ES -> (MES,))."""
    family = product(symbol).family
    return tuple(p for p in PRODUCTS.values() if p.family == family and p.symbol != symbol)
