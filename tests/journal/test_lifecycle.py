"""Order lifecycle derivation: table tests per path through the states, and properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ibconsole.domain.orders import OrderIntent, Side
from ibconsole.journal import (
    FINAL_STATES,
    BrokerStatus,
    CancelRequested,
    CommissionRecorded,
    Decision,
    DecisionRecorded,
    EventPayload,
    FillRecorded,
    IntentRecorded,
    JournalError,
    JournalEvent,
    OrderLifecycle,
    OrderState,
    ReconciliationOutcome,
    ReconciliationRecorded,
    RejectionRecorded,
    StatusRecorded,
    SubmissionRecorded,
    apply,
    derive,
    exec_base,
)
from ibconsole.journal.codec import decode_lifecycle, encode_lifecycle

D = Decimal
START_TIME = datetime(2025, 1, 2, 14, 30, tzinfo=UTC)
CON_ID = 620731015


def _events(intent: OrderIntent, *payloads: EventPayload) -> list[JournalEvent]:
    return [
        JournalEvent(id=n + 1, time=START_TIME + timedelta(seconds=n), key=intent.key, payload=p)
        for n, p in enumerate((IntentRecorded(intent), *payloads))
    ]


def confirmed() -> DecisionRecorded:
    return DecisionRecorded(Decision.CONFIRMED, ())


def submitted() -> SubmissionRecorded:
    return SubmissionRecorded(order_id=7, client_id=1, parent_key=None)


def status(name: BrokerStatus, filled: str = "0", avg: str | None = None) -> StatusRecorded:
    return StatusRecorded(name, D(filled), D(2) - D(filled), None if avg is None else D(avg), 99)


def fill(exec_id: str, qty: str, price: str, side: Side = Side.BUY) -> FillRecorded:
    return FillRecorded(exec_id, CON_ID, side, D(qty), D(price), START_TIME)


SENT = (confirmed(), submitted())

# (case id, payloads after the intent of a 2-lot buy, state, filled, average price)
CASES: list[tuple[str, tuple[EventPayload, ...], OrderState, str, str | None]] = [
    ("intended", (), OrderState.INTENDED, "0", None),
    ("confirmed", (confirmed(),), OrderState.CONFIRMED, "0", None),
    ("declined", (DecisionRecorded(Decision.DECLINED, ("x",)),), OrderState.DECLINED, "0", None),
    ("blocked", (DecisionRecorded(Decision.BLOCKED, ("x",)),), OrderState.BLOCKED, "0", None),
    ("submitted", SENT, OrderState.SUBMITTED, "0", None),
    ("submitted without decision", (submitted(),), OrderState.SUBMITTED, "0", None),
    (
        "pending submit",
        (*SENT, status(BrokerStatus.PENDING_SUBMIT)),
        OrderState.SUBMITTED,
        "0",
        None,
    ),
    ("presubmitted", (*SENT, status(BrokerStatus.PRE_SUBMITTED)), OrderState.WORKING, "0", None),
    ("working", (*SENT, status(BrokerStatus.SUBMITTED)), OrderState.WORKING, "0", None),
    (
        "late pending submit does not step back",
        (*SENT, status(BrokerStatus.SUBMITTED), status(BrokerStatus.PENDING_SUBMIT)),
        OrderState.WORKING,
        "0",
        None,
    ),
    (
        "partial fill by execution",
        (*SENT, status(BrokerStatus.SUBMITTED), fill("e.1.01", "1", "5000")),
        OrderState.PARTIALLY_FILLED,
        "1",
        "5000",
    ),
    (
        "partial fill by status only",
        (*SENT, status(BrokerStatus.SUBMITTED, "1", "4999.75")),
        OrderState.PARTIALLY_FILLED,
        "1",
        "4999.75",
    ),
    (
        "executions complete the order before its Filled status",
        (*SENT, fill("e.1.01", "1", "5000"), fill("e.2.01", "1", "5001")),
        OrderState.FILLED,
        "2",
        "5000.5",
    ),
    (
        "filled",
        (
            *SENT,
            fill("e.1.01", "2", "5000.25"),
            status(BrokerStatus.FILLED, "2", "5000.25"),
        ),
        OrderState.FILLED,
        "2",
        "5000.25",
    ),
    (
        "filled status before its execution",
        (*SENT, status(BrokerStatus.FILLED, "2", "5000.25")),
        OrderState.FILLED,
        "2",
        "5000.25",
    ),
    (
        "cancelled after a partial fill",
        (*SENT, fill("e.1.01", "1", "5000"), status(BrokerStatus.CANCELLED, "1", "5000")),
        OrderState.CANCELLED,
        "1",
        "5000",
    ),
    ("api cancelled", (*SENT, status(BrokerStatus.API_CANCELLED)), OrderState.CANCELLED, "0", None),
    ("inactive", (*SENT, status(BrokerStatus.INACTIVE)), OrderState.INACTIVE, "0", None),
    (
        "rejected, then IB's cancel report",
        (*SENT, RejectionRecorded(201, "Order rejected"), status(BrokerStatus.CANCELLED)),
        OrderState.REJECTED,
        "0",
        None,
    ),
    (
        "pending cancel keeps working",
        (*SENT, status(BrokerStatus.SUBMITTED), status(BrokerStatus.PENDING_CANCEL)),
        OrderState.WORKING,
        "0",
        None,
    ),
    (
        "cancel request alone changes nothing",
        (*SENT, status(BrokerStatus.SUBMITTED), CancelRequested("user")),
        OrderState.WORKING,
        "0",
        None,
    ),
    (
        "unknown to the broker",
        (*SENT, ReconciliationRecorded(ReconciliationOutcome.UNKNOWN, "not at IB")),
        OrderState.UNKNOWN,
        "0",
        None,
    ),
    (
        "unsent intent unknown to the broker",
        (ReconciliationRecorded(ReconciliationOutcome.UNKNOWN, "not at IB"),),
        OrderState.UNKNOWN,
        "0",
        None,
    ),
    (
        "filled while disconnected",
        (
            *SENT,
            fill("e.1.01", "2", "5000"),
            ReconciliationRecorded(ReconciliationOutcome.FILLED_WHILE_DISCONNECTED, ""),
        ),
        OrderState.FILLED,
        "2",
        "5000",
    ),
    (
        "adopted",
        (ReconciliationRecorded(ReconciliationOutcome.ADOPTED, "orderRef seen at IB"),),
        OrderState.SUBMITTED,
        "0",
        None,
    ),
    (
        "matched changes nothing",
        (
            *SENT,
            status(BrokerStatus.SUBMITTED),
            ReconciliationRecorded(ReconciliationOutcome.MATCHED, ""),
        ),
        OrderState.WORKING,
        "0",
        None,
    ),
    (
        "a report after a final state is ignored",
        (*SENT, status(BrokerStatus.CANCELLED), status(BrokerStatus.SUBMITTED, "0")),
        OrderState.CANCELLED,
        "0",
        None,
    ),
    (
        "an out-of-order status does not lower the filled quantity",
        (*SENT, status(BrokerStatus.SUBMITTED, "1", "10"), status(BrokerStatus.SUBMITTED, "0")),
        OrderState.PARTIALLY_FILLED,
        "1",
        "10",
    ),
    (
        "a corrected execution replaces the one it corrects",
        (*SENT, fill("e.1.01", "1", "5000"), fill("e.1.02", "1", "5000.5")),
        OrderState.PARTIALLY_FILLED,
        "1",
        "5000.5",
    ),
]


@pytest.mark.parametrize(
    ("payloads", "state", "filled", "avg"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_derived_state(
    make_intent: Any,
    payloads: tuple[EventPayload, ...],
    state: OrderState,
    filled: str,
    avg: str | None,
) -> None:
    lifecycle = derive(_events(make_intent(), *payloads))
    assert lifecycle.state is state
    assert lifecycle.filled == D(filled)
    assert lifecycle.remaining == D(2) - D(filled)
    assert lifecycle.avg_fill_price == (None if avg is None else D(avg))
    assert lifecycle.is_final == (state in FINAL_STATES)


def test_final_states_are_exactly_the_end_states() -> None:
    assert {s for s in OrderState if s.is_final} == {
        OrderState.DECLINED,
        OrderState.BLOCKED,
        OrderState.FILLED,
        OrderState.CANCELLED,
        OrderState.REJECTED,
        OrderState.INACTIVE,
        OrderState.UNKNOWN,
    }


def test_lifecycle_carries_ids_decision_and_flags(make_intent: Any) -> None:
    lifecycle = derive(
        _events(
            make_intent(),
            DecisionRecorded(Decision.CONFIRMED, ("size above 1 lot",)),
            submitted(),
            status(BrokerStatus.SUBMITTED),
            status(BrokerStatus.PENDING_CANCEL),
        )
    )
    assert lifecycle.decision is Decision.CONFIRMED
    assert lifecycle.findings == ("size above 1 lot",)
    assert (lifecycle.order_id, lifecycle.client_id, lifecycle.perm_id) == (7, 1, 99)
    assert lifecycle.broker_status is BrokerStatus.PENDING_CANCEL
    assert lifecycle.cancel_requested
    assert lifecycle.updated_at == START_TIME + timedelta(seconds=4)


def test_commissions_and_realized_pnl_add_up_per_execution(make_intent: Any) -> None:
    lifecycle = derive(
        _events(
            make_intent(),
            *SENT,
            fill("e.1.01", "1", "5000"),
            fill("e.2.01", "1", "5002"),
            CommissionRecorded("e.1.01", D("2.25"), "USD", None),
            CommissionRecorded("e.2.01", D("2.25"), "USD", D("97.75")),
        )
    )
    assert lifecycle.commission == D("4.50")
    assert lifecycle.commission_currency == "USD"
    assert lifecycle.realized_pnl == D("97.75")
    assert lifecycle.avg_fill_price == D(5001)


def test_commission_of_a_corrected_execution_is_not_counted(make_intent: Any) -> None:
    lifecycle = derive(
        _events(
            make_intent(),
            *SENT,
            fill("e.1.01", "1", "5000"),
            fill("e.1.02", "1", "5000"),
            CommissionRecorded("e.1.01", D("2.25"), "USD", None),
        )
    )
    assert lifecycle.commission == 0
    assert lifecycle.commission_currency is None


def test_exec_base_drops_the_correction_digits() -> None:
    assert exec_base("0000e0d5.65f9e2a1.01.01") == "0000e0d5.65f9e2a1.01"
    assert exec_base("plain") == "plain"


INVALID: list[tuple[str, tuple[EventPayload, ...], str]] = [
    ("decision twice", (confirmed(), confirmed()), "already confirmed"),
    ("decision after submission", (submitted(), confirmed()), "before the order is sent"),
    (
        "declined order sent",
        (DecisionRecorded(Decision.DECLINED, ()), submitted()),
        "declined and must not be sent",
    ),
    ("sent twice", (*SENT, submitted()), "never sent twice"),
    (
        "submission of an order already live",
        (status(BrokerStatus.SUBMITTED), submitted()),
        "already working",
    ),
    ("wrong side", (*SENT, fill("e.1.01", "1", "1", Side.SELL)), "is a SELL"),
    (
        "wrong contract",
        (*SENT, FillRecorded("e.1.01", 1, Side.BUY, D(1), D(1), START_TIME)),
        "contract 1",
    ),
]


@pytest.mark.parametrize(
    ("payloads", "message"), [pytest.param(*case[1:], id=case[0]) for case in INVALID]
)
def test_impossible_event_is_refused(
    make_intent: Any, payloads: tuple[EventPayload, ...], message: str
) -> None:
    with pytest.raises(JournalError, match=message):
        derive(_events(make_intent(), *payloads))


def test_a_second_intent_for_the_same_key_is_refused(make_intent: Any) -> None:
    with pytest.raises(JournalError, match="never reused"):
        derive(_events(make_intent(), IntentRecorded(make_intent())))


def test_derive_needs_the_intent_first(make_intent: Any) -> None:
    events = _events(make_intent(), confirmed())
    with pytest.raises(JournalError, match="not the intent"):
        derive(events[1:])
    with pytest.raises(JournalError, match="at least its intent"):
        derive([])


def test_derive_refuses_another_orders_event(make_intent: Any) -> None:
    first, second = _events(make_intent(), confirmed())
    stranger = JournalEvent(second.id, second.time, "ibc-other", second.payload)
    with pytest.raises(JournalError, match="belongs to order ibc-other"):
        derive([first, stranger])


# -- properties ----------------------------------------------------------------------------


@st.composite
def valid_histories(draw: st.DrawFn) -> tuple[Decimal, list[EventPayload]]:
    """A history IB and the console could really produce for one order of ``quantity`` lots."""
    quantity = D(draw(st.integers(1, 10)))
    payloads: list[EventPayload] = []
    decision = draw(st.sampled_from([None, *Decision]))
    if decision is not None:
        payloads.append(DecisionRecorded(decision, ()))
    if decision in (Decision.DECLINED, Decision.BLOCKED) or not draw(st.booleans()):
        payloads.extend(
            draw(
                st.lists(
                    st.sampled_from(
                        [
                            CancelRequested("user"),
                            ReconciliationRecorded(ReconciliationOutcome.UNKNOWN, ""),
                        ]
                    ),
                    max_size=2,
                )
            )
        )
        return quantity, payloads
    payloads.append(SubmissionRecorded(1, 1, None))
    executions: dict[str, Decimal] = {}  # exec base -> quantity of its latest version
    reported = D(0)
    for n in range(draw(st.integers(0, 25))):
        executed = sum(executions.values(), D(0))
        step = draw(
            st.sampled_from(
                ["fill", "correction", "status", "commission", "cancel", "reject", "reconcile"]
            )
        )
        if step == "fill" and executed < quantity:
            qty = D(draw(st.integers(1, int(quantity - executed))))
            executions[f"e{n}.01"] = qty
            payloads.append(FillRecorded(f"e{n}.01.01", CON_ID, Side.BUY, qty, D(n), START_TIME))
        elif step == "correction" and executions:
            base = draw(st.sampled_from(sorted(executions)))
            room = quantity - executed + executions[base]
            qty = D(draw(st.integers(1, int(room))))
            executions[base] = qty
            payloads.append(
                FillRecorded(f"{base}.{n + 2:02d}", CON_ID, Side.BUY, qty, D(n), START_TIME)
            )
        elif step == "status":
            name = draw(st.sampled_from(list(BrokerStatus)))
            reported = max(reported, D(draw(st.integers(0, int(quantity)))))
            if name is BrokerStatus.FILLED:
                reported = quantity
            payloads.append(StatusRecorded(name, reported, quantity - reported, D(n), 5))
        elif step == "commission" and executions:
            base = draw(st.sampled_from(sorted(executions)))
            payloads.append(CommissionRecorded(f"{base}.01", D("1.1"), "USD", None))
        elif step == "cancel":
            payloads.append(CancelRequested("user"))
        elif step == "reject":
            payloads.append(RejectionRecorded(201, "Order rejected"))
        elif step == "reconcile":
            payloads.append(
                ReconciliationRecorded(draw(st.sampled_from(list(ReconciliationOutcome))), "")
            )
    return quantity, payloads


@settings(max_examples=300, deadline=None)
@given(history=valid_histories())
def test_valid_histories_never_overfill_and_final_states_stick(
    make_intent: Any, history: tuple[Decimal, list[EventPayload]]
) -> None:
    quantity, payloads = history
    events = _events(make_intent(quantity=quantity), *payloads)
    lifecycle: OrderLifecycle = derive(events[:1])
    for event in events[1:]:
        before = lifecycle
        lifecycle = apply(before, event.payload, event.time)
        assert lifecycle.filled <= quantity
        assert lifecycle.remaining == quantity - lifecycle.filled
        if before.is_final:
            assert lifecycle.state is before.state
        assert decode_lifecycle(encode_lifecycle(lifecycle)) == lifecycle
    assert derive(events) == lifecycle
