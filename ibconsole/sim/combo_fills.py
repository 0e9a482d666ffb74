"""A combo's fill as TWS reports it: every leg fills in ratio at the same moment, each at its
own price, the prices adding up (ratio × price, signed by each leg's action) to the spread
price; then the combo's own execution at the spread price.

Leg prices follow the exchange's way of pricing spread trades: every leg but one at its
reference price (its last trade), and one leg at whatever price makes the legs add up to the
spread. For a calendar that balancing leg is the deferred month, so its price lies on the
spread's tick (0.05 for ES) rather than the outright's.

Commissions are charged per leg; the combo's own execution carries none (ib_insync's
``Trade.filled`` counts only the BAG executions of a combo order, the legs' only for
positions and commissions).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from ibconsole.sim.accounts import FillCharge
from ibconsole.sim.combos import ComboInstrument, Leg
from ibconsole.sim.instruments import Instrument
from ibconsole.sim.orders import Execution, OrderSnapshot

__all__ = ["ComboFill", "leg_exec_id", "leg_prices", "split_combo_fill"]

Book = Callable[[Instrument, str, Decimal, Decimal], FillCharge]
"""Books one execution (instrument, side, quantity, price) and says what it cost."""

Reference = Callable[[Instrument], Decimal]
"""A leg's reference price (its last trade)."""


@dataclass(frozen=True, slots=True)
class ComboFill:
    """What one fill of a combo order produced: the legs' executions (with commissions) and
    the combo's own."""

    legs: tuple[Execution, ...]
    combo: Execution


def leg_prices(
    combo: ComboInstrument, spread_price: Decimal, reference: Reference
) -> list[Decimal]:
    """Each leg's price (in leg order) for one spread price (see the module docstring)."""
    balancing = max(
        range(len(combo.legs)),
        key=lambda i: (combo.legs[i].ratio == 1, combo.legs[i].instrument.last_trade_date, i),
    )
    prices = [reference(leg.instrument) for leg in combo.legs]
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


def leg_exec_id(exec_id: str, index: int) -> str:
    """A leg execution's id from the combo's: the leg's number joins the part before the final
    period (IB marks corrections by changing only the digits after it)."""
    stem, _, suffix = exec_id.rpartition(".")
    if not stem:
        return f"{exec_id}.{index + 1:02d}"
    return f"{stem}{index + 1:x}.{suffix}"


def split_combo_fill(
    snapshot: OrderSnapshot,
    combo: ComboInstrument,
    fill: tuple[str, Decimal, Decimal, datetime],
    earlier: Iterable[Execution],
    reference: Reference,
    book: Book,
    currency: str,
) -> ComboFill:
    """Book one combo fill (``fill`` is exec id, combo quantity, spread price, time) leg by
    leg and build its executions (commissions in ``currency``); ``earlier`` are the
    executions before it (for each leg's cumulative quantity and average price)."""
    exec_id, shares, spread_price, time = fill
    action = snapshot.request.action
    prices = leg_prices(combo, spread_price, reference)
    previous = [e for e in earlier if e.perm_id == snapshot.perm_id]
    legs = []
    for index, (leg, price) in enumerate(zip(combo.legs, prices, strict=True)):
        side = _side(leg, action)
        quantity = shares * leg.ratio
        charge = book(leg.instrument, side, quantity, price)
        done = [e for e in previous if e.con_id == leg.instrument.con_id]
        cum = sum((e.shares for e in done), Decimal(0)) + quantity
        notional = sum((e.shares * e.price for e in done), Decimal(0)) + quantity * price
        legs.append(
            Execution(
                exec_id=leg_exec_id(exec_id, index),
                time=time,
                account=snapshot.request.account,
                client_id=snapshot.client_id,
                order_id=snapshot.order_id,
                perm_id=snapshot.perm_id,
                con_id=leg.instrument.con_id,
                side=side,
                shares=quantity,
                price=price,
                cum_qty=cum,
                avg_price=(notional / cum).normalize(),
                order_ref=snapshot.request.order_ref,
                model_code=snapshot.request.model_code,
                commission=charge.commission,
                commission_currency=currency,
                realized_pnl=charge.realized_pnl,
            )
        )
    own = replace(
        legs[0],
        exec_id=exec_id,
        con_id=combo.con_id,
        side=action,
        shares=shares,
        price=spread_price,
        cum_qty=snapshot.filled,
        avg_price=snapshot.avg_fill_price,
        commission=Decimal(0),
        realized_pnl=None,
    )
    return ComboFill(tuple(legs), own)


def _side(leg: Leg, combo_action: str) -> str:
    if combo_action == "BUY":
        return leg.action
    return "SELL" if leg.action == "BUY" else "BUY"
