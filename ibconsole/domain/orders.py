"""Order vocabulary: validated order intents with idempotency keys, working orders and positions.

``build_intent`` turns raw order-ticket values into an ``OrderIntent`` or raises
``OrderValidationError`` naming the field; ``snap_to_tick`` is the one place prices meet the tick.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal, InvalidOperation
from enum import StrEnum
from typing import TypeVar

from ibconsole.domain.clock import Clock
from ibconsole.domain.contracts import ListedContract

__all__ = [
    "KEY_PREFIX",
    "MAX_KEY_LENGTH",
    "Bracket",
    "KeyFactory",
    "OrderIntent",
    "OrderKeyFactory",
    "OrderType",
    "OrderValidationError",
    "Position",
    "Purpose",
    "Side",
    "SnapDirection",
    "SpreadLeg",
    "TickPolicy",
    "TimeInForce",
    "WorkingOrder",
    "build_intent",
    "is_on_tick",
    "parse_decimal",
    "parse_order_type",
    "snap_to_tick",
    "stop_loss_key",
    "take_profit_key",
    "usable_number",
    "validate_key",
]


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell: multiply a size by it to get a signed position change."""
        return 1 if self is Side.BUY else -1


class OrderType(StrEnum):
    """Order types as IB spells them in ``Order.orderType``."""

    MARKET = "MKT"
    LIMIT = "LMT"
    STOP = "STP"
    STOP_LIMIT = "STP LMT"

    @property
    def needs_limit(self) -> bool:
        return self in (OrderType.LIMIT, OrderType.STOP_LIMIT)

    @property
    def needs_stop(self) -> bool:
        return self in (OrderType.STOP, OrderType.STOP_LIMIT)


class TimeInForce(StrEnum):
    DAY = "DAY"
    GTC = "GTC"
    IOC = "IOC"


class Purpose(StrEnum):
    """Why an order exists, so the journal and blotter can tell a roll leg from a manual order."""

    MANUAL = "manual"
    FLATTEN = "flatten"
    ROLL_CLOSE = "roll_close"
    ROLL_OPEN = "roll_open"
    ROLL_MOVE = "roll_move"  # an exit of the old month re-created on the new one
    ROLL_RESTORE = "roll_restore"  # an exit a roll cancelled, placed again when nothing rolled
    ROLL_SPREAD = "roll_spread"  # both legs of a roll as one calendar-spread order


class SnapDirection(StrEnum):
    NEAREST = "nearest"
    UP = "up"
    DOWN = "down"


class TickPolicy(StrEnum):
    """What ``build_intent`` does with a price between ticks."""

    REJECT = "reject"
    SNAP = "snap"


# IB stores orderRef as free text; keys stay short, ASCII and free of the NUL that separates
# fields on the wire so they survive every round trip (orders, executions, completed orders).
MAX_KEY_LENGTH = 40
_KEY_ALPHABET = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_.:")
_TAKE_PROFIT_SUFFIX = ".tp"
_STOP_LOSS_SUFFIX = ".sl"
_MAX_PARENT_KEY_LENGTH = MAX_KEY_LENGTH - len(_TAKE_PROFIT_SUFFIX)


class OrderValidationError(ValueError):
    """An order-ticket value is unusable; ``field`` names the ticket field, ``message`` says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def validate_key(key: str) -> str:
    """Return ``key`` if it can travel as IB's orderRef, else raise ``OrderValidationError``."""
    if not key:
        raise OrderValidationError("key", "the idempotency key is empty")
    if len(key) > _MAX_PARENT_KEY_LENGTH:
        raise OrderValidationError(
            "key",
            f"the idempotency key {key!r} has {len(key)} characters; "
            f"at most {_MAX_PARENT_KEY_LENGTH} fit in orderRef with a bracket suffix",
        )
    bad = sorted(set(key) - _KEY_ALPHABET)
    if bad:
        raise OrderValidationError(
            "key",
            f"the idempotency key {key!r} contains {''.join(bad)!r}; "
            "only letters, digits and - _ . : are allowed",
        )
    return key


def take_profit_key(key: str) -> str:
    """Key (orderRef) of the take-profit child of the bracket whose parent has ``key``."""
    return key + _TAKE_PROFIT_SUFFIX


def stop_loss_key(key: str) -> str:
    """Key (orderRef) of the stop-loss child of the bracket whose parent has ``key``."""
    return key + _STOP_LOSS_SUFFIX


def snap_to_tick(price: Decimal, tick: Decimal, direction: SnapDirection) -> Decimal:
    """``price`` moved onto the grid of multiples of ``tick`` (ties to even when NEAREST)."""
    if not tick.is_finite() or tick <= 0:
        raise ValueError(f"tick must be a positive number, got {tick}")
    if not price.is_finite():
        raise ValueError(f"price must be a finite number, got {price}")
    rounding = {
        SnapDirection.NEAREST: ROUND_HALF_EVEN,
        SnapDirection.UP: ROUND_CEILING,
        SnapDirection.DOWN: ROUND_FLOOR,
    }[direction]
    snapped = (price / tick).quantize(Decimal(1), rounding=rounding) * tick
    return abs(snapped) if snapped == 0 else snapped


def is_on_tick(price: Decimal, tick: Decimal) -> bool:
    return snap_to_tick(price, tick, SnapDirection.NEAREST) == price


@dataclass(frozen=True, slots=True)
class Bracket:
    """Exit prices attached to an entry; a bracket has at least one of them."""

    take_profit: Decimal | None
    stop_loss: Decimal | None


@dataclass(frozen=True, slots=True)
class SpreadLeg:
    """One leg of a combo order: ``ratio`` contracts of ``contract`` per combo, on ``side`` when
    the combo is bought (the other side when it is sold)."""

    contract: ListedContract
    ratio: int
    side: Side

    def side_for(self, combo_side: Side) -> Side:
        """The side this leg trades on when the combo trades on ``combo_side``."""
        return self.side if combo_side is Side.BUY else self.side.opposite


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """An order the trader asked for, before it is sent; ``key`` travels as IB's orderRef."""

    key: str
    contract: ListedContract
    side: Side
    quantity: Decimal
    order_type: OrderType
    limit_price: Decimal | None
    stop_price: Decimal | None
    tif: TimeInForce
    bracket: Bracket | None
    created_at: datetime
    purpose: Purpose = Purpose.MANUAL
    account: str = ""
    oca_group: str = ""  # one-cancels-all with every order of the same group ("" for none)
    # A combo (IB's BAG): its legs; ``contract`` then names the spread, priced in its own units.
    legs: tuple[SpreadLeg, ...] = ()

    @property
    def take_profit_key(self) -> str:
        return take_profit_key(self.key)

    @property
    def stop_loss_key(self) -> str:
        return stop_loss_key(self.key)

    @property
    def signed_quantity(self) -> Decimal:
        return self.quantity * self.side.sign

    def traded(self, con_id: int) -> ListedContract:
        """The contract an execution of this order on ``con_id`` traded: for a combo, the month
        of that leg; otherwise (the combo's own execution, any plain order) the order's."""
        legs = (leg.contract for leg in self.legs if leg.contract.con_id == con_id)
        return next(legs, self.contract)

    @property
    def entry_price(self) -> Decimal | None:
        """The price the entry is expected to fill at or beyond; ``None`` for a market order."""
        return self.limit_price if self.limit_price is not None else self.stop_price


@dataclass(frozen=True, slots=True)
class WorkingOrder:
    """An order live at the broker as the session reports it; ``key`` is "" if placed elsewhere."""

    order_id: int
    key: str
    con_id: int
    side: Side
    remaining: Decimal
    order_type: OrderType
    limit_price: Decimal | None
    stop_price: Decimal | None
    parent_id: int
    oca_group: str
    status: str
    tif: TimeInForce | None  # None: a time in force the console does not place (GTD, OPG, …)


@dataclass(frozen=True, slots=True)
class Position:
    """A held position; ``quantity`` is signed (negative = short)."""

    con_id: int
    quantity: Decimal
    avg_cost: Decimal
    account: str

    @classmethod
    def flat(cls, con_id: int, account: str = "") -> Position:
        """A position known to be flat, as opposed to one that could not be read (``None``)."""
        return cls(con_id=con_id, quantity=Decimal(0), avg_cost=Decimal(0), account=account)


KeyFactory = Callable[[], str]

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RANDOM_BITS = 80


def _base32(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, digit = divmod(value, 32)
        chars.append(_CROCKFORD[digit])
    return "".join(reversed(chars))


# Every key this console makes starts so, which is how orders found at the broker are told
# apart as ours (reconciliation adopts them) from orders placed in TWS or by other programs.
KEY_PREFIX = "ibc-"


@dataclass(slots=True)
class OrderKeyFactory:
    """Time-ordered unique keys: ``ibc-`` + 10 base32 chars of milliseconds + 16 of randomness.

    Within one millisecond the random part counts up, so keys from one factory sort in creation
    order; across processes uniqueness rests on 80 random bits.
    """

    clock: Clock
    rng: random.Random = field(default_factory=random.SystemRandom)
    prefix: str = KEY_PREFIX
    _last_ms: int = field(default=-1, init=False)
    _last_random: int = field(default=0, init=False)

    def __call__(self) -> str:
        ms = int(self.clock.now().timestamp() * 1000)
        if ms <= self._last_ms:
            ms = self._last_ms
            rand = (self._last_random + 1) % (1 << _RANDOM_BITS)
        else:
            rand = self.rng.getrandbits(_RANDOM_BITS)
        self._last_ms, self._last_random = ms, rand
        return validate_key(f"{self.prefix}{_base32(ms, 10)}{_base32(rand, 16)}")


# Far beyond any price or size, yet within what tick checks and notionals compute exactly in
# Decimal's 28 significant digits (1e30 made quantize() raise InvalidOperation), and short
# enough to print in a message (1e-999999 printed a million zeros).
_TOO_LARGE = Decimal("1e15")
_MAX_DECIMALS = 12


def parse_decimal(field_name: str, label: str, raw: object) -> Decimal:
    """A ticket number as a Decimal, or OrderValidationError naming the field and the reason.

    The one rule for what counts as a usable number (finite, below 1e15, at most 12 decimals),
    shared by intent validation and the ticket's fields."""
    if isinstance(raw, bool) or not isinstance(raw, (str, int, Decimal)):
        raise OrderValidationError(field_name, f"{label} must be a number, got {raw!r}")
    try:
        value = Decimal(raw.strip().replace(",", "")) if isinstance(raw, str) else Decimal(raw)
    except InvalidOperation:
        raise OrderValidationError(field_name, f"{label} {raw!r} is not a number") from None
    if not value.is_finite():
        raise OrderValidationError(field_name, f"{label} must be a finite number, got {raw!r}")
    if value.copy_abs() >= _TOO_LARGE:
        raise OrderValidationError(field_name, f"{label} {raw!r} is too large")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -_MAX_DECIMALS:
        raise OrderValidationError(
            field_name, f"{label} {raw!r} has more than {_MAX_DECIMALS} decimal places"
        )
    return value


def usable_number(raw: object) -> Decimal | None:
    """The number in ``raw`` by ``parse_decimal``'s rule; None when it is empty or unusable (the
    intent's validation then says why)."""
    try:
        return parse_decimal("field", "value", raw)
    except OrderValidationError:
        return None


def _parse_optional_price(field_name: str, label: str, raw: object) -> Decimal | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    return parse_decimal(field_name, label, raw)


_E = TypeVar("_E", bound=StrEnum)


def _parse_enum(field_name: str, enum: type[_E], raw: object) -> _E:
    if isinstance(raw, enum):
        return raw
    if isinstance(raw, str):
        for member in enum:
            if raw.strip().upper() in (member.value.upper(), member.name):
                return member
    allowed = ", ".join(m.value for m in enum)
    raise OrderValidationError(field_name, f"{raw!r} is not one of {allowed}")


def parse_order_type(raw: object) -> OrderType:
    """An order type as IB spells it ("LMT") or by name ("limit", "STOP_LIMIT"), or
    ``OrderValidationError`` naming the field."""
    return _parse_enum("order_type", OrderType, raw)


def _on_tick(
    field_name: str, label: str, price: Decimal, tick: Decimal, policy: TickPolicy, side: Side
) -> Decimal:
    if is_on_tick(price, tick):
        return snap_to_tick(price, tick, SnapDirection.NEAREST)
    if policy is TickPolicy.SNAP:
        # A buy's prices snap down and a sell's up, so a snapped limit never pays more or
        # receives less than what the trader typed.
        return snap_to_tick(
            price, tick, SnapDirection.DOWN if side is Side.BUY else SnapDirection.UP
        )
    below = snap_to_tick(price, tick, SnapDirection.DOWN)
    above = snap_to_tick(price, tick, SnapDirection.UP)
    raise OrderValidationError(
        field_name,
        f"{label} {price:f} is not a multiple of the tick {tick.normalize():f}; "
        f"the nearest valid prices are {below:f} and {above:f}",
    )


def _check_bracket(
    side: Side, entry: Decimal | None, take_profit: Decimal | None, stop_loss: Decimal | None
) -> None:
    above, below = ("above", "below") if side is Side.BUY else ("below", "above")

    def beyond(a: Decimal, b: Decimal) -> bool:
        return a > b if side is Side.BUY else a < b

    if entry is not None:
        if take_profit is not None and not beyond(take_profit, entry):
            raise OrderValidationError(
                "take_profit",
                f"take-profit {take_profit} must be {above} the entry price {entry} "
                f"for a {side.value.lower()} order",
            )
        if stop_loss is not None and not beyond(entry, stop_loss):
            raise OrderValidationError(
                "stop_loss",
                f"stop-loss {stop_loss} must be {below} the entry price {entry} "
                f"for a {side.value.lower()} order",
            )
    elif take_profit is not None and stop_loss is not None and not beyond(take_profit, stop_loss):
        raise OrderValidationError(
            "take_profit",
            f"take-profit {take_profit} must be {above} the stop-loss {stop_loss} "
            f"for a {side.value.lower()} order",
        )


def build_intent(
    *,
    contract: ListedContract,
    side: Side | str,
    quantity: Decimal | int | str,
    order_type: OrderType | str,
    clock: Clock,
    limit_price: Decimal | int | str | None = None,
    stop_price: Decimal | int | str | None = None,
    tif: TimeInForce | str = TimeInForce.DAY,
    take_profit: Decimal | int | str | None = None,
    stop_loss: Decimal | int | str | None = None,
    reference_price: Decimal | None = None,
    purpose: Purpose = Purpose.MANUAL,
    account: str = "",
    key_factory: KeyFactory | None = None,
    tick_policy: TickPolicy = TickPolicy.REJECT,
) -> OrderIntent:
    """Validate raw ticket values and return the order intent they describe.

    Market orders have no price of their own, so their bracket is checked against
    ``reference_price`` (the last good quote) when one is given. Raises ``OrderValidationError``.
    """
    side_ = _parse_enum("side", Side, side)
    type_ = parse_order_type(order_type)
    tif_ = _parse_enum("tif", TimeInForce, tif)

    qty = parse_decimal("quantity", "Quantity", quantity)
    if qty <= 0:
        raise OrderValidationError("quantity", f"Quantity must be above zero, got {qty}")
    if qty != qty.to_integral_value():
        raise OrderValidationError(
            "quantity", f"Quantity must be a whole number of contracts, got {qty}"
        )
    qty = qty.quantize(Decimal(1))

    tick = contract.tick_at  # an option's tick depends on its price (IB's market rule)
    limit = _parse_optional_price("limit_price", "Limit price", limit_price)
    stop = _parse_optional_price("stop_price", "Stop price", stop_price)
    for name, label, value, needed in (
        ("limit_price", "Limit price", limit, type_.needs_limit),
        ("stop_price", "Stop price", stop, type_.needs_stop),
    ):
        if needed and value is None:
            raise OrderValidationError(name, f"{label} is required for a {type_.value} order")
        if not needed and value is not None:
            raise OrderValidationError(
                name, f"{label} {value} is not used by a {type_.value} order; clear it"
            )
    if limit is not None:
        limit = _on_tick("limit_price", "Limit price", limit, tick(limit), tick_policy, side_)
    if stop is not None:
        stop = _on_tick("stop_price", "Stop price", stop, tick(stop), tick_policy, side_)

    tp = _parse_optional_price("take_profit", "Take-profit", take_profit)
    sl = _parse_optional_price("stop_loss", "Stop-loss", stop_loss)
    bracket = None
    if tp is not None or sl is not None:
        exit_side = side_.opposite
        if tp is not None:
            tp = _on_tick("take_profit", "Take-profit", tp, tick(tp), tick_policy, exit_side)
        if sl is not None:
            sl = _on_tick("stop_loss", "Stop-loss", sl, tick(sl), tick_policy, exit_side)
        entry = limit if limit is not None else stop if stop is not None else reference_price
        _check_bracket(side_, entry, tp, sl)
        bracket = Bracket(take_profit=tp, stop_loss=sl)

    created_at = clock.now()
    if created_at.tzinfo is None or created_at.utcoffset() is None:
        raise ValueError(f"the clock returned a naive datetime {created_at!r}")
    factory = key_factory if key_factory is not None else OrderKeyFactory(clock)
    return OrderIntent(
        key=validate_key(factory()),
        contract=contract,
        side=side_,
        quantity=qty,
        order_type=type_,
        limit_price=limit,
        stop_price=stop,
        tif=tif_,
        bracket=bracket,
        created_at=created_at,
        purpose=purpose,
        account=account,
    )
