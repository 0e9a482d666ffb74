"""Margin of a whole account, with the credit exchanges give spreads.

- Calendar spreads: CME's SPAN margins a long and a short in two months of one product as a
  spread: the two outright charges are replaced by an intra-commodity spread charge, a small
  fraction of them (calendar risk is the spread's, not the market's). Each long contract paired
  with a short one in another month of the same product counts as one spread; what is left over
  is margined as outrights.
- Vertical option spreads: a short option covered by a long one of the same right and expiry on
  the same future can lose no more than the strikes' distance against it, so the short leg's
  own margin is replaced by that (nothing for a debit spread, whose long leg is paid in full).

Everything else is margined contract by contract by the books' margin rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal

from ibconsole.sim.instruments import Instrument
from ibconsole.sim.rates import Margin, margin, multiplier_of

__all__ = ["SPREAD_CHARGE_RATE", "account_margin"]

SPREAD_CHARGE_RATE = Decimal("0.05")
"""A calendar spread's charge as a share of its two legs' outright margin."""

_CENT = Decimal("0.01")
_ZERO = Decimal(0)

Rule = Callable[[Instrument, Decimal, Decimal], Margin]
Holding = tuple[Instrument, Decimal, Decimal]


def account_margin(holdings: Iterable[Holding], rule: Rule = margin) -> Margin:
    """Initial and maintenance margin of (instrument, signed position, price) holdings, each
    margined by ``rule`` before the spread credits."""
    initial = maintenance = _ZERO
    futures: dict[tuple[str, str], list[Holding]] = {}
    options: dict[tuple[int, str, str], list[Holding]] = {}
    for holding in holdings:
        instrument, position, price = holding
        if not position:
            continue
        need = rule(instrument, position, price)
        initial += need.initial
        maintenance += need.maintenance
        if instrument.sec_type == "FUT":
            futures.setdefault((instrument.trading_class, instrument.exchange), []).append(holding)
        elif instrument.sec_type == "FOP" and instrument.under_con_id:
            key = (instrument.under_con_id, instrument.right, instrument.last_trade_date)
            options.setdefault(key, []).append(holding)
    for months in futures.values():
        credit = _calendar_credit(months, rule)
        initial -= credit.initial
        maintenance -= credit.maintenance
    for series in options.values():
        credit = _vertical_credit(series, rule)
        initial -= credit.initial
        maintenance -= credit.maintenance
    return Margin(initial, maintenance)


def _calendar_credit(months: list[Holding], rule: Rule) -> Margin:
    longs = sum((position for _, position, _ in months if position > 0), _ZERO)
    shorts = -sum((position for _, position, _ in months if position < 0), _ZERO)
    spreads = min(longs, shorts)
    if not spreads:
        return Margin(_ZERO, _ZERO)
    per_contract = max(
        (rule(instrument, Decimal(1), price) for instrument, _, price in months),
        key=lambda need: need.initial,
    )
    credit = 2 * spreads * (1 - SPREAD_CHARGE_RATE)
    return Margin(
        (credit * per_contract.initial).quantize(_CENT),
        (credit * per_contract.maintenance).quantize(_CENT),
    )


def _vertical_credit(series: list[Holding], rule: Rule) -> Margin:
    """Pair each short option with the longs that cover it best (least strike distance
    against it) and credit the short's own margin above that distance."""
    longs = {instrument.con_id: position for instrument, position, _ in series if position > 0}
    initial = maintenance = _ZERO
    for short, position, price in series:
        if position >= 0:
            continue
        uncovered = -position
        per_contract = rule(short, Decimal(-1), price)
        multiplier = multiplier_of(short.multiplier)
        by_cover = sorted(
            (instrument for instrument, held, _ in series if held > 0),
            key=lambda long: _distance_against(short, long),
        )
        for long in by_cover:
            paired = min(uncovered, longs[long.con_id])
            if not paired:
                continue
            longs[long.con_id] -= paired
            uncovered -= paired
            at_risk = max(_ZERO, _distance_against(short, long)) * multiplier
            initial += max(_ZERO, per_contract.initial - at_risk) * paired
            maintenance += max(_ZERO, per_contract.maintenance - at_risk) * paired
    return Margin(initial.quantize(_CENT), maintenance.quantize(_CENT))


def _distance_against(short: Instrument, long: Instrument) -> Decimal:
    """How far the strikes lie against a short option covered by a long one: what the pair
    can lose per unit of the underlying at expiry."""
    if short.right == "C":
        return long.strike - short.strike
    return short.strike - long.strike
