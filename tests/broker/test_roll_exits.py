"""The exits a roll cancels on the old month, against the paper gateway over TCP: a roll that ends
having rolled nothing (its close leg or its spread rejected) places them on the old month again
and says so, as does a spread whose rest is cancelled for the contracts it left there; one
stopped before IB confirmed the cancel says the stop is not known to be gone; a console started
after a roll it never finished names the exits no process placed again, once.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest

from ibconsole.broker.order_values import OrderRefused
from ibconsole.broker.roll_exits import part_moved
from ibconsole.domain.orders import OrderIntent, OrderType, Purpose
from ibconsole.domain.rollover import MovedOrder, RolloverSettings, RollPlan, plan_roll
from ibconsole.journal import JournalFill, JournalOrder, OrderState

if TYPE_CHECKING:
    from conftest import Rig, RigFactory, WaitFor


@pytest.fixture
async def rig(make_rig: RigFactory) -> Rig:
    made = await make_rig(quote_next_month=True)
    made.broker.orders.spread_rolls.fill_timeout = 2.0
    return made


async def long_with_stop(rig: Rig, wait_for: WaitFor) -> tuple[OrderIntent, str]:
    """2 ES front month held, protected by a working stop 40 ticks under the bid; the stop, and
    its price as the alerts write it."""
    entry = rig.intent(quantity=2)
    rig.broker.orders.submit(entry)
    assert await rig.final(entry.key) is OrderState.FILLED
    await wait_for(lambda: rig.held(rig.es) == 2, what="the long position")
    price = rig.bid(-40)
    stop = rig.intent(side="SELL", quantity=2, order_type="STP", stop_price=price)
    rig.broker.orders.submit(stop, confirmed=True)
    await wait_for(lambda: rig.state(stop.key) is OrderState.WORKING, what="the stop working")
    return stop, f"{price.normalize():f}"


def plan(rig: Rig, *, reopen: bool = True) -> RollPlan:
    return plan_roll(
        Decimal(2),
        rig.es,
        rig.next_month,
        rig.broker.orders.working_orders(rig.es.con_id),
        RolloverSettings(reopen_on_roll=reopen),
    )


def of_purpose(rig: Rig, purpose: Purpose) -> list[JournalOrder]:
    return [o for o in reversed(rig.journal.orders(limit=None)) if o.intent.purpose is purpose]


async def restored_and_working(rig: Rig, wait_for: WaitFor, count: int) -> list[JournalOrder]:
    """The exits placed again on the old month, once the simulator and the console have them
    working."""
    await wait_for(lambda: len(of_purpose(rig, Purpose.ROLL_RESTORE)) == count, what="restored")
    restored = of_purpose(rig, Purpose.ROLL_RESTORE)
    await wait_for(
        lambda: all(rig.state(o.key) is OrderState.WORKING for o in restored),
        what="the restored exits working",
    )
    assert {rig.sim_status(o.key) for o in restored} == {"Submitted"}
    return restored


@pytest.mark.expect_log_warnings
async def test_a_roll_whose_close_leg_is_rejected_places_its_stop_again_on_the_old_month(
    rig: Rig, wait_for: WaitFor
) -> None:
    stop, at = await long_with_stop(rig, wait_for)
    rig.gw.faults.reject_next_order("Order size exceeds the exchange limit")

    with pytest.raises(OrderRefused, match="ended rejected") as refused:
        await rig.within(rig.broker.orders.roll(plan(rig)))

    assert rig.state(stop.key) is OrderState.CANCELLED
    (restored,) = await restored_and_working(rig, wait_for, 1)
    assert restored.intent.contract == rig.es
    assert (restored.intent.side, restored.intent.quantity) == (stop.side, 2)
    assert (restored.intent.order_type, restored.intent.stop_price) == (
        OrderType.STOP,
        stop.stop_price,
    )
    words = f"The exit orders it cancelled on {rig.es.local_symbol} were placed there again: "
    words += f"SELL 2 STP stop {at}."
    assert words in refused.value.reason
    assert any(critical and words in message for message, critical in rig.alerts)
    assert not any("MISSING" in message for message, _ in rig.alerts)
    assert rig.held(rig.es) == 2
    assert [o.key for o in rig.broker.orders.working_orders(rig.es.con_id)] == [restored.key]
    # the restored stop protects the position as the old one did: the roll can go again
    opened = await rig.within(rig.broker.orders.roll(plan(rig)))
    assert opened is not None
    (moved,) = of_purpose(rig, Purpose.ROLL_MOVE)
    assert moved.intent.contract == rig.next_month
    assert rig.state(restored.key) is OrderState.CANCELLED
    rig.assert_agree()


@pytest.mark.expect_log_warnings
async def test_a_close_only_roll_rejected_places_the_stop_it_only_cancelled_again(
    rig: Rig, wait_for: WaitFor
) -> None:
    """Not reopening, the roll cancels the stop for good once the position is closed; when the
    close is rejected the position is still there, and so is its stop again."""
    stop, at = await long_with_stop(rig, wait_for)
    closing = plan(rig, reopen=False)
    assert closing.exits_to_move == ()
    rig.gw.faults.reject_next_order("Order size exceeds the exchange limit")

    with pytest.raises(OrderRefused, match="ended rejected") as refused:
        await rig.within(rig.broker.orders.roll(closing))

    (restored,) = await restored_and_working(rig, wait_for, 1)
    assert (restored.intent.contract, restored.intent.stop_price) == (rig.es, stop.stop_price)
    assert f"placed there again: SELL 2 STP stop {at}." in refused.value.reason
    assert rig.held(rig.es) == 2
    rig.assert_agree()


@pytest.mark.expect_log_warnings
async def test_a_rejected_spread_places_its_bracket_exits_again_still_one_cancels_all(
    rig: Rig, wait_for: WaitFor
) -> None:
    entry, exits = await rig.long_with_exits(wait_for)
    rig.gw.faults.reject_next_order("No trading permission for calendar spreads")

    with pytest.raises(OrderRefused, match="nothing was rolled") as refused:
        await rig.within(rig.broker.orders.roll_spread(plan(rig), OrderType.MARKET))

    assert {rig.state(k) for k in exits} == {OrderState.CANCELLED}
    target, stop = sorted(
        await restored_and_working(rig, wait_for, 2), key=lambda o: o.intent.order_type.value
    )
    assert (target.intent.limit_price, stop.intent.stop_price) == (entry + 40, entry - 40)
    assert target.intent.oca_group == stop.intent.oca_group != ""
    at_sim = {o.request.order_ref: o.request for o in rig.gw.orders}
    assert {(at_sim[o.key].oca_group, at_sim[o.key].oca_type) for o in (target, stop)} == {
        (target.intent.oca_group, 1)
    }
    assert "were placed there again" in refused.value.reason
    (alert,) = [m for m, critical in rig.alerts if critical and "placed there again" in m]
    assert "spread order ended rejected with 0 of 2 rolled" in alert
    assert (rig.held(rig.es), rig.held(rig.next_month)) == (2, 0)
    rig.assert_agree()


async def test_a_spread_cancelled_after_a_part_places_the_rest_s_stop_again_on_the_old_month(
    rig: Rig, wait_for: WaitFor
) -> None:
    """1 of 2 rolls (its stop goes on the next month), the trader cancels the rest: the stop for
    the contract left in the old month is placed there again."""
    stop, at = await long_with_stop(rig, wait_for)
    rig.gw.desk.set_partial_fills(2, stall=True)

    working = await rig.within(rig.broker.orders.roll_spread(plan(rig), OrderType.MARKET))

    assert (working.state, working.lifecycle.filled) == (OrderState.PARTIALLY_FILLED, 1)
    (moved,) = of_purpose(rig, Purpose.ROLL_MOVE)
    assert (moved.intent.contract, moved.intent.quantity) == (rig.next_month, 1)
    assert of_purpose(rig, Purpose.ROLL_RESTORE) == []
    old, new = rig.es.local_symbol, rig.next_month.local_symbol
    waiting = (
        f"EXITS NOT IN PLACE: it cancelled these exit orders on {old}: SELL 1 STP stop {at}. They "
        f"go on {new} as the spread fills, or back on {old} for what it leaves there"
    )
    assert any(critical and waiting in m for m, critical in rig.alerts), rig.alerts
    rig.broker.orders.cancel(rig.row(working.key).order_id)
    assert await rig.final(working.key) is OrderState.CANCELLED

    (restored,) = await restored_and_working(rig, wait_for, 1)
    assert (restored.intent.contract, restored.intent.quantity) == (rig.es, 1)
    assert restored.intent.stop_price == stop.stop_price
    (alert,) = [m for m, critical in rig.alerts if critical and "placed there again" in m]
    assert "ended cancelled with 1 of 2 rolled" in alert
    assert f"SELL 1 STP stop {at}" in alert
    await wait_for(
        lambda: (rig.held(rig.es), rig.held(rig.next_month)) == (1, 1), what="half rolled"
    )
    rig.assert_agree()


@pytest.mark.expect_log_warnings
async def test_a_roll_stopped_by_a_lost_connection_does_not_call_its_stop_gone_or_kept(
    rig: Rig, wait_for: WaitFor
) -> None:
    stop, at = await long_with_stop(rig, wait_for)
    rig.gw.faults.stop_answering()  # the stop's cancel is never confirmed
    roll = rig.broker.orders.roll(plan(rig))

    async def drop_once_cancel_sent() -> None:
        await wait_for(lambda: _cancel_requested(rig, stop.key), what="the stop's cancel sent")
        rig.gw.faults.drop(rig.client_id)

    with pytest.raises(OrderRefused, match="connection dropped") as refused:
        await rig.within(asyncio.gather(roll, drop_once_cancel_sent()))
    rig.gw.faults.resume_answering()

    words = f"IB has not confirmed the cancel of its exit orders on {rig.es.local_symbol}: "
    assert words + f"SELL 2 STP stop {at}" in refused.value.reason
    assert "check whether they still work" in refused.value.reason
    assert of_purpose(rig, Purpose.ROLL_RESTORE) == [], "nothing is placed on a guess"
    await wait_for(lambda: not rig.broker.orders.entry_block(), what="orders allowed again")
    assert rig.sim_status(stop.key) == "Submitted"
    rig.assert_agree()


def _cancel_requested(rig: Rig, key: str) -> bool:
    order = rig.journal.order(key)
    return order is not None and order.lifecycle.cancel_requested


class _RejectOpenLeg:
    """Arms the simulator's reject-next fault the moment the roll's close leg has filled
    (eventkit holds its handler weakly: keep the object)."""

    def __init__(self, rig: Rig) -> None:
        self._rig = rig
        self.armed = False
        rig.broker.orders.fill_recorded += self

    def __call__(self, fill: JournalFill) -> None:
        order = self._rig.journal.order(fill.key)
        if not self.armed and order and order.intent.purpose is Purpose.ROLL_CLOSE:
            self.armed = True
            self._rig.gw.faults.reject_next_order("No trading permission for ESM5")


class _SlowOpenLeg:
    """Makes the next order fill 1 of its 2 contracts, and the other only on a later quote (the
    quiet market moves when the test steps it), the moment the roll's close leg has filled: the
    open leg works past the roll's fill timeout (eventkit holds its handler weakly: keep it)."""

    def __init__(self, rig: Rig) -> None:
        self._rig = rig
        self.armed = False
        rig.broker.orders.fill_recorded += self

    def __call__(self, fill: JournalFill) -> None:
        order = self._rig.journal.order(fill.key)
        if not self.armed and order and order.intent.purpose is Purpose.ROLL_CLOSE:
            self.armed = True
            self._rig.gw.desk.set_partial_fills(2)


@pytest.mark.expect_log_warnings
async def test_an_open_leg_filled_after_the_roll_gave_up_on_it_gets_its_stop_at_the_retry(
    rig: Rig, wait_for: WaitFor
) -> None:
    """The open leg is still working when the roll's fill timeout passes (ROLL INCOMPLETE, the
    stop waiting for a retry); it fills later. The retry sends nothing and places the stop on
    the new month, as the roll would have."""
    await long_with_stop(rig, wait_for)
    rig.broker.orders.rolls.fill_timeout = 2.0
    fault = _SlowOpenLeg(rig)
    rolling = plan(rig)
    with pytest.raises(OrderRefused, match="is still partially_filled after 2 s"):
        await rig.within(rig.broker.orders.roll(rolling))
    assert fault.armed
    (opening,) = of_purpose(rig, Purpose.ROLL_OPEN)
    with pytest.raises(OrderRefused, match="already partially_filled"):
        await rig.broker.orders.retry_open(rolling)
    for _ in range(1_000):  # the rest fills on a later quote
        if rig.sim_status(opening.key) == "Filled":
            break
        rig.gw.market.step(rig.next_month.con_id)
    assert await rig.final(opening.key) is OrderState.FILLED
    sent = len(rig.gw.orders)

    done = await rig.within(rig.broker.orders.retry_open(rolling))

    assert done.key == opening.key
    (moved,) = of_purpose(rig, Purpose.ROLL_MOVE)
    assert (moved.intent.contract, moved.intent.quantity) == (rig.next_month, 2)
    await wait_for(lambda: rig.sim_status(moved.key) == "Submitted", what="the moved stop")
    assert len(rig.gw.orders) == sent + 1, "only the stop was sent"
    assert [o.key for o in of_purpose(rig, Purpose.ROLL_OPEN)] == [opening.key]
    with pytest.raises(OrderRefused, match="No unfinished roll"):
        await rig.broker.orders.retry_open(rolling)
    rig.assert_agree()


@pytest.mark.expect_log_warnings
async def test_a_part_closed_roll_retried_keeps_a_stop_on_each_month_for_what_it_holds(
    rig: Rig, wait_for: WaitFor
) -> None:
    """The close leg fills 1 of 2 and is cancelled; the retry opens 1 in the new month. Its stop
    goes on the new month for 1, and on the old month again for the 1 still held there."""
    stop, at = await long_with_stop(rig, wait_for)
    rolling = plan(rig)
    rig.gw.desk.set_partial_fills(2, stall=True)
    roll = asyncio.ensure_future(rig.broker.orders.roll(rolling))
    await wait_for(lambda: of_purpose(rig, Purpose.ROLL_CLOSE), what="the close leg journalled")
    (close,) = of_purpose(rig, Purpose.ROLL_CLOSE)
    await wait_for(lambda: rig.state(close.key) is OrderState.PARTIALLY_FILLED, what="1 closed")
    rig.broker.orders.cancel(rig.row(close.key).order_id)
    with pytest.raises(OrderRefused, match="filled only 1 of 2") as refused:
        await rig.within(roll)
    assert f"EXITS NOT IN PLACE: it cancelled these exit orders on {rig.es.local_symbol}" in (
        refused.value.reason
    )

    opened = await rig.within(rig.broker.orders.retry_open(rolling))

    assert opened.intent.quantity == 1
    (moved,) = of_purpose(rig, Purpose.ROLL_MOVE)
    assert (moved.intent.contract, moved.intent.quantity) == (rig.next_month, 1)
    (restored,) = await restored_and_working(rig, wait_for, 1)
    assert (restored.intent.contract, restored.intent.quantity) == (rig.es, 1)
    assert restored.intent.stop_price == stop.stop_price
    (alert,) = [m for m, critical in rig.alerts if "placed there again" in m]
    assert "its close leg closed 1 of 2, so 1 " in alert
    assert f"SELL 1 STP stop {at}" in alert
    await wait_for(
        lambda: (rig.held(rig.es), rig.held(rig.next_month)) == (1, 1), what="half rolled"
    )
    rig.assert_agree()


@pytest.mark.expect_log_warnings  # the critical alerts are logged too
async def test_a_console_started_after_a_roll_left_incomplete_names_the_stop_it_cancelled(
    rig: Rig, wait_for: WaitFor
) -> None:
    """The roll cancels the stop and closes the old month, its open leg is rejected, and the
    console stops without the trader retrying it: the roll in memory is gone. The next console
    on the journal sends nothing and names the stop no process placed again, once."""
    _, at = await long_with_stop(rig, wait_for)
    fault = _RejectOpenLeg(rig)
    with pytest.raises(OrderRefused, match="ROLL INCOMPLETE") as refused:
        await rig.within(rig.broker.orders.roll(plan(rig)))
    assert fault.armed
    # the partial-roll banner and alert say where the stop is: nowhere until a retry fills
    (failure,) = rig.failures
    waiting = (
        f"EXITS NOT IN PLACE: it cancelled these exit orders on {rig.es.local_symbol}: SELL 2 "
        f"STP stop {at}. They go on {rig.next_month.local_symbol} "
        "when a retry of the open leg fills"
    )
    assert waiting in failure.sentence
    assert waiting in refused.value.reason
    (close,) = of_purpose(rig, Purpose.ROLL_CLOSE)
    await rig.broker.stop()
    placed = len(rig.gw.orders)

    first = await rig.critical_alerts_at_restart(wait_for)
    (text,) = [m for m in first if m.startswith("ROLL:")]
    assert close.key in text
    assert f"SELL 2 STP stop {at}" in text
    assert f"Its close leg in {rig.es.local_symbol} ended filled with 2 closed." in text
    assert "NOT placed again" in text
    assert not [m for m in await rig.critical_alerts_at_restart(wait_for) if close.key in m]
    assert len(rig.gw.orders) == placed, "a restart sent an order nobody clicked"


async def test_a_close_only_roll_that_closed_leaves_nothing_to_tell_at_the_next_start(
    rig: Rig, wait_for: WaitFor
) -> None:
    await long_with_stop(rig, wait_for)

    assert await rig.within(rig.broker.orders.roll(plan(rig, reopen=False))) is None

    await wait_for(lambda: rig.held(rig.es) == 0, what="the old month closed")
    assert of_purpose(rig, Purpose.ROLL_RESTORE) == []
    await rig.broker.stop()
    assert [m for m in await rig.critical_alerts_at_restart(wait_for) if "ROLL" in m] == []


async def test_an_exit_placed_for_a_spread_part_is_keyed_after_its_move_while_orderref_holds_it(
    rig: Rig, wait_for: WaitFor
) -> None:
    """An exit placed on the new month for a spread's execution is keyed after its move, the
    execution and the exit, so a restart finds it; where that key would not fit in orderRef (a
    thousandth execution), it keeps a key of its own and is placed all the same."""
    stop, _ = await long_with_stop(rig, wait_for)
    roll = plan(rig)
    exits = rig.broker.orders.rolls.exits
    move = rig.intent().key
    assert exits.record(move, roll)
    placed = MovedOrder(roll.exits[0], stop)
    assert exits.keyed(placed, move, part_moved(1)).key == f"{move}.x1m0"
    assert exits.keyed(placed, move, part_moved(999)).key == f"{move}.x999m0"
    assert exits.keyed(placed, move, part_moved(1000)).key == stop.key
    exits.settle(move)
