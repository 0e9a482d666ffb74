"""Order entry's vocabulary and rules, the same for every way an order is born (ticket, price
ladder, options chain, chart, signal inbox): the fields a trader gives, what the entry answers
(sent, needs your confirmation, refused and why), and the figures shown before sending — the
position if filled, the notional, the flatten order and what the family holds elsewhere.

``broker.order_entry.OrderEntry`` applies these with the live position, orders and quote.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from ibconsole.domain.account import PortfolioRow
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.order_words import signed_quantity_text
from ibconsole.domain.orders import (
    OrderIntent,
    OrderType,
    OrderValidationError,
    Position,
    Side,
    TimeInForce,
    WorkingOrder,
    parse_order_type,
    usable_number,
)
from ibconsole.domain.products import Product, product, siblings
from ibconsole.domain.risk import Check, RiskReport

# What a trader may type or a signal may carry into a number field.
Number = Decimal | int | str


# The fields a trader types (or a signal fills), as ``OrderValidationError.field`` names them.
_TYPED = frozenset({"quantity", "limit_price", "stop_price", "take_profit", "stop_loss"})


@dataclass(frozen=True, slots=True)
class EntryFields:
    """An order as entered, before it is validated: every entry point fills these few fields.

    Prices the order type does not use are ignored (a ticket keeps its limit field filled while
    the trader tries a market order); take-profit and stop-loss count only with ``bracket``.
    """

    contract: ListedContract | None
    quantity: Number
    order_type: OrderType | str = OrderType.MARKET
    limit_price: Number | None = None
    stop_price: Number | None = None
    tif: TimeInForce | str = TimeInForce.DAY
    bracket: bool = False
    take_profit: Number | None = None
    stop_loss: Number | None = None

    def blank(self, field: str) -> bool:
        """Is the typed field named like an ``OrderValidationError.field`` left empty?"""
        if field not in _TYPED:
            return False
        value = getattr(self, field)
        return value is None or (isinstance(value, str) and not value.strip())


@dataclass(frozen=True, slots=True)
class OrderChange:
    """New terms for a working order; None keeps a term as it is."""

    order_id: int
    quantity: Decimal | None = None
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Sent:
    """The order (or change, or cancel) went to the broker; ``message`` says what went."""

    message: str
    intent: OrderIntent | None = None


@dataclass(frozen=True, slots=True)
class NeedsConfirmation:
    """The checks want the trader's word before ``intent`` (or ``change``) goes: nothing was
    sent or journalled yet. Answer with ``OrderEntry.confirm`` or ``OrderEntry.decline``."""

    intent: OrderIntent
    report: RiskReport
    title: str
    summary: str
    confirm_text: str
    notes: tuple[str, ...] = ()
    change: OrderChange | None = None

    @property
    def shown(self) -> frozenset[Check]:
        """The checks the trader is shown, and so confirms."""
        return frozenset(f.check for f in self.report.findings)


class Refusal(StrEnum):
    """Why nothing was sent, which decides how loudly it is said."""

    INVALID = "invalid"  # a field is unusable (``error`` names it)
    BLOCKED = "blocked"  # the checks, the connection or the broker said no
    UNKNOWN = "unknown"  # the console cannot tell what is needed (no contract, position unknown)
    NOTHING = "nothing"  # there is nothing to do (flat, nothing working)


@dataclass(frozen=True, slots=True)
class Refused:
    """Nothing was sent; ``message`` is the sentence to show."""

    kind: Refusal
    message: str
    report: RiskReport | None = None
    error: OrderValidationError | None = None


EntryOutcome = Sent | NeedsConfirmation | Refused


@dataclass(frozen=True, slots=True)
class EntryPreview:
    """Both sides of the fields as they stand: each side's intent or the error that stops it,
    the findings of each valid side, and the field errors to show before a side is chosen."""

    outcomes: Mapping[Side, OrderIntent | OrderValidationError]
    reports: Mapping[Side, RiskReport]
    errors: Mapping[str, str]

    @property
    def intents(self) -> dict[Side, OrderIntent]:
        return {s: o for s, o in self.outcomes.items() if isinstance(o, OrderIntent)}


def flatten_terms(position: Position) -> tuple[Side, Decimal]:
    """The side and size of the market order that closes ``position`` (never flat)."""
    if position.quantity == 0:
        raise ValueError("A flat position has nothing to flatten")
    return (Side.SELL if position.quantity > 0 else Side.BUY), abs(position.quantity)


def positions_after(position: Position, quantity: Decimal) -> tuple[Decimal, Decimal]:
    """The position if a buy, and if a sell, of ``quantity`` filled in full."""
    return position.quantity + quantity, position.quantity - quantity


def notional(contract: ListedContract, price: Decimal, quantity: Decimal) -> Decimal:
    """What ``quantity`` contracts at ``price`` are worth (price × multiplier × quantity)."""
    return abs(price) * contract.multiplier * quantity


def notional_price(fields: EntryFields, reference: Decimal | None) -> Decimal | None:
    """The price a notional is figured at: the order's own limit or stop, else the market's."""
    try:
        order_type = parse_order_type(fields.order_type)
    except OrderValidationError:
        return reference
    for needed, raw in (
        (order_type.needs_limit, fields.limit_price),
        (order_type.needs_stop, fields.stop_price),
    ):
        price = usable_number(raw) if needed else None
        if price is not None:
            return price
    return reference


def whole_quantity(raw: Number) -> Decimal | None:
    """The quantity when it is a whole number of contracts above zero, else None."""
    quantity = usable_number(raw)
    if quantity is None or quantity <= 0 or quantity != quantity.to_integral_value():
        return None
    return quantity


def shared_error(
    outcomes: Mapping[Side, OrderIntent | OrderValidationError], fields: EntryFields
) -> dict[str, str]:
    """The field error to show before a side is chosen: only one both sides share.

    A side-specific error (a take-profit on the wrong side of the entry) waits until that side is
    asked for: the trader has not said which side they mean yet. An empty field is not an error
    until an order is asked for.
    """
    errors = [o for o in outcomes.values() if isinstance(o, OrderValidationError)]
    if len(errors) != 2:
        return {}
    first, second = errors
    if (first.field, first.message) != (second.field, second.message) or fields.blank(first.field):
        return {}
    return {first.field: first.message}


def family_members(symbol: str) -> tuple[Product, ...]:
    """The product and its mini/micro siblings, the product first."""
    return (product(symbol), *siblings(symbol))


@dataclass(frozen=True, slots=True)
class FamilyExposure:
    """What the family of a contract holds and works elsewhere: other months, mini/micro."""

    contract: ListedContract
    held: tuple[tuple[str, Decimal], ...]  # (local symbol, signed quantity)
    working: tuple[tuple[str, int], ...]  # (local symbol, working orders), by name

    @property
    def sentence(self) -> str:
        parts = [f"{name} {signed_quantity_text(quantity)}" for name, quantity in self.held]
        parts.extend(f"{count} working on {name}" for name, count in self.working)
        if parts:
            return " · ".join(parts)
        symbol = self.contract.symbol
        others = ", ".join(m.symbol for m in family_members(symbol) if m.symbol != symbol)
        return f"Nothing else held or working in {symbol}" + (f" or {others}" if others else "")


def family_exposure(
    contract: ListedContract,
    portfolio: Iterable[PortfolioRow],
    working: Iterable[WorkingOrder],
    names: Mapping[int, str],
) -> FamilyExposure:
    """Positions and working orders of ``contract``'s family outside ``contract`` itself.

    ``names`` maps the conIds of the family's listed months to their local symbols; a working
    order on a contract not among them belongs to another family.
    """
    ib_symbols = {m.ib_symbol for m in family_members(contract.symbol)}
    held = tuple(
        (row.local_symbol, row.quantity)
        for row in portfolio
        if row.symbol in ib_symbols and row.con_id != contract.con_id and row.quantity
    )
    counts: dict[str, int] = {}
    for order in working:
        if order.con_id != contract.con_id and order.con_id in names:
            name = names[order.con_id]
            counts[name] = counts.get(name, 0) + 1
    return FamilyExposure(contract, held, tuple(sorted(counts.items())))
