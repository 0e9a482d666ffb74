"""Account and portfolio snapshots: what the blotter shows and the daily-loss check reads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class PortfolioRow:
    account: str
    con_id: int
    symbol: str
    local_symbol: str
    quantity: Decimal
    avg_cost: Decimal  # IB convention: per contract, price × multiplier for futures
    market_price: Decimal | None
    market_value: Decimal | None
    unrealized_pnl: Decimal | None
    realized_pnl: Decimal | None
    daily_pnl: Decimal | None = None  # today's P&L of this position (IB's reqPnLSingle)


# Account value tags the console shows, in display order (IB's reqAccountUpdates keys).
SUMMARY_TAGS: tuple[str, ...] = (
    "NetLiquidation",
    "AvailableFunds",
    "ExcessLiquidity",
    "InitMarginReq",
    "MaintMarginReq",
    "BuyingPower",
    "TotalCashValue",
    "UnrealizedPnL",
    "RealizedPnL",
)


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    account: str
    currency: str
    values: Mapping[str, Decimal] = field(default_factory=dict)  # tag -> value in ``currency``
    daily_pnl: Decimal | None = None
    unrealized_pnl: Decimal | None = None
    realized_pnl: Decimal | None = None
    updated_at: datetime | None = None

    def value(self, tag: str) -> Decimal | None:
        return self.values.get(tag)
