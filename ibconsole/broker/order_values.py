"""What the order services hand out: the refusals a caller must handle, an order as the blotter
shows it, what a reconciliation found, a margin estimate and an incomplete roll."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ibconsole.domain.orders import Side
from ibconsole.domain.risk import RiskReport
from ibconsole.domain.rollover import RollPlan


class OrderRefused(Exception):
    """The order was not sent; ``reason`` says why in a sentence, ``report`` has the findings."""

    def __init__(self, reason: str, report: RiskReport | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.report = report


class ConfirmationNeeded(Exception):
    """The checks want the trader's confirmation; nothing was journalled or sent yet."""

    def __init__(self, report: RiskReport) -> None:
        super().__init__("; ".join(f.message for f in report.findings))
        self.report = report


@dataclass(frozen=True, slots=True)
class OrderRow:
    """One order as the blotter shows it: the broker's live view joined with the journal's."""

    key: str  # orderRef; "" for an order placed outside the console
    order_id: int
    perm_id: int
    client_id: int
    con_id: int
    local_symbol: str
    side: Side
    quantity: Decimal
    order_type: str
    limit_price: Decimal | None
    stop_price: Decimal | None
    tif: str
    status: str  # IB's status, or the journal's state when the broker no longer reports it
    filled: Decimal
    remaining: Decimal
    avg_fill_price: Decimal | None
    parent_id: int
    working: bool
    ours: bool
    message: str  # last error or rejection text, "" if none


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """What one reconciliation found, by order key (``fills_recovered``: executions journalled)."""

    matched: tuple[str, ...]
    unknown: tuple[str, ...]
    filled_while_disconnected: tuple[str, ...]
    adopted: tuple[str, ...]
    fills_recovered: int


@dataclass(frozen=True, slots=True)
class MarginImpact:
    """What IB says an order would do to the account (a what-if order, never sent to market)."""

    init_margin_change: Decimal | None
    maint_margin_change: Decimal | None
    init_margin_after: Decimal | None
    equity_with_loan_after: Decimal | None
    commission: Decimal | None
    currency: str
    warning: str


@dataclass(frozen=True, slots=True)
class RollFailure:
    """The close leg filled (in full or in part) but the open leg did not: what was closed in the
    old month is not open in the new one."""

    plan: RollPlan
    reason: str
    exits: str = ""  # what became of the exits the roll cancelled on the old month

    @property
    def sentence(self) -> str:
        leg = self.plan.open
        target = leg.contract.local_symbol if leg else "the new month"
        return (
            f"ROLL INCOMPLETE: {self.plan.close.contract.local_symbol} was closed but opening "
            f"{target} failed ({self.reason}). You are not in the position you intended; "
            f"retry the open leg or enter it by hand."
        ) + (f" {self.exits}" if self.exits else "")
