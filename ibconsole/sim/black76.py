"""Black-76: European options on futures priced from the futures price, and their greeks and
implied volatility.

Black, F. (1976), "The pricing of commodity contracts", Journal of Financial Economics 3:
``c = e^(-rT) (F N(d1) - K N(d2))``, ``p = e^(-rT) (K N(-d2) - F N(-d1))`` with
``d1 = (ln(F/K) + σ²T/2) / (σ√T)`` and ``d2 = d1 - σ√T``. Greeks are quoted as IB quotes them:
vega per volatility point (0.01), theta per calendar day.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Greeks", "greeks", "implied_volatility", "price"]

_SQRT_2PI = math.sqrt(2 * math.pi)
_DAYS_PER_YEAR = 365.0
_VOL_FLOOR = 1e-4
_VOL_CEILING = 5.0
_TOLERANCE = 1e-10
_MAX_ITERATIONS = 100


@dataclass(frozen=True, slots=True)
class Greeks:
    """Price and sensitivities of one option, per unit of the underlying (not × multiplier)."""

    price: float
    delta: float
    gamma: float
    vega: float
    theta: float


def _cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _pdf(x: float) -> float:
    return math.exp(-0.5 * x * x) / _SQRT_2PI


def _check(forward: float, strike: float, right: str) -> None:
    if right not in ("C", "P"):
        raise ValueError(f"right must be 'C' or 'P', got {right!r}")
    if not (forward > 0 and strike > 0):
        raise ValueError(f"forward and strike must be positive, got {forward} and {strike}")


def price(
    forward: float, strike: float, years: float, rate: float, vol: float, right: str
) -> float:
    """Black-76 price; at or after expiry (``years <= 0``) or with no volatility, the
    (discounted) intrinsic value."""
    _check(forward, strike, right)
    discount = math.exp(-rate * max(years, 0.0))
    if years <= 0 or vol <= 0:
        intrinsic = forward - strike if right == "C" else strike - forward
        return discount * max(intrinsic, 0.0)
    spread = vol * math.sqrt(years)
    d1 = (math.log(forward / strike) + 0.5 * spread * spread) / spread
    d2 = d1 - spread
    if right == "C":
        return discount * (forward * _cdf(d1) - strike * _cdf(d2))
    return discount * (strike * _cdf(-d2) - forward * _cdf(-d1))


def greeks(
    forward: float, strike: float, years: float, rate: float, vol: float, right: str
) -> Greeks:
    """Price, delta, gamma, vega (per 0.01 of volatility) and theta (per calendar day)."""
    if years <= 0 or vol <= 0:
        value = price(forward, strike, years, rate, vol, right)
        itm = forward > strike if right == "C" else forward < strike
        delta = (1.0 if right == "C" else -1.0) if itm else 0.0
        return Greeks(value, delta, 0.0, 0.0, 0.0)
    _check(forward, strike, right)
    discount = math.exp(-rate * years)
    root = math.sqrt(years)
    spread = vol * root
    d1 = (math.log(forward / strike) + 0.5 * spread * spread) / spread
    d2 = d1 - spread
    density = _pdf(d1)
    if right == "C":
        cumulative = _cdf(d1)
        value = discount * (forward * cumulative - strike * _cdf(d2))
        delta = discount * cumulative
    else:
        cumulative = _cdf(-d1)
        value = discount * (strike * _cdf(-d2) - forward * cumulative)
        delta = -discount * cumulative
    gamma = discount * density / (forward * spread)
    vega = forward * discount * density * root
    theta = -forward * discount * density * vol / (2 * root) + rate * value
    return Greeks(value, delta, gamma, vega / 100.0, theta / _DAYS_PER_YEAR)


def implied_volatility(
    option_price: float,
    forward: float,
    strike: float,
    years: float,
    rate: float,
    right: str,
    guess: float = 0.3,
) -> float | None:
    """The volatility at which Black-76 gives ``option_price``; ``None`` when no volatility
    does (a price at or below the discounted intrinsic value, or above the discounted
    forward/strike bound, or an expired option). Newton's method from ``guess`` (a nearby
    volatility converges in a step or two), bisection when it strays."""
    _check(forward, strike, right)
    if years <= 0 or option_price <= 0:
        return None
    discount = math.exp(-rate * years)
    intrinsic = discount * max(forward - strike if right == "C" else strike - forward, 0.0)
    ceiling = discount * (forward if right == "C" else strike)
    if not intrinsic < option_price < ceiling:
        return None
    low, high = _VOL_FLOOR, _VOL_CEILING
    vol = guess if low < guess < high else 0.3
    for _ in range(_MAX_ITERATIONS):
        sensitivities = greeks(forward, strike, years, rate, vol, right)
        error = sensitivities.price - option_price
        if abs(error) < _TOLERANCE:
            return vol
        if error > 0:
            high = vol
        else:
            low = vol
        vega = sensitivities.vega * 100.0
        step = vol - error / vega if vega > 1e-12 else -1.0
        vol = step if low < step < high else 0.5 * (low + high)
        if high - low < _TOLERANCE:
            break
    # a price beyond every volatility up to the ceiling has none
    return None if vol >= _VOL_CEILING * 0.999 else vol
