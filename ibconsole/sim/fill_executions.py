"""The executions TWS reports for one fill of an order, booked into the account.

A plain order's fill is one execution. A combo's fill is one per leg and then the combo's own:
every leg fills in ratio at the same moment, each at its own price, the prices adding up
(ratio × price, signed by each leg's action) to the spread price; the combo's own execution
(secType BAG) is at the spread price. Leg prices follow CME Globex's leg assignment: every leg
but one at an anchor price, and one leg at whatever price makes the legs add up to the
spread. For a calendar the anchor is the nearby month and the deferred month is calculated,
so its price lies on the spread's tick (0.05 for ES) rather than the outright's. An equity
index calendar anchors the nearby at the prior day's settlement (CME's calendar-spread FAQ:
"The Equity calendar spread model sets the nearby-expiring futures anchor leg to the prior
day's settlement price"); other spreads at the most recent price, here the last trade.

Commissions are charged per leg; the combo's own execution carries none (ib_insync's
``Trade.filled`` counts only the BAG executions of a combo order, the legs' only for
positions and commissions).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from ibconsole.sim.accounts import FillCharge
from ibconsole.sim.combos import ComboInstrument, Leg
from ibconsole.sim.exchange import OrderFilled
from ibconsole.sim.instruments import Instrument
from ibconsole.sim.market import Quote
from ibconsole.sim.orders import Execution

__all__ = ["BookedFill", "book_fill", "leg_exec_id", "leg_prices"]

Book = Callable[[Instrument, str, Decimal, Decimal], FillCharge]
"""Books one execution (instrument, side, quantity, price) and says what it cost."""

Quotes = Callable[[Instrument], Quote]
"""A leg's current quote."""


@dataclass(frozen=True, slots=True)
class BookedFill:
    """What one fill became: the executions to report, in order; those that carry a
    commission report; and the contracts whose positions changed."""

    reported: tuple[Execution, ...]
    charged: tuple[Execution, ...]
    traded: tuple[Instrument, ...]


def book_fill(
    fill: OrderFilled,
    instrument: Instrument,
    earlier: Iterable[Execution],
    quotes: Quotes,
    book: Book,
    currency: str,
) -> BookedFill:
    """Book ``fill`` of an order on ``instrument`` (a contract or a combo) with ``book`` and
    build its executions (commissions in ``currency``); ``earlier`` are the executions before
    it (for each combo leg's cumulative quantity and average price)."""
    snapshot = fill.order
    order_totals = (snapshot.filled, snapshot.avg_fill_price)
    if not isinstance(instrument, ComboInstrument):
        action = snapshot.request.action
        charge = book(instrument, action, fill.shares, fill.price)
        this = (fill.exec_id, instrument.con_id, action, fill.shares, fill.price)
        execution = _execution(fill, this, order_totals, charge, currency)
        return BookedFill((execution,), (execution,), (instrument,))
    legs = _leg_executions(fill, instrument, earlier, quotes, book, currency)
    this = (fill.exec_id, instrument.con_id, snapshot.request.action, fill.shares, fill.price)
    own = _execution(fill, this, order_totals, FillCharge(Decimal(0), None), currency)
    traded = tuple(leg.instrument for leg in instrument.legs)
    return BookedFill((*legs, own), legs, traded)


def leg_prices(combo: ComboInstrument, spread_price: Decimal, quotes: Quotes) -> list[Decimal]:
    """Each leg's price (in leg order) for one spread price (see the module docstring)."""
    balancing = max(
        range(len(combo.legs)),
        key=lambda i: (combo.legs[i].ratio == 1, combo.legs[i].instrument.last_trade_date, i),
    )
    settled = combo.listed and combo.legs[0].instrument.under_sec_type == "IND"
    prices = [_anchor(quotes(leg.instrument), settled) for leg in combo.legs]
    others = sum(
        (
            leg.weight * price
            for i, (leg, price) in enumerate(zip(combo.legs, prices, strict=True))
            if i != balancing
        ),
        Decimal(0),
    )
    prices[balancing] = ((spread_price - others) / combo.legs[balancing].weight).normalize()
    return prices


def _anchor(quote: Quote, settled: bool) -> Decimal:
    return quote.close if settled else quote.last


def leg_exec_id(exec_id: str, index: int) -> str:
    """A leg execution's id from the combo's: the leg's number joins the part before the final
    period (IB marks corrections by changing only the digits after it)."""
    stem, _, suffix = exec_id.rpartition(".")
    if not stem:
        return f"{exec_id}.{index + 1:02d}"
    return f"{stem}{index + 1:x}.{suffix}"


def _leg_executions(
    fill: OrderFilled,
    combo: ComboInstrument,
    earlier: Iterable[Execution],
    quotes: Quotes,
    book: Book,
    currency: str,
) -> tuple[Execution, ...]:
    snapshot = fill.order
    prices = leg_prices(combo, fill.price, quotes)
    previous = [e for e in earlier if e.perm_id == snapshot.perm_id]
    executions = []
    for index, (leg, price) in enumerate(zip(combo.legs, prices, strict=True)):
        side = _side(leg, snapshot.request.action)
        quantity = fill.shares * leg.ratio
        charge = book(leg.instrument, side, quantity, price)
        done = [e for e in previous if e.con_id == leg.instrument.con_id]
        cum = sum((e.shares for e in done), Decimal(0)) + quantity
        notional = sum((e.shares * e.price for e in done), Decimal(0)) + quantity * price
        this = (leg_exec_id(fill.exec_id, index), leg.instrument.con_id, side, quantity, price)
        totals = (cum, (notional / cum).normalize())
        executions.append(_execution(fill, this, totals, charge, currency))
    return tuple(executions)


def _side(leg: Leg, combo_action: str) -> str:
    if combo_action == "BUY":
        return leg.action
    return "SELL" if leg.action == "BUY" else "BUY"


def _execution(
    fill: OrderFilled,
    leg: tuple[str, int, str, Decimal, Decimal],
    totals: tuple[Decimal, Decimal],
    charge: FillCharge,
    currency: str,
) -> Execution:
    """An execution of ``fill``'s order: ``leg`` is (exec id, conId, side, quantity, price),
    ``totals`` the contract's cumulative quantity and average price in this order."""
    exec_id, con_id, side, shares, price = leg
    snapshot = fill.order
    request = snapshot.request
    return Execution(
        exec_id=exec_id,
        time=fill.time,
        account=request.account,
        client_id=snapshot.client_id,
        order_id=snapshot.order_id,
        perm_id=snapshot.perm_id,
        con_id=con_id,
        side=side,
        shares=shares,
        price=price,
        cum_qty=totals[0],
        avg_price=totals[1],
        order_ref=request.order_ref,
        model_code=request.model_code,
        commission=charge.commission,
        commission_currency=currency,
        realized_pnl=charge.realized_pnl,
    )
