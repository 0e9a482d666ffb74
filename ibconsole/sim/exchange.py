"""The simulated exchange: working orders per instrument and the rules that fill them.

Pure and synchronous: every entry point returns the order events it caused, in the order a
client must hear them. Matching model: MKT takes the touch (buys at the ask, sells at the
bid); a marketable LMT takes the touch, a resting LMT fills at its limit once the touch or the
last trade reaches it; STP triggers when the last trade reaches the stop and then fills as MKT;
STP LMT triggers likewise and then works as LMT. Brackets: children wait (PreSubmitted) until
the parent has filled; a child's fill reduces (usually cancels) its siblings. OCA groups:
type 1 cancels the others on a fill, types 2 and 3 reduce them by the filled quantity.
Sessions: nothing fills while the instrument's exchange is closed; an order accepted then waits
PreSubmitted until the next open, and a DAY order ends at the close of its session.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from ibconsole.sim.instruments import Instrument, price_increment
from ibconsole.sim.orders import DONE_STATUSES, OrderKey, OrderRequest, OrderSnapshot, Status

__all__ = [
    "Clock",
    "Exchange",
    "OrderAccepted",
    "OrderCancelled",
    "OrderChanged",
    "OrderError",
    "OrderEvent",
    "OrderFilled",
    "QuoteBook",
    "Touch",
]

_ZERO = Decimal(0)
_ORDER_TYPES = frozenset({"MKT", "LMT", "STP", "STP LMT"})
_TIFS = frozenset({"", "DAY", "GTC", "IOC"})
_WHOLE_CONTRACTS = {"FUT": "Futures", "FOP": "Futures options", "BAG": "Combos"}


class Clock(Protocol):
    def now(self) -> datetime: ...


class Touch(Protocol):
    """The part of a quote matching needs."""

    @property
    def bid(self) -> Decimal: ...

    @property
    def ask(self) -> Decimal: ...

    @property
    def last(self) -> Decimal: ...


class QuoteBook(Protocol):
    """Where the exchange reads prices and sessions, and keeps an instrument ticking while it
    has orders."""

    def quote(self, con_id: int) -> Touch: ...

    def is_open(self, con_id: int) -> bool: ...

    def hold(self, con_id: int) -> None: ...

    def release(self, con_id: int) -> None: ...


@dataclass(frozen=True, slots=True)
class OrderAccepted:
    """First report of an order that is now working: openOrder then orderStatus."""

    order: OrderSnapshot


@dataclass(frozen=True, slots=True)
class OrderChanged:
    """A working order changed (modified, activated, reduced): openOrder then orderStatus."""

    order: OrderSnapshot


@dataclass(frozen=True, slots=True)
class OrderFilled:
    """One execution; ``order`` is the state after it."""

    order: OrderSnapshot
    exec_id: str
    shares: Decimal
    price: Decimal
    time: datetime


@dataclass(frozen=True, slots=True)
class OrderCancelled:
    """orderStatus Cancelled, then error 202 with the reason."""

    order: OrderSnapshot
    reason: str


@dataclass(frozen=True, slots=True)
class OrderError:
    """An error message about one order (reject 201, unknown id 10147, …)."""

    client_id: int
    order_id: int
    code: int
    message: str
    advanced_json: str = ""


OrderEvent = OrderAccepted | OrderChanged | OrderFilled | OrderCancelled | OrderError


def reject(client_id: int, order_id: int, reason: str, code: int = 201) -> OrderError:
    """Error 201 with IB's wording and an advancedOrderRejectJson naming the reason; another code
    (321 when TWS refuses an order on its own, say in read-only mode) with ``reason`` as its text."""
    if code != 201:
        return OrderError(client_id, order_id, code, reason)
    advanced = json.dumps({"errorCode": 201, "rejectReason": reason}, separators=(",", ":"))
    return OrderError(client_id, order_id, 201, f"Order rejected - reason:{reason}", advanced)


@dataclass(slots=True)
class _Order:
    client_id: int
    order_id: int
    perm_id: int
    request: OrderRequest
    instrument: Instrument
    placed_at: datetime
    updated_at: datetime
    status: str = Status.PENDING_SUBMIT
    held: bool = True
    active: bool = False
    triggered: bool = False
    resting: bool = False
    holding: bool = False
    stalled: bool = False
    expires_at: datetime | None = None
    filled: Decimal = _ZERO
    notional: Decimal = _ZERO
    last_fill_price: Decimal = _ZERO
    fills: int = 0
    chunks: tuple[Decimal, ...] = ()

    @property
    def key(self) -> OrderKey:
        return (self.client_id, self.order_id)

    @property
    def remaining(self) -> Decimal:
        return self.request.quantity - self.filled

    @property
    def done(self) -> bool:
        return self.status in DONE_STATUSES

    @property
    def working(self) -> bool:
        return not self.held and self.active and not self.done


@dataclass(frozen=True, slots=True)
class _PartialFills:
    parts: int
    stall: bool


class Exchange:
    """Order matching for every instrument of one gateway, deterministic for a seed."""

    def __init__(self, *, clock: Clock, book: QuoteBook, perm_id_base: int, exec_prefix: str):
        self._clock = clock
        self._book = book
        self._next_perm_id = perm_id_base
        self._exec_prefix = exec_prefix
        self._orders: dict[OrderKey, _Order] = {}
        self._by_con_id: dict[int, list[_Order]] = {}
        self._reject_next: list[tuple[str, int]] = []
        self._partial: _PartialFills | None = None

    # --- controls -------------------------------------------------------------------------

    def reject_next(self, reason: str, code: int = 201) -> None:
        """Reject the next order placed or modified with error ``code`` and ``reason``."""
        if not reason:
            raise ValueError("a reject needs a reason to report")
        self._reject_next.append((reason, code))

    def set_partial_fills(self, parts: int, *, stall: bool = False) -> None:
        """Split the next order that fills into ``parts`` executions: the first when it
        becomes marketable, each further one on a later quote. With ``stall`` only the first
        executes and the rest stays working unfilled (until cancelled)."""
        if parts < 1:
            raise ValueError(f"partial fills need at least one part, got {parts}")
        self._partial = _PartialFills(parts, stall)

    # --- queries --------------------------------------------------------------------------

    def order(self, key: OrderKey) -> OrderSnapshot | None:
        found = self._orders.get(key)
        return None if found is None else self._snapshot(found)

    def open_orders(self, client_id: int | None = None) -> list[OrderSnapshot]:
        """Transmitted orders not yet filled or cancelled, of one client or of all."""
        return [
            self._snapshot(order)
            for order in self._orders.values()
            if not order.held
            and not order.done
            and (client_id is None or order.client_id == client_id)
        ]

    def completed_orders(self, client_id: int | None = None) -> list[OrderSnapshot]:
        return [
            self._snapshot(order)
            for order in self._orders.values()
            if order.done and (client_id is None or order.client_id == client_id)
        ]

    # --- validation -----------------------------------------------------------------------

    def validate(self, request: OrderRequest, instrument: Instrument) -> str | None:
        """Why IB would refuse this order, or ``None``."""
        if request.action not in ("BUY", "SELL"):
            return f"Invalid action {request.action!r}: must be BUY or SELL"
        if request.quantity <= 0:
            return f"Order quantity must be positive, got {request.quantity}"
        whole = _WHOLE_CONTRACTS.get(instrument.sec_type)
        if whole and request.quantity != request.quantity.to_integral():
            return f"{whole} are traded in whole contracts, got {request.quantity}"
        if request.order_type not in _ORDER_TYPES:
            return f"Order type {request.order_type!r} is not supported (MKT, LMT, STP, STP LMT)"
        if request.tif not in _TIFS:
            return f"Time in force {request.tif!r} is not supported (DAY, GTC, IOC)"
        if request.conditions:
            return "Conditional orders are not supported"
        if instrument.last_trade_date and instrument.is_expired(self._clock.now()):
            return f"Contract {instrument.local_symbol} has expired"
        needs_limit = request.order_type in ("LMT", "STP LMT")
        needs_stop = request.order_type in ("STP", "STP LMT")
        if needs_limit and request.lmt_price is None:
            return f"{request.order_type} order needs a limit price"
        if needs_stop and request.aux_price is None:
            return f"{request.order_type} order needs a stop price"
        prices = [("limit", request.lmt_price)] if needs_limit else []
        prices += [("stop", request.aux_price)] if needs_stop else []
        for name, price in prices:
            # IB refuses futures prices off the tick grid rather than rounding them; the grid
            # is the market rule's at that price (E-mini options: 0.05 to 5.00, 0.25 above)
            if price is None:
                continue
            increment = price_increment(instrument, price)
            if price % increment:
                return (
                    f"The {name} price {price} does not conform to the minimum price "
                    f"variation {increment} of {instrument.local_symbol}"
                )
        return None

    # --- order entry ----------------------------------------------------------------------

    def submit(
        self, client_id: int, request: OrderRequest, instrument: Instrument
    ) -> list[OrderEvent]:
        """A placeOrder: a new order, or a modification when the (clientId, orderId) is live."""
        key = (client_id, request.order_id)
        existing = self._orders.get(key)
        if self._reject_next:
            return [reject(client_id, request.order_id, *self._reject_next.pop(0))]
        if existing is not None:
            return self._modify(existing, request, instrument)
        problem = self.validate(request, instrument)
        if problem is not None:
            return [reject(client_id, request.order_id, problem)]
        parent = None
        if request.parent_id:
            parent = self._orders.get((client_id, request.parent_id))
            if parent is None:
                return [
                    reject(
                        client_id, request.order_id, f"Parent order {request.parent_id} not found"
                    )
                ]
            if parent.status == Status.CANCELLED:
                return [
                    reject(
                        client_id,
                        request.order_id,
                        f"Parent order {request.parent_id} is cancelled",
                    )
                ]
        now = self._clock.now()
        order = _Order(
            client_id=client_id,
            order_id=request.order_id,
            perm_id=self._next_perm_id,
            request=request,
            instrument=instrument,
            placed_at=now,
            updated_at=now,
        )
        self._next_perm_id += 1
        self._orders[key] = order
        if not request.transmit:
            # IB keeps untransmitted orders aside (TWS shows a Transmit button); the client
            # leaves them PendingSubmit until a later order of the group is transmitted.
            return []
        return self._release(order, now)

    def _modify(
        self, order: _Order, request: OrderRequest, instrument: Instrument
    ) -> list[OrderEvent]:
        client_id, order_id = order.key
        if order.status == Status.FILLED:
            return [OrderError(client_id, order_id, 104, "Can't modify a filled order.")]
        if order.done:
            return [OrderError(client_id, order_id, 103, "Duplicate order id")]
        if instrument.con_id != order.instrument.con_id or request.action != order.request.action:
            return [
                OrderError(
                    client_id, order_id, 105, "Order being modified does not match original order."
                )
            ]
        problem = self.validate(request, instrument)
        if problem is not None:
            return [reject(client_id, order_id, problem)]
        if request.quantity <= order.filled:
            return [
                reject(
                    client_id,
                    order_id,
                    f"New quantity {request.quantity} is not above the filled {order.filled}",
                )
            ]
        now = self._clock.now()
        old = order.request
        order.request = replace(request, parent_id=old.parent_id)
        order.updated_at = now
        if order.held:
            return self._release(order, now) if request.transmit else []
        if request.order_type != old.order_type or request.aux_price != old.aux_price:
            order.triggered = False
        order.resting = False
        events: list[OrderEvent] = [OrderChanged(self._snapshot(order))]
        if order.working:
            events += self._first_look(order, now)
        return events

    def _release(self, order: _Order, now: datetime) -> list[OrderEvent]:
        """Transmit an order and every untransmitted order of its bracket."""
        root = order
        while root.request.parent_id:
            parent = self._orders.get((root.client_id, root.request.parent_id))
            if parent is None:
                break
            root = parent
        group = [root, *self._children(root)]
        released = [member for member in group if member.held and not member.done]
        if order not in released:
            released.append(order)
        events: list[OrderEvent] = []
        for member in released:
            events += self._accept(member, now)
        for member in released:
            if member.working:
                events += self._first_look(member, now)
        return events

    def _accept(self, order: _Order, now: datetime) -> list[OrderEvent]:
        order.held = False
        parent = self._parent(order)
        order.active = parent is None or parent.status == Status.FILLED
        # IB holds an order that arrives outside the session as PreSubmitted until the open
        in_session = self._book.is_open(order.instrument.con_id)
        order.status = Status.SUBMITTED if order.active and in_session else Status.PRE_SUBMITTED
        order.updated_at = now
        order.expires_at = self._day_end(order) if order.request.tif in ("", "DAY") else None
        self._by_con_id.setdefault(order.instrument.con_id, []).append(order)
        order.holding = True
        self._book.hold(order.instrument.con_id)
        return [OrderAccepted(self._snapshot(order))]

    def _day_end(self, order: _Order) -> datetime:
        """A DAY order lives until the close of its session: the one open when it was placed,
        or the next one (placed on a Saturday, it works through Monday's session)."""
        zone = order.instrument.zone
        local = order.placed_at.astimezone(zone)
        return order.instrument.session.next_close(local).replace(tzinfo=zone)

    # --- cancels --------------------------------------------------------------------------

    def cancel(self, client_id: int, order_id: int) -> list[OrderEvent]:
        order = self._orders.get((client_id, order_id))
        if order is None:
            return [
                OrderError(
                    client_id,
                    order_id,
                    10147,
                    f"OrderId {order_id} that needs to be cancelled is not found.",
                )
            ]
        if order.done:
            return [
                OrderError(
                    client_id,
                    order_id,
                    10148,
                    f"OrderId {order_id} that needs to be cancelled cannot be cancelled, "
                    f"state: {order.status}.",
                )
            ]
        return self._cancel(order, "", self._clock.now())

    def cancel_all(self) -> list[OrderEvent]:
        """reqGlobalCancel: every open order of every client, untransmitted ones included."""
        now = self._clock.now()
        events: list[OrderEvent] = []
        for order in list(self._orders.values()):
            if not order.done:
                events += self._cancel(order, "", now)
        return events

    def _cancel(self, order: _Order, reason: str, now: datetime) -> list[OrderEvent]:
        order.status = Status.CANCELLED
        order.updated_at = now
        self._retire(order)
        events: list[OrderEvent] = [OrderCancelled(self._snapshot(order), reason)]
        for child in self._children(order):
            if not child.done:
                events += self._cancel(child, "parent order cancelled", now)
        return events

    # --- matching -------------------------------------------------------------------------

    def on_quote(self, con_id: int, quote: Touch) -> list[OrderEvent]:
        orders = self._by_con_id.get(con_id)
        if not orders:
            return []
        now = self._clock.now()
        events: list[OrderEvent] = []
        for order in list(orders):
            if order.done:
                continue
            if _expired(order, now):
                events += self._cancel(order, "day order expired", now)
            elif order.working:
                events += self._match(order, quote, now)
        return events

    def on_session(self, con_id: int, is_open: bool) -> list[OrderEvent]:
        """The instrument's session closed (DAY orders of that session end) or opened (orders
        that waited for it start working; they trade on the quotes that follow)."""
        now = self._clock.now()
        events: list[OrderEvent] = []
        for order in list(self._by_con_id.get(con_id, ())):
            if order.done:
                continue
            if _expired(order, now):
                events += self._cancel(order, "day order expired", now)
            elif is_open and order.working and order.status == Status.PRE_SUBMITTED:
                order.status = Status.SUBMITTED
                order.updated_at = now
                events.append(OrderChanged(self._snapshot(order)))
        return events

    def _first_look(self, order: _Order, now: datetime) -> list[OrderEvent]:
        """Match an order the moment it starts working; IOC leftovers are cancelled."""
        events = self._match(order, self._book.quote(order.instrument.con_id), now)
        if order.request.tif == "IOC" and not order.done:
            events += self._cancel(order, "immediate or cancel", now)
        return events

    def _match(self, order: _Order, quote: Touch, now: datetime) -> list[OrderEvent]:
        if not self._book.is_open(order.instrument.con_id):
            return []
        request = order.request
        buy = request.is_buy
        if request.order_type in ("STP", "STP LMT") and not order.triggered:
            stop = request.aux_price
            if stop is None or not (quote.last >= stop if buy else quote.last <= stop):
                return []
            order.triggered = True
            order.resting = False
        price = self._execution_price(order, quote)
        order.resting = True
        if price is None or order.stalled:
            return []
        return self._fill(order, self._next_quantity(order), price, now)

    def _execution_price(self, order: _Order, quote: Touch) -> Decimal | None:
        request = order.request
        buy = request.is_buy
        touch = quote.ask if buy else quote.bid
        if request.order_type in ("MKT", "STP"):
            # no price is no market; a combo's price may well be zero or below
            return touch if touch > 0 or order.instrument.sec_type == "BAG" else None
        limit = request.lmt_price
        if limit is None:
            return None
        if buy:
            if touch <= limit:
                return limit if order.resting else touch
            return limit if order.resting and quote.last < limit else None
        if touch >= limit:
            return limit if order.resting else touch
        return limit if order.resting and quote.last > limit else None

    def _next_quantity(self, order: _Order) -> Decimal:
        if not order.fills and self._partial is not None:
            plan, self._partial = self._partial, None
            order.chunks = _split(order.remaining, plan.parts)
            order.stalled = plan.stall and len(order.chunks) > 1
        if order.chunks:
            chunk, order.chunks = order.chunks[0], order.chunks[1:]
            return min(chunk, order.remaining)
        return order.remaining

    def _fill(
        self, order: _Order, shares: Decimal, price: Decimal, now: datetime
    ) -> list[OrderEvent]:
        order.filled += shares
        order.notional += shares * price
        order.last_fill_price = price
        order.fills += 1
        order.updated_at = now
        order.status = Status.FILLED if order.remaining <= 0 else Status.SUBMITTED
        exec_id = f"{self._exec_prefix}.{order.perm_id:08x}.{order.fills:02d}.01"
        events: list[OrderEvent] = [OrderFilled(self._snapshot(order), exec_id, shares, price, now)]
        if order.done:
            self._retire(order)
            for child in self._children(order):
                if not child.done and not child.held and not child.active:
                    child.active = True
                    child.status = Status.SUBMITTED
                    child.updated_at = now
                    events.append(OrderChanged(self._snapshot(child)))
                    events += self._first_look(child, now)
        events += self._reduce_group(order, shares, now)
        return events

    def _reduce_group(self, order: _Order, shares: Decimal, now: datetime) -> list[OrderEvent]:
        """A fill shrinks the bracket siblings and OCA partners of ``order``."""
        partners: dict[OrderKey, bool] = {}  # key -> cancel outright
        parent = self._parent(order)
        if parent is not None:
            for sibling in self._children(parent):
                partners[sibling.key] = False
        group = order.request.oca_group
        if group:
            cancel_all = order.request.oca_type == 1
            for other in self._orders.values():
                if other.client_id == order.client_id and other.request.oca_group == group:
                    partners[other.key] = partners.get(other.key, False) or cancel_all
        partners.pop(order.key, None)
        events: list[OrderEvent] = []
        for key, outright in partners.items():
            other = self._orders[key]
            if other.done:
                continue
            quantity = other.request.quantity - shares
            if outright or quantity <= other.filled:
                events += self._cancel(other, "OCA group member filled", now)
            else:
                other.request = replace(other.request, quantity=quantity)
                other.updated_at = now
                events.append(OrderChanged(self._snapshot(other)))
        return events

    # --- bookkeeping ----------------------------------------------------------------------

    def _parent(self, order: _Order) -> _Order | None:
        if not order.request.parent_id:
            return None
        return self._orders.get((order.client_id, order.request.parent_id))

    def _children(self, order: _Order) -> list[_Order]:
        return [
            other
            for other in self._orders.values()
            if other.client_id == order.client_id and other.request.parent_id == order.order_id
        ]

    def _retire(self, order: _Order) -> None:
        orders = self._by_con_id.get(order.instrument.con_id)
        if orders is not None and order in orders:
            orders.remove(order)
        if order.holding:
            order.holding = False
            self._book.release(order.instrument.con_id)

    def _snapshot(self, order: _Order) -> OrderSnapshot:
        return OrderSnapshot(
            client_id=order.client_id,
            order_id=order.order_id,
            perm_id=order.perm_id,
            con_id=order.instrument.con_id,
            request=order.request,
            status=order.status,
            filled=order.filled,
            remaining=max(_ZERO, order.remaining),
            avg_fill_price=order.notional / order.filled if order.filled else _ZERO,
            last_fill_price=order.last_fill_price,
            parent_id=order.request.parent_id,
            why_held="",
            updated_at=order.updated_at,
        )


def _expired(order: _Order, now: datetime) -> bool:
    return order.expires_at is not None and now >= order.expires_at


def _split(quantity: Decimal, parts: int) -> tuple[Decimal, ...]:
    """``quantity`` in ``parts`` nearly equal whole pieces (fewer if it is smaller)."""
    if quantity != quantity.to_integral() or quantity <= 1:
        return (quantity,)
    whole = int(quantity)
    parts = min(parts, whole)
    base, extra = divmod(whole, parts)
    return tuple(Decimal(base + (1 if i < extra else 0)) for i in range(parts))
