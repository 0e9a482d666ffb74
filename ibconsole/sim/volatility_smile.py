"""The simulated market's implied volatility per product, expiry and strike: an at-the-money
level that rises slowly with time to expiry and a skew that makes puts (low strikes) richer,
steeper for short expiries (moneyness is measured in units of √T)."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["RATE", "Smile", "smile_for"]

RATE = 0.043
"""The continuously compounded USD rate options are discounted at."""

_MIN_YEARS = 1.0 / 365.0
_VOL_FLOOR = 0.05
_VOL_CEILING = 1.5


@dataclass(frozen=True, slots=True)
class Smile:
    """``σ(K) = atm(T) + skew·m + curvature·m²`` with ``m = ln(K/F)/√T`` and
    ``atm(T) = atm·(1 + term·√T)``; ``skew < 0`` makes volatility fall with the strike through
    the put wing."""

    atm: float
    skew: float
    curvature: float
    term: float

    def volatility(self, forward: float, strike: float, years: float) -> float:
        root = math.sqrt(max(years, _MIN_YEARS))
        moneyness = math.log(strike / forward) / root
        level = self.atm * (1 + self.term * root)
        vol = level + self.skew * moneyness + self.curvature * moneyness * moneyness
        return min(_VOL_CEILING, max(_VOL_FLOOR, vol))


_SMILES = {
    "ES": Smile(atm=0.16, skew=-0.10, curvature=0.03, term=0.10),
    "CL": Smile(atm=0.34, skew=-0.06, curvature=0.04, term=-0.05),
    "GC": Smile(atm=0.17, skew=-0.02, curvature=0.03, term=0.05),
}
_DEFAULT = Smile(atm=0.25, skew=-0.05, curvature=0.03, term=0.0)


def smile_for(symbol: str) -> Smile:
    """The smile of a product, by its symbol (ES, CL, GC)."""
    return _SMILES.get(symbol, _DEFAULT)
