"""A roll as one calendar-spread order: the spread the exchange lists between the held month and
the next, its price from its own quote or the legs', the marketable limit a roll defaults to, the
prices each leg would get, and the combo order that rolls a plan's position.

A calendar spread is bought by buying the deferred month and selling the nearby, and is priced
deferred minus nearby (CME's convention, and IB's for a BAG whose legs are named so). Rolling a
long position buys the spread, rolling a short sells it; either way the quantity is the held
position's. CME Group lists calendars for its equity index, energy, metals and interest-rate
futures; the spread's tick can be finer than the outright's (0.05 for the equity-index
calendars quoted in index points, where the outright trades in 0.25).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.orders import (
    OrderIntent,
    OrderType,
    Purpose,
    Side,
    SnapDirection,
    SpreadLeg,
    TimeInForce,
    snap_to_tick,
)
from ibconsole.domain.products import AssetClass, UnknownProductError, product
from ibconsole.domain.quotes import Quote
from ibconsole.domain.rollover import RollPlan

# The exchanges of CME Group and the asset classes whose calendar spreads it lists as
# instruments of their own (CME Globex "implied and calendar spreads").
_CME_GROUP = frozenset({"CME", "CBOT", "NYMEX", "COMEX"})
_LISTED_CLASSES = frozenset(
    {AssetClass.EQUITY_INDEX, AssetClass.ENERGY, AssetClass.METAL, AssetClass.RATES}
)
# CME contract specifications: "Calendar Spread: 0.05 index points" for the S&P, Nasdaq-100 and
# Russell calendars and their micros; every other listed calendar trades on its outright tick.
_CALENDAR_TICKS = {symbol: Decimal("0.05") for symbol in ("ES", "MES", "NQ", "MNQ", "RTY", "M2K")}


def exchange_lists_spread(near: ListedContract, far: ListedContract) -> bool:
    """Does the exchange list the calendar spread between these two months of one product?"""
    if near.symbol != far.symbol or near.con_id == far.con_id:
        return False
    try:
        item = product(near.symbol)
    except UnknownProductError:
        return False
    return item.exchange in _CME_GROUP and item.asset_class in _LISTED_CLASSES


def spread_tick(contract: ListedContract) -> Decimal:
    """The tick the calendar spread of ``contract``'s product trades on."""
    return _CALENDAR_TICKS.get(contract.symbol, contract.min_tick)


def reduced_ratios(ratios: tuple[int, ...]) -> tuple[int, ...]:
    """Leg ratios divided by their greatest common divisor (2:2 is a 1:1 combo of 2)."""
    if not ratios or any(r <= 0 for r in ratios):
        raise ValueError(f"Combo leg ratios must be whole numbers above zero, got {ratios}")
    divisor = math.gcd(*ratios)
    return tuple(r // divisor for r in ratios)


@dataclass(frozen=True, slots=True)
class SpreadQuote:
    """A spread's bid and ask (deferred minus nearby); None where a side is not known."""

    bid: Decimal | None
    ask: Decimal | None

    @property
    def complete(self) -> bool:
        return self.bid is not None and self.ask is not None


def implied_quote(near: Quote | None, far: Quote | None) -> SpreadQuote:
    """The spread the legs' own quotes imply: bid = far bid − near ask, ask = far ask − near bid."""

    def diff(a: Decimal | None, b: Decimal | None) -> Decimal | None:
        return None if a is None or b is None else a - b

    if near is None or far is None:
        return SpreadQuote(None, None)
    return SpreadQuote(diff(far.bid, near.ask), diff(far.ask, near.bid))


def own_quote(quote: Quote | None) -> SpreadQuote:
    """The spread's own quote (IB's market data on the combo)."""
    return SpreadQuote(None, None) if quote is None else SpreadQuote(quote.bid, quote.ask)


@dataclass(frozen=True, slots=True)
class CalendarSpread:
    """The combo that rolls ``quantity`` of ``near`` into ``far`` on ``side`` (BUY rolls a long)."""

    near: ListedContract
    far: ListedContract
    side: Side
    quantity: Decimal

    @property
    def name(self) -> str:
        """CME's name for the calendar: "ESZ6-ESH7"."""
        return f"{self.near.local_symbol}-{self.far.local_symbol}"

    @property
    def tick(self) -> Decimal:
        return spread_tick(self.near)

    @property
    def listed(self) -> bool:
        return exchange_lists_spread(self.near, self.far)

    @property
    def contract(self) -> ListedContract:
        """The spread as the journal and the blotter name it. IB has no contract id for a
        listed spread (it builds every combo from the legs), so it carries none (0)."""
        return replace(
            self.near,
            local_symbol=self.name,
            con_id=0,
            min_tick=self.tick,
        )

    @property
    def legs(self) -> tuple[SpreadLeg, ...]:
        """Sell the nearby, buy the deferred, one each (ratios reduced)."""
        near_ratio, far_ratio = reduced_ratios((1, 1))
        return (
            SpreadLeg(self.near, near_ratio, Side.SELL),
            SpreadLeg(self.far, far_ratio, Side.BUY),
        )

    def limit_through(self, quote: SpreadQuote, ticks_through: int) -> Decimal | None:
        """The marketable limit ``ticks_through`` spread ticks through the far touch (the ask
        when buying, the bid when selling); None while that side is not quoted."""
        if ticks_through < 0:
            raise ValueError(f"ticks through must be zero or more, got {ticks_through}")
        touch = quote.ask if self.side is Side.BUY else quote.bid
        if touch is None:
            return None
        offset = self.side.sign * ticks_through * self.tick
        direction = SnapDirection.UP if self.side is Side.BUY else SnapDirection.DOWN
        return snap_to_tick(touch + offset, self.tick, direction)

    def leg_prices(
        self, spread_price: Decimal, near_price: Decimal
    ) -> tuple[tuple[SpreadLeg, Decimal], ...]:
        """What each leg would trade at for ``spread_price`` with the nearby at ``near_price``
        (the exchange anchors the nearby and prices the deferred leg off the spread)."""
        near_leg, far_leg = self.legs
        return ((near_leg, near_price), (far_leg, near_price + spread_price))

    def intent(
        self,
        order_type: OrderType,
        limit_price: Decimal | None,
        *,
        key_factory: Callable[[], str],
        now: datetime,
        account: str,
        quantity: Decimal | None = None,
    ) -> OrderIntent:
        """The combo order: market, or a limit at a spread price on the spread's tick."""
        if order_type not in (OrderType.MARKET, OrderType.LIMIT):
            raise ValueError(f"A spread roll is a market or a limit order, not {order_type}")
        if order_type is OrderType.LIMIT:
            if limit_price is None or not limit_price.is_finite():
                raise ValueError("A limit spread order needs a spread price")
            if snap_to_tick(limit_price, self.tick, SnapDirection.NEAREST) != limit_price:
                raise ValueError(
                    f"The spread price {limit_price.normalize():f} is not on the spread's tick "
                    f"of {self.tick.normalize():f}"
                )
        size = self.quantity if quantity is None else quantity
        if size <= 0 or size != size.to_integral_value():
            raise ValueError(f"A spread order is a whole number of spreads above zero, got {size}")
        return OrderIntent(
            key=key_factory(),
            contract=self.contract,
            side=self.side,
            quantity=size,
            order_type=order_type,
            limit_price=limit_price if order_type is OrderType.LIMIT else None,
            stop_price=None,
            tif=TimeInForce.DAY,
            bracket=None,
            created_at=now,
            purpose=Purpose.ROLL_SPREAD,
            account=account,
            legs=self.legs,
        )


def spread_for_roll(plan: RollPlan) -> CalendarSpread:
    """The calendar spread that does what ``plan``'s two legs do, in one order."""
    if plan.open is None:
        raise ValueError(
            f"The roll of {plan.close.contract.local_symbol} does not reopen: there is no spread"
        )
    side = Side.BUY if plan.position > 0 else Side.SELL
    return CalendarSpread(plan.close.contract, plan.open.contract, side, plan.close.quantity)


def leg_orders(intent: OrderIntent) -> tuple[OrderIntent, ...]:
    """Each leg of a combo as the market order it amounts to, for the pre-trade checks: the
    position, size, session, account and loss checks apply to what each leg does."""
    return tuple(
        replace(
            intent,
            key=f"{intent.key}.leg{number}",
            contract=leg.contract,
            side=leg.side_for(intent.side),
            quantity=intent.quantity * leg.ratio,
            order_type=OrderType.MARKET,
            limit_price=None,
            stop_price=None,
            legs=(),
        )
        for number, leg in enumerate(intent.legs, start=1)
    )
