"""The simulator's option model without a socket: Black-76 against a textbook value, put-call
parity, greeks against finite differences, implied volatility round trips, and the smile's
shape (puts richer)."""

from __future__ import annotations

import math

import pytest

from ibconsole.sim import black76
from ibconsole.sim.volatility_smile import smile_for

RATE = 0.05


def test_black76_matches_hulls_crude_oil_example() -> None:
    # Hull, Options, Futures and Other Derivatives, Black's model example: F=20, K=20,
    # r=9 %, T=4 months, σ=25 % -> the European put (and, at the money, the call) is worth 1.12
    put = black76.price(20.0, 20.0, 4 / 12, 0.09, 0.25, "P")
    call = black76.price(20.0, 20.0, 4 / 12, 0.09, 0.25, "C")
    assert put == pytest.approx(1.1166, abs=5e-4)
    assert call == pytest.approx(put, abs=1e-12)


@pytest.mark.parametrize(
    ("forward", "strike", "years", "vol"),
    [(6000.0, 5800.0, 0.05, 0.18), (70.0, 75.5, 0.3, 0.35), (2700.0, 2700.0, 1.0, 0.15)],
)
def test_put_call_parity(forward: float, strike: float, years: float, vol: float) -> None:
    call = black76.price(forward, strike, years, RATE, vol, "C")
    put = black76.price(forward, strike, years, RATE, vol, "P")
    assert call - put == pytest.approx(math.exp(-RATE * years) * (forward - strike), abs=1e-9)


@pytest.mark.parametrize("right", ["C", "P"])
def test_greeks_agree_with_finite_differences(right: str) -> None:
    forward, strike, years, vol = 6000.0, 6100.0, 0.1, 0.2
    g = black76.greeks(forward, strike, years, RATE, vol, right)

    def value(f: float = forward, t: float = years, s: float = vol) -> float:
        return black76.price(f, strike, t, RATE, s, right)

    bump = 0.01
    assert g.delta == pytest.approx((value(forward + bump) - value(forward - bump)) / (2 * bump))
    gamma = (value(forward + 1) - 2 * value() + value(forward - 1)) / 1.0
    assert g.gamma == pytest.approx(gamma, rel=1e-4)
    assert g.vega == pytest.approx(value(s=vol + 0.005) - value(s=vol - 0.005), rel=1e-4)
    day = 1 / 365
    assert g.theta == pytest.approx(value(t=years - day) - value(), rel=2e-2)
    assert (g.delta > 0) == (right == "C")
    assert g.theta < 0


@pytest.mark.parametrize("right", ["C", "P"])
@pytest.mark.parametrize("vol", [0.06, 0.2, 0.9])
@pytest.mark.parametrize("strike", [4800.0, 6000.0, 7000.0])
def test_implied_volatility_round_trips(right: str, vol: float, strike: float) -> None:
    price = black76.price(6000.0, strike, 0.25, RATE, vol, right)
    implied = black76.implied_volatility(price, 6000.0, strike, 0.25, RATE, right)
    assert implied is not None
    assert black76.price(6000.0, strike, 0.25, RATE, implied, right) == pytest.approx(
        price, abs=1e-8
    )
    if black76.greeks(6000.0, strike, 0.25, RATE, vol, right).vega > 0.01:
        # where the price still depends on volatility, the volatility comes back too
        assert implied == pytest.approx(vol, abs=1e-6)


def test_no_volatility_gives_a_price_below_intrinsic_or_after_expiry() -> None:
    intrinsic = math.exp(-RATE * 0.25) * 200.0
    assert black76.implied_volatility(intrinsic - 1, 6000.0, 5800.0, 0.25, RATE, "C") is None
    assert black76.implied_volatility(6000.0, 6000.0, 5800.0, 0.25, RATE, "C") is None
    assert black76.implied_volatility(10.0, 6000.0, 5800.0, 0.0, RATE, "C") is None
    expired = black76.greeks(6000.0, 5800.0, 0.0, RATE, 0.2, "C")
    assert (expired.price, expired.delta, expired.gamma) == (200.0, 1.0, 0.0)


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="right"):
        black76.price(6000.0, 5800.0, 0.1, RATE, 0.2, "X")
    with pytest.raises(ValueError, match="positive"):
        black76.price(0.0, 5800.0, 0.1, RATE, 0.2, "C")


@pytest.mark.parametrize("symbol", ["ES", "CL", "GC"])
@pytest.mark.parametrize("years", [7 / 365, 0.25, 1.0])
def test_the_smile_makes_puts_richer(symbol: str, years: float) -> None:
    smile = smile_for(symbol)
    forward = 100.0
    put_wing = [smile.volatility(forward, k, years) for k in (60.0, 70.0, 80.0, 90.0, 100.0)]
    assert put_wing == sorted(put_wing, reverse=True)
    assert put_wing[0] > put_wing[-1]
    assert smile.volatility(forward, 90.0, years) > smile.volatility(forward, 110.0, years)


def test_short_expiries_have_the_steeper_skew() -> None:
    smile = smile_for("ES")
    week = smile.volatility(6000.0, 5700.0, 7 / 365) - smile.volatility(6000.0, 6000.0, 7 / 365)
    year = smile.volatility(6000.0, 5700.0, 1.0) - smile.volatility(6000.0, 6000.0, 1.0)
    assert week > year > 0
