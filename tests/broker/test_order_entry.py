"""The order-entry model against the paper gateway over TCP: a ladder click or a signal is one
call into the same checks, confirmations and journal as the ticket; confirm, decline, flatten,
modify and cancel answer in the same outcomes and sentences.

After each test the journal, the session's orders and the simulator's orders must agree, and no
orderRef reached the simulator twice.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING

from ibconsole.domain.order_entry import (
    EntryFields,
    NeedsConfirmation,
    OrderChange,
    Refusal,
    Refused,
    Sent,
)
from ibconsole.domain.orders import OrderType, Purpose, Side
from ibconsole.domain.risk import Check, LimitOverride, RiskLimits, RiskReport
from ibconsole.journal import OrderState

if TYPE_CHECKING:
    # the fixtures' types, from tests/broker/conftest.py
    from conftest import Rig, WaitFor


def _limit(rig: Rig, ticks: int, quantity: int = 1) -> EntryFields:
    return EntryFields(rig.es, quantity, OrderType.LIMIT, limit_price=rig.bid(ticks))


async def test_a_ladder_click_is_one_call_checked_journalled_and_sent_once(
    rig: Rig, wait_for: WaitFor
) -> None:
    price = rig.bid(-8)

    outcome = rig.broker.entry.place(Side.BUY, _limit(rig, -8))

    assert isinstance(outcome, Sent), outcome
    assert outcome.intent is not None
    key = outcome.intent.key
    assert outcome.message == (
        f"Sent: Buy 1 {rig.es.local_symbol} LMT {price:,.2f} DAY (ref {key})."
    )
    await wait_for(lambda: rig.state(key) is OrderState.WORKING, what="the order working")
    (received,) = [o.request for o in rig.gw.orders if o.request.order_ref == key]
    assert (received.action, received.order_type, received.lmt_price) == ("BUY", "LMT", price)
    rig.assert_agree()


async def test_a_signal_sells_at_market_through_the_same_path(rig: Rig, wait_for: WaitFor) -> None:
    # as a signal's JSON says it: "sell 2 market"
    outcome = rig.broker.entry.place(Side.SELL, EntryFields(rig.es, "2", "market"))

    assert isinstance(outcome, Sent), outcome
    assert outcome.intent is not None
    assert await rig.final(outcome.intent.key) is OrderState.FILLED
    await wait_for(lambda: rig.held() == Decimal(-2), what="short 2")
    rig.assert_agree()


async def test_a_repeated_click_asks_and_declining_journals_it_and_sends_nothing(
    rig: Rig, wait_for: WaitFor
) -> None:
    entry = rig.broker.entry
    first = entry.place(Side.BUY, _limit(rig, -8))
    assert isinstance(first, Sent), first
    assert first.intent is not None
    first_key = first.intent.key
    await wait_for(lambda: rig.state(first_key) is OrderState.WORKING, what="the first working")

    asked = entry.place(Side.BUY, _limit(rig, -8))

    assert isinstance(asked, NeedsConfirmation), asked
    assert [f.check for f in asked.report.findings] == [Check.DUPLICATE]
    assert (asked.title, asked.confirm_text) == ("Confirm order", "Buy 1")
    assert asked.summary.startswith(f"Buy 1 {rig.es.local_symbol} LMT ")
    assert rig.journal.order(asked.intent.key) is None, "nothing is journalled before the answer"
    said = entry.decline(asked)
    assert said.startswith("Declined, nothing was sent: Buy 1 ")
    assert rig.state(asked.intent.key) is OrderState.DECLINED
    assert rig.sent(asked.intent.key) == 0
    rig.assert_agree()


async def test_confirming_sends_once_and_a_finding_not_yet_seen_is_asked_again(
    rig: Rig, wait_for: WaitFor
) -> None:
    entry = rig.broker.entry
    assert isinstance(entry.place(Side.BUY, _limit(rig, -8)), Sent)
    asked = entry.place(Side.BUY, _limit(rig, -8))
    assert isinstance(asked, NeedsConfirmation), asked

    # As if the dialog had shown no finding: the duplicate is new to the trader.
    unseen = entry.confirm(replace(asked, report=RiskReport(())))

    assert isinstance(unseen, NeedsConfirmation), unseen
    assert unseen.notes == ("Something changed while you were deciding; please check again.",)
    assert rig.sent(asked.intent.key) == 0
    sent = entry.confirm(unseen)
    assert isinstance(sent, Sent), sent
    await wait_for(lambda: rig.state(asked.intent.key) is OrderState.WORKING, what="working")
    assert rig.sent(asked.intent.key) == 1
    rig.assert_agree()


async def test_invalid_fields_name_the_field_and_nothing_is_journalled(rig: Rig) -> None:
    cases = [
        (EntryFields(None, 1), "contract", "Choose a contract first"),
        (EntryFields(rig.es, " "), "quantity", "Enter a quantity"),
        (EntryFields(rig.es, "1.5"), "quantity", "whole number"),
        (EntryFields(rig.es, 1, OrderType.LIMIT), "limit_price", "required"),
        (
            EntryFields(rig.es, 1, OrderType.LIMIT, limit_price=rig.bid(-8) + Decimal("0.1")),
            "limit_price",
            "not a multiple of the tick",
        ),
        (EntryFields(rig.es, 1, bracket=True), "take_profit", "or untick Bracket"),
        (EntryFields(rig.es, 1, "trailing"), "order_type", "'trailing' is not one of MKT"),
    ]
    for fields, field, words in cases:
        outcome = rig.broker.entry.place(Side.BUY, fields)
        assert isinstance(outcome, Refused), (fields, outcome)
        assert outcome.kind is Refusal.INVALID
        assert outcome.error is not None
        assert outcome.error.field == field, outcome
        assert words in outcome.message, outcome
        assert outcome.message.startswith("Not sent: ")
    assert rig.journal.orders(limit=None) == []
    assert rig.gw.orders == []


async def test_a_blocked_order_is_journalled_with_the_reason_and_never_sent(rig: Rig) -> None:
    outcome = rig.broker.entry.place(Side.BUY, EntryFields(rig.es, 500))

    assert isinstance(outcome, Refused), outcome
    assert outcome.kind is Refusal.BLOCKED
    assert outcome.message.startswith("Blocked, nothing was sent: ")
    assert "Quantity 500 is above your limit of 10" in outcome.message
    assert outcome.report is not None
    assert outcome.report.blocked
    (order,) = rig.journal.orders(limit=None)
    assert order.state is OrderState.BLOCKED
    assert rig.gw.orders == []


async def test_the_preview_checks_both_sides_and_sends_nothing(rig: Rig) -> None:
    preview = rig.broker.entry.preview(_limit(rig, -8, quantity=500))

    assert set(preview.intents) == {Side.BUY, Side.SELL}
    assert all(report.blocked for report in preview.reports.values())
    assert preview.errors == {}
    bad = rig.broker.entry.preview(EntryFields(rig.es, 1, OrderType.LIMIT, limit_price="x"))
    assert bad.intents == {}
    assert list(bad.errors) == ["limit_price"]
    assert rig.journal.orders(limit=None) == []
    assert rig.gw.orders == []


async def test_flatten_asks_then_closes_the_whole_position_at_market(
    rig: Rig, wait_for: WaitFor
) -> None:
    entry = rig.broker.entry
    nothing_chosen = entry.flatten(None)
    assert isinstance(nothing_chosen, Refused), nothing_chosen
    assert (nothing_chosen.kind, nothing_chosen.message) == (
        Refusal.UNKNOWN,
        "Choose a contract first: nothing was sent.",
    )
    flat = entry.flatten(rig.es)
    assert isinstance(flat, Refused), flat
    assert (flat.kind, flat.message) == (
        Refusal.NOTHING,
        f"You hold no {rig.es.local_symbol}: nothing to flatten.",
    )
    bought = entry.place(Side.BUY, EntryFields(rig.es, 3))
    assert isinstance(bought, Sent), bought
    await wait_for(lambda: rig.held() == Decimal(3), what="long 3")
    resting = entry.place(Side.BUY, _limit(rig, -8))
    assert isinstance(resting, Sent), resting
    await wait_for(
        lambda: len(rig.broker.orders.working_orders(rig.es.con_id)) == 1, what="working"
    )

    asked = entry.flatten(rig.es)

    assert isinstance(asked, NeedsConfirmation), asked
    intent = asked.intent
    assert (intent.side, intent.quantity, intent.order_type) == (Side.SELL, 3, OrderType.MARKET)
    assert intent.purpose is Purpose.FLATTEN
    assert asked.title == "Flatten position"
    assert "you are long +3" in asked.summary
    assert asked.notes == (
        f"1 working order(s) on {rig.es.local_symbol} stay working; cancel them separately if "
        "they should go too.",
    )
    assert rig.sent(intent.key) == 0, "never without the trader's word"
    assert isinstance(entry.confirm(asked), Sent)
    await wait_for(lambda: rig.held() == Decimal(0), what="flat")
    rig.assert_agree()


async def test_a_change_is_checked_asked_and_sent_in_place(rig: Rig, wait_for: WaitFor) -> None:
    entry = rig.broker.entry
    placed = entry.place(Side.BUY, _limit(rig, -8))
    assert isinstance(placed, Sent)
    assert placed.intent is not None
    key = placed.intent.key
    await wait_for(lambda: rig.state(key) is OrderState.WORKING, what="working")
    order_id = rig.row(key).order_id

    # far below the market: outside the price band, so it asks
    far = rig.bid(-4000)
    asked = entry.modify(OrderChange(order_id, limit_price=far))
    assert isinstance(asked, NeedsConfirmation), asked
    assert Check.PRICE_BAND in asked.shown
    assert asked.intent.limit_price == far
    assert entry.decline(asked) == f"Declined: order {order_id} works unchanged."
    assert not any(o.is_modify for o in rig.gw.orders)

    changed = entry.modify(OrderChange(order_id, quantity=Decimal(2), limit_price=rig.bid(-6)))

    assert isinstance(changed, Sent), changed
    assert changed.message.startswith(f"Change sent: Buy 2 {rig.es.local_symbol} LMT ")
    await wait_for(lambda: rig.row(key).quantity == Decimal(2), what="the change confirmed")
    assert rig.sent(key) == 1
    rig.assert_agree()


async def test_cancel_and_cancel_all_answer_in_sentences(rig: Rig, wait_for: WaitFor) -> None:
    entry = rig.broker.entry
    nothing = entry.cancel_all()
    assert isinstance(nothing, Refused)
    assert nothing.kind is Refusal.NOTHING
    keys = []
    for ticks, quantity in ((-8, 1), (-9, 2)):  # not alike: a duplicate would ask first
        placed = entry.place(Side.BUY, _limit(rig, ticks, quantity))
        assert isinstance(placed, Sent)
        assert placed.intent is not None
        keys.append(placed.intent.key)
    await wait_for(lambda: all(rig.state(k) is OrderState.WORKING for k in keys), what="working")

    one = entry.cancel(rig.row(keys[0]).order_id)
    assert one == Sent(f"Cancel sent: order {rig.row(keys[0]).order_id}.")
    await wait_for(lambda: rig.state(keys[0]) is OrderState.CANCELLED, what="the first cancelled")
    assert entry.cancel_all() == Sent("Cancel sent for 1 working order(s).")
    await wait_for(lambda: rig.state(keys[1]) is OrderState.CANCELLED, what="the second cancelled")
    gone = entry.cancel(rig.row(keys[0]).order_id)
    assert isinstance(gone, Refused)
    assert "is not working, there is nothing to cancel" in gone.message
    rig.assert_agree()


async def test_the_family_line_includes_the_next_month(rig: Rig, wait_for: WaitFor) -> None:
    entry = rig.broker.entry
    await rig.broker.contracts.chain("MES")
    assert entry.family(rig.es) is not None
    asked = entry.place(
        Side.BUY,
        EntryFields(rig.next_month, 1, OrderType.LIMIT, limit_price=rig.bid(-40)),
    )
    # The next month has no quote here: the checks ask before a price nobody can judge.
    assert isinstance(asked, NeedsConfirmation), asked
    assert Check.QUOTE in asked.shown
    sent = entry.confirm(asked)
    assert isinstance(sent, Sent), sent

    await wait_for(lambda: rig.state(asked.intent.key) is OrderState.WORKING, what="working")
    assert entry.working_orders(rig.es) == ()
    family = entry.family(rig.es)
    assert family is not None
    assert family.working == ((rig.next_month.local_symbol, 1),)
    assert family.sentence == f"1 working on {rig.next_month.local_symbol}"
    rig.assert_agree()


async def test_new_limits_apply_to_the_next_order_without_a_reconnect(
    rig: Rig, wait_for: WaitFor
) -> None:
    symbol = rig.es.symbol
    session_before = rig.broker.session.sync_info
    tighter = RiskLimits(overrides={symbol: LimitOverride(max_quantity=Decimal(2))})

    rig.broker.apply_settings(
        rig.broker.session.health_settings, tighter, line_budget=rig.broker.market.line_budget
    )

    refused = rig.broker.entry.place(Side.BUY, _limit(rig, -8, quantity=3))
    assert isinstance(refused, Refused), refused
    assert "Quantity 3 is above your limit of 2" in refused.message
    sent = rig.broker.entry.place(Side.BUY, _limit(rig, -8, quantity=2))
    assert isinstance(sent, Sent), sent
    assert rig.broker.session.sync_info is session_before  # no reconnect, no resync
    assert sent.intent is not None
    key = sent.intent.key
    await wait_for(lambda: rig.state(key) is OrderState.WORKING, what="the order working")
    rig.assert_agree()
