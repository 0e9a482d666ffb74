"""The simulator's order vocabulary: what a client asked for, what the exchange made of it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Final

__all__ = [
    "DONE_STATUSES",
    "ComboLegRef",
    "ContractRef",
    "Execution",
    "OrderKey",
    "OrderRequest",
    "OrderSnapshot",
    "ReceivedOrder",
    "Status",
    "WhatIf",
]

OrderKey = tuple[int, int]
"""(clientId, orderId): how IB and its clients tell API orders apart."""


class Status:
    """IB order status names as they appear in orderStatus and openOrder messages."""

    PENDING_SUBMIT: Final = "PendingSubmit"
    PRE_SUBMITTED: Final = "PreSubmitted"
    SUBMITTED: Final = "Submitted"
    CANCELLED: Final = "Cancelled"
    FILLED: Final = "Filled"


DONE_STATUSES: Final = frozenset({Status.FILLED, Status.CANCELLED})


@dataclass(frozen=True, slots=True)
class ContractRef:
    """The twelve contract fields of an inbound request, as the client sent them."""

    con_id: int
    symbol: str
    sec_type: str
    last_trade_date: str
    strike: str
    right: str
    multiplier: str
    exchange: str
    primary_exchange: str
    currency: str
    local_symbol: str
    trading_class: str

    def fields(self) -> list[str]:
        """The twelve fields in wire order, conId as text."""
        return [
            str(self.con_id),
            self.symbol,
            self.sec_type,
            self.last_trade_date,
            self.strike,
            self.right,
            self.multiplier,
            self.exchange,
            self.primary_exchange,
            self.currency,
            self.local_symbol,
            self.trading_class,
        ]


@dataclass(frozen=True, slots=True)
class ComboLegRef:
    """One leg of a BAG contract as the client sent it in placeOrder (eight fields)."""

    con_id: int
    ratio: int
    action: str
    exchange: str
    open_close: int = 0
    short_sale_slot: int = 0
    designated_location: str = ""
    exempt_code: int = -1


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """One decoded placeOrder message (msg 3): a new order, a modification, or a what-if.

    Prices are ``None`` when the client left them unset; ``conditions`` keeps each order
    condition as its raw fields (the simulator does not execute conditional orders). A BAG
    order carries its legs, per-leg prices and smart-combo routing tags as sent.
    """

    order_id: int
    contract: ContractRef
    action: str
    quantity: Decimal
    order_type: str
    lmt_price: Decimal | None
    aux_price: Decimal | None
    tif: str
    oca_group: str
    account: str
    open_close: str
    origin: int
    order_ref: str
    transmit: bool
    parent_id: int
    block_order: bool
    sweep_to_fill: bool
    display_size: int
    trigger_method: int
    outside_rth: bool
    hidden: bool
    discretionary_amt: Decimal | None
    good_after_time: str
    good_till_date: str
    fa_group: str
    fa_method: str
    fa_percentage: str
    fa_profile: str
    model_code: str
    oca_type: int
    rule80a: str
    all_or_none: bool
    min_qty: int | None
    trail_stop_price: Decimal | None
    trailing_percent: Decimal | None
    hedge_type: str
    hedge_param: str
    not_held: bool
    algo_strategy: str
    algo_params: tuple[tuple[str, str], ...]
    algo_id: str
    what_if: bool
    conditions: tuple[tuple[str, ...], ...]
    cash_qty: Decimal | None
    advanced_error_override: str
    manual_order_time: str
    combo_legs: tuple[ComboLegRef, ...] = ()
    order_combo_prices: tuple[Decimal | None, ...] = ()
    smart_combo_params: tuple[tuple[str, str], ...] = ()

    @property
    def is_buy(self) -> bool:
        return self.action == "BUY"


@dataclass(frozen=True, slots=True)
class ReceivedOrder:
    """A placeOrder as the simulator received it, recorded before any matching."""

    client_id: int
    received_at: datetime
    request: OrderRequest
    is_modify: bool


@dataclass(frozen=True, slots=True)
class OrderSnapshot:
    """The exchange's view of one order at one moment, ready to be reported to its client."""

    client_id: int
    order_id: int
    perm_id: int
    con_id: int
    request: OrderRequest
    status: str
    filled: Decimal
    remaining: Decimal
    avg_fill_price: Decimal
    last_fill_price: Decimal
    parent_id: int
    why_held: str
    updated_at: datetime

    @property
    def key(self) -> OrderKey:
        return (self.client_id, self.order_id)


@dataclass(frozen=True, slots=True)
class Execution:
    """One fill of one order, with its commission and the P&L it realised."""

    exec_id: str
    time: datetime
    account: str
    client_id: int
    order_id: int
    perm_id: int
    con_id: int
    side: str
    shares: Decimal
    price: Decimal
    cum_qty: Decimal
    avg_price: Decimal
    order_ref: str
    model_code: str
    commission: Decimal
    commission_currency: str
    realized_pnl: Decimal | None


@dataclass(frozen=True, slots=True)
class WhatIf:
    """What an order would do to the account: margin and equity with loan before and after
    it executed, and the commission it would cost, in the account currency."""

    init_before: Decimal
    maint_before: Decimal
    equity_before: Decimal
    init_after: Decimal
    maint_after: Decimal
    equity_after: Decimal
    commission: Decimal
    currency: str

    @property
    def init_change(self) -> Decimal:
        return self.init_after - self.init_before

    @property
    def maint_change(self) -> Decimal:
        return self.maint_after - self.maint_before

    @property
    def equity_change(self) -> Decimal:
        return self.equity_after - self.equity_before
