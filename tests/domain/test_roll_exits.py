"""What becomes of the exits a roll cancels when it rolls nothing: which orders of the plan are
exits, the orders that place them again on the old month, and the words of the roll's alert."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.orders import OrderType, Purpose, Side, TimeInForce, WorkingOrder
from ibconsole.domain.roll_exit_words import ExitFate, ExitOutcome, exits_words, order_words
from ibconsole.domain.rollover import RolloverSettings, RollPlan, plan_roll, restore_exits

Listed = Callable[[str, str], ListedContract]
NOW = datetime(2026, 6, 8, 17, 0, tzinfo=UTC)


def order(order_id: int, side: Side, kind: OrderType, con_id: int = 1) -> WorkingOrder:
    return WorkingOrder(
        order_id=order_id,
        key=f"ibc-{order_id}",
        con_id=con_id,
        side=side,
        remaining=Decimal(2),
        order_type=kind,
        limit_price=Decimal("6000.25") if kind is OrderType.LIMIT else None,
        stop_price=Decimal("5900") if kind is OrderType.STOP else None,
        parent_id=0,
        oca_group="",
        status="Submitted",
        tif=TimeInForce.GTC,
    )


def a_plan(listed: Listed, orders: list[WorkingOrder], *, reopen: bool = True) -> RollPlan:
    held, target = listed("ES", "202606"), listed("ES", "202609")
    return plan_roll(
        Decimal(2),
        held,
        target,
        [replace(o, con_id=held.con_id) for o in orders],
        RolloverSettings(reopen_on_roll=reopen),
    )


def restore(
    plan: RollPlan, exits: tuple[WorkingOrder, ...]
) -> tuple[list[tuple[object, ...]], list[tuple[int, str]]]:
    keys = iter(f"ibc-restored-{n}" for n in range(1, 100))
    placed, stuck = restore_exits(
        plan,
        exits,
        oca_prefix="ibc-roll-r",
        new_key=lambda: next(keys),
        now=NOW,
        account="DU1234567",
    )
    return (
        [
            (
                p.source.order_id,
                p.intent.key,
                p.intent.contract,
                p.intent.side,
                p.intent.quantity,
                p.intent.order_type,
                p.intent.limit_price,
                p.intent.stop_price,
                p.intent.tif,
                p.intent.purpose,
                p.intent.oca_group,
            )
            for p in placed
        ],
        [(o.order_id, why) for o, why in stuck],
    )


@pytest.mark.parametrize("reopen", [True, False])
def test_the_exits_of_a_plan_are_its_closing_orders_not_an_entry_s_children(
    listed: Listed, reopen: bool
) -> None:
    stop = order(1, Side.SELL, OrderType.STOP)
    target = order(2, Side.SELL, OrderType.LIMIT)
    adding = order(3, Side.BUY, OrderType.LIMIT)
    entry = order(4, Side.BUY, OrderType.LIMIT)
    child = replace(order(5, Side.SELL, OrderType.STOP), parent_id=4)
    plan = a_plan(listed, [stop, target, adding, entry, child], reopen=reopen)

    assert [o.order_id for o in plan.exits] == [1, 2]
    # reopening, the roll moves exactly those; closing only, it cancels them like the rest
    assert [o.order_id for o in plan.exits_to_move] == ([1, 2] if reopen else [])


def test_restored_exits_go_back_on_the_old_month_at_their_own_prices(listed: Listed) -> None:
    stop = order(1, Side.SELL, OrderType.STOP)
    target = order(2, Side.SELL, OrderType.LIMIT)
    plan = a_plan(listed, [stop, target])
    old = plan.close.contract

    placed, stuck = restore(plan, plan.exits)

    assert stuck == []
    assert placed == [
        (
            1,
            "ibc-restored-1",
            old,
            Side.SELL,
            2,
            OrderType.STOP,
            None,
            Decimal("5900"),
            TimeInForce.GTC,
            Purpose.ROLL_RESTORE,
            "",
        ),
        (
            2,
            "ibc-restored-2",
            old,
            Side.SELL,
            2,
            OrderType.LIMIT,
            Decimal("6000.25"),
            None,
            TimeInForce.GTC,
            Purpose.ROLL_RESTORE,
            "",
        ),
    ]


def test_restored_alternatives_stay_one_cancels_all_in_a_new_group(listed: Listed) -> None:
    bracket = [
        replace(order(n, Side.SELL, kind), parent_id=10)
        for n, kind in ((1, OrderType.LIMIT), (2, OrderType.STOP))
    ]
    linked = [
        replace(order(n, Side.SELL, kind), oca_group="mine")
        for n, kind in ((3, OrderType.LIMIT), (4, OrderType.STOP))
    ]
    plan = a_plan(listed, [*bracket, *linked])

    placed, _ = restore(plan, plan.exits)

    assert {row[0]: row[-1] for row in placed} == {
        1: "ibc-roll-r-1",
        2: "ibc-roll-r-1",
        3: "ibc-roll-r-2",
        4: "ibc-roll-r-2",
    }


def test_only_the_exits_given_are_restored_and_one_it_cannot_place_is_said(
    listed: Listed,
) -> None:
    stop = order(1, Side.SELL, OrderType.STOP)
    good_till_date = replace(order(2, Side.SELL, OrderType.LIMIT), tif=None)
    still_working = order(3, Side.SELL, OrderType.STOP)
    plan = a_plan(listed, [stop, good_till_date, still_working])
    cancelled = tuple(o for o in plan.exits if o.order_id != 3)

    placed, stuck = restore(plan, cancelled)

    assert [row[0] for row in placed] == [1]
    assert stuck == [(2, "its time in force is not one this console places")]


STOP = order(1, Side.SELL, OrderType.STOP)
TARGET = order(2, Side.SELL, OrderType.LIMIT)


@pytest.mark.parametrize(
    ("outcomes", "words"),
    [
        ((), ""),
        (
            (ExitOutcome(STOP, ExitFate.WORKING),),
            "Its exit orders on ESM6 were not cancelled and still work: SELL 2 STP stop 5900.",
        ),
        (
            (ExitOutcome(STOP, ExitFate.UNCONFIRMED),),
            "IB has not confirmed the cancel of its exit orders on ESM6: SELL 2 STP stop 5900; "
            "check whether they still work.",
        ),
        (
            (ExitOutcome(STOP, ExitFate.RESTORED), ExitOutcome(TARGET, ExitFate.RESTORED)),
            "The exit orders it cancelled on ESM6 were placed there again: SELL 2 STP stop 5900; "
            "SELL 2 LMT limit 6000.25.",
        ),
        (
            (
                ExitOutcome(STOP, ExitFate.MISSING, "you hold 1 ESM6 now, not the 2 it protected"),
                ExitOutcome(TARGET, ExitFate.MISSING),
            ),
            "EXITS MISSING: it cancelled these exit orders on ESM6 and they are NOT placed again: "
            "SELL 2 STP stop 5900 (you hold 1 ESM6 now, not the 2 it protected); SELL 2 LMT limit "
            "6000.25. Your ESM6 position lacks them; enter them by hand.",
        ),
        (
            (ExitOutcome(STOP, ExitFate.WAITING),),
            "EXITS NOT IN PLACE: it cancelled these exit orders on ESM6: SELL 2 STP stop 5900. "
            "They go on ESU6 when a retry of the open leg fills; until then neither month has "
            "them.",
        ),
        (
            (ExitOutcome(TARGET, ExitFate.RESTORED), ExitOutcome(STOP, ExitFate.MISSING, "IB: no")),
            "The exit orders it cancelled on ESM6 were placed there again: SELL 2 LMT limit "
            "6000.25. EXITS MISSING: it cancelled these exit orders on ESM6 and they are NOT "
            "placed again: SELL 2 STP stop 5900 (IB: no). Your ESM6 position lacks them; enter "
            "them by hand.",
        ),
    ],
)
def test_the_alert_says_what_became_of_each_exit(
    outcomes: tuple[ExitOutcome, ...], words: str
) -> None:
    waiting_for = "on ESU6 when a retry of the open leg fills"
    assert exits_words("ESM6", outcomes, waiting_for) == words


def test_an_order_reads_as_a_trader_enters_it() -> None:
    assert order_words(STOP, Decimal(1)) == "SELL 1 STP stop 5900"
    assert order_words(TARGET, TARGET.remaining) == "SELL 2 LMT limit 6000.25"
