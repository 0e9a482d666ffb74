"""What the journal records: event kinds, their typed payloads and the IB vocabulary they use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar

from ibconsole.domain.orders import OrderIntent, Side


class EventKind(StrEnum):
    INTENT = "intent"
    DECISION = "decision"
    SUBMISSION = "submission"
    STATUS = "status"
    FILL = "fill"
    COMMISSION = "commission"
    CANCEL_REQUEST = "cancel_request"
    MODIFICATION = "modification"
    REJECTION = "rejection"
    RECONCILIATION = "reconciliation"
    EXECUTION_CONFLICT = "execution_conflict"


class Decision(StrEnum):
    """The trader's (or the pre-trade checks') answer before an order may be sent."""

    CONFIRMED = "confirmed"
    DECLINED = "declined"
    BLOCKED = "blocked"


class BrokerStatus(StrEnum):
    """``OrderStatus.status`` as TWS reports it."""

    PENDING_SUBMIT = "PendingSubmit"
    API_PENDING = "ApiPending"
    PRE_SUBMITTED = "PreSubmitted"
    SUBMITTED = "Submitted"
    PENDING_CANCEL = "PendingCancel"
    API_CANCELLED = "ApiCancelled"
    CANCELLED = "Cancelled"
    FILLED = "Filled"
    INACTIVE = "Inactive"


class ReconciliationOutcome(StrEnum):
    """What comparing the journal with the broker's orders and executions found for one key."""

    MATCHED = "matched"
    # Journalled but absent from the broker's open orders, completed orders and executions.
    UNKNOWN = "unknown"
    FILLED_WHILE_DISCONNECTED = "filled_while_disconnected"
    # At the broker with our orderRef but not in the journal (placed by a run that crashed
    # before journalling, or journalled in another file).
    ADOPTED = "adopted"


@dataclass(frozen=True, slots=True)
class IntentRecorded:
    """An order the trader asked for, journalled before anything is sent."""

    KIND: ClassVar[EventKind] = EventKind.INTENT
    intent: OrderIntent
    parent_key: str | None = None


@dataclass(frozen=True, slots=True)
class DecisionRecorded:
    KIND: ClassVar[EventKind] = EventKind.DECISION
    decision: Decision
    findings: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SubmissionRecorded:
    """The order is about to be handed to the broker under ``order_id``."""

    KIND: ClassVar[EventKind] = EventKind.SUBMISSION
    order_id: int
    client_id: int
    parent_key: str | None


@dataclass(frozen=True, slots=True)
class StatusRecorded:
    """One ``orderStatus`` report; ``filled`` and ``remaining`` are cumulative, as IB sends them."""

    KIND: ClassVar[EventKind] = EventKind.STATUS
    status: BrokerStatus
    filled: Decimal
    remaining: Decimal
    avg_fill_price: Decimal | None
    perm_id: int


@dataclass(frozen=True, slots=True)
class FillRecorded:
    """One execution (``execDetails``); ``time`` is when the exchange filled it."""

    KIND: ClassVar[EventKind] = EventKind.FILL
    exec_id: str
    con_id: int
    side: Side
    quantity: Decimal
    price: Decimal
    time: datetime


@dataclass(frozen=True, slots=True)
class CommissionRecorded:
    """The ``commissionReport`` for one execution."""

    KIND: ClassVar[EventKind] = EventKind.COMMISSION
    exec_id: str
    commission: Decimal
    currency: str
    realized_pnl: Decimal | None


@dataclass(frozen=True, slots=True)
class CancelRequested:
    KIND: ClassVar[EventKind] = EventKind.CANCEL_REQUEST
    reason: str


@dataclass(frozen=True, slots=True)
class ModificationRecorded:
    """The working order is about to be changed in place (same order id) to these values."""

    KIND: ClassVar[EventKind] = EventKind.MODIFICATION
    quantity: Decimal
    limit_price: Decimal | None
    stop_price: Decimal | None


@dataclass(frozen=True, slots=True)
class RejectionRecorded:
    """The broker refused the order (IB error ``code``, e.g. 201 "Order rejected")."""

    KIND: ClassVar[EventKind] = EventKind.REJECTION
    code: int
    message: str


@dataclass(frozen=True, slots=True)
class ReconciliationRecorded:
    KIND: ClassVar[EventKind] = EventKind.RECONCILIATION
    outcome: ReconciliationOutcome
    detail: str


@dataclass(frozen=True, slots=True)
class ExecutionConflictRecorded:
    """An execution IB reported for this order whose id is journalled for another order.

    Kept as it arrived, beside the order and apart from its fills: which of the two orders it
    belongs to is for the trader to find out, and it is never lost meanwhile.
    """

    KIND: ClassVar[EventKind] = EventKind.EXECUTION_CONFLICT
    fill: FillRecorded
    journalled_for: str  # the order the execution id was first journalled for


EventPayload = (
    IntentRecorded
    | DecisionRecorded
    | SubmissionRecorded
    | StatusRecorded
    | FillRecorded
    | CommissionRecorded
    | CancelRequested
    | ModificationRecorded
    | RejectionRecorded
    | ReconciliationRecorded
    | ExecutionConflictRecorded
)


@dataclass(frozen=True, slots=True)
class JournalEvent:
    """One row of the append-only event log; ``time`` is when the journal recorded it (UTC)."""

    id: int
    time: datetime
    key: str
    payload: EventPayload

    @property
    def kind(self) -> EventKind:
        return self.payload.KIND
