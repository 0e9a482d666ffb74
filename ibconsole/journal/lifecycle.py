"""Order lifecycle derivation: an order's current state folded from its journal events (pure).

intent → decided → submitted → working / partially filled → final. A final state never changes
again; events that arrive later are kept in the log and still count toward the filled quantity
(an execution is a fact whatever the order's status says), but they do not move the state.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from ibconsole.domain.orders import Side
from ibconsole.journal.errors import JournalError
from ibconsole.journal.events import (
    BrokerStatus,
    CancelRequested,
    CommissionRecorded,
    Decision,
    DecisionRecorded,
    EventPayload,
    ExecutionConflictRecorded,
    FillRecorded,
    IntentRecorded,
    JournalEvent,
    ModificationRecorded,
    ReconciliationOutcome,
    ReconciliationRecorded,
    RejectionRecorded,
    StatusRecorded,
    SubmissionRecorded,
)

_ZERO = Decimal(0)


class OrderState(StrEnum):
    INTENDED = "intended"
    CONFIRMED = "confirmed"
    DECLINED = "declined"
    BLOCKED = "blocked"
    SUBMITTED = "submitted"
    WORKING = "working"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    INACTIVE = "inactive"
    UNKNOWN = "unknown"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATES


FINAL_STATES = frozenset(
    {
        OrderState.DECLINED,
        OrderState.BLOCKED,
        OrderState.FILLED,
        OrderState.CANCELLED,
        OrderState.REJECTED,
        OrderState.INACTIVE,
        OrderState.UNKNOWN,
    }
)

# Non-final states in the order an order moves through them; a late or repeated report never
# moves an order back down this list.
_PROGRESS = (
    OrderState.INTENDED,
    OrderState.CONFIRMED,
    OrderState.SUBMITTED,
    OrderState.WORKING,
    OrderState.PARTIALLY_FILLED,
)

_DECIDED = {
    Decision.CONFIRMED: OrderState.CONFIRMED,
    Decision.DECLINED: OrderState.DECLINED,
    Decision.BLOCKED: OrderState.BLOCKED,
}

_FINAL_STATUS = {
    BrokerStatus.FILLED: OrderState.FILLED,
    BrokerStatus.CANCELLED: OrderState.CANCELLED,
    BrokerStatus.API_CANCELLED: OrderState.CANCELLED,
    # IB: "received by the system but no longer active because it was rejected or cancelled".
    BrokerStatus.INACTIVE: OrderState.INACTIVE,
}

# PendingSubmit/ApiPending: handed over but not yet acknowledged; the others are live at IB.
_LIVE_STATUS = {
    BrokerStatus.PENDING_SUBMIT: OrderState.SUBMITTED,
    BrokerStatus.API_PENDING: OrderState.SUBMITTED,
    BrokerStatus.PRE_SUBMITTED: OrderState.WORKING,
    BrokerStatus.SUBMITTED: OrderState.WORKING,
    BrokerStatus.PENDING_CANCEL: OrderState.WORKING,
}


def exec_base(exec_id: str) -> str:
    """The part of an execution id shared by an execution and its corrections.

    IB publishes a correction as another execDetails whose execId differs only in the digits
    after the final period; the latest one replaces the earlier.
    """
    base, dot, _ = exec_id.rpartition(".")
    return base if dot else exec_id


@dataclass(frozen=True, slots=True)
class FillPart:
    """One execution counted toward the order (corrected executions are replaced, not added)."""

    exec_id: str
    quantity: Decimal
    price: Decimal
    commission: Decimal | None = None
    currency: str | None = None
    realized_pnl: Decimal | None = None
    # A combo's leg execution: it moves a leg's position and carries its commission, but the
    # combo's own execution is what counts toward the order's quantity and price.
    leg: bool = False


@dataclass(frozen=True, slots=True)
class OrderLifecycle:
    """Everything the journal knows about one order beyond its intent."""

    key: str
    con_id: int
    side: Side
    quantity: Decimal
    state: OrderState
    updated_at: datetime
    parent_key: str | None = None
    decision: Decision | None = None
    findings: tuple[str, ...] = ()
    order_id: int | None = None
    client_id: int | None = None
    perm_id: int | None = None
    broker_status: BrokerStatus | None = None
    reported_filled: Decimal = _ZERO
    reported_avg_price: Decimal | None = None
    fills: tuple[FillPart, ...] = ()
    cancel_requested: bool = False
    cancel_reason: str | None = None
    rejection: str | None = None
    reconciliation: ReconciliationOutcome | None = None
    # A combo's legs: (conId, the side it trades when the combo trades on ``side``)
    legs: tuple[tuple[int, Side], ...] = ()

    @property
    def is_final(self) -> bool:
        return self.state.is_final

    @property
    def order_fills(self) -> tuple[FillPart, ...]:
        """The executions of the order itself (a combo's own, not its legs')."""
        return tuple(part for part in self.fills if not part.leg)

    @property
    def leg_fills(self) -> tuple[FillPart, ...]:
        return tuple(part for part in self.fills if part.leg)

    @property
    def executed(self) -> Decimal:
        """Quantity of the executions journalled for this order (a combo's own only: IB
        reports each leg besides, and counting those too would count the spread thrice)."""
        return sum((part.quantity for part in self.order_fills), _ZERO)

    @property
    def filled(self) -> Decimal:
        """Executions and status reports can arrive in either order; the larger is the truth."""
        return max(self.executed, self.reported_filled)

    @property
    def remaining(self) -> Decimal:
        return max(self.quantity - self.filled, _ZERO)

    @property
    def avg_fill_price(self) -> Decimal | None:
        executed, fills = self.executed, self.order_fills
        if fills and executed >= self.reported_filled:
            return sum((part.quantity * part.price for part in fills), _ZERO) / executed
        return self.reported_avg_price if self.reported_filled > 0 else None

    @property
    def commission(self) -> Decimal:
        return sum((p.commission for p in self.fills if p.commission is not None), _ZERO)

    @property
    def commission_currency(self) -> str | None:
        return next((p.currency for p in self.fills if p.currency is not None), None)

    @property
    def realized_pnl(self) -> Decimal | None:
        values = [p.realized_pnl for p in self.fills if p.realized_pnl is not None]
        return sum(values, _ZERO) if values else None


def start(intent_event: IntentRecorded, time: datetime) -> OrderLifecycle:
    intent = intent_event.intent
    return OrderLifecycle(
        key=intent.key,
        con_id=intent.contract.con_id,
        side=intent.side,
        quantity=intent.quantity,
        state=OrderState.INTENDED,
        updated_at=time,
        parent_key=intent_event.parent_key,
        legs=tuple((leg.contract.con_id, leg.side_for(intent.side)) for leg in intent.legs),
    )


def derive(events: Iterable[JournalEvent]) -> OrderLifecycle:
    """The lifecycle of one order from all of its events, oldest first (the intent first)."""
    lifecycle: OrderLifecycle | None = None
    for event in events:
        if lifecycle is None:
            if not isinstance(event.payload, IntentRecorded):
                raise JournalError(
                    f"order {event.key}: its first event is a {event.kind}, not the intent"
                )
            lifecycle = start(event.payload, event.time)
        else:
            if event.key != lifecycle.key:
                raise JournalError(
                    f"event {event.id} belongs to order {event.key}, not {lifecycle.key}"
                )
            lifecycle = apply(lifecycle, event.payload, event.time)
    if lifecycle is None:
        raise JournalError("an order's lifecycle needs at least its intent event")
    return lifecycle


def apply(lifecycle: OrderLifecycle, payload: EventPayload, time: datetime) -> OrderLifecycle:
    """The lifecycle after one more event; raises ``JournalError`` if the event cannot happen."""
    key = lifecycle.key
    match payload:
        case IntentRecorded():
            raise JournalError(f"order {key} is already journalled; an order key is never reused")
        case DecisionRecorded(decision=decision, findings=findings):
            _require_undecided(lifecycle)
            return replace(
                lifecycle,
                state=_DECIDED[decision],
                decision=decision,
                findings=findings,
                updated_at=time,
            )
        case SubmissionRecorded():
            return _submitted(lifecycle, payload, time)
        case StatusRecorded():
            return _status(lifecycle, payload, time)
        case FillRecorded():
            return _filled(lifecycle, payload, time)
        case CommissionRecorded():
            return _commission(lifecycle, payload, time)
        case CancelRequested(reason=reason):
            return replace(lifecycle, cancel_requested=True, cancel_reason=reason, updated_at=time)
        case ModificationRecorded(quantity=quantity):
            if lifecycle.is_final or lifecycle.order_id is None:
                raise JournalError(
                    f"order {key} is {lifecycle.state}; only a working order can be modified"
                )
            if quantity < lifecycle.filled:
                raise JournalError(
                    f"order {key}: quantity {quantity} is below the {lifecycle.filled} already filled"
                )
            return replace(lifecycle, quantity=quantity, updated_at=time)
        case RejectionRecorded(code=code, message=message):
            if lifecycle.is_final:
                return replace(lifecycle, updated_at=time)
            return replace(
                lifecycle,
                state=OrderState.REJECTED,
                rejection=f"{code}: {message}",
                updated_at=time,
            )
        case ExecutionConflictRecorded():
            # Which order the execution belongs to is the trader's to find out: it changes
            # neither order's quantities until then.
            return replace(lifecycle, updated_at=time)
        case ReconciliationRecorded(outcome=outcome):
            return _reconciled(lifecycle, outcome, time)


def _require_undecided(lifecycle: OrderLifecycle) -> None:
    if lifecycle.decision is not None:
        raise JournalError(
            f"order {lifecycle.key} was already {lifecycle.decision}; a decision is final"
        )
    if lifecycle.state is not OrderState.INTENDED:
        raise JournalError(
            f"order {lifecycle.key} is already {lifecycle.state}; "
            "a decision must come before the order is sent"
        )


def _submitted(
    lifecycle: OrderLifecycle, payload: SubmissionRecorded, time: datetime
) -> OrderLifecycle:
    key = lifecycle.key
    if lifecycle.state in (OrderState.DECLINED, OrderState.BLOCKED):
        raise JournalError(f"order {key} was {lifecycle.state} and must not be sent")
    if lifecycle.order_id is not None:
        raise JournalError(
            f"order {key} was already submitted as order id {lifecycle.order_id}; "
            "an order is never sent twice"
        )
    if lifecycle.state not in (OrderState.INTENDED, OrderState.CONFIRMED):
        raise JournalError(f"order {key} is already {lifecycle.state} at the broker")
    if (
        payload.parent_key is not None
        and lifecycle.parent_key is not None
        and payload.parent_key != lifecycle.parent_key
    ):
        raise JournalError(
            f"order {key} belongs to parent {lifecycle.parent_key}, not {payload.parent_key}"
        )
    return replace(
        lifecycle,
        state=OrderState.SUBMITTED,
        order_id=payload.order_id,
        client_id=payload.client_id,
        parent_key=payload.parent_key if payload.parent_key is not None else lifecycle.parent_key,
        updated_at=time,
    )


def _progressed(lifecycle: OrderLifecycle, at_least: OrderState) -> OrderState:
    """The furthest of the current state, ``at_least`` and what the filled quantity implies."""
    filled = lifecycle.filled
    if filled >= lifecycle.quantity:
        return OrderState.FILLED
    candidates = [lifecycle.state, at_least]
    if filled > 0:
        candidates.append(OrderState.PARTIALLY_FILLED)
    return max(candidates, key=_PROGRESS.index)


def _status(lifecycle: OrderLifecycle, payload: StatusRecorded, time: datetime) -> OrderLifecycle:
    perm_id = payload.perm_id or lifecycle.perm_id
    if lifecycle.is_final:
        return replace(lifecycle, perm_id=perm_id, updated_at=time)
    updated = replace(
        lifecycle,
        broker_status=payload.status,
        perm_id=perm_id,
        reported_filled=max(lifecycle.reported_filled, payload.filled),
        reported_avg_price=(
            payload.avg_fill_price
            if payload.filled >= lifecycle.reported_filled
            else lifecycle.reported_avg_price
        ),
        cancel_requested=(
            lifecycle.cancel_requested or payload.status is BrokerStatus.PENDING_CANCEL
        ),
        updated_at=time,
    )
    final = _FINAL_STATUS.get(payload.status)
    if final is not None:
        return replace(updated, state=final)
    return replace(updated, state=_progressed(updated, _LIVE_STATUS[payload.status]))


def _filled(lifecycle: OrderLifecycle, payload: FillRecorded, time: datetime) -> OrderLifecycle:
    key = lifecycle.key
    legs = dict(lifecycle.legs)
    leg = payload.con_id != lifecycle.con_id and payload.con_id in legs
    if payload.con_id != lifecycle.con_id and not leg:
        raise JournalError(
            f"execution {payload.exec_id} is for contract {payload.con_id}, "
            f"but order {key} trades contract {lifecycle.con_id}"
        )
    side = legs[payload.con_id] if leg else lifecycle.side
    if payload.side is not side:
        raise JournalError(
            f"execution {payload.exec_id} is a {payload.side}, but order {key} "
            f"{'trades that leg as' if leg else 'is'} a {side}"
        )
    base = exec_base(payload.exec_id)
    parts = tuple(p for p in lifecycle.fills if exec_base(p.exec_id) != base)
    part = FillPart(
        exec_id=payload.exec_id, quantity=payload.quantity, price=payload.price, leg=leg
    )
    updated = replace(lifecycle, fills=(*parts, part), updated_at=time)
    if updated.is_final:
        return updated
    return replace(updated, state=_progressed(updated, OrderState.SUBMITTED))


def _commission(
    lifecycle: OrderLifecycle, payload: CommissionRecorded, time: datetime
) -> OrderLifecycle:
    parts = tuple(
        replace(
            p,
            commission=payload.commission,
            currency=payload.currency,
            realized_pnl=payload.realized_pnl,
        )
        if p.exec_id == payload.exec_id
        else p
        for p in lifecycle.fills
    )
    return replace(lifecycle, fills=parts, updated_at=time)


def _reconciled(
    lifecycle: OrderLifecycle, outcome: ReconciliationOutcome, time: datetime
) -> OrderLifecycle:
    updated = replace(lifecycle, reconciliation=outcome, updated_at=time)
    if lifecycle.is_final:
        return updated
    if outcome is ReconciliationOutcome.UNKNOWN:
        return replace(updated, state=OrderState.UNKNOWN)
    if outcome is ReconciliationOutcome.FILLED_WHILE_DISCONNECTED:
        return replace(updated, state=OrderState.FILLED)
    if outcome is ReconciliationOutcome.ADOPTED:
        return replace(updated, state=_progressed(updated, OrderState.SUBMITTED))
    return updated
