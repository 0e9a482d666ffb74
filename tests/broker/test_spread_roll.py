"""Rolling a futures position as one calendar-spread order, against the paper gateway over TCP.

The roll goes out as one BAG combo directed to CME (the legs by conId, sell the held month, buy
the next), journalled as one order with both legs; the simulator fills both legs at once at one
spread price, with an execution per leg and one for the combo. Partial fills, a limit that does
not fill, IB's reject and a connection lost between submit and fill each end where the journal,
the session and the simulator agree, with no leg sent or counted twice.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest

from ibconsole.broker.broker import Broker
from ibconsole.broker.order_values import OrderRefused
from ibconsole.domain.calendar_spread import CalendarSpread, implied_quote, spread_for_roll
from ibconsole.domain.health import HealthSettings, HealthState
from ibconsole.domain.orders import OrderType, Purpose, Side
from ibconsole.domain.rollover import RolloverSettings, RollPlan, plan_roll
from ibconsole.journal import JournalOrder, OrderState, ReconciliationOutcome
from ibconsole.sim.orders import ReceivedOrder

if TYPE_CHECKING:
    from collections.abc import Callable

    from conftest import Inbound, Rig, RigFactory, WaitFor

    from ibconsole.sim import PaperGateway

REQ_MKT_DATA = 1
REQ_CONTRACT_DETAILS = 9
# The rigs' heartbeats (every 0.2 s, 0.3 s to answer), but three unanswered in a row before a
# reconnect: a gateway silent for one heartbeat gets its orders reloaded on the same socket.
PATIENT_HEALTH = HealthSettings(
    heartbeat_interval=timedelta(seconds=0.2),
    heartbeat_timeout=timedelta(seconds=0.3),
    heartbeat_failures_before_reconnect=3,
)


@pytest.fixture
async def rig(make_rig: RigFactory) -> Rig:
    made = await make_rig(quote_next_month=True)
    made.broker.orders.spread_rolls.fill_timeout = 2.0
    return made


async def long_front_month(rig: Rig, wait_for: WaitFor, quantity: int = 2) -> None:
    intent = rig.intent(quantity=quantity)
    rig.broker.orders.submit(intent)
    assert await rig.final(intent.key) is OrderState.FILLED
    await wait_for(lambda: rig.held(rig.es) == quantity, what="the long position")


def plan(rig: Rig, quantity: int = 2) -> RollPlan:
    return plan_roll(
        Decimal(quantity),
        rig.es,
        rig.next_month,
        rig.broker.orders.working_orders(rig.es.con_id),
        RolloverSettings(),
    )


def spread_orders(rig: Rig) -> list[JournalOrder]:
    return [
        o
        for o in reversed(rig.journal.orders(limit=None))
        if o.intent.purpose is Purpose.ROLL_SPREAD
    ]


def combos_received(rig: Rig) -> list[ReceivedOrder]:
    return [o for o in rig.gw.orders if o.request.contract.sec_type == "BAG" and not o.is_modify]


def far_limit(rig: Rig, rolling: RollPlan, ticks: int) -> Decimal:
    """A buy limit ``ticks`` spread ticks below the spread the legs imply (never fills)."""
    market = rig.broker.market
    quote = implied_quote(market.quote(rig.es.con_id), market.quote(rig.next_month.con_id))
    assert quote.bid is not None
    spread = spread_for_roll(rolling)
    return spread.limit_through(quote, 0) - ticks * spread.tick  # type: ignore[operator]


async def test_a_spread_roll_fills_both_legs_at_one_price_as_one_journalled_order(
    rig: Rig, wait_for: WaitFor, inbound: Callable[[PaperGateway], Inbound]
) -> None:
    await long_front_month(rig, wait_for)
    rolling = plan(rig)
    seen = inbound(rig.gw)

    done = await rig.within(rig.broker.orders.roll_spread(rolling, OrderType.MARKET))

    (combo,) = spread_orders(rig)
    assert done.key == combo.key
    assert combo.state is OrderState.FILLED
    assert [(leg.contract.con_id, leg.side.value) for leg in combo.intent.legs] == [
        (rig.es.con_id, "SELL"),
        (rig.next_month.con_id, "BUY"),
    ]
    (sent,) = combos_received(rig)
    assert sent.request.contract.exchange == "CME"
    assert [
        (leg.con_id, leg.ratio, leg.action, leg.exchange) for leg in sent.request.combo_legs
    ] == [
        (rig.es.con_id, 1, "SELL", "CME"),
        (rig.next_month.con_id, 1, "BUY", "CME"),
    ]
    # one execution per leg and one for the combo; only the combo's counts toward the order
    lifecycle = combo.lifecycle
    assert lifecycle.filled == 2
    assert len(lifecycle.leg_fills) == 2
    near, far = sorted(lifecycle.leg_fills, key=lambda p: p.exec_id)
    assert lifecycle.avg_fill_price is not None
    await wait_for(
        lambda: (rig.held(rig.es), rig.held(rig.next_month)) == (0, 2), what="rolled positions"
    )
    fills = [f for f in rig.journal.fills() if f.key == combo.key]
    assert {f.con_id for f in fills} == {0, rig.es.con_id, rig.next_month.con_id}
    assert rig.row(combo.key).local_symbol == f"{rig.es.local_symbol}-{rig.next_month.local_symbol}"
    assert near.price != far.price
    assert not any(critical for _, critical in rig.alerts)
    # IB answers contract details of a BAG with error 321: the combo is built from the legs
    assert seen.count(REQ_CONTRACT_DETAILS) == 0
    rig.assert_agree()


async def test_a_short_position_rolls_by_selling_the_spread(rig: Rig, wait_for: WaitFor) -> None:
    short = rig.intent(side="SELL", quantity=1)
    rig.broker.orders.submit(short)
    assert await rig.final(short.key) is OrderState.FILLED
    await wait_for(lambda: rig.held(rig.es) == -1, what="the short position")
    rolling = plan(rig, -1)

    done = await rig.within(rig.broker.orders.roll_spread(rolling, OrderType.MARKET))

    assert done.state is OrderState.FILLED
    (sent,) = combos_received(rig)
    assert (sent.request.action, sent.request.quantity) == ("SELL", 1)
    await wait_for(
        lambda: (rig.held(rig.es), rig.held(rig.next_month)) == (0, -1), what="rolled short"
    )
    rig.assert_agree()


@pytest.mark.expect_log_warnings  # the dropped connection is logged
async def test_the_spread_s_own_quote_is_one_market_data_line_on_the_bag(
    rig: Rig, wait_for: WaitFor, inbound: Callable[[PaperGateway], Inbound]
) -> None:
    spread = CalendarSpread(rig.es, rig.next_month, Side.BUY, Decimal(1))
    quotes = rig.broker.spread_quotes
    lines = rig.gw.market_data.subscription_count()
    seen = inbound(rig.gw)

    quotes.subscribe(spread)
    quotes.subscribe(spread)  # a second viewer shares the line
    await wait_for(lambda: quotes.quote(spread) is not None, what="the spread's quote")

    quote = quotes.quote(spread)
    assert quote is not None
    assert quote.bid is not None
    assert quote.ask is not None
    assert quote.bid <= quote.ask
    assert (quote.ask / spread.tick) == (quote.ask / spread.tick).to_integral_value()
    assert seen.count(REQ_MKT_DATA) == 1
    assert rig.gw.market_data.subscription_count() == lines + 1
    # a reconnect is a full resync: the line is asked for again, once
    resyncs = len(rig.reconciled)
    rig.gw.drop_connections()
    await wait_for(lambda: len(rig.reconciled) > resyncs, what="the resync")
    await wait_for(
        lambda: rig.gw.market_data.subscription_count() == lines + 1, what="the lines again"
    )
    await wait_for(lambda: quotes.quote(spread) is not None, what="the quote again")
    # IB's 1101: the socket stays up, its lines are gone and asked for again, once
    seen = inbound(rig.gw)
    rig.gw.faults.lose_connectivity()
    await wait_for(lambda: rig.broker.session.health.connectivity_lost, what="1100")
    rig.gw.faults.restore_connectivity(data_maintained=False)
    await wait_for(lambda: seen.count(REQ_MKT_DATA) == 3, what="the lines asked for again")
    await wait_for(
        lambda: rig.gw.market_data.subscription_count() == lines + 1, what="the lines back"
    )
    # the line is served again before its first tick comes back: wait for the tick
    await wait_for(lambda: quotes.quote(spread) is not None, what="the quote back")
    quotes.unsubscribe(spread)
    assert rig.gw.market_data.subscription_count() == lines + 1
    quotes.unsubscribe(spread)
    await wait_for(
        lambda: rig.gw.market_data.subscription_count() == lines, what="the line given back"
    )
    assert quotes.quote(spread) is None
    with pytest.raises(KeyError):
        quotes.unsubscribe(spread)


async def test_partial_fill_then_cancel_the_rest_keeps_what_was_rolled(
    rig: Rig, wait_for: WaitFor
) -> None:
    await long_front_month(rig, wait_for)
    rolling = plan(rig)
    rig.gw.desk.set_partial_fills(2, stall=True)

    working = await rig.within(rig.broker.orders.roll_spread(rolling, OrderType.MARKET))

    assert working.state is OrderState.PARTIALLY_FILLED
    assert working.lifecycle.filled == 1
    assert any("leg the rest" in message for message, _ in rig.alerts)
    rig.broker.orders.cancel(rig.row(working.key).order_id)
    assert await rig.final(working.key) is OrderState.CANCELLED
    await wait_for(
        lambda: (rig.held(rig.es), rig.held(rig.next_month)) == (1, 1), what="half rolled"
    )
    assert spread_orders(rig)[0].lifecycle.filled == 1
    rig.assert_agree()


async def test_a_limit_that_does_not_fill_stays_working_then_the_rest_is_legged(
    rig: Rig, wait_for: WaitFor
) -> None:
    await long_front_month(rig, wait_for)
    rolling = plan(rig)
    limit = far_limit(rig, rolling, 40)

    working = await rig.within(rig.broker.orders.roll_spread(rolling, OrderType.LIMIT, limit))

    assert working.state is OrderState.WORKING
    assert rig.row(working.key).working
    assert rig.row(working.key).limit_price == limit
    opened = await rig.within(rig.broker.orders.leg_rest(working.key))

    assert opened is not None
    assert rig.state(working.key) is OrderState.CANCELLED
    legs = [o.intent.purpose for o in reversed(rig.journal.orders(limit=None))]
    assert legs[-3:] == [Purpose.ROLL_SPREAD, Purpose.ROLL_CLOSE, Purpose.ROLL_OPEN]
    await wait_for(
        lambda: (rig.held(rig.es), rig.held(rig.next_month)) == (0, 2), what="legged roll"
    )
    with pytest.raises(OrderRefused, match="No working spread roll"):
        await rig.broker.orders.leg_rest(working.key)
    rig.assert_agree()


@pytest.mark.expect_log_warnings
async def test_a_rejected_combo_rolls_nothing_and_says_why(rig: Rig, wait_for: WaitFor) -> None:
    await long_front_month(rig, wait_for)
    rolling = plan(rig)
    rig.gw.faults.reject_next_order("No trading permission for calendar spreads")

    with pytest.raises(OrderRefused, match="nothing was rolled") as refused:
        await rig.within(rig.broker.orders.roll_spread(rolling, OrderType.MARKET))

    assert "No trading permission" in refused.value.reason
    (combo,) = spread_orders(rig)
    assert combo.state is OrderState.REJECTED
    assert (rig.held(rig.es), rig.held(rig.next_month)) == (2, 0)
    rig.assert_agree()


class _CutOnCombo(list[ReceivedOrder]):
    """The simulator's order log, made to reset the client's connection as the combo arrives:
    the exchange fills it, the fill never reaches the console until it reconnects."""

    def __init__(self, rig: Rig) -> None:
        super().__init__(rig.gw.desk.received)
        self._rig = rig
        self.cut = False

    def append(self, item: ReceivedOrder) -> None:
        super().append(item)
        if not self.cut and item.request.contract.sec_type == "BAG":
            self.cut = True
            self._rig.gw.faults.reset(item.client_id)


@pytest.mark.expect_log_warnings
async def test_a_connection_lost_between_submit_and_fill_is_reconciled_without_duplicate_legs(
    rig: Rig, wait_for: WaitFor, monkeypatch: pytest.MonkeyPatch
) -> None:
    await long_front_month(rig, wait_for)
    rolling = plan(rig)
    cutter = _CutOnCombo(rig)
    monkeypatch.setattr(rig.gw.desk, "received", cutter)
    rig.broker.orders.spread_rolls.fill_timeout = 5.0

    done = await rig.within(rig.broker.orders.roll_spread(rolling, OrderType.MARKET))

    assert cutter.cut
    assert done.state is OrderState.FILLED
    await wait_for(lambda: rig.reconciled, what="reconciliation after the reconnect")
    combo = rig.journal.order(done.key)
    assert combo is not None
    assert combo.lifecycle.reconciliation is ReconciliationOutcome.FILLED_WHILE_DISCONNECTED
    # IB sends the day's executions again after the reconnect: each is journalled once
    assert combo.lifecycle.filled == 2
    assert len(combo.lifecycle.order_fills) == 1
    assert len(combo.lifecycle.leg_fills) == 2
    await wait_for(
        lambda: (rig.held(rig.es), rig.held(rig.next_month)) == (0, 2), what="rolled positions"
    )
    rig.broker.orders.reconcile()
    again = rig.journal.order(done.key)
    assert again is not None
    assert len(again.lifecycle.fills) == 3
    assert len(combos_received(rig)) == 1
    rig.assert_agree()


async def test_exits_move_to_the_new_month_shifted_by_the_spread_fill(
    rig: Rig, wait_for: WaitFor
) -> None:
    entry, exits = await rig.long_with_exits(wait_for)

    done = await rig.within(rig.broker.orders.roll_spread(plan(rig), OrderType.MARKET))

    spread = done.lifecycle.avg_fill_price
    assert spread is not None
    moved = [o for o in rig.journal.orders(limit=None) if o.intent.purpose is Purpose.ROLL_MOVE]
    target, stop = sorted(moved, key=lambda o: o.intent.order_type.value)
    tick = rig.next_month.min_tick
    assert target.intent.contract == stop.intent.contract == rig.next_month
    assert abs(target.intent.limit_price - (entry + 40 + spread)) <= tick / 2  # type: ignore[operator]
    assert abs(stop.intent.stop_price - (entry - 40 + spread)) <= tick / 2  # type: ignore[operator]
    assert target.intent.oca_group == stop.intent.oca_group != ""
    assert target.intent.quantity == stop.intent.quantity == 2
    await wait_for(
        lambda: {rig.sim_status(target.key), rig.sim_status(stop.key)} == {"Submitted"},
        what="both exits working on the new month",
    )
    assert {rig.state(k) for k in exits} == {OrderState.CANCELLED}
    assert any("Exit orders moved" in message for message, _ in rig.alerts)


async def test_a_spread_roll_in_flight_cannot_be_started_twice(rig: Rig, wait_for: WaitFor) -> None:
    await long_front_month(rig, wait_for)
    rolling = plan(rig)
    limit = far_limit(rig, rolling, 40)
    first = await rig.within(rig.broker.orders.roll_spread(rolling, OrderType.LIMIT, limit))

    # neither as a spread nor as two orders while the spread works on the month
    with pytest.raises(OrderRefused, match="is still working on ESH5"):
        await rig.broker.orders.roll_spread(rolling, OrderType.MARKET)
    with pytest.raises(OrderRefused, match="is still working on ESH5"):
        await rig.broker.orders.roll(rolling)

    rig.broker.orders.cancel(rig.row(first.key).order_id)
    assert await rig.final(first.key) is OrderState.CANCELLED
    assert len(combos_received(rig)) == 1
    rig.assert_agree()


async def test_exits_follow_each_part_rolled_then_the_legged_rest(
    rig: Rig, wait_for: WaitFor
) -> None:
    entry = rig.bid(4)
    bracket = rig.intent(quantity=2, order_type="LMT", limit_price=entry, stop_loss=entry - 40)
    rig.broker.orders.submit(bracket, confirmed=True)
    assert await rig.final(bracket.key) is OrderState.FILLED
    await wait_for(lambda: rig.state(bracket.stop_loss_key) is OrderState.WORKING, what="stop")
    await wait_for(lambda: rig.held(rig.es) == 2, what="the long position")
    rolling = plan(rig)
    rig.gw.desk.set_partial_fills(2, stall=True)

    working = await rig.within(rig.broker.orders.roll_spread(rolling, OrderType.MARKET))

    assert working.lifecycle.filled == 1
    (first,) = [o for o in rig.journal.orders(limit=None) if o.intent.purpose is Purpose.ROLL_MOVE]
    assert (first.intent.contract, first.intent.quantity) == (rig.next_month, 1)

    await rig.within(rig.broker.orders.leg_rest(working.key))

    moved = [o for o in rig.journal.orders(limit=None) if o.intent.purpose is Purpose.ROLL_MOVE]
    assert sorted(o.intent.quantity for o in moved) == [1, 1]
    assert {o.intent.contract for o in moved} == {rig.next_month}
    await wait_for(
        lambda: (rig.held(rig.es), rig.held(rig.next_month)) == (0, 2), what="all rolled"
    )
    rig.assert_agree()


@pytest.mark.expect_log_warnings  # the critical alert is logged too
async def test_a_console_restarted_mid_roll_names_the_exits_it_cancelled_and_sends_nothing(
    rig: Rig, wait_for: WaitFor
) -> None:
    """The roll cancels the front month's stop; its combo fills 1 of 2 (that part's stop is
    placed on the next month) and the console stops, its roll in memory gone. The rest fills
    while it is down. The console started next on the same journal sends nothing and raises a
    critical alert naming the stop for the contract that has none; the start after that is
    quiet."""
    await long_front_month(rig, wait_for)
    stop = rig.intent(side="SELL", quantity=2, order_type="STP", stop_price=rig.bid(-40))
    rig.broker.orders.submit(stop, confirmed=True)
    await wait_for(lambda: rig.state(stop.key) is OrderState.WORKING, what="the stop")
    rig.gw.desk.set_partial_fills(2)

    working = await rig.within(rig.broker.orders.roll_spread(plan(rig), OrderType.MARKET))

    assert working.state is OrderState.PARTIALLY_FILLED
    (moved,) = [o for o in rig.journal.orders(limit=None) if o.intent.purpose is Purpose.ROLL_MOVE]
    assert moved.intent.quantity == 1
    await wait_for(lambda: rig.sim_status(moved.key) == "Submitted", what="the first part's stop")
    await rig.broker.stop()
    for _ in range(100_000):  # the rest fills while no console is connected
        if rig.sim_status(working.key) == "Filled":
            break
        rig.gw.market.step(rig.es.con_id)
    assert rig.sim_status(working.key) == "Filled"
    placed = len(rig.gw.orders)

    text = await critical_roll_alert_at_restart(rig, wait_for)
    assert text is not None
    assert working.key in text
    assert f"SELL 1 STP stop {stop.stop_price.normalize():f}" in text  # type: ignore[union-attr]
    assert "with 2 rolled" in text
    assert await critical_roll_alert_at_restart(rig, wait_for) is None, "the trader was told twice"
    assert len(rig.gw.orders) == placed, "a restart sent an order nobody clicked"
    assert rig.sim_status(moved.key) == "Submitted"


async def critical_roll_alert_at_restart(rig: Rig, wait_for: WaitFor) -> str | None:
    """The critical roll alert a console started on ``rig``'s journal and gateway raised, if
    any (as the app would after a crash); it holds the rolled position."""

    def holds_what_was_rolled(broker: Broker) -> None:
        rolled = broker.account.position(rig.next_month.con_id)
        assert rolled is not None
        assert rolled.quantity == 2

    alerts = await rig.critical_alerts_at_restart(wait_for, holds_what_was_rolled)
    critical = [message for message in alerts if message.startswith("ROLL")]
    assert len(critical) <= 1, critical
    return critical[0] if critical else None


@pytest.mark.expect_log_warnings  # the heartbeat that failed and the unknown order are logged
async def test_a_roll_stops_when_a_reload_finds_its_old_month_cancels_lost(
    make_rig: RigFactory, wait_for: WaitFor
) -> None:
    # A gateway silent for one heartbeat, then answering again on the same socket: the console
    # reloads its orders there, and IB (which handles a socket's requests in order) has answered
    # every cancel sent before by then. What is not ended then never will be by waiting, so the
    # roll stops at once with what IB says, not after its 30 s fill timeout.
    rig = await make_rig(quote_next_month=True, health=PATIENT_HEALTH)
    await long_front_month(rig, wait_for)
    stop = rig.intent(side="SELL", quantity=2, order_type="STP", stop_price=rig.bid(-20))
    rig.broker.orders.submit(stop, confirmed=True)
    await wait_for(lambda: rig.state(stop.key) is OrderState.WORKING, what="the stop working")
    rig.gw.faults.stop_answering()
    lost = rig.intent(order_type="LMT", limit_price=rig.bid(-20))
    rig.broker.orders.submit(lost, confirmed=True)  # swallowed: it never reaches IB
    rolling = plan(rig)
    assert {o.order.key for o in rolling.orders} == {stop.key, lost.key}

    roll = asyncio.ensure_future(rig.broker.orders.roll_spread(rolling, OrderType.MARKET))
    await wait_for(
        lambda: all(_cancel_requested(rig, k) for k in (stop.key, lost.key)), what="the cancels"
    )
    await wait_for(
        lambda: rig.broker.session.state is HealthState.DEGRADED, what="a heartbeat unanswered"
    )
    rig.gw.faults.resume_answering()

    with pytest.raises(OrderRefused) as refused:
        await rig.within(roll)

    assert refused.value.reason.startswith(
        "Roll stopped before the ESH5-ESM5 spread order went out: The connection was reloaded "
        "while the working orders on ESH5 were being cancelled, and not all of them ended: "
        "IB still works 1 (its cancel was lost), and 1 never reached IB."
    )
    # The stop's cancel was the one lost: the roll's alert says it still works.
    assert refused.value.reason.endswith(
        "Nothing was closed or opened. Its exit orders on ESH5 were not cancelled and still "
        f"work: SELL 2 STP stop {stop.stop_price}."
    )
    assert any(critical and m == refused.value.reason for m, critical in rig.alerts)
    assert combos_received(rig) == []
    assert rig.sim_status(stop.key) == "Submitted"
    assert rig.state(stop.key) is OrderState.WORKING
    assert rig.state(lost.key) is OrderState.UNKNOWN
    assert (rig.held(rig.es), rig.held(rig.next_month)) == (2, 0)
    rig.assert_agree()


def _cancel_requested(rig: Rig, key: str) -> bool:
    order = rig.journal.order(key)
    return order is not None and order.lifecycle.cancel_requested


@pytest.mark.expect_log_warnings  # the heartbeat that failed is logged
async def test_legging_the_rest_stops_when_a_reload_finds_the_spread_s_cancel_lost(
    make_rig: RigFactory, wait_for: WaitFor
) -> None:
    # As for the old month's cancels: once the orders are reloaded on the same socket, IB has
    # answered the spread order's cancel if it ever will, so legging the rest stops at once with
    # what IB says, not after the 30 s fill timeout, and nothing is closed or opened.
    rig = await make_rig(quote_next_month=True, health=PATIENT_HEALTH)
    rolls = rig.broker.orders.spread_rolls
    rolls.fill_timeout = 0.5  # the spread's limit never fills: the roll returns it working
    await long_front_month(rig, wait_for)
    rolling = plan(rig)
    working = await rig.within(
        rig.broker.orders.roll_spread(rolling, OrderType.LIMIT, far_limit(rig, rolling, 40))
    )
    assert working.state is OrderState.WORKING
    rolls.fill_timeout = 30.0
    rig.gw.faults.stop_answering()

    legging = asyncio.ensure_future(rig.broker.orders.leg_rest(working.key))
    await wait_for(lambda: _cancel_requested(rig, working.key), what="the spread's cancel")
    await wait_for(
        lambda: rig.broker.session.state is HealthState.DEGRADED, what="a heartbeat unanswered"
    )
    rig.gw.faults.resume_answering()

    with pytest.raises(OrderRefused) as refused:
        await rig.within(legging)

    assert refused.value.reason == (
        "The connection was reloaded while the ESH5-ESM5 spread order was being cancelled, and "
        "it has not ended: IB still works 1 (its cancel was lost). Nothing was legged; check it "
        "in the blotter."
    )
    assert rig.sim_status(working.key) == "Submitted"
    assert rig.state(working.key) is OrderState.WORKING
    purposes = [o.intent.purpose for o in rig.journal.orders(limit=None)]
    assert Purpose.ROLL_CLOSE not in purposes
    assert Purpose.ROLL_OPEN not in purposes
    assert (rig.held(rig.es), rig.held(rig.next_month)) == (2, 0)
    rig.assert_agree()
    # the spread still works and is still the roll's: its rest can be legged once IB answers
    opened = await rig.within(rig.broker.orders.leg_rest(working.key))
    assert opened is not None
    assert rig.state(working.key) is OrderState.CANCELLED
    await wait_for(
        lambda: (rig.held(rig.es), rig.held(rig.next_month)) == (0, 2), what="legged roll"
    )
    rig.assert_agree()
