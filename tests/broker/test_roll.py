"""Rolling a futures position through the Broker facade, against the paper gateway over TCP.

A roll cancels the old month's working orders, closes the old month, then opens the new one, each
leg journalled. Both legs pass the checks before anything is sent; a close leg that fails stops
the roll with nothing opened; an open leg that fails (the simulator rejects the second order)
raises a critical alert naming both months, and its retry sends the open leg only, once.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest

from ibconsole.broker.order_values import OrderRefused
from ibconsole.domain.orders import OrderIntent, OrderType, Purpose, Side
from ibconsole.domain.rollover import RolloverSettings, RollPlan, plan_roll
from ibconsole.journal import JournalFill, JournalOrder, OrderState, ReconciliationOutcome
from ibconsole.sim.orders import ReceivedOrder

if TYPE_CHECKING:
    # the fixtures' types, from tests/broker/conftest.py
    from conftest import Rig, RigFactory, WaitFor


@pytest.fixture
async def rig(make_rig: RigFactory) -> Rig:
    """Both legs of a roll need live quotes: the front and the next month are subscribed."""
    return await make_rig(quote_next_month=True)


async def long_front_month(rig: Rig, wait_for: WaitFor, quantity: int = 2) -> OrderIntent:
    intent = rig.intent(quantity=quantity)
    rig.broker.orders.submit(intent)
    assert await rig.final(intent.key) is OrderState.FILLED
    await wait_for(lambda: rig.held(rig.es) == quantity, what="the long position")
    return intent


def plan(rig: Rig, quantity: int = 2) -> RollPlan:
    return plan_roll(
        Decimal(quantity),
        rig.es,
        rig.next_month,
        rig.broker.orders.working_orders(rig.es.con_id),
        RolloverSettings(),
    )


def legs(rig: Rig) -> dict[Purpose, list[str]]:
    """Keys of the journalled roll legs by purpose, oldest first."""
    found: dict[Purpose, list[str]] = {Purpose.ROLL_CLOSE: [], Purpose.ROLL_OPEN: []}
    for order in reversed(rig.journal.orders(limit=None)):
        if order.intent.purpose in found:
            found[order.intent.purpose].append(order.key)
    return found


def moved_exits(rig: Rig) -> list[JournalOrder]:
    """The exits a roll placed on the new month, oldest first."""
    orders = reversed(rig.journal.orders(limit=None))
    return [o for o in orders if o.intent.purpose is Purpose.ROLL_MOVE]


async def working_moved_exits(rig: Rig, wait_for: WaitFor) -> list[JournalOrder]:
    """The exits a roll placed on the new month, once the simulator has them working."""
    moved = moved_exits(rig)
    await wait_for(
        lambda: all(rig.state(o.key) is OrderState.WORKING for o in moved), what="moved exits"
    )
    return moved


def fill_price(rig: Rig, key: str) -> Decimal:
    order = rig.journal.order(key)
    assert order is not None, key
    price = order.lifecycle.avg_fill_price
    assert price is not None, key
    return price


def received(rig: Rig) -> list[tuple[str, str, Decimal]]:
    """(local symbol, action, quantity) of each new order the simulator received, in order."""
    names = {rig.es.con_id: rig.es.local_symbol, rig.next_month.con_id: rig.next_month.local_symbol}
    return [
        (names[o.request.contract.con_id], o.request.action, o.request.quantity)
        for o in rig.gw.orders
        if not o.is_modify
    ]


class _RejectSecondLeg:
    """Arms the simulator's reject-next fault the moment the roll's close leg has filled
    (eventkit holds its handler weakly: keep the object)."""

    def __init__(self, rig: Rig, reason: str) -> None:
        self._rig = rig
        self._reason = reason
        self.armed_after: str | None = None
        rig.broker.orders.fill_recorded += self

    def __call__(self, fill: JournalFill) -> None:
        order = self._rig.journal.order(fill.key)
        if self.armed_after is None and order and order.intent.purpose is Purpose.ROLL_CLOSE:
            self.armed_after = fill.key
            self._rig.gw.faults.reject_next_order(self._reason)


class _StatusAtReceipt(list[ReceivedOrder]):
    """The simulator's order log, noting the status of some orders as each new order arrives."""

    def __init__(self, rig: Rig, keys: list[str]) -> None:
        super().__init__(rig.gw.desk.received)
        self._rig = rig
        self._keys = keys
        self.seen: list[tuple[str, dict[str, str | None]]] = []

    def append(self, item: ReceivedOrder) -> None:
        self.seen.append((item.request.order_ref, {k: self._rig.sim_status(k) for k in self._keys}))
        super().append(item)


class _CutOnPurpose(list[ReceivedOrder]):
    """The simulator's order log, made to reset the client's connection as the first order of a
    purpose arrives: the exchange fills it, the fill never reaches the console."""

    def __init__(self, rig: Rig, purpose: Purpose) -> None:
        super().__init__(rig.gw.desk.received)
        self._rig = rig
        self._purpose = purpose
        self.cut: str | None = None

    def append(self, item: ReceivedOrder) -> None:
        super().append(item)
        order = self._rig.journal.order(item.request.order_ref)
        if self.cut is None and order is not None and order.intent.purpose is self._purpose:
            self.cut = order.key
            self._rig.gw.faults.reset(item.client_id)


# ------------------------------------------------------------------------ tests


async def test_roll_closes_the_old_month_then_opens_the_new_one(
    rig: Rig, wait_for: WaitFor
) -> None:
    await long_front_month(rig, wait_for)
    rolling = plan(rig)

    opened = await rig.broker.orders.roll(rolling)

    assert opened is not None
    (close,), (opening,) = legs(rig).values()
    assert opened.key == opening
    assert received(rig)[1:] == [
        (rig.es.local_symbol, "SELL", Decimal(2)),
        (rig.next_month.local_symbol, "BUY", Decimal(2)),
    ]
    assert rig.state(close) is rig.state(opening) is OrderState.FILLED
    await wait_for(
        lambda: (rig.held(rig.es), rig.held(rig.next_month)) == (0, 2), what="rolled positions"
    )
    assert rig.failures == []
    assert not any(critical for _, critical in rig.alerts)
    with pytest.raises(OrderRefused, match="you hold 0 now"):
        await rig.broker.orders.roll(rolling)
    with pytest.raises(OrderRefused, match="No unfinished roll"):
        await rig.broker.orders.retry_open(rolling)
    assert len(received(rig)) == 3
    rig.assert_agree()


async def test_a_roll_in_flight_cannot_be_started_twice(rig: Rig, wait_for: WaitFor) -> None:
    await long_front_month(rig, wait_for)
    rolling = plan(rig)

    first = asyncio.ensure_future(rig.broker.orders.roll(rolling))
    await wait_for(lambda: legs(rig)[Purpose.ROLL_CLOSE], what="the close leg journalled")
    with pytest.raises(OrderRefused, match="already started"):
        await rig.broker.orders.roll(rolling)
    await rig.within(first)

    assert [len(keys) for keys in legs(rig).values()] == [1, 1]
    assert len(received(rig)) == 3
    rig.assert_agree()


@pytest.mark.expect_log_warnings
async def test_rejected_open_leg_raises_a_critical_alert_and_retry_sends_it_once(
    rig: Rig, wait_for: WaitFor, caplog: pytest.LogCaptureFixture
) -> None:
    await long_front_month(rig, wait_for)
    rolling = plan(rig)
    fault = _RejectSecondLeg(rig, "No trading permission for ESM5")

    with pytest.raises(OrderRefused, match="ROLL INCOMPLETE") as refused:
        await rig.broker.orders.roll(rolling)

    (close,), (opening,) = legs(rig).values()
    assert fault.armed_after == close
    old, new = rig.es.local_symbol, rig.next_month.local_symbol
    assert old in refused.value.reason
    assert new in refused.value.reason
    assert rig.state(close) is OrderState.FILLED
    assert rig.state(opening) is OrderState.REJECTED
    (failure,) = rig.failures
    assert failure.plan == rolling
    assert old in failure.sentence
    assert new in failure.sentence
    assert "No trading permission for ESM5" in failure.reason
    assert (failure.sentence, True) in rig.alerts
    critical = [r for r in caplog.records if r.levelname == "CRITICAL"]
    assert [r.name for r in critical] == ["ibconsole.broker.roll_coordinator"]
    assert new in critical[0].getMessage()
    await wait_for(lambda: rig.held(rig.es) == 0, what="the old month closed")
    assert rig.held(rig.next_month) == 0
    rig.assert_agree()

    retried = await rig.broker.orders.retry_open(rolling)

    assert retried.intent.purpose is Purpose.ROLL_OPEN
    assert legs(rig)[Purpose.ROLL_OPEN] == [opening, retried.key]
    assert rig.state(retried.key) is OrderState.FILLED
    assert received(rig)[1:] == [
        (old, "SELL", Decimal(2)),
        (new, "BUY", Decimal(2)),
        (new, "BUY", Decimal(2)),
    ]
    await wait_for(lambda: rig.held(rig.next_month) == 2, what="the new month opened")
    with pytest.raises(OrderRefused):
        await rig.broker.orders.retry_open(rolling)
    with pytest.raises(OrderRefused):
        await rig.broker.orders.roll(rolling)
    assert len(received(rig)) == 4
    rig.assert_agree()


@pytest.mark.expect_log_warnings
async def test_retry_sends_only_what_earlier_tries_left_open(rig: Rig, wait_for: WaitFor) -> None:
    await long_front_month(rig, wait_for)
    rolling = plan(rig)
    fault = _RejectSecondLeg(rig, "Exchange closed for maintenance")
    with pytest.raises(OrderRefused, match="ROLL INCOMPLETE"):
        await rig.broker.orders.roll(rolling)
    # the next order to fill executes 1 of its 2 contracts, then stops
    rig.gw.desk.set_partial_fills(2, stall=True)

    retry = asyncio.ensure_future(rig.broker.orders.retry_open(rolling))
    await wait_for(lambda: len(legs(rig)[Purpose.ROLL_OPEN]) == 2, what="the retry journalled")
    first_retry = legs(rig)[Purpose.ROLL_OPEN][1]
    await wait_for(
        lambda: rig.state(first_retry) is OrderState.PARTIALLY_FILLED, what="a partial fill"
    )
    with pytest.raises(OrderRefused, match="is already partially_filled"):
        await rig.broker.orders.retry_open(rolling)
    rig.broker.orders.cancel(rig.row(first_retry).order_id)
    with pytest.raises(OrderRefused, match="ROLL INCOMPLETE"):
        await rig.within(retry)
    assert rig.state(first_retry) is OrderState.CANCELLED
    assert len(rig.failures) == 2

    last = await rig.broker.orders.retry_open(rolling)

    assert fault.armed_after == legs(rig)[Purpose.ROLL_CLOSE][0]
    assert last.intent.quantity == 1
    assert rig.state(last.key) is OrderState.FILLED
    new = rig.next_month.local_symbol
    assert received(rig)[2:] == [(new, "BUY", 2), (new, "BUY", 2), (new, "BUY", 1)]
    await wait_for(lambda: rig.held(rig.next_month) == 2, what="the planned position")
    with pytest.raises(OrderRefused, match="No unfinished roll"):
        await rig.broker.orders.retry_open(rolling)
    rig.assert_agree()


@pytest.mark.expect_log_warnings
async def test_rejected_close_leg_stops_the_roll_with_nothing_opened(
    rig: Rig, wait_for: WaitFor
) -> None:
    await long_front_month(rig, wait_for)
    rolling = plan(rig)
    rig.gw.faults.reject_next_order("Order size exceeds the exchange limit")

    with pytest.raises(OrderRefused, match=r"Roll stopped: closing .* ended rejected"):
        await rig.broker.orders.roll(rolling)

    (close,), opened = legs(rig).values()
    assert opened == []
    assert rig.state(close) is OrderState.REJECTED
    assert [new for new, _, _ in received(rig)] == [rig.es.local_symbol] * 2
    assert rig.held(rig.es) == 2
    assert any(critical and "nothing was opened" in m for m, critical in rig.alerts)
    assert rig.failures == []
    with pytest.raises(OrderRefused, match="No unfinished roll"):
        await rig.broker.orders.retry_open(rolling)
    rig.assert_agree()


@pytest.mark.expect_log_warnings
async def test_partly_filled_close_leg_is_reopened_by_retry_for_what_was_closed(
    rig: Rig, wait_for: WaitFor
) -> None:
    await long_front_month(rig, wait_for)
    rolling = plan(rig)
    rig.gw.desk.set_partial_fills(2, stall=True)

    roll = asyncio.ensure_future(rig.broker.orders.roll(rolling))
    await wait_for(lambda: legs(rig)[Purpose.ROLL_CLOSE], what="the close leg journalled")
    (close,) = legs(rig)[Purpose.ROLL_CLOSE]
    await wait_for(lambda: rig.state(close) is OrderState.PARTIALLY_FILLED, what="1 of 2 closed")
    rig.broker.orders.cancel(rig.row(close).order_id)
    with pytest.raises(OrderRefused, match="filled only 1 of 2"):
        await rig.within(roll)

    assert legs(rig)[Purpose.ROLL_OPEN] == []
    (failure,) = rig.failures
    assert rig.es.local_symbol in failure.sentence
    assert rig.next_month.local_symbol in failure.sentence
    opened = await rig.broker.orders.retry_open(rolling)

    assert opened.intent.quantity == 1
    assert rig.state(opened.key) is OrderState.FILLED
    await wait_for(
        lambda: (rig.held(rig.es), rig.held(rig.next_month)) == (1, 1), what="half rolled"
    )
    with pytest.raises(OrderRefused, match="No unfinished roll"):
        await rig.broker.orders.retry_open(rolling)
    assert len(received(rig)) == 3
    rig.assert_agree()


async def test_roll_is_refused_before_anything_is_sent_when_a_leg_would_be_blocked(
    make_rig: RigFactory, wait_for: WaitFor
) -> None:
    rig = await make_rig(quote_next_month=False)
    await long_front_month(rig, wait_for)

    with pytest.raises(OrderRefused, match="Roll refused, nothing was sent: buy 2 ESM5"):
        await rig.broker.orders.roll(plan(rig))
    with pytest.raises(OrderRefused, match=r"planned for 3 .* you hold 2 now"):
        await rig.broker.orders.roll(plan(rig, quantity=3))

    close, (opening,) = legs(rig).values()
    assert close == []
    assert rig.state(opening) is OrderState.BLOCKED
    blocked = rig.journal.order(opening)
    assert blocked is not None
    assert any("no quote" in f for f in blocked.lifecycle.findings)
    assert len(received(rig)) == 1
    assert rig.held(rig.es) == 2
    rig.assert_agree()


async def test_roll_cancels_the_old_month_orders_before_it_closes(
    rig: Rig, wait_for: WaitFor
) -> None:
    await long_front_month(rig, wait_for)
    stop = rig.intent(side="SELL", quantity=2, order_type="STP", stop_price=rig.bid(-20))
    add = rig.intent(order_type="LMT", limit_price=rig.bid(-20))
    for intent in (stop, add):
        rig.broker.orders.submit(intent, confirmed=True)
    await wait_for(
        lambda: {rig.state(stop.key), rig.state(add.key)} == {OrderState.WORKING},
        what="both orders working",
    )
    rolling = plan(rig)
    assert {o.order.key for o in rolling.orders} == {stop.key, add.key}
    watch = _StatusAtReceipt(rig, [stop.key, add.key])
    rig.gw.desk.received = watch

    await rig.broker.orders.roll(rolling)

    (close,), (opening,) = legs(rig).values()
    (moved,) = moved_exits(rig)
    await wait_for(lambda: len(watch.seen) == 3, what="the moved stop at the simulator")
    assert [ref for ref, _ in watch.seen] == [close, opening, moved.key]
    assert watch.seen[0][1] == {stop.key: "Cancelled", add.key: "Cancelled"}
    for key in (stop.key, add.key):
        order = rig.journal.order(key)
        assert order is not None
        assert order.state is OrderState.CANCELLED
        assert order.lifecycle.cancel_requested
    # The stop protects the long position: it moves to the new month, the added buy does not.
    spread = fill_price(rig, opening) - fill_price(rig, close)
    assert (moved.intent.contract, moved.intent.side, moved.intent.quantity) == (
        rig.next_month,
        Side.SELL,
        2,
    )
    assert moved.intent.stop_price == stop.stop_price + spread
    assert moved.intent.oca_group == ""
    await wait_for(lambda: rig.state(moved.key) is OrderState.WORKING, what="the moved stop")
    assert rig.broker.orders.working_orders(rig.es.con_id) == ()
    assert [o.key for o in rig.broker.orders.working_orders(rig.next_month.con_id)] == [moved.key]
    assert any(
        not critical
        and f"Exit orders moved from {rig.es.local_symbol} to {rig.next_month.local_symbol}" in m
        and f"SELL 2 STP stop {moved.intent.stop_price.normalize():f}" in m
        for m, critical in rig.alerts
    )
    await wait_for(lambda: rig.held(rig.next_month) == 2, what="the new month opened")
    rig.assert_agree()


async def test_a_bracket_s_exits_move_to_the_new_month_still_one_cancels_all(
    rig: Rig, wait_for: WaitFor
) -> None:
    entry, _ = await rig.long_with_exits(wait_for)

    await rig.broker.orders.roll(plan(rig))

    (close,), (opening,) = legs(rig).values()
    spread = fill_price(rig, opening) - fill_price(rig, close)
    target, stop = sorted(moved_exits(rig), key=lambda o: o.intent.order_type.value)
    assert (target.intent.order_type, stop.intent.order_type) == (OrderType.LIMIT, OrderType.STOP)
    assert target.intent.limit_price == entry + 40 + spread
    assert stop.intent.stop_price == entry - 40 + spread
    assert target.intent.oca_group == stop.intent.oca_group != ""
    await wait_for(
        lambda: {rig.sim_status(target.key), rig.sim_status(stop.key)} == {"Submitted"},
        what="both exits working on the new month",
    )
    # the console changes an order only once IB's acknowledgement has reached it
    await wait_for(
        lambda: all(rig.state(o.key) is OrderState.WORKING for o in (target, stop)),
        what="the console to see both exits working",
    )
    at_sim = {o.request.order_ref: o.request for o in rig.gw.orders}
    assert {(at_sim[o.key].oca_group, at_sim[o.key].oca_type) for o in (target, stop)} == {
        (target.intent.oca_group, 1)
    }

    # The simulator working them is not the console having heard so: a change waits for that.
    await wait_for(
        lambda: {rig.state(target.key), rig.state(stop.key)} == {OrderState.WORKING},
        what="both exits acknowledged to the console",
    )

    # One exit fills: IB cancels the other, so the position is closed once, never reversed.
    (working_target,) = [
        o for o in rig.broker.orders.working_orders(rig.next_month.con_id) if o.key == target.key
    ]
    low = rig.gw.market.quote(rig.next_month.con_id).bid - 4 * rig.next_month.min_tick
    rig.broker.orders.modify(working_target.order_id, limit_price=low, confirmed=True)

    assert await rig.final(target.key) is OrderState.FILLED
    assert await rig.final(stop.key) is OrderState.CANCELLED
    await wait_for(lambda: rig.held(rig.next_month) == 0, what="the new month flat")
    rig.assert_agree()


@pytest.mark.expect_log_warnings
async def test_a_roll_stopped_before_its_close_leg_can_be_started_again(
    rig: Rig, wait_for: WaitFor
) -> None:
    await long_front_month(rig, wait_for)
    stop = rig.intent(side="SELL", quantity=2, order_type="STP", stop_price=rig.bid(-20))
    rig.broker.orders.submit(stop, confirmed=True)
    await wait_for(lambda: rig.state(stop.key) is OrderState.WORKING, what="the stop working")
    rolling = plan(rig)
    rig.gw.faults.stop_answering()  # the roll waits for IB to confirm the stop's cancel

    roll = asyncio.ensure_future(rig.broker.orders.roll(rolling))
    await wait_for(lambda: _cancel_requested(rig, stop.key), what="the stop's cancel sent")
    roll.cancel()
    with pytest.raises(asyncio.CancelledError):
        await roll
    rig.gw.faults.resume_answering()

    assert legs(rig)[Purpose.ROLL_CLOSE] == []
    assert rig.sim_status(stop.key) == "Submitted"
    await wait_for(lambda: not rig.broker.orders.entry_block(), what="orders allowed again")
    opened = await rig.broker.orders.roll(rolling)
    assert opened is not None
    assert rig.state(stop.key) is OrderState.CANCELLED
    assert len(await working_moved_exits(rig, wait_for)) == 1
    # entry, stop, close leg, open leg, the stop again on the new month
    assert [side for _, side, _ in received(rig)] == ["BUY", "SELL", "SELL", "BUY", "SELL"]
    await wait_for(lambda: rig.held(rig.next_month) == 2, what="the new month opened")
    rig.assert_agree()


@pytest.mark.expect_log_warnings
async def test_a_roll_stops_at_once_when_the_connection_drops_while_it_clears_the_old_month(
    rig: Rig, wait_for: WaitFor
) -> None:
    # The Trade objects of a lost session never report again: waiting for them to confirm the
    # cancels would hold the roll for its whole fill timeout.
    await long_front_month(rig, wait_for)
    stop = rig.intent(side="SELL", quantity=2, order_type="STP", stop_price=rig.bid(-20))
    rig.broker.orders.submit(stop, confirmed=True)
    await wait_for(lambda: rig.state(stop.key) is OrderState.WORKING, what="the stop working")
    rolling = plan(rig)
    rig.gw.faults.stop_answering()  # the stop's cancel is never confirmed

    roll = asyncio.ensure_future(rig.broker.orders.roll(rolling))
    await wait_for(lambda: _cancel_requested(rig, stop.key), what="the stop's cancel sent")
    rig.gw.faults.drop(rig.client_id)

    with pytest.raises(OrderRefused, match="connection dropped"):
        await rig.within(roll)
    rig.gw.faults.resume_answering()
    assert legs(rig)[Purpose.ROLL_CLOSE] == []
    assert any(critical and "Nothing was closed or opened" in m for m, critical in rig.alerts)
    await wait_for(lambda: not rig.broker.orders.entry_block(), what="orders allowed again")
    assert rig.state(stop.key) is OrderState.WORKING
    assert rig.sim_status(stop.key) == "Submitted"
    assert await rig.broker.orders.roll(rolling) is not None, "it can be started again"
    assert len(await working_moved_exits(rig, wait_for)) == 1
    rig.assert_agree()


def _cancel_requested(rig: Rig, key: str) -> bool:
    order = rig.journal.order(key)
    return order is not None and order.lifecycle.cancel_requested


@pytest.mark.expect_log_warnings
async def test_roll_goes_on_when_the_close_leg_filled_while_the_connection_was_cut(
    rig: Rig, wait_for: WaitFor
) -> None:
    await long_front_month(rig, wait_for)
    cut = _CutOnPurpose(rig, Purpose.ROLL_CLOSE)
    rig.gw.desk.received = cut

    opened = await rig.within(rig.broker.orders.roll(plan(rig)))

    (close,), (opening,) = legs(rig).values()
    assert cut.cut == close
    assert opened is not None
    assert opened.key == opening
    order = rig.journal.order(close)
    assert order is not None
    assert order.state is OrderState.FILLED
    assert order.lifecycle.reconciliation is ReconciliationOutcome.FILLED_WHILE_DISCONNECTED
    assert rig.state(opening) is OrderState.FILLED
    assert [side for _, side, _ in received(rig)] == ["BUY", "SELL", "BUY"]
    await wait_for(lambda: rig.held(rig.next_month) == 2, what="the new month opened")
    rig.assert_agree()
