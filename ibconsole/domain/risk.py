"""Pre-trade checks: what blocks an order intent, what needs the trader's confirmation, and why.

``evaluate`` is pure: everything it knows arrives in a ``RiskContext``. Unknown facts (a position
that could not be read, no quote, no P&L) never pass as harmless defaults.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import Enum, StrEnum
from types import MappingProxyType

from ibconsole.domain.contracts import decimal_places
from ibconsole.domain.orders import OrderIntent, OrderType, Position, Side, WorkingOrder, is_on_tick
from ibconsole.domain.quotes import Quote
from ibconsole.domain.trading_mode import AccountMode

__all__ = [
    "UNSET",
    "Check",
    "Finding",
    "LimitOverride",
    "RiskContext",
    "RiskLimits",
    "RiskReport",
    "Severity",
    "SymbolLimits",
    "evaluate",
    "working_exposure",
]


class Severity(StrEnum):
    BLOCK = "block"
    CONFIRM = "confirm"
    INFO = "info"


class Check(StrEnum):
    MAX_QUANTITY = "max_quantity"
    POSITION = "position"
    NOTIONAL = "notional"
    PRICE_BAND = "price_band"
    TICK = "tick"
    QUOTE = "quote"
    MARKET_HOURS = "market_hours"
    LIVE_ACCOUNT = "live_account"
    DUPLICATE = "duplicate"
    DAILY_LOSS = "daily_loss"
    OPTION_MARKET = "option_market"


@dataclass(frozen=True, slots=True)
class Finding:
    check: Check
    severity: Severity
    message: str


@dataclass(frozen=True, slots=True)
class SymbolLimits:
    """The limits that apply to one product; ``None`` switches a limit off.

    ``max_quantity`` is per order, ``max_position`` caps the absolute position the order could
    reach with every working order filled, ``max_notional`` is price × multiplier × quantity in
    the contract's currency. A price outside either price band asks for confirmation; a limit
    price that crosses the market by more than the band is blocked.
    """

    max_quantity: Decimal | None = Decimal(10)
    max_position: Decimal | None = Decimal(20)
    max_notional: Decimal | None = None
    price_band_percent: Decimal | None = Decimal(2)
    price_band_ticks: int | None = None

    def __post_init__(self) -> None:
        for name in ("max_quantity", "max_notional", "price_band_percent", "price_band_ticks"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be above zero or None (no limit), got {value}")
        if self.max_position is not None and self.max_position < 0:
            raise ValueError(f"max_position must be zero or more, got {self.max_position}")


class _Unset(Enum):
    """Marker for a per-symbol field that keeps the default (``None`` means "no limit")."""

    UNSET = "unset"


UNSET = _Unset.UNSET


@dataclass(frozen=True, slots=True)
class LimitOverride:
    """Per-symbol changes to the default limits; a field left ``UNSET`` keeps the default."""

    max_quantity: Decimal | _Unset | None = UNSET
    max_position: Decimal | _Unset | None = UNSET
    max_notional: Decimal | _Unset | None = UNSET
    price_band_percent: Decimal | _Unset | None = UNSET
    price_band_ticks: int | _Unset | None = UNSET

    def apply(self, base: SymbolLimits) -> SymbolLimits:
        changes = {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if getattr(self, f.name) is not UNSET
        }
        return replace(base, **changes)


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """Account-wide settings of the checks plus per-symbol limit overrides (keys: product symbol)."""

    defaults: SymbolLimits = field(default_factory=SymbolLimits)
    overrides: Mapping[str, LimitOverride] = field(default_factory=dict)
    max_quote_age: timedelta = timedelta(seconds=30)
    duplicate_window: timedelta = timedelta(seconds=10)
    max_daily_loss: Decimal | None = None
    # A market order has no price of its own: without a live, fresh quote nobody knows what it
    # will pay, so by default it is blocked rather than merely confirmed.
    block_market_orders_without_live_quote: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "overrides", MappingProxyType(dict(self.overrides)))
        if self.max_daily_loss is not None and self.max_daily_loss <= 0:
            raise ValueError(
                f"max_daily_loss is a positive amount of money, got {self.max_daily_loss}"
            )

    def for_symbol(self, symbol: str) -> SymbolLimits:
        override = self.overrides.get(symbol)
        return self.defaults if override is None else override.apply(self.defaults)


@dataclass(frozen=True, slots=True)
class RiskContext:
    """What is known about the market, the account and this contract when the order is checked.

    ``position`` is ``None`` when it could not be read; a flat position is ``Position.flat``.
    ``session_open`` is ``None`` when the trading hours are unknown. ``daily_pnl`` is ``None``
    when the account's P&L has not arrived.
    """

    now: datetime
    position: Position | None
    working_orders: Sequence[WorkingOrder]
    quote: Quote | None
    session_open: bool | None
    account_mode: AccountMode
    daily_pnl: Decimal | None
    recent_intents: Sequence[OrderIntent] = ()


@dataclass(frozen=True, slots=True)
class RiskReport:
    findings: tuple[Finding, ...]

    @property
    def blocked(self) -> bool:
        return any(f.severity is Severity.BLOCK for f in self.findings)

    @property
    def needs_confirmation(self) -> bool:
        return any(f.severity is Severity.CONFIRM for f in self.findings)

    def of(self, severity: Severity) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is severity)

    @property
    def blocking_text(self) -> str:
        """The blocking findings in one paragraph, "" when nothing blocks."""
        return " ".join(f.message for f in self.of(Severity.BLOCK))

    def allows(self, *, confirmed: bool) -> bool:
        """True when the order may be sent, given whether the trader confirmed the warnings."""
        return not self.blocked and (confirmed or not self.needs_confirmation)


def _num(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _price(value: Decimal, tick: Decimal) -> str:
    """A price with at least the decimals of the tick (5000.00 for ES), never fewer than it has."""
    return f"{value:.{max(decimal_places(value), decimal_places(tick))}f}"


def _money(value: Decimal, currency: str) -> str:
    return f"{value:,.2f} {currency}"


def working_exposure(orders: Iterable[WorkingOrder], con_id: int) -> tuple[Decimal, Decimal]:
    """How many contracts the working orders could still buy and sell, as (buys, sells).

    Orders that are alternatives count once at their largest size: the children of one bracket
    (take-profit and stop-loss) and the members of one OCA group. Children of a parent that is
    itself still working only unwind what the parent opens, so they add no exposure.
    """
    live = [o for o in orders if o.con_id == con_id and o.remaining > 0]
    working_ids = {o.order_id for o in live}
    groups: dict[tuple[str, object, Side], Decimal] = {}
    for order in live:
        if order.parent_id and order.parent_id in working_ids:
            continue
        if order.parent_id:
            group: tuple[str, object, Side] = ("parent", order.parent_id, order.side)
        elif order.oca_group:
            group = ("oca", order.oca_group, order.side)
        else:
            group = ("order", order.order_id, order.side)
        groups[group] = max(groups.get(group, Decimal(0)), order.remaining)
    buys = sum((q for (_, _, side), q in groups.items() if side is Side.BUY), Decimal(0))
    sells = sum((q for (_, _, side), q in groups.items() if side is Side.SELL), Decimal(0))
    return buys, sells


def _reduces_position(intent: OrderIntent, position: Position | None) -> bool:
    """True when filling the order only shrinks a known position, never flips or grows it."""
    if position is None or position.quantity == 0:
        return False
    after = position.quantity + intent.signed_quantity
    return abs(after) < abs(position.quantity) and (
        after == 0 or (after > 0) == (position.quantity > 0)
    )


def _prices(intent: OrderIntent) -> list[tuple[str, Decimal]]:
    prices = []
    if intent.limit_price is not None:
        prices.append(("limit price", intent.limit_price))
    if intent.stop_price is not None:
        prices.append(("stop price", intent.stop_price))
    if intent.bracket is not None:
        if intent.bracket.take_profit is not None:
            prices.append(("take-profit", intent.bracket.take_profit))
        if intent.bracket.stop_loss is not None:
            prices.append(("stop-loss", intent.bracket.stop_loss))
    return prices


def _check_quantity(intent: OrderIntent, limits: SymbolLimits, reducing: bool) -> list[Finding]:
    symbol = intent.contract.symbol
    if limits.max_quantity is None or intent.quantity <= limits.max_quantity:
        return []
    if reducing:
        return [
            Finding(
                Check.MAX_QUANTITY,
                Severity.INFO,
                f"Quantity {_num(intent.quantity)} is above your limit of "
                f"{_num(limits.max_quantity)} for {symbol}, allowed because it only reduces "
                "your position.",
            )
        ]
    return [
        Finding(
            Check.MAX_QUANTITY,
            Severity.BLOCK,
            f"Quantity {_num(intent.quantity)} is above your limit of "
            f"{_num(limits.max_quantity)} for {symbol}.",
        )
    ]


def _check_position(
    intent: OrderIntent, context: RiskContext, limits: SymbolLimits, reducing: bool
) -> list[Finding]:
    name = intent.contract.local_symbol
    position = context.position
    if position is None:
        return [
            Finding(
                Check.POSITION,
                Severity.BLOCK,
                f"Your position in {name} could not be read, so this order cannot be checked "
                "against it. Wait until positions have loaded after connecting.",
            )
        ]
    if position.con_id != intent.contract.con_id:
        return [
            Finding(
                Check.POSITION,
                Severity.BLOCK,
                f"The position supplied is for contract id {position.con_id}, not for {name} "
                f"({intent.contract.con_id}), so this order cannot be checked against it.",
            )
        ]
    if limits.max_position is None or reducing:
        return []
    buys, sells = working_exposure(context.working_orders, intent.contract.con_id)
    if intent.side is Side.BUY:
        worst = position.quantity + buys + intent.quantity
        direction = "long"
    else:
        worst = -(position.quantity - sells - intent.quantity)
        direction = "short"
    if worst <= limits.max_position:
        return []
    working = buys if intent.side is Side.BUY else sells
    return [
        Finding(
            Check.POSITION,
            Severity.BLOCK,
            f"If this order and your working {intent.side.value.lower()} orders "
            f"({_num(working)}) fill, you would be {direction} {_num(worst)} {name}, above your "
            f"position limit of {_num(limits.max_position)} for {intent.contract.symbol}. "
            f"You hold {_num(position.quantity)} now.",
        )
    ]


def _quote(intent: OrderIntent, context: RiskContext) -> Quote | None:
    """The context's quote if it is this contract's; a quote of another contract is no quote."""
    quote = context.quote
    return quote if quote is not None and quote.con_id == intent.contract.con_id else None


def _reference_price(intent: OrderIntent, context: RiskContext) -> Decimal | None:
    quote = _quote(intent, context)
    return quote.last_good_price() if quote is not None else None


def _check_notional(
    intent: OrderIntent, context: RiskContext, limits: SymbolLimits
) -> list[Finding]:
    if limits.max_notional is None:
        return []
    price = (
        intent.entry_price if intent.entry_price is not None else _reference_price(intent, context)
    )
    currency = intent.contract.currency
    if price is None:
        return [
            Finding(
                Check.NOTIONAL,
                Severity.CONFIRM,
                f"There is no price for {intent.contract.local_symbol}, so the order's value "
                f"cannot be checked against your limit of {_money(limits.max_notional, currency)}.",
            )
        ]
    notional = abs(price) * intent.contract.multiplier * intent.quantity
    if notional <= limits.max_notional:
        return []
    return [
        Finding(
            Check.NOTIONAL,
            Severity.BLOCK,
            f"This order is worth {_money(notional, currency)} "
            f"({_num(intent.quantity)} × {_num(intent.contract.multiplier)} × {_num(price)}), "
            f"above your limit of {_money(limits.max_notional, currency)} for "
            f"{intent.contract.symbol}.",
        )
    ]


def _check_ticks(intent: OrderIntent) -> list[Finding]:
    contract = intent.contract
    return [
        Finding(
            Check.TICK,
            Severity.BLOCK,
            f"The {label} {_price(price, contract.tick_at(price))} is not a multiple of "
            f"{contract.local_symbol if contract.is_option else contract.symbol}'s tick "
            f"{_num(contract.tick_at(price))}{' at that price' if contract.price_increments else ''}"
            "; the exchange would reject it.",
        )
        for label, price in _prices(intent)
        if not is_on_tick(price, contract.tick_at(price))
    ]


def _band(reference: Decimal, tick: Decimal, limits: SymbolLimits) -> tuple[Decimal, str] | None:
    """The narrowest configured band around ``reference``, as (width, description)."""
    bands = []
    if limits.price_band_percent is not None:
        bands.append(
            (
                abs(reference) * limits.price_band_percent / 100,
                f"{_num(limits.price_band_percent)}%",
            )
        )
    if limits.price_band_ticks is not None:
        bands.append((tick * limits.price_band_ticks, f"{limits.price_band_ticks} ticks"))
    return min(bands, key=lambda band: band[0]) if bands else None


def _option_band(
    intent: OrderIntent, context: RiskContext, tick: Decimal, band: tuple[Decimal, str]
) -> tuple[Decimal, str]:
    """An option's band is never narrower than its quoted spread and a tick: a cheap option's
    premium in percent is a few cents, and buying at its ask is not buying through the market."""
    quote = _quote(intent, context)
    if not intent.contract.is_option or quote is None or quote.bid is None or quote.ask is None:
        return band
    spread = quote.ask - quote.bid + tick
    if spread <= band[0]:
        return band
    return spread, f"{band[1]} (widened to the option's spread, {_price(spread, tick)})"


def _check_band(intent: OrderIntent, context: RiskContext, limits: SymbolLimits) -> list[Finding]:
    reference = _reference_price(intent, context)
    if reference is None:
        return []
    tick = intent.contract.tick_at(reference)
    band = _band(reference, tick, limits)
    if band is None:
        return []
    width, described = _option_band(intent, context, tick, band)
    findings = []
    for label, price in _prices(intent):
        distance = price - reference
        if abs(distance) <= width:
            continue
        crosses = label == "limit price" and distance * intent.side.sign > 0
        where = "above" if distance > 0 else "below"
        if crosses:
            findings.append(
                Finding(
                    Check.PRICE_BAND,
                    Severity.BLOCK,
                    f"The {label} {_price(price, tick)} is {_price(abs(distance), tick)} {where} "
                    f"the market "
                    f"({_price(reference, tick)}), more than your {described} band: it would "
                    f"{'buy' if intent.side is Side.BUY else 'sell'} far through the market.",
                )
            )
        else:
            findings.append(
                Finding(
                    Check.PRICE_BAND,
                    Severity.CONFIRM,
                    f"The {label} {_price(price, tick)} is {_price(abs(distance), tick)} {where} "
                    f"the market "
                    f"({_price(reference, tick)}), more than your {described} band.",
                )
            )
    return findings


def _check_quote(intent: OrderIntent, context: RiskContext, limits: RiskLimits) -> list[Finding]:
    name = intent.contract.local_symbol
    strict = intent.order_type is OrderType.MARKET and limits.block_market_orders_without_live_quote
    quote = _quote(intent, context)
    problem: str | None
    if quote is None or quote.last_good_price() is None:
        problem = f"There is no quote for {name}, so prices cannot be checked against the market."
    elif quote.data_type.is_delayed:
        problem = (
            f"The quote for {name} is {quote.data_type.label} data, not live: the market may "
            "have moved since."
        )
    elif quote.data_type.is_frozen:
        problem = (
            f"The quote for {name} is frozen (the last values before the market stopped "
            "updating): the market may have moved since."
        )
    elif quote.is_stale(context.now, limits.max_quote_age):
        age = int(quote.age(context.now).total_seconds())
        problem = (
            f"The quote for {name} is {age} s old, older than "
            f"{int(limits.max_quote_age.total_seconds())} s: the market may have moved since."
        )
    else:
        problem = None
    if problem is None:
        return []
    if strict:
        return [
            Finding(
                Check.QUOTE, Severity.BLOCK, f"{problem} A market order needs a live, fresh quote."
            )
        ]
    return [Finding(Check.QUOTE, Severity.CONFIRM, problem)]


def _check_session(intent: OrderIntent, context: RiskContext) -> list[Finding]:
    name = intent.contract.local_symbol
    if context.session_open is True:
        return []
    if context.session_open is None:
        return [
            Finding(
                Check.MARKET_HOURS,
                Severity.CONFIRM,
                f"The trading hours of {name} are unknown, so the market may be closed.",
            )
        ]
    if intent.order_type is OrderType.MARKET:
        return [
            Finding(
                Check.MARKET_HOURS,
                Severity.BLOCK,
                f"The market for {name} is closed: a market order would wait and fill at "
                "whatever price the market opens at.",
            )
        ]
    return [
        Finding(
            Check.MARKET_HOURS,
            Severity.CONFIRM,
            f"The market for {name} is closed; the order will work when it reopens.",
        )
    ]


def _check_account(intent: OrderIntent, context: RiskContext) -> list[Finding]:
    account = f" {intent.account}" if intent.account else ""
    if context.account_mode is AccountMode.LIVE:
        return [
            Finding(
                Check.LIVE_ACCOUNT,
                Severity.CONFIRM,
                f"This order goes to your LIVE account{account} and trades real money.",
            )
        ]
    if context.account_mode is AccountMode.UNKNOWN:
        return [
            Finding(
                Check.LIVE_ACCOUNT,
                Severity.CONFIRM,
                f"It is not confirmed whether account{account} is live or paper; treat this "
                "order as real money.",
            )
        ]
    return []


def _check_duplicate(intent: OrderIntent, context: RiskContext, window: timedelta) -> list[Finding]:
    # Every click passes here with up to the last 200 orders: the cheapest tests go first.
    key, con_id, side, quantity = intent.key, intent.contract.con_id, intent.side, intent.quantity
    if any(earlier.key == key for earlier in context.recent_intents):
        return [
            Finding(
                Check.DUPLICATE,
                Severity.BLOCK,
                f"This exact order (key {intent.key}) was already submitted.",
            )
        ]
    since, until = intent.created_at - window, intent.created_at
    for earlier in context.recent_intents:
        if (
            earlier.contract.con_id == con_id
            and earlier.side is side
            and earlier.quantity == quantity
            and since <= earlier.created_at <= until
        ):
            age = until - earlier.created_at
            return [
                Finding(
                    Check.DUPLICATE,
                    Severity.CONFIRM,
                    f"You sent the same order ({intent.side.value.lower()} "
                    f"{_num(intent.quantity)} {intent.contract.local_symbol}) "
                    f"{int(age.total_seconds())} s ago. Send it again?",
                )
            ]
    return []


def _check_daily_loss(
    intent: OrderIntent, context: RiskContext, limits: RiskLimits, reducing: bool
) -> list[Finding]:
    if limits.max_daily_loss is None or reducing:
        return []
    currency = intent.contract.currency
    limit = _money(limits.max_daily_loss, currency)
    if context.daily_pnl is None:
        return [
            Finding(
                Check.DAILY_LOSS,
                Severity.CONFIRM,
                f"Today's P&L is not available, so your daily loss limit of {limit} "
                "cannot be checked.",
            )
        ]
    if -context.daily_pnl >= limits.max_daily_loss:
        return [
            Finding(
                Check.DAILY_LOSS,
                Severity.BLOCK,
                f"Today's loss of {_money(-context.daily_pnl, currency)} has reached your daily "
                f"limit of {limit}; only orders that reduce a position are allowed.",
            )
        ]
    return []


def _check_option_market(intent: OrderIntent, context: RiskContext) -> list[Finding]:
    """A market order on an option fills at whatever the other side asks: option spreads are
    wide and thin, so the trader confirms it with the spread in view."""
    contract = intent.contract
    if not contract.is_option or intent.order_type is not OrderType.MARKET:
        return []
    quote = context.quote
    if quote is not None and quote.bid is not None and quote.ask is not None:
        market = (
            f"the market is {_price(quote.bid, contract.min_tick)} bid, "
            f"{_price(quote.ask, contract.min_tick)} asked "
            f"({_price(quote.ask - quote.bid, contract.min_tick)} wide)"
        )
    else:
        market = "there is no two-sided quote for it"
    return [
        Finding(
            Check.OPTION_MARKET,
            Severity.CONFIRM,
            f"A market order on the option {contract.local_symbol} fills at any price: {market}. "
            "A limit order at a price you choose is safer.",
        )
    ]


def evaluate(intent: OrderIntent, context: RiskContext, limits: RiskLimits) -> RiskReport:
    """Run every pre-trade check on ``intent`` and report what the trader must know."""
    symbol_limits = limits.for_symbol(intent.contract.symbol)
    reducing = _reduces_position(intent, context.position)
    findings = [
        *_check_position(intent, context, symbol_limits, reducing),
        *_check_quantity(intent, symbol_limits, reducing),
        *_check_notional(intent, context, symbol_limits),
        *_check_ticks(intent),
        *_check_band(intent, context, symbol_limits),
        *_check_quote(intent, context, limits),
        *_check_session(intent, context),
        *_check_account(intent, context),
        *_check_duplicate(intent, context, limits.duplicate_window),
        *_check_daily_loss(intent, context, limits, reducing),
        *_check_option_market(intent, context),
    ]
    return RiskReport(tuple(findings))
