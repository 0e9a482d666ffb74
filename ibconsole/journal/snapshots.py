"""Frozen snapshots the journal hands to the blotter and the reconciler: orders and fills."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from ibconsole.domain.orders import OrderIntent, Side
from ibconsole.journal.lifecycle import OrderLifecycle, OrderState


@dataclass(frozen=True, slots=True)
class JournalOrder:
    """An order as journalled: what was asked for and where it stands now."""

    intent: OrderIntent
    lifecycle: OrderLifecycle

    @property
    def key(self) -> str:
        return self.intent.key

    @property
    def state(self) -> OrderState:
        return self.lifecycle.state

    @property
    def is_final(self) -> bool:
        return self.lifecycle.is_final


@dataclass(frozen=True, slots=True)
class JournalFill:
    """One execution of an order, with its commission once IB has reported it."""

    exec_id: str
    key: str
    con_id: int
    side: Side
    quantity: Decimal
    price: Decimal
    time: datetime
    commission: Decimal | None
    commission_currency: str | None
    realized_pnl: Decimal | None
