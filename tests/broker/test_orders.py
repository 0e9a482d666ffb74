"""Order entry through the Broker facade against the paper gateway over TCP.

Checks with the live position, working orders and quote; the intent journalled before it is sent;
brackets as one group; cancel, cancel all, modify; rejects, duplicates, fat fingers and pacing.
After each test the journal, the session's orders and the simulator's orders must agree, and no
orderRef reached the simulator twice.

The simulated market is quiet (it does not tick on its own): market orders fill at once at the
touch, resting orders stay put, and a test that needs a resting order filled steps the market.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ibconsole.broker.broker import Broker
from ibconsole.broker.order_values import ConfirmationNeeded, OrderRefused
from ibconsole.broker.session import Endpoint
from ibconsole.domain.health import HealthSettings
from ibconsole.domain.risk import Check, RiskLimits, SymbolLimits
from ibconsole.journal import EventKind, Journal, JournalFill, OrderState

# IB's outbound message id of placeOrder, as the gateway sees it.
PLACE_ORDER = "3"

if TYPE_CHECKING:
    # the fixtures' types, from tests/broker/conftest.py
    from conftest import Rig, RigFactory, WaitFor


# ---------------------------------------------------------------------------- submit


async def test_market_order_is_journalled_before_it_is_sent_and_fills_once(rig: Rig) -> None:
    fills: list[JournalFill] = []
    rig.broker.orders.fill_recorded += fills.append
    intent = rig.intent(quantity=2)

    journalled = rig.broker.orders.submit(intent)

    # submit() returns once the submission is journalled; the fill comes later from the wire
    assert journalled.key == intent.key
    assert rig.state(intent.key) is OrderState.SUBMITTED
    assert await rig.final(intent.key) is OrderState.FILLED
    kinds = [e.kind for e in rig.journal.events(intent.key)]
    assert kinds[:3] == [EventKind.INTENT, EventKind.DECISION, EventKind.SUBMISSION]
    assert EventKind.FILL in kinds
    received = [o for o in rig.gw.orders if o.request.order_ref == intent.key]
    assert len(received) == 1
    assert received[0].request.quantity == Decimal(2)
    assert received[0].request.order_type == "MKT"
    assert received[0].client_id == rig.client_id
    order = rig.journal.order(intent.key)
    assert order is not None
    assert order.lifecycle.filled == Decimal(2)
    assert order.lifecycle.order_id == received[0].request.order_id
    assert rig.row(intent.key).status == "Filled"
    position = rig.broker.account.position(rig.es.con_id)
    assert position is not None
    assert position.quantity == Decimal(2)
    # once when the execution is journalled, again when its commission arrives
    assert {f.key for f in fills} == {intent.key}
    assert fills[-1].commission is not None
    assert fills[-1].commission > 0
    rig.assert_agree()


async def test_bracket_goes_out_as_one_group_transmitted_by_its_last_leg(
    rig: Rig, wait_for: WaitFor
) -> None:
    entry = rig.bid(-8)
    intent = rig.intent(
        order_type="LMT",
        limit_price=entry,
        take_profit=entry + 10,
        stop_loss=entry - 10,
    )

    rig.broker.orders.submit(intent)

    tp, sl = intent.take_profit_key, intent.stop_loss_key
    keys = (intent.key, tp, sl)
    await wait_for(lambda: all(rig.state(k) is OrderState.WORKING for k in keys))
    received = {o.request.order_ref: o.request for o in rig.gw.orders}
    assert [o.request.order_ref for o in rig.gw.orders] == list(keys)
    parent = received[intent.key]
    assert (parent.transmit, parent.parent_id) == (False, 0)
    assert (received[tp].transmit, received[tp].parent_id) == (False, parent.order_id)
    assert (received[sl].transmit, received[sl].parent_id) == (True, parent.order_id)
    assert (received[tp].action, received[tp].order_type, received[tp].lmt_price) == (
        "SELL",
        "LMT",
        entry + 10,
    )
    assert (received[sl].action, received[sl].order_type, received[sl].aux_price) == (
        "SELL",
        "STP",
        entry - 10,
    )
    children = rig.journal.order(tp), rig.journal.order(sl)
    assert all(c is not None and c.lifecycle.parent_key == intent.key for c in children)
    assert rig.row(intent.key).status == "Submitted"
    assert {rig.row(tp).status, rig.row(sl).status} == {"PreSubmitted"}
    assert {rig.sim_status(k) for k in keys} == {"Submitted", "PreSubmitted"}
    rig.assert_agree()


async def test_same_intent_twice_is_refused_and_sent_once(rig: Rig, wait_for: WaitFor) -> None:
    intent = rig.intent(order_type="LMT", limit_price=rig.bid(-8))
    rig.broker.orders.submit(intent)

    with pytest.raises(OrderRefused, match="already"):
        rig.broker.orders.submit(intent, confirmed=True)

    await wait_for(lambda: rig.state(intent.key) is OrderState.WORKING)
    assert rig.sent(intent.key) == 1
    rig.assert_agree()


async def test_duplicate_click_asks_for_confirmation_then_sends_or_declines(
    rig: Rig, wait_for: WaitFor
) -> None:
    first = rig.intent(order_type="LMT", limit_price=rig.bid(-8))
    rig.broker.orders.submit(first)
    again = rig.intent(order_type="LMT", limit_price=rig.bid(-8))

    with pytest.raises(ConfirmationNeeded) as asked:
        rig.broker.orders.submit(again)

    assert [f.check for f in asked.value.report.findings] == [Check.DUPLICATE]
    assert rig.journal.order(again.key) is None, "nothing is journalled before the answer"
    assert rig.sent(again.key) == 0
    third = rig.intent(order_type="LMT", limit_price=rig.bid(-8))
    with pytest.raises(ConfirmationNeeded) as asked_again:
        rig.broker.orders.submit(third)
    rig.broker.orders.decline(third, asked_again.value.report)
    rig.broker.orders.submit(again, confirmed=True)

    await wait_for(lambda: rig.state(again.key) is OrderState.WORKING)
    assert rig.state(third.key) is OrderState.DECLINED
    assert rig.sent(first.key) == rig.sent(again.key) == 1
    assert rig.sent(third.key) == 0
    rig.assert_agree()


async def test_fat_finger_quantity_is_blocked_journalled_and_never_sent(rig: Rig) -> None:
    intent = rig.intent(quantity=500)

    with pytest.raises(OrderRefused, match="Quantity 500 is above your limit") as refused:
        rig.broker.orders.submit(intent, confirmed=True)

    assert refused.value.report is not None
    assert refused.value.report.blocked
    order = rig.journal.order(intent.key)
    assert order is not None
    assert order.state is OrderState.BLOCKED
    assert any("Quantity 500" in f for f in order.lifecycle.findings)
    assert rig.gw.orders == []
    assert rig.broker.orders.rows() == ()
    rig.assert_agree()


async def test_position_and_working_orders_come_from_the_session(
    make_rig: RigFactory, wait_for: WaitFor
) -> None:
    rig = await make_rig(limits=RiskLimits(defaults=SymbolLimits(max_position=Decimal(3))))
    long = rig.intent(quantity=2)
    rig.broker.orders.submit(long)
    assert await rig.final(long.key) is OrderState.FILLED
    await wait_for(lambda: rig.held() == Decimal(2))
    resting = rig.intent(order_type="LMT", limit_price=rig.bid(-8))
    rig.broker.orders.submit(resting)
    more = rig.intent(order_type="LMT", limit_price=rig.bid(-9))

    with pytest.raises(OrderRefused, match=r"you would be long 4 .* You hold 2 now"):
        rig.broker.orders.submit(more, confirmed=True)

    assert rig.state(more.key) is OrderState.BLOCKED
    assert rig.sent(more.key) == 0
    reduce = rig.intent(side="SELL", quantity=1)
    rig.broker.orders.submit(reduce, confirmed=True)
    assert await rig.final(reduce.key) is OrderState.FILLED
    rig.assert_agree()


async def test_read_only_connection_refuses_orders_with_the_reason(make_rig: RigFactory) -> None:
    rig = await make_rig(read_only=True)
    intent = rig.intent()

    with pytest.raises(OrderRefused, match="read-only"):
        rig.broker.orders.submit(intent, confirmed=True)

    assert rig.state(intent.key) is OrderState.BLOCKED
    assert rig.gw.orders == []


async def test_orders_are_refused_before_connecting(rig: Rig, tmp_path: Path) -> None:
    journal = Journal(tmp_path / "idle.sqlite", rig.broker.clock)
    idle = Broker(
        Endpoint("127.0.0.1", rig.gw.port, rig.client_id + 1),
        journal,
        rig.broker.clock,
        health=HealthSettings(),
        limits=RiskLimits(),
    )
    intent = rig.intent()
    try:
        with pytest.raises(OrderRefused, match="Orders are blocked while the connection is"):
            idle.orders.submit(intent, confirmed=True)
        report = idle.orders.assess(intent)
        assert report.blocked
        assert any(
            f.check is Check.POSITION and "could not be read" in f.message for f in report.findings
        )
        blocked = journal.order(intent.key)
        assert blocked is not None
        assert blocked.state is OrderState.BLOCKED
    finally:
        journal.close()
    assert rig.gw.orders == []


# ------------------------------------------------------------------ cancel, modify


async def test_cancel_ends_the_order_in_all_three_places(rig: Rig, wait_for: WaitFor) -> None:
    intent = rig.intent(order_type="LMT", limit_price=rig.bid(-8))
    rig.broker.orders.submit(intent)
    await wait_for(lambda: rig.state(intent.key) is OrderState.WORKING)

    rig.broker.orders.cancel(rig.row(intent.key).order_id)

    assert await rig.final(intent.key) is OrderState.CANCELLED
    order = rig.journal.order(intent.key)
    assert order is not None
    assert order.lifecycle.cancel_requested
    assert rig.sim_status(intent.key) == "Cancelled"
    assert not rig.row(intent.key).working
    with pytest.raises(OrderRefused, match="not working"):
        rig.broker.orders.cancel(rig.row(intent.key).order_id)
    rig.assert_agree()


async def test_a_bracket_cancelled_before_ib_answered_ends_as_ib_says(
    rig: Rig, wait_for: WaitFor
) -> None:
    # ib_insync marks an untransmitted order still PendingSubmit Cancelled on the spot; the
    # parent of a bracket is untransmitted, yet its group went out with the last leg and fills.
    entry = rig.bid(+8)  # marketable: it fills the moment the group arrives
    intent = rig.intent(
        order_type="LMT", limit_price=entry, take_profit=entry + 10, stop_loss=entry - 10
    )
    rig.gw.faults.delay_replies(0.2)
    rig.broker.orders.submit(intent)

    rig.broker.orders.cancel(rig.row(intent.key).order_id)

    assert rig.row(intent.key).status == "PendingCancel"
    assert await rig.final(intent.key) is OrderState.FILLED
    assert rig.sim_status(intent.key) == "Filled"
    await wait_for(lambda: rig.held() == Decimal(1), what="the position")
    rig.gw.faults.delay_replies(0)
    rig.broker.orders.cancel_all()
    for key in (intent.take_profit_key, intent.stop_loss_key):
        assert await rig.final(key) is OrderState.CANCELLED
    rig.assert_agree()


@pytest.mark.expect_log_warnings
async def test_an_order_the_gateway_lost_ends_unknown_when_its_cancel_finds_nothing(
    rig: Rig, wait_for: WaitFor, monkeypatch: pytest.MonkeyPatch
) -> None:
    # TWS lost the order on a socket that stays up: no acknowledgement, no reconnect, and a
    # reload of the open orders says nothing about an order IB never had.
    lost = _lose_next_order(rig, monkeypatch)
    intent = rig.intent(order_type="LMT", limit_price=rig.bid(-8))
    rig.broker.orders.submit(intent)
    await wait_for(lambda: lost, what="the gateway to lose the order")
    assert rig.state(intent.key) is OrderState.SUBMITTED

    rig.broker.orders.cancel(rig.row(intent.key).order_id)

    assert await rig.final(intent.key) is OrderState.UNKNOWN
    assert rig.sent(intent.key) == 0
    assert any("never reached IB" in m and not critical for m, critical in rig.alerts)
    assert rig.row(intent.key).status == OrderState.UNKNOWN.value
    rig.assert_agree()


def _lose_next_order(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Make the gateway drop the next placeOrder it receives; the list gets its fields."""
    lost: list[list[str]] = []
    dispatch = rig.gw.dispatch

    def losing(connection: Any, fields: list[str]) -> None:
        if fields[0] == PLACE_ORDER and not lost:
            lost.append(fields)
            return
        dispatch(connection, fields)

    monkeypatch.setattr(rig.gw, "dispatch", losing)
    return lost


async def test_cancel_all_cancels_orders_and_brackets_once_each(
    rig: Rig, wait_for: WaitFor
) -> None:
    single = rig.intent(order_type="LMT", limit_price=rig.bid(-8))
    entry = rig.bid(-12)
    bracket = rig.intent(
        side="BUY",
        quantity=2,
        order_type="LMT",
        limit_price=entry,
        take_profit=entry + 5,
        stop_loss=entry - 5,
    )
    rig.broker.orders.submit(single)
    rig.broker.orders.submit(bracket)
    keys = (single.key, bracket.key, bracket.take_profit_key, bracket.stop_loss_key)
    await wait_for(lambda: all(rig.state(k) is OrderState.WORKING for k in keys))

    sent = rig.broker.orders.cancel_all()

    assert sent == 2, "a bracket's children go with their parent"
    await wait_for(lambda: all(rig.state(k) is OrderState.CANCELLED for k in keys))
    assert {rig.sim_status(k) for k in keys} == {"Cancelled"}
    assert rig.broker.orders.working_orders() == ()
    assert rig.broker.orders.cancel_all() == 0
    rig.assert_agree()


async def test_modify_changes_the_working_order_in_place(rig: Rig, wait_for: WaitFor) -> None:
    intent = rig.intent(order_type="LMT", limit_price=rig.bid(-8))
    rig.broker.orders.submit(intent)
    await wait_for(lambda: rig.state(intent.key) is OrderState.WORKING)
    order_id = rig.row(intent.key).order_id
    price = rig.bid(-6)

    rig.broker.orders.modify(order_id, quantity=Decimal(3), limit_price=price)

    await wait_for(lambda: rig.row(intent.key).quantity == Decimal(3))
    modification = rig.gw.orders[-1]
    assert modification.is_modify
    assert modification.request.order_id == order_id
    assert modification.request.order_ref == intent.key
    assert (modification.request.quantity, modification.request.lmt_price) == (Decimal(3), price)
    order = rig.journal.order(intent.key)
    assert order is not None
    assert order.lifecycle.quantity == Decimal(3)
    assert order.state is OrderState.WORKING
    assert rig.row(intent.key).limit_price == price
    assert EventKind.MODIFICATION in [e.kind for e in rig.journal.events(intent.key)]
    rig.assert_agree()


async def test_modify_is_checked_like_a_new_order(rig: Rig, wait_for: WaitFor) -> None:
    intent = rig.intent(order_type="LMT", limit_price=rig.bid(-8))
    rig.broker.orders.submit(intent)
    await wait_for(lambda: rig.state(intent.key) is OrderState.WORKING)
    order_id = rig.row(intent.key).order_id

    with pytest.raises(OrderRefused, match="Quantity 400 is above your limit"):
        rig.broker.orders.modify(order_id, quantity=Decimal(400))
    with pytest.raises(OrderRefused, match="stop price"):
        rig.broker.orders.modify(order_id, stop_price=rig.bid(-20))
    with pytest.raises(OrderRefused, match="quantity"):
        rig.broker.orders.modify(order_id, quantity=Decimal(0))

    assert [o.is_modify for o in rig.gw.orders] == [False]
    order = rig.journal.order(intent.key)
    assert order is not None
    assert order.lifecycle.quantity == Decimal(1)
    rig.assert_agree()


async def test_an_order_the_journal_has_seen_fill_is_not_modified(
    rig: Rig, wait_for: WaitFor
) -> None:
    # IB reports the execution (journalled at once) before the status that ends the order; a
    # change asked for between the two must be refused, not fail in the journal.
    intent = rig.intent(order_type="LMT", limit_price=rig.bid(-8))
    rig.broker.orders.submit(intent)
    await wait_for(lambda: rig.state(intent.key) is OrderState.WORKING)
    order_id = rig.row(intent.key).order_id
    filled = rig.journal.record_fill(
        intent.key,
        "0000e0d5.execution.01",
        intent.contract.con_id,
        intent.side,
        intent.quantity,
        rig.bid(-8),
        rig.broker.clock.now(),
    )
    assert filled
    assert rig.state(intent.key) is OrderState.FILLED

    with pytest.raises(OrderRefused, match=f"Order {order_id} is filled and cannot be modified"):
        rig.broker.orders.modify(order_id, limit_price=rig.bid(-6), confirmed=True)

    assert [o.is_modify for o in rig.gw.orders] == [False]


@pytest.mark.expect_log_warnings
@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (201, "Modification not allowed"),
        # ib_async keeps an order IB answered with 105 or 321 (ib_insync cancels it)
        (105, "Order being modified does not match original order."),
        (321, "Error validating request.-'bN' : cause - Modification not allowed"),
    ],
)
async def test_rejected_modification_leaves_the_order_working(
    rig: Rig, wait_for: WaitFor, code: int, reason: str
) -> None:
    price = rig.bid(-8)
    intent = rig.intent(order_type="LMT", limit_price=price)
    rig.broker.orders.submit(intent)
    await wait_for(lambda: rig.state(intent.key) is OrderState.WORKING)
    order_id = rig.row(intent.key).order_id
    rig.gw.faults.reject_next_order(reason, code)

    rig.broker.orders.modify(order_id, quantity=Decimal(2), limit_price=rig.bid(-6))

    await wait_for(
        lambda: rig.row(intent.key).status == "Submitted" and reason in rig.row(intent.key).message,
        what="the order back as it was",
    )
    assert rig.sim_status(intent.key) == "Submitted"
    order = rig.journal.order(intent.key)
    assert order is not None
    assert order.state is OrderState.WORKING
    assert order.lifecycle.quantity == Decimal(1)
    row = rig.row(intent.key)
    assert (row.quantity, row.limit_price, row.working) == (Decimal(1), price, True)
    rig.broker.orders.cancel(order_id)
    assert await rig.final(intent.key) is OrderState.CANCELLED
    rig.assert_agree()


@pytest.mark.expect_log_warnings
async def test_an_order_ib_has_not_acknowledged_cannot_be_changed(
    rig: Rig, wait_for: WaitFor
) -> None:
    # A change is a placeOrder with the same order id: had IB rejected the order meanwhile, it
    # would take the change for a new order and the order would reach it twice.
    intent = rig.intent(order_type="LMT", limit_price=rig.bid(-8))
    rig.gw.faults.delay_replies(0.2)
    rig.gw.faults.reject_next_order("Simulated reject")
    rig.broker.orders.submit(intent)
    order_id = rig.row(intent.key).order_id

    with pytest.raises(OrderRefused, match="not acknowledged"):
        rig.broker.orders.modify(order_id, quantity=Decimal(2))

    assert await rig.final(intent.key) is OrderState.REJECTED
    order = rig.journal.order(intent.key)
    assert order is not None
    assert order.lifecycle.quantity == Decimal(1)
    assert len(rig.gw.orders) == 1
    rig.assert_agree()


@pytest.mark.expect_log_warnings
@pytest.mark.parametrize(("placed", "asked", "parts"), [(1, 3, 1), (2, 1, 1), (3, 2, 2)])
async def test_an_order_that_fills_before_ib_confirms_its_change_keeps_the_terms_ib_had(
    rig: Rig, wait_for: WaitFor, placed: int, asked: int, parts: int
) -> None:
    # The journal writes a change down before sending it; IB fills the order on the terms it
    # had and then refuses the change: the journal must not keep the quantity IB never took,
    # nor call the order filled when a first part reaches the quantity asked for.
    intent = rig.intent(quantity=placed, order_type="LMT", limit_price=rig.bid(-1))
    rig.broker.orders.submit(intent)
    await wait_for(lambda: rig.state(intent.key) is OrderState.WORKING)
    rig.gw.desk.set_partial_fills(parts)
    rig.gw.faults.delay_replies(0.3)

    rig.broker.orders.modify(rig.row(intent.key).order_id, quantity=Decimal(asked))
    for _ in range(10_000):
        if rig.sim_status(intent.key) == "Filled":
            break
        rig.gw.market.step(rig.es.con_id)

    assert await rig.final(intent.key) is OrderState.FILLED
    order = rig.journal.order(intent.key)
    assert order is not None
    assert (order.lifecycle.quantity, order.lifecycle.executed) == (placed, placed)
    await wait_for(lambda: any(o.is_modify for o in rig.gw.orders), what="the late change")
    rig.assert_agree()


# ------------------------------------------------------------------ rejects, pacing


@pytest.mark.expect_log_warnings
@pytest.mark.parametrize(
    ("code", "message"),
    [
        (201, "Order rejected - reason:Insufficient margin"),
        # TWS refuses an order itself with 321 (its API in read-only mode, say): ib_async keeps
        # such an order as "ValidationError" where ib_insync cancels it; rejected either way
        (321, "Error validating request.-'bN' : cause - Insufficient margin"),
    ],
)
async def test_reject_is_journalled_with_the_reason_and_nothing_works(
    rig: Rig, code: int, message: str
) -> None:
    rig.gw.faults.reject_next_order(message.partition("reason:")[2] or message, code)
    intent = rig.intent()

    rig.broker.orders.submit(intent)

    assert await rig.final(intent.key) is OrderState.REJECTED
    order = rig.journal.order(intent.key)
    assert order is not None
    assert order.lifecycle.rejection is not None
    assert str(code) in order.lifecycle.rejection
    assert "Insufficient margin" in order.lifecycle.rejection
    assert rig.row(intent.key).message == message
    assert not rig.row(intent.key).working
    assert rig.sent(intent.key) == 1
    assert rig.broker.orders.working_orders() == ()
    position = rig.broker.account.position(rig.es.con_id)
    assert position is not None
    assert position.quantity == 0
    rig.assert_agree()


async def test_a_burst_beyond_the_pacing_limit_is_queued_and_sent_once_each(
    make_rig: RigFactory, wait_for: WaitFor
) -> None:
    # Heartbeats wait in the same pacing queue as the orders: give them the time it takes.
    rig = await make_rig(
        limits=RiskLimits(defaults=SymbolLimits(max_position=None)),
        health=HealthSettings(heartbeat_timeout=timedelta(seconds=3)),
    )
    throttled: list[bool] = []
    rig.broker.session.throttled += throttled.append
    intents = [
        rig.intent(side=side, order_type="LMT", limit_price=rig.bid(-20 if side == "BUY" else 20))
        for side in ("BUY", "SELL") * 30
    ]

    for intent in intents:
        rig.broker.orders.submit(intent, confirmed=True)

    assert throttled[:1] == [True], "ib_insync paces more than 45 requests a second"
    await wait_for(
        lambda: all(rig.state(i.key) is OrderState.WORKING for i in intents),
        what="every order working",
    )
    assert throttled[-1] is False
    assert sorted(o.request.order_ref for o in rig.gw.orders) == sorted(i.key for i in intents)
    rig.assert_agree()


# ------------------------------------------------------------------ helpers


async def test_what_if_estimates_margin_without_sending_or_journalling(rig: Rig) -> None:
    intent = rig.intent(quantity=2)

    impact = await rig.broker.orders.what_if(intent)

    assert impact.init_margin_change is not None
    assert impact.init_margin_change > 0
    assert impact.maint_margin_change is not None
    assert impact.maint_margin_change < impact.init_margin_change
    assert impact.commission is not None
    assert impact.currency == "USD"
    assert rig.gw.orders == []
    assert rig.journal.order(intent.key) is None


async def test_what_if_without_a_connection_is_refused_in_words(rig: Rig) -> None:
    await rig.broker.session.disconnect()

    with pytest.raises(OrderRefused, match="Not connected: no margin estimate"):
        await rig.broker.orders.what_if(rig.intent())
