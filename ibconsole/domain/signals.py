"""Trading signals from TradingView or a script, as the signal inbox holds them: the settings, the
rules that turn a JSON body into a signal (or say why not), the idempotency key, the symbol a
signal names and the listed month it goes to, what it would do to the position, its age, the
rate limit of the endpoint and the states a signal passes through until a trader acts on it.

Nothing here sends anything: a signal becomes an order only through the order-entry model,
on a trader's click.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from types import MappingProxyType
from typing import TypeVar

from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.order_words import position_words, quantity_text
from ibconsole.domain.orders import Side
from ibconsole.domain.products import MONTH_CODES, PRODUCTS, product
from ibconsole.domain.rollover import RolloverSettings, contract_schedule, front_months
from ibconsole.domain.sessions import BusinessCalendar


def _no_mapping() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class SignalSettings:
    """The endpoint listens on loopback only; its secret lives in the keyring, never here."""

    enabled: bool = False
    port: int = 8787  # 0: any free port
    max_age: timedelta = timedelta(seconds=60)  # older signals are shown expired, cannot be sent
    max_per_minute: int = 60
    max_body_bytes: int = 8192
    symbols: Mapping[str, str] = field(default_factory=_no_mapping)  # ES -> MES: trade MES

    def __post_init__(self) -> None:
        object.__setattr__(self, "symbols", MappingProxyType(dict(self.symbols)))

    def __reduce__(self) -> tuple[type[SignalSettings], tuple[object, ...]]:
        """Pickled with its symbols as a plain dict (a read-only view does not pickle): the
        signal endpoint's process gets its settings this way."""
        values = [getattr(self, item.name) for item in fields(self)]
        return SignalSettings, tuple(
            dict(value) if isinstance(value, MappingProxyType) else value for value in values
        )


# --- the body ------------------------------------------------------------------------------------


class SignalAction(StrEnum):
    BUY = "buy"
    SELL = "sell"
    EXIT = "exit"  # flatten the position
    REVERSE = "reverse"  # turn the position to the other side


class SignalOrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"


class SignalInvalid(ValueError):
    """The body is not a usable signal; the message is the reason the sender is answered."""


SECRET_FIELD = "secret"
_FIELDS = frozenset(
    {SECRET_FIELD, "id", "symbol", "action", "quantity", "order_type", "price", "time", "source"}
)
_MAX_ID = 128
_MAX_TEXT = 64
_PRINTABLE = re.compile(r"[\x21-\x7e]+")
# A signal stamped this far ahead of the console's clock is refused: the sender's clock is wrong.
_CLOCK_SKEW = timedelta(seconds=5)
_MAX_QUANTITY = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class Signal:
    """A signal as received and validated; the secret is not kept."""

    key: str  # the idempotency key: "id:<id>" or "body:<sha256 of the body without the secret>"
    symbol: str  # as sent: "MES1!", "CME_MINI:ES1!", "MESZ2026"
    action: SignalAction
    quantity: Decimal | None  # None: exit all / reverse the whole position
    order_type: SignalOrderType
    price: Decimal | None  # the limit, for limit orders
    sent_at: datetime | None  # the sender's stamp ("time"), when given
    received_at: datetime
    source: str

    @property
    def stamped_at(self) -> datetime:
        """When the signal was made, as far as the console knows: the sender's stamp, else
        its arrival. Its age counts from here."""
        return self.sent_at or self.received_at

    def age(self, now: datetime) -> timedelta:
        return now - self.stamped_at

    def expired(self, now: datetime, max_age: timedelta) -> bool:
        return self.age(now) > max_age

    @property
    def summary(self) -> str:
        """ "buy 2 MES1! at market", "exit MES1!", "sell 1 ES1! limit 5931.75"."""
        size = f" {quantity_text(self.quantity)}" if self.quantity is not None else ""
        if self.action is SignalAction.EXIT:
            how = ""
        elif self.order_type is SignalOrderType.LIMIT and self.price is not None:
            how = f" limit {self.price}"
        else:
            how = " at market"
        return f"{self.action.value}{size} {self.symbol}{how}"


def signal_key(body: Mapping[str, object]) -> str:
    """The idempotency key of a body: its ``id``, else a hash of the body without the secret
    (TradingView repeats a delivery byte for byte, so a repeat hashes alike)."""
    raw_id = body.get("id")
    if isinstance(raw_id, str) and raw_id:
        return f"id:{raw_id}"
    rest = {k: v for k, v in body.items() if k != SECRET_FIELD}
    canonical = json.dumps(rest, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return "body:" + hashlib.sha256(canonical.encode("ascii")).hexdigest()


def parse_signal(body: object, received_at: datetime, default_source: str = "webhook") -> Signal:
    """Validate a decoded JSON body into a ``Signal``, or ``SignalInvalid`` saying what is wrong.

    The secret is checked (and dropped) before this by the endpoint.
    """
    if not isinstance(body, dict):
        raise SignalInvalid("the body must be a JSON object")
    unknown = sorted(str(k) for k in body if k not in _FIELDS)
    if unknown:
        raise SignalInvalid(
            f"unknown field(s) {', '.join(unknown)[:200]}; allowed: {', '.join(sorted(_FIELDS))}"
        )
    raw_id = body.get("id")
    if raw_id is not None and not (
        isinstance(raw_id, str) and 0 < len(raw_id) <= _MAX_ID and _PRINTABLE.fullmatch(raw_id)
    ):
        raise SignalInvalid(f"id must be 1-{_MAX_ID} printable characters without spaces")
    symbol = _text(body, "symbol", required=True)
    action = _choice(body, "action", SignalAction, None)
    order_type = _choice(body, "order_type", SignalOrderType, SignalOrderType.MARKET)
    quantity = _quantity(body.get("quantity"), action)
    price = _price(body.get("price"))
    if order_type is SignalOrderType.LIMIT and price is None:
        raise SignalInvalid("a limit order needs a price")
    if action is SignalAction.EXIT and order_type is SignalOrderType.LIMIT:
        raise SignalInvalid("exit flattens at market; send sell or buy with a limit instead")
    sent_at = _instant(body.get("time"))
    if sent_at is not None and sent_at - received_at > _CLOCK_SKEW:
        raise SignalInvalid(
            f"time {sent_at.isoformat()} is in the future of this console's clock "
            f"({received_at.isoformat()})"
        )
    return Signal(
        key=signal_key(body),
        symbol=symbol.upper(),
        action=action,
        quantity=quantity,
        order_type=order_type,
        price=price if order_type is SignalOrderType.LIMIT else None,
        sent_at=sent_at,
        received_at=received_at,
        source=_text(body, "source", required=False) or default_source,
    )


_E = TypeVar("_E", bound=StrEnum)


def _text(body: Mapping[str, object], name: str, *, required: bool) -> str:
    value = body.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise SignalInvalid(f"{name} must be a non-empty string")
    value = value.strip()
    if len(value) > _MAX_TEXT or not value.isprintable():
        raise SignalInvalid(f"{name} must be at most {_MAX_TEXT} printable characters")
    return value


def _choice(body: Mapping[str, object], name: str, kind: type[_E], default: _E | None) -> _E:
    value = body.get(name)
    allowed = ", ".join(m.value for m in kind)
    if value is None and default is not None:
        return default
    if not isinstance(value, str):
        raise SignalInvalid(f"{name} must be one of {allowed}")
    try:
        return kind(value.strip().lower())
    except ValueError:
        raise SignalInvalid(f"{name} must be one of {allowed}") from None


def _number(name: str, value: object) -> Decimal:
    # bool is an int in Python and never a size or a price; TradingView renders placeholders such
    # as {{strategy.order.contracts}} into the body, as numbers or as numeric strings.
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise SignalInvalid(f"{name} must be a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise SignalInvalid(f"{name} must be a finite number")
    text = str(value).strip()
    if len(text) > 32:
        raise SignalInvalid(f"{name} must be a number of at most 32 characters")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise SignalInvalid(f"{name} must be a number, got {text[:32]!r}") from None
    if not number.is_finite():
        raise SignalInvalid(f"{name} must be a finite number")
    return number


def _quantity(value: object, action: SignalAction) -> Decimal | None:
    if value is None:
        if action in (SignalAction.EXIT, SignalAction.REVERSE):
            return None
        raise SignalInvalid("quantity is required to buy or sell")
    if action is SignalAction.EXIT:
        raise SignalInvalid("exit closes the whole position; leave quantity out")
    quantity = _number("quantity", value)
    if quantity <= 0 or quantity != quantity.to_integral_value() or quantity > _MAX_QUANTITY:
        raise SignalInvalid("quantity must be a whole number of contracts above zero")
    return quantity.quantize(Decimal(1))


def _price(value: object) -> Decimal | None:
    if value is None:
        return None
    price = _number("price", value)
    if price <= 0:
        raise SignalInvalid("price must be above zero")
    return price


def _instant(value: object) -> datetime | None:
    """TradingView's {{timenow}} ("2026-12-04T18:40:00Z"), or Unix epoch milliseconds."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 < value < 10**14:
            raise SignalInvalid("time in epoch milliseconds is out of range")
        return datetime.fromtimestamp(value / 1000, UTC)
    if not isinstance(value, str) or len(value) > 40:
        raise SignalInvalid("time must be an ISO instant such as 2026-12-04T18:40:00Z")
    try:
        instant = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise SignalInvalid("time must be an ISO instant such as 2026-12-04T18:40:00Z") from None
    if instant.tzinfo is None:
        raise SignalInvalid("time must carry its zone, e.g. 2026-12-04T18:40:00Z")
    return instant.astimezone(UTC)


# --- the symbol ---------------------------------------------------------------------------------

# Longest first, so "MES" is tried before "ES" and "M2K" before anything shorter.
_BY_LENGTH = sorted(PRODUCTS, key=len, reverse=True)
_CONTINUOUS = re.compile(r"(?P<root>[A-Z0-9]+?)(?P<nth>[1-9])!")
_MONTH = re.compile(rf"(?P<code>[{MONTH_CODES}])(?P<year>\d{{4}}|\d{{2}})")


@dataclass(frozen=True, slots=True)
class SymbolRef:
    """What a signal's symbol names: a product (after the micro↔full table) and either the n-th
    continuous month (1 = the active month) or one contract month."""

    product: str  # the console's product key the order goes to: "MES"
    named: str  # the product the signal named: "ES" for "ES1!" traded as MES
    nth: int | None = None
    contract_month: str | None = None  # "YYYYMM"

    @property
    def mapped(self) -> bool:
        return self.product != self.named


def parse_symbol(text: str, symbols: Mapping[str, str]) -> SymbolRef:
    """``ES1!``, ``CME_MINI:MES1!``, ``CL2!``, ``MESZ2026`` or ``MESZ26`` as a ``SymbolRef``;
    ``symbols`` is the configured table ("ES" → "MES": signals for ES trade MES)."""
    name = text.strip().upper().rpartition(":")[2]
    continuous = _CONTINUOUS.fullmatch(name)
    if continuous is not None:
        named = continuous["root"]
        if named in PRODUCTS:
            return SymbolRef(symbols.get(named, named), named, nth=int(continuous["nth"]))
        raise SignalInvalid(f"symbol {text!r}: {_unknown(named)}")
    for root in _BY_LENGTH:
        month = _MONTH.fullmatch(name[len(root) :]) if name.startswith(root) else None
        if month is not None:
            year = month["year"] if len(month["year"]) == 4 else f"20{month['year']}"
            number = MONTH_CODES.index(month["code"]) + 1
            return SymbolRef(symbols.get(root, root), root, contract_month=f"{year}{number:02d}")
    raise SignalInvalid(
        f"symbol {text!r} is neither a continuous symbol such as ES1! nor a contract month "
        "such as MESZ2026"
    )


def _unknown(root: str) -> str:
    return f"{root} is not a futures product this console knows ({', '.join(PRODUCTS)})"


class SignalUnresolved(ValueError):
    """No tradable month fits the signal's symbol now; the message says why."""


def resolve_month(
    ref: SymbolRef,
    contracts: Sequence[ListedContract],
    now: datetime,
    calendar: BusinessCalendar,
    settings: RolloverSettings,
) -> ListedContract:
    """The listed month of ``ref.product`` a signal goes to at ``now``, by the rollover rules.

    ``1!`` is the family's active month (the next month from the front's roll date), ``2!`` the
    one after it in the roll cycle, and so on; a named month is that month. Never a month that
    has expired or is inside its last ``buffer_days`` before its deadline.
    """
    try:
        view = front_months(contracts, now, calendar, settings)
    except ValueError as error:
        raise SignalUnresolved(str(error)) from None
    if ref.nth is not None:
        cycle = product(ref.product).cycle
        live = sorted(
            (
                c
                for c in contracts
                if MONTH_CODES[int(c.contract_month[4:]) - 1] in cycle
                and now < contract_schedule(c, calendar, settings).front_until
                and c.last_trade >= view.active.last_trade
            ),
            key=lambda c: c.last_trade,
        )
        if ref.nth > len(live):
            raise SignalUnresolved(
                f"{ref.product}{ref.nth}! needs {ref.nth} tradable months from the active "
                f"{view.active.local_symbol}; {len(live)} are listed"
            )
        return live[ref.nth - 1]
    month = next((c for c in contracts if c.contract_month == ref.contract_month), None)
    if month is None:
        raise SignalUnresolved(
            f"no {ref.product} contract for {ref.contract_month} is listed; the active month is "
            f"{view.active.local_symbol}"
        )
    schedule = contract_schedule(month, calendar, settings)
    if now >= month.last_trade:
        raise SignalUnresolved(f"{month.local_symbol} has expired")
    if now >= schedule.front_until:
        raise SignalUnresolved(
            f"{month.local_symbol} is within {settings.buffer_days} business day(s) of its "
            f"deadline; the active month is {view.active.local_symbol}"
        )
    return month


# --- what a signal does to the position ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignalOrder:
    """The order a signal becomes against the current position, and the position after."""

    side: Side
    quantity: Decimal
    before: Decimal
    after: Decimal
    flatten: bool  # exit: through the order-entry model's flatten (which always asks)

    @property
    def effect(self) -> str:
        """ "flat → long +2", "long +1 → short -1"."""
        return f"{position_words(self.before)} → {position_words(self.after)}"


def signal_order(signal: Signal, position: Decimal) -> SignalOrder:
    """The side and size of ``signal`` against ``position`` (signed), or ``SignalUnresolved``
    when there is nothing to do (exit or reverse while flat)."""
    action, size = signal.action, signal.quantity
    if action in (SignalAction.BUY, SignalAction.SELL):
        assert size is not None  # parse_signal requires it
        side = Side.BUY if action is SignalAction.BUY else Side.SELL
        return SignalOrder(side, size, position, position + side.sign * size, flatten=False)
    if position == 0:
        raise SignalUnresolved(f"the position is flat: nothing to {action.value}")
    closing = Side.SELL if position > 0 else Side.BUY
    if action is SignalAction.EXIT:
        return SignalOrder(closing, abs(position), position, Decimal(0), flatten=True)
    target = closing.sign * (size if size is not None else abs(position))
    return SignalOrder(closing, abs(target - position), position, target, flatten=False)


# --- the endpoint's rate limit ------------------------------------------------------------------


class RateWindow:
    """At most ``limit`` events in any sliding ``span``; times come from the caller's clock."""

    def __init__(self, limit: int, span: timedelta = timedelta(minutes=1)) -> None:
        if limit < 1:
            raise ValueError(f"a rate limit needs at least 1 event per window, got {limit}")
        self._limit = limit
        self._span = span.total_seconds()
        self._times: deque[float] = deque()

    def resized(self, limit: int) -> RateWindow:
        """A window of ``limit`` events over the same span that remembers the events counted
        here (a new limit applies to the minute under way, not from an empty minute)."""
        window = RateWindow(limit, timedelta(seconds=self._span))
        window._times = deque(self._times)
        return window

    def has_room(self, now: float) -> bool:
        """Would an event at ``now`` (seconds on a monotonic clock) be admitted?"""
        times = self._times
        while times and now - times[0] >= self._span:
            times.popleft()
        return len(times) < self._limit

    def admit(self, now: float) -> bool:
        """Count an event at ``now`` if the window has room."""
        if not self.has_room(now):
            return False
        self._times.append(now)
        return True


# --- states -------------------------------------------------------------------------------------


class SignalState(StrEnum):
    NEW = "new"  # waiting for the trader
    EXPIRED = "expired"  # older than max_age: can no longer be sent
    REFUSED = "refused"  # the checks (or the symbol) refused it; it can be tried again
    SENT = "sent"  # the order went to the broker
    FILLED = "filled"  # the order filled
    DISMISSED = "dismissed"  # the trader put it aside


_NEXT: Mapping[SignalState, frozenset[SignalState]] = MappingProxyType(
    {
        SignalState.NEW: frozenset(
            {SignalState.EXPIRED, SignalState.REFUSED, SignalState.SENT, SignalState.DISMISSED}
        ),
        SignalState.REFUSED: frozenset(
            {SignalState.EXPIRED, SignalState.REFUSED, SignalState.SENT, SignalState.DISMISSED}
        ),
        SignalState.EXPIRED: frozenset({SignalState.DISMISSED}),
        SignalState.SENT: frozenset({SignalState.FILLED}),
        SignalState.FILLED: frozenset(),
        SignalState.DISMISSED: frozenset(),
    }
)


class SignalStateError(ValueError):
    """A signal cannot go from its state to the one asked; the message says so."""


def can_move(state: SignalState, to: SignalState) -> bool:
    return to in _NEXT[state]


def advance(state: SignalState, to: SignalState) -> SignalState:
    if not can_move(state, to):
        raise SignalStateError(f"a {state.value} signal cannot become {to.value}")
    return to


def sendable(state: SignalState) -> bool:
    return can_move(state, SignalState.SENT)


def dismissable(state: SignalState) -> bool:
    return can_move(state, SignalState.DISMISSED)
