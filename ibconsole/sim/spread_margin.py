"""Margin of a whole account, with the credit exchanges give calendar spreads.

CME's SPAN margins a long and a short in two months of one product as a spread: the two
outright charges are replaced by an intra-commodity spread charge, a small fraction of them
(calendar risk is the spread's, not the market's). Each long contract paired with a short one
in another month of the same product counts as one spread; what is left over is margined as
outrights. Everything else is margined contract by contract (:func:`rates.margin`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal

from ibconsole.sim.instruments import Instrument
from ibconsole.sim.rates import Margin, margin

__all__ = ["SPREAD_CHARGE_RATE", "account_margin"]

SPREAD_CHARGE_RATE = Decimal("0.05")
"""A calendar spread's charge as a share of its two legs' outright margin."""

_CENT = Decimal("0.01")


def account_margin(
    holdings: Iterable[tuple[Instrument, Decimal, Decimal]],
    rule: Callable[[Instrument, Decimal, Decimal], Margin] = margin,
) -> Margin:
    """Initial and maintenance margin of (instrument, signed position, price) holdings, each
    margined by ``rule`` before the spread credit."""
    initial = maintenance = Decimal(0)
    products: dict[tuple[str, str], list[tuple[Decimal, Margin]]] = {}
    for instrument, position, price in holdings:
        if not position:
            continue
        need = rule(instrument, position, price)
        initial += need.initial
        maintenance += need.maintenance
        if instrument.sec_type == "FUT":
            per_contract = rule(instrument, Decimal(1), price)
            key = (instrument.trading_class, instrument.exchange)
            products.setdefault(key, []).append((position, per_contract))
    for months in products.values():
        longs = sum((position for position, _ in months if position > 0), Decimal(0))
        shorts = -sum((position for position, _ in months if position < 0), Decimal(0))
        spreads = min(longs, shorts)
        if not spreads:
            continue
        per_contract = max((need for _, need in months), key=lambda need: need.initial)
        credit = 2 * spreads * (1 - SPREAD_CHARGE_RATE)
        initial -= (credit * per_contract.initial).quantize(_CENT)
        maintenance -= (credit * per_contract.maintenance).quantize(_CENT)
    return Margin(initial, maintenance)
