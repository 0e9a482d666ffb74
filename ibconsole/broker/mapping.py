"""Translate ib_insync objects into frozen domain snapshots, and domain intents into IB orders.

Every conversion is O(1) and total: a value IB left unset becomes ``None``, never a made-up number.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, time
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from ibconsole.broker.ib_client import (
    UNSET_DOUBLE,
    ComboLeg,
    Contract,
    ContractDetails,
    Future,
    FuturesOption,
    OptionComputation,
    Order,
    Ticker,
    Trade,
)
from ibconsole.broker.ib_client import Position as IbPosition
from ibconsole.domain.contracts import ListedContract, OptionRight, OptionTerms
from ibconsole.domain.option_chain import Greeks
from ibconsole.domain.orders import (
    OrderIntent,
    OrderType,
    Position,
    Side,
    SnapDirection,
    SpreadLeg,
    TimeInForce,
    WorkingOrder,
    snap_to_tick,
)
from ibconsole.domain.products import Product, product
from ibconsole.domain.quotes import MarketDataType, Quote

# Statuses in which an order is still live at the broker (ib_insync's OrderStatus.ActiveStates).
ACTIVE_STATUSES = frozenset({"PendingSubmit", "ApiPending", "PreSubmitted", "Submitted"})
# ocaType 1: when one order of the group fills, IB cancels the others, blocking overfills.
_OCA_CANCEL_WITH_BLOCK = 1


# The order types whose limit (lmtPrice) and stop (auxPrice) prices mean something: TWS reports
# the price fields an order type does not use as 0.0.
_LIMIT_TYPES = frozenset({"LMT", "STP LMT"})
_STOP_TYPES = frozenset({"STP", "STP LMT"})
# IB's market data type codes, looked up rather than converted for every quote.
_DATA_TYPES = {int(data_type): data_type for data_type in MarketDataType}


def order_prices(
    order: Order, tick: Decimal | None = None
) -> tuple[Decimal | None, Decimal | None]:
    """(limit, stop) of an order as IB reports it: only the prices its order type uses."""
    limit = decimal_or_none(order.lmtPrice, tick) if order.orderType in _LIMIT_TYPES else None
    stop = decimal_or_none(order.auxPrice, tick) if order.orderType in _STOP_TYPES else None
    return limit, stop


def decimal_or_none(value: float | Decimal | None, tick: Decimal | None = None) -> Decimal | None:
    """IB's float to Decimal, on the tick grid when one is given; NaN, infinities, IB's unset
    marker and a number too large for any tick grid (beyond the 28 digits it is computed in: no
    price a gateway in its senses sends) to None.

    ib_async types an order's prices as ``float | Decimal`` (a Decimal set by hand is sent as it
    is); what arrives from IB is always a float.
    """
    if value is None or math.isnan(value) or value == UNSET_DOUBLE or math.isinf(value):
        return None
    number = value if isinstance(value, Decimal) else Decimal(repr(value))
    if not tick:
        return number
    try:
        return snap_to_tick(number, tick, SnapDirection.NEAREST)
    except InvalidOperation:
        return None


def listed_contract(details: ContractDetails, product: Product) -> ListedContract:
    """A contract month, or an option on one, from its contract details; the last trade carries
    the exchange's zone. An option's price increments (its market rule) are added by the caller."""
    contract = details.contract
    if contract is None:
        raise ValueError(f"contract details for {product.symbol} arrived without a contract")
    day = contract.lastTradeDateOrContractMonth[:8]
    if len(day) != 8 or not day.isdigit():
        raise ValueError(
            f"{contract.localSymbol or product.symbol}: last trade date {day!r} is not YYYYMMDD"
        )
    zone = ZoneInfo(details.timeZoneId or product.time_zone)
    last_trade = _last_trade(day, details.lastTradeTime, zone, product)
    month = (details.contractMonth or day[:6])[:6]
    return ListedContract(
        symbol=product.symbol,
        local_symbol=contract.localSymbol,
        con_id=contract.conId,
        contract_month=month,
        last_trade=last_trade,
        exchange=contract.exchange or product.exchange,
        currency=contract.currency or product.currency,
        multiplier=Decimal(contract.multiplier or product.multiplier),
        min_tick=Decimal(repr(details.minTick)) if details.minTick else product.min_tick,
        trading_class=contract.tradingClass or product.trading_class,
        option=_option_terms(details),
    )


def _option_terms(details: ContractDetails) -> OptionTerms | None:
    contract = details.contract
    if contract is None or contract.secType != "FOP":
        return None
    try:
        right = OptionRight(contract.right[:1].upper())
    except ValueError:
        raise ValueError(
            f"{contract.localSymbol}: option right {contract.right!r} is neither C nor P"
        ) from None
    strike = decimal_or_none(contract.strike)
    if strike is None or strike <= 0:
        raise ValueError(f"{contract.localSymbol}: option strike {contract.strike!r} is unusable")
    return OptionTerms(right, strike.normalize(), details.underConId)


def _last_trade(day: str, clock: str, zone: ZoneInfo, product: Product) -> datetime:
    """The last trade instant. TWS at server version 176 writes it as a UTC instant
    ("20250321-13:30:00", which ib_insync splits into date and "13:30:00"); older TWS wrote the
    exchange's clock time ("20250321 08:30 US/Central")."""
    date_of = datetime(int(day[:4]), int(day[4:6]), int(day[6:]))
    utc_instant = clock.count(":") == 2
    clock_time = _parse_hhmm(clock)
    if clock_time is None:
        clock_time, utc_instant = product.expiry.time, False
    at = date_of.replace(hour=clock_time.hour, minute=clock_time.minute)
    if utc_instant:
        return at.replace(tzinfo=UTC).astimezone(zone)
    return at.replace(tzinfo=zone)


def _parse_hhmm(text: str) -> time | None:
    """IB's lastTradeTime: "08:30", "0830" or "13:30:00" (seconds, always 0, are dropped)."""
    digits = text.replace(":", "").strip()
    if len(digits) not in (4, 6) or not digits.isdigit():
        return None
    hour, minute = int(digits[:2]), int(digits[2:4])
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def ib_contract(contract: ListedContract) -> Contract:
    """The fully qualified IB contract of a listed month or option (conId decides, the rest must
    agree)."""
    terms = contract.option
    if terms is not None:
        return FuturesOption(
            conId=contract.con_id,
            symbol="",
            lastTradeDateOrContractMonth=contract.last_trade.strftime("%Y%m%d"),
            strike=float(terms.strike),
            right=terms.right.value,
            exchange=contract.exchange,
            currency=contract.currency,
            localSymbol=contract.local_symbol,
            tradingClass=contract.trading_class,
            multiplier=format(contract.multiplier.normalize(), "f"),
        )
    return Future(
        conId=contract.con_id,
        symbol="",
        lastTradeDateOrContractMonth=contract.last_trade.strftime("%Y%m%d"),
        exchange=contract.exchange,
        currency=contract.currency,
        localSymbol=contract.local_symbol,
        tradingClass=contract.trading_class,
        multiplier=format(contract.multiplier.normalize(), "f"),
    )


def ib_combo(legs: Sequence[SpreadLeg]) -> Contract:
    """The BAG contract of a combo: built from its legs' conIds, each leg on its own exchange,
    the ratios as given (reduced). Directed to the exchange (not SMART), so the exchange
    guarantees it: every leg fills at once or none does. IB has no contract details for a BAG
    (error 321): nothing is asked, the legs say it all."""
    if not legs:
        raise ValueError("a combo needs legs")
    first = legs[0].contract
    return Contract(
        secType="BAG",
        symbol=product(first.symbol).ib_symbol,
        exchange=first.exchange,
        currency=first.currency,
        comboLegs=[
            ComboLeg(
                conId=leg.contract.con_id,
                ratio=leg.ratio,
                action=leg.side.value,
                exchange=leg.contract.exchange,
            )
            for leg in legs
        ],
    )


def order_contract(intent: OrderIntent) -> Contract:
    """The IB contract an intent's order goes out on: the BAG of a combo, else its month."""
    return ib_combo(intent.legs) if intent.legs else ib_contract(intent.contract)


def ib_order(intent: OrderIntent, quantity: Decimal | None = None) -> Order:
    """The IB order for an intent's entry; the key travels as orderRef for idempotency."""
    order = Order(
        action=intent.side.value,
        totalQuantity=float(quantity if quantity is not None else intent.quantity),
        orderType=intent.order_type.value,
        tif=intent.tif.value,
        orderRef=intent.key,
        account=intent.account,
    )
    if intent.limit_price is not None:
        order.lmtPrice = float(intent.limit_price)
    if intent.stop_price is not None:
        order.auxPrice = float(intent.stop_price)
    if intent.oca_group:
        order.ocaGroup = intent.oca_group
        order.ocaType = _OCA_CANCEL_WITH_BLOCK
    return order


def working_order(trade: Trade, tick: Decimal | None = None) -> WorkingOrder:
    order, status = trade.order, trade.orderStatus
    # ib_insync starts a new order at PendingSubmit with nothing remaining: until IB reports
    # on it, all of it is still to fill.
    remaining = status.remaining if status.remaining or status.filled else order.totalQuantity
    limit_price, stop_price = order_prices(order, tick)
    return WorkingOrder(
        order_id=order.orderId,
        key=order.orderRef or "",
        con_id=trade.contract.conId,
        side=Side(order.action),
        remaining=Decimal(repr(remaining)),
        order_type=OrderType(order.orderType),
        limit_price=limit_price,
        stop_price=stop_price,
        parent_id=order.parentId,
        oca_group=order.ocaGroup,
        status=status.status,
        tif=_time_in_force(order.tif),
    )


def _time_in_force(tif: str) -> TimeInForce | None:
    """IB's time in force; an empty one is IB's default, DAY."""
    try:
        return TimeInForce(tif or TimeInForce.DAY)
    except ValueError:
        return None


def position(item: IbPosition) -> Position:
    return Position(
        con_id=item.contract.conId,
        quantity=Decimal(repr(item.position)),
        avg_cost=Decimal(repr(item.avgCost)),
        account=item.account,
    )


def quote(ticker: Ticker, price: Callable[[float], Decimal | None], received: datetime) -> Quote:
    """The ticker's current top of book, stamped by the console's clock when it arrived; each
    price converted by ``price`` (``decimal_or_none`` on the contract's tick grid, or a
    ``TickGrid``'s remembered conversion of it).

    ib_insync stamps tickers with the wall clock; the console may run on a shifted clock (--as-of),
    and quote ages must be measured in the clock the risk checks use.
    """
    return Quote(
        con_id=ticker.contract.conId if ticker.contract else 0,
        bid=price(ticker.bid),
        ask=price(ticker.ask),
        last=price(ticker.last),
        time=received,
        data_type=_DATA_TYPES.get(ticker.marketDataType)
        or MarketDataType(ticker.marketDataType or 1),
    )


def greeks(computation: OptionComputation) -> Greeks:
    """IB's option computation as sent; a field IB left unset (or NaN), or one no option can
    have (``implausible_greeks`` names those), stays None."""
    values = _greek_values(computation)
    return Greeks(
        **{
            name: value if value is None or _PLAUSIBLE[name](value) else None
            for name, value in values.items()
        }
    )


def implausible_greeks(computation: OptionComputation) -> str:
    """The fields of IB's computation that no option can have (a delta beyond 1, a negative
    volatility), as "delta 5.5, gamma -1.0"; "" when there are none."""
    values = _greek_values(computation)
    return ", ".join(
        f"{name} {value!r}"
        for name, value in values.items()
        if value is not None and not _PLAUSIBLE[name](value)
    )


# IB's markers for "not computed": -1 for the volatility and prices, -2 for the sensitivities
# (ib_async maps most of them to None, but not vega's and theta's).
_NOT_COMPUTED = {
    "implied_vol": -1.0,
    "delta": -2.0,
    "gamma": -2.0,
    "theta": -2.0,
    "vega": -2.0,
    "underlying": -1.0,
}
_PLAUSIBLE: dict[str, Callable[[float], bool]] = {
    "implied_vol": lambda v: v >= 0,
    "delta": lambda v: -1 <= v <= 1,
    "gamma": lambda v: v >= 0,
    "theta": lambda v: True,
    "vega": lambda v: v >= 0,
    "underlying": lambda v: True,
}


def _greek_values(computation: OptionComputation) -> dict[str, float | None]:
    sent = {
        "implied_vol": computation.impliedVol,
        "delta": computation.delta,
        "gamma": computation.gamma,
        "theta": computation.theta,
        "vega": computation.vega,
        "underlying": computation.undPrice,
    }
    return {
        name: None
        if number is None
        or math.isnan(number)
        or math.isinf(number)
        or number in (UNSET_DOUBLE, _NOT_COMPUTED[name])
        else float(number)
        for name, number in sent.items()
    }
