"""What happens to an option position when the option expires, as CME settles it.

Out of the money: it expires worthless (closed at 0; a long loses its premium, a short keeps
it). In the money: options that expire with their future (E-mini quarterly options, exercised
into the expiring future that settles to the Special Opening Quotation) are settled in cash at
their intrinsic value; the others are exercised into the underlying future at the strike — a
long call or a short put becomes long the future, a long put or a short call short it (CME:
"Option exercise results in a position in the underlying futures contract"; in-the-money
options are exercised automatically). No commission is charged for either.
"""

from __future__ import annotations

from decimal import Decimal

from ibconsole.sim.accounts import Accounts
from ibconsole.sim.instruments import Instrument

__all__ = ["intrinsic_value", "settle"]

_ZERO = Decimal(0)


def intrinsic_value(option: Instrument, underlying_price: Decimal) -> Decimal:
    if option.right == "C":
        return max(underlying_price - option.strike, _ZERO)
    return max(option.strike - underlying_price, _ZERO)


def settle(
    books: Accounts,
    account: str,
    option: Instrument,
    underlying: Instrument,
    settlement: Decimal,
) -> list[Instrument]:
    """Book ``option``'s expiry in ``account`` at the underlying's ``settlement`` price; the
    instruments whose position changed."""
    held = books.quantity(account, option.con_id)
    if not held:
        return []
    size = abs(held)
    closing = "SELL" if held > 0 else "BUY"
    value = intrinsic_value(option, settlement)
    expires_with_future = underlying.last_trade_date == option.last_trade_date
    if not value or expires_with_future:
        books.apply_fill(account, option, closing, size, value, fee=_ZERO)
        return [option]
    books.apply_fill(account, option, closing, size, _ZERO, fee=_ZERO)
    long_future = (held > 0) == (option.right == "C")
    books.apply_fill(
        account, underlying, "BUY" if long_future else "SELL", size, option.strike, _ZERO
    )
    return [option, underlying]
