"""Commission and margin rates of the simulated broker, per contract and per security type.

Round numbers in the neighbourhood of IB's published US schedules; good enough for a paper
account to show sensible what-if margins, buying power and commissions.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ibconsole.sim.instruments import Instrument

__all__ = [
    "Margin",
    "commission",
    "future_initial_margin",
    "margin",
    "margin_from_initial",
    "multiplier_of",
]

_FUTURE_COMMISSION = Decimal("2.25")
_MICRO_COMMISSION = Decimal("0.62")
_MICRO_SYMBOLS = frozenset({"MES", "MNQ", "M2K", "MYM", "MCL", "MGC", "M6E", "MBT", "MET", "SIL"})
_STOCK_PER_SHARE = Decimal("0.005")
_STOCK_MINIMUM = Decimal("1.00")
_STOCK_MAXIMUM_RATE = Decimal("0.01")
_FX_RATE = Decimal("0.00002")
_FX_MINIMUM = Decimal("2.00")
# Futures options per contract: IBKR's 0.85 plus the exchange's fee and 0.02 regulatory fee
# (CME E-mini S&P options, NYMEX WTI options, COMEX gold options; round figures).
_OPTION_BROKER = Decimal("0.85")
_OPTION_EXCHANGE_FEES = {"ES": Decimal("0.55"), "CL": Decimal("1.50"), "GC": Decimal("1.50")}
_OPTION_OTHER_FEE = Decimal("1.00")
_REGULATORY_FEE = Decimal("0.02")

# Initial margin per contract in USD; maintenance is about 91 % of it, as at CME.
_FUTURE_INITIAL = {
    "ES": Decimal(15_800),
    "MES": Decimal(1_580),
    "NQ": Decimal(23_000),
    "MNQ": Decimal(2_300),
    "RTY": Decimal(7_500),
    "M2K": Decimal(750),
    "YM": Decimal(10_500),
    "MYM": Decimal(1_050),
    "CL": Decimal(6_500),
    "MCL": Decimal(650),
    "GC": Decimal(9_500),
    "MGC": Decimal(950),
    "ZN": Decimal(2_300),
    "ZB": Decimal(4_400),
    "EUR": Decimal(2_600),
    "NG": Decimal(4_000),
}
_MAINTENANCE_RATIO = Decimal("0.91")
_FUTURE_NOTIONAL_RATE = Decimal("0.07")
_STOCK_INITIAL_RATE = Decimal("0.50")  # Reg T
_STOCK_MAINTENANCE_RATE = Decimal("0.25")
_FX_INITIAL_RATE = Decimal("0.03")
_FX_MAINTENANCE_RATE = Decimal("0.025")
_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Margin:
    initial: Decimal
    maintenance: Decimal


def multiplier_of(text: str) -> Decimal:
    """A contract's multiplier as a number (IB leaves it empty for stocks and FX: 1)."""
    return Decimal(text) if text else Decimal(1)


def commission(instrument: Instrument, quantity: Decimal, price: Decimal) -> Decimal:
    """Commission in USD for one execution of ``quantity`` (unsigned) at ``price``."""
    quantity = abs(quantity)
    sec_type = instrument.sec_type
    if sec_type == "FUT":
        micro = instrument.symbol in _MICRO_SYMBOLS
        rate = _MICRO_COMMISSION if micro else _FUTURE_COMMISSION
        return (rate * quantity).quantize(_CENT)
    if sec_type == "FOP":
        exchange_fee = _OPTION_EXCHANGE_FEES.get(instrument.symbol, _OPTION_OTHER_FEE)
        return ((_OPTION_BROKER + exchange_fee + _REGULATORY_FEE) * quantity).quantize(_CENT)
    if sec_type == "STK":
        value = quantity * price
        fee = max(_STOCK_MINIMUM, _STOCK_PER_SHARE * quantity)
        return min(fee, value * _STOCK_MAXIMUM_RATE).quantize(_CENT) if value else _STOCK_MINIMUM
    notional = quantity * price * multiplier_of(instrument.multiplier)
    return max(_FX_MINIMUM, notional * _FX_RATE).quantize(_CENT)


def future_initial_margin(symbol: str, notional: Decimal) -> Decimal:
    """Initial margin of one futures contract of ``symbol`` worth ``notional``."""
    per_contract = _FUTURE_INITIAL.get(symbol)
    return per_contract if per_contract is not None else notional * _FUTURE_NOTIONAL_RATE


def margin_from_initial(initial: Decimal) -> Margin:
    """An initial margin and the maintenance margin that goes with it, in cents."""
    return Margin(initial.quantize(_CENT), (initial * _MAINTENANCE_RATIO).quantize(_CENT))


def margin(instrument: Instrument, position: Decimal, price: Decimal) -> Margin:
    """Margin in USD required to hold ``position`` (signed) at ``price``."""
    size = abs(position)
    if not size:
        return Margin(Decimal(0), Decimal(0))
    notional = size * price * multiplier_of(instrument.multiplier)
    sec_type = instrument.sec_type
    if sec_type == "FUT":
        return margin_from_initial(future_initial_margin(instrument.symbol, notional / size) * size)
    if sec_type == "STK":
        return Margin(
            (notional * _STOCK_INITIAL_RATE).quantize(_CENT),
            (notional * _STOCK_MAINTENANCE_RATE).quantize(_CENT),
        )
    return Margin(
        (notional * _FX_INITIAL_RATE).quantize(_CENT),
        (notional * _FX_MAINTENANCE_RATE).quantize(_CENT),
    )
