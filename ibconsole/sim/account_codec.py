"""Account messages on the wire: position, updatePortfolio, updateAccountValue,
accountUpdateTime, accountSummary, accountUpdateMulti, pnl and pnlSingle."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from ibconsole.sim.accounts import PositionView

__all__ = [
    "account_summary_fields",
    "account_time_fields",
    "account_update_multi_fields",
    "account_value_fields",
    "pnl_fields",
    "pnl_single_fields",
    "portfolio_fields",
    "position_fields",
]


def position_fields(view: PositionView) -> tuple[object, ...]:
    """position (msg 61, version 3): exactly 16 fields; the contract keeps ``exchange``."""
    block = view.instrument.contract_fields()
    return (61, 3, view.account, *block[0:8], *block[9:12], view.quantity, view.avg_cost)


def portfolio_fields(view: PositionView) -> tuple[object, ...]:
    """updatePortfolio (msg 7, version 8): exactly 20 fields; the contract keeps
    ``primaryExchange`` instead of ``exchange``."""
    block = view.instrument.contract_fields()
    return (
        7,
        8,
        *block[0:7],
        *block[8:12],
        view.quantity,
        view.market_price,
        view.market_value,
        view.avg_cost,
        view.unrealized_pnl,
        view.realized_pnl,
        view.account,
    )


def account_value_fields(key: str, value: str, currency: str, account: str) -> tuple[object, ...]:
    """updateAccountValue (msg 6, version 2)."""
    return (6, 2, key, value, currency, account)


def account_time_fields(moment: datetime) -> tuple[object, ...]:
    """updateAccountTime (msg 8, version 1): ``HH:MM`` of the last account update."""
    return (8, 1, moment.strftime("%H:%M"))


def account_summary_fields(
    req_id: int, account: str, tag: str, value: str, currency: str
) -> tuple[object, ...]:
    """accountSummary (msg 63, version 1)."""
    return (63, 1, req_id, account, tag, value, currency)


def account_update_multi_fields(
    req_id: int, account: str, model_code: str, key: str, value: str, currency: str
) -> tuple[object, ...]:
    """accountUpdateMulti (msg 73, version 1)."""
    return (73, 1, req_id, account, model_code, key, value, currency)


def pnl_fields(
    req_id: int, daily: Decimal, unrealized: Decimal, realized: Decimal
) -> tuple[object, ...]:
    """pnl (msg 94, no version field)."""
    return (94, req_id, daily, unrealized, realized)


def pnl_single_fields(req_id: int, view: PositionView | None) -> tuple[object, ...]:
    """pnlSingle (msg 95, no version field); zeros for a contract never traded.

    The position goes out as a whole number: the clients parse it with ``int()``."""
    if view is None:
        return (95, req_id, 0, Decimal(0), Decimal(0), Decimal(0), Decimal(0))
    return (
        95,
        req_id,
        int(view.quantity),
        view.daily_pnl,
        view.unrealized_pnl,
        view.realized_pnl,
        view.market_value,
    )
