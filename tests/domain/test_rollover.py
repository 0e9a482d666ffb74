"""Rollover against published exchange dates, plus the properties a trader relies on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.orders import (
    OrderIntent,
    OrderType,
    Purpose,
    Side,
    TimeInForce,
    WorkingOrder,
)
from ibconsole.domain.products import MONTH_CODES, PRODUCTS, RollRule, RollRuleKind, product
from ibconsole.domain.rollover import (
    MovedOrder,
    OrderAction,
    RolloverSettings,
    RollPlan,
    RollStatus,
    contract_schedule,
    first_notice_date,
    front_months,
    last_trade,
    last_trade_date,
    move_exits,
    plan_roll,
    roll_status,
)
from ibconsole.domain.sessions import BusinessCalendar, business_calendar

Listed = Callable[[str, str], ListedContract]
CT = ZoneInfo("America/Chicago")
DEFAULTS = RolloverSettings()


def at(day: str, clock: str = "12:00") -> datetime:
    """An instant in Chicago time."""
    return datetime.combine(date.fromisoformat(day), time.fromisoformat(clock), CT)


def months(first: str, last: str) -> list[str]:
    out: list[str] = []
    year, month = int(first[:4]), int(first[4:])
    while f"{year}{month:02d}" <= last:
        out.append(f"{year}{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


# --- published expiry dates ---------------------------------------------------------------------

# CME equity index futures terminate at 8:30 CT on the third Friday of the contract month, or the
# business day before when the NYSE does not open that Friday (CME Rulebook ch. 358, Termination
# of Trading). June 2026: Juneteenth falls on the third Friday (NYSE closed Fri 19 June 2026).
# June 2027: Juneteenth is a Saturday, observed by the NYSE on Friday 18 June 2027 (NYSE Rule 7.2,
# as exchange_calendars' XNYS has it). The roll date is eight calendar days before expiry
# (cmegroup.com "Equity Index Roll Dates": the trading floor convention), a Thursday normally and
# a Wednesday when expiry moves to Thursday.
ES_DATES = [
    ("202503", "2025-03-21", "2025-03-13"),
    ("202506", "2025-06-20", "2025-06-12"),
    ("202509", "2025-09-19", "2025-09-11"),
    ("202512", "2025-12-19", "2025-12-11"),
    ("202603", "2026-03-20", "2026-03-12"),
    ("202606", "2026-06-18", "2026-06-10"),
    ("202609", "2026-09-18", "2026-09-10"),
    ("202612", "2026-12-18", "2026-12-10"),
    ("202703", "2027-03-19", "2027-03-11"),
    ("202706", "2027-06-17", "2027-06-09"),
    ("202709", "2027-09-17", "2027-09-09"),
    ("202712", "2027-12-17", "2027-12-09"),
]


@pytest.mark.parametrize(("month", "expiry", "roll"), ES_DATES)
@pytest.mark.parametrize("symbol", ["ES", "MES", "NQ", "MNQ", "RTY", "M2K", "YM", "MYM"])
def test_equity_index_expiry_and_roll_dates(
    symbol: str, month: str, expiry: str, roll: str, xnys: BusinessCalendar, listed: Listed
) -> None:
    assert last_trade(product(symbol), month, xnys) == at(expiry, "08:30")
    schedule = contract_schedule(listed(symbol, month), xnys, DEFAULTS)
    assert schedule.roll_date == date.fromisoformat(roll)
    assert schedule.roll_at == at(roll, "00:00")


# NYMEX CL: "Trading terminates 3 business day before the 25th calendar day of the month prior
# to the contract month. If the 25th calendar day is not a business day, trading terminates 4
# business days before the 25th calendar day" (cmegroup.com, Crude Oil Futures - Contract Specs).
# 2026, by that rule on NYSE business days. May 2026's 25th is Memorial Day (4 days before);
# the 25th is a weekend for Feb, May, Aug and Nov 2026 contracts and Christmas for Jan 2026.
CL_2026 = [
    ("202601", "2025-12-19"),
    ("202602", "2026-01-20"),
    ("202603", "2026-02-20"),
    ("202604", "2026-03-20"),
    ("202605", "2026-04-21"),
    ("202606", "2026-05-19"),
    ("202607", "2026-06-22"),
    ("202608", "2026-07-21"),
    ("202609", "2026-08-20"),
    ("202610", "2026-09-22"),
    ("202611", "2026-10-20"),
    ("202612", "2026-11-20"),
]

# Published NYMEX crude last trade dates (bohlish.com CEXP "Crude_Oil NYM" table, 2008): the same
# rule checked against an exchange's own calendar, including Christmas and Thanksgiving 25ths.
CL_PUBLISHED_2009_2010 = [
    ("200901", "2008-12-19"),
    ("200902", "2009-01-20"),
    ("200903", "2009-02-20"),
    ("200904", "2009-03-20"),
    ("200905", "2009-04-21"),
    ("200906", "2009-05-19"),
    ("200907", "2009-06-22"),
    ("200908", "2009-07-21"),
    ("200909", "2009-08-20"),
    ("200910", "2009-09-22"),
    ("200911", "2009-10-20"),
    ("200912", "2009-11-20"),
    ("201001", "2009-12-21"),
    ("201002", "2010-01-20"),
    ("201003", "2010-02-22"),
    ("201004", "2010-03-22"),
    ("201005", "2010-04-20"),
    ("201006", "2010-05-20"),
    ("201007", "2010-06-22"),
    ("201008", "2010-07-20"),
    ("201009", "2010-08-20"),
    ("201010", "2010-09-21"),
    ("201011", "2010-10-20"),
    ("201012", "2010-11-19"),
]


@pytest.mark.parametrize(("month", "expiry"), CL_2026 + CL_PUBLISHED_2009_2010)
def test_crude_oil_last_trade_dates(month: str, expiry: str, xnys: BusinessCalendar) -> None:
    assert last_trade_date(product("CL"), month, xnys) == date.fromisoformat(expiry)


@pytest.mark.parametrize(("month", "_expiry"), CL_2026)
def test_micro_crude_expires_one_business_day_before_crude(
    month: str, _expiry: str, xnys: BusinessCalendar
) -> None:
    # CME Micro WTI FAQ: "1 day prior to the expiration of WTI Crude Oil futures".
    crude = last_trade_date(product("CL"), month, xnys)
    assert last_trade_date(product("MCL"), month, xnys) == xnys.shift(crude, -1)


def test_micro_crude_skips_holidays_when_stepping_back(xnys: BusinessCalendar) -> None:
    # CLN26 expires Monday 22 June 2026; the business day before is Thursday 18 June (Juneteenth).
    assert last_trade_date(product("MCL"), "202607", xnys) == date(2026, 6, 18)


@pytest.mark.parametrize(
    ("symbol", "month", "expiry", "notice"),
    [
        # NG: third last business day of the prior month.
        ("NG", "202602", "2026-01-28", None),
        ("NG", "202601", "2025-12-29", None),
        # GC: third last business day of the month; first notice on the prior month's last.
        ("GC", "202606", "2026-06-26", "2026-05-29"),
        ("GC", "202604", "2026-04-28", "2026-03-31"),
        # ZN/ZB: seventh business day before the last business day (Juneteenth skipped).
        ("ZN", "202606", "2026-06-18", "2026-05-29"),
        ("ZB", "202603", "2026-03-20", "2026-02-27"),
        # 6E: second business day before the third Wednesday.
        ("6E", "202606", "2026-06-15", None),
        ("6E", "202512", "2025-12-15", None),
    ],
)
def test_other_expiry_rules(
    symbol: str, month: str, expiry: str, notice: str | None, xnys: BusinessCalendar
) -> None:
    item = product(symbol)
    assert last_trade_date(item, month, xnys) == date.fromisoformat(expiry)
    expected_notice = date.fromisoformat(notice) if notice else None
    assert first_notice_date(item, month, xnys) == expected_notice


def test_last_trade_times_are_in_exchange_time(xnys: BusinessCalendar) -> None:
    assert last_trade(product("CL"), "202607", xnys) == at("2026-06-22", "13:30")
    assert last_trade(product("GC"), "202606", xnys) == at("2026-06-26", "12:30")
    assert last_trade(product("ZN"), "202606", xnys) == at("2026-06-18", "12:01")
    assert last_trade(product("6E"), "202606", xnys) == at("2026-06-15", "09:16")


def test_expiry_rules_refuse_the_wrong_calendar() -> None:
    other = BusinessCalendar("CMES", date(2026, 1, 1), date(2026, 12, 31), frozenset())
    with pytest.raises(ValueError, match="XNYS calendar, but the CMES calendar"):
        last_trade_date(product("ES"), "202606", other)


def test_expiry_outside_the_calendar_range_is_a_clear_error(xnys: BusinessCalendar) -> None:
    with pytest.raises(ValueError, match="covers 2008-01-01 to 2028-12-31"):
        last_trade_date(product("ES"), "203003", xnys)


@pytest.mark.parametrize("month", ["2026-6", "20261", "202613", "abcdef"])
def test_bad_contract_month_is_named(month: str, xnys: BusinessCalendar) -> None:
    with pytest.raises(ValueError, match="YYYYMM"):
        last_trade_date(product("ES"), month, xnys)


# --- roll dates ------------------------------------------------------------------------------


def test_crude_rolls_five_business_days_before_last_trade(
    xnys: BusinessCalendar, listed: Listed
) -> None:
    # CLN26 last trades Monday 22 June 2026; five business days back skips Juneteenth.
    assert contract_schedule(listed("CL", "202607"), xnys, DEFAULTS).roll_date == date(2026, 6, 12)
    assert contract_schedule(listed("MCL", "202607"), xnys, DEFAULTS).roll_date == date(2026, 6, 12)


def test_gold_rolls_before_first_notice_not_before_last_trade(
    xnys: BusinessCalendar, listed: Listed
) -> None:
    schedule = contract_schedule(listed("GC", "202604"), xnys, DEFAULTS)
    assert schedule.deadline == at("2026-03-31", "00:00")
    assert schedule.roll_date == date(2026, 3, 24)
    assert schedule.must_roll_at == at("2026-03-27", "00:00")
    micro = contract_schedule(listed("MGC", "202604"), xnys, DEFAULTS)
    assert micro.roll_date == schedule.roll_date


def test_an_override_on_the_family_moves_its_micro_too(
    xnys: BusinessCalendar, listed: Listed
) -> None:
    rules = RolloverSettings(overrides={"CL": RollRule(RollRuleKind.BUSINESS_DAYS, 3)})
    for symbol in ("CL", "MCL"):
        assert contract_schedule(listed(symbol, "202607"), xnys, rules).roll_date == date(
            2026, 6, 16
        )


def test_an_override_on_a_micro_is_refused_with_the_family_to_use() -> None:
    with pytest.raises(
        ValueError, match="MES rolls on the ES roll date, so set the override on ES"
    ):
        RolloverSettings(overrides={"MES": RollRule(RollRuleKind.CALENDAR_DAYS, 5)})


def test_an_override_for_an_unknown_symbol_is_refused() -> None:
    with pytest.raises(ValueError, match="'QQ'"):
        RolloverSettings(overrides={"QQ": RollRule(RollRuleKind.CALENDAR_DAYS, 5)})


@pytest.mark.parametrize("field", ["buffer_days", "close_out_warning_days"])
def test_negative_day_settings_are_refused(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        RolloverSettings(**{field: -1})  # type: ignore[arg-type]


def test_settings_overrides_cannot_be_changed_afterwards() -> None:
    source = {"ES": RollRule(RollRuleKind.CALENDAR_DAYS, 5)}
    rules = RolloverSettings(overrides=source)
    source["NQ"] = RollRule(RollRuleKind.CALENDAR_DAYS, 1)
    assert set(rules.overrides) == {"ES"}
    with pytest.raises(TypeError):
        rules.overrides["NQ"] = RollRule(RollRuleKind.CALENDAR_DAYS, 1)  # type: ignore[index]


def test_a_micro_rolls_on_its_own_expiry_when_the_family_date_comes_too_late(
    xnys: BusinessCalendar, listed: Listed
) -> None:
    # Rolling CL on its last day would leave MCL, which stops a day earlier, past expiry.
    rules = RolloverSettings(overrides={"CL": RollRule(RollRuleKind.BUSINESS_DAYS, 0)})
    assert contract_schedule(listed("CL", "202607"), xnys, rules).roll_date == date(2026, 6, 22)
    micro = contract_schedule(listed("MCL", "202607"), xnys, rules)
    assert micro.roll_date == date(2026, 6, 18)
    assert micro.roll_at < micro.contract.last_trade


# --- front, next, active and status over the June 2026 ES roll ---------------------------------


@pytest.fixture(scope="module")
def es_listing(listed: Listed) -> list[ListedContract]:
    return [listed("ES", m) for m in ("202603", "202606", "202609", "202612", "202703")]


@pytest.mark.parametrize(
    ("now", "front", "nxt", "active", "status", "days"),
    [
        (at("2026-06-09", "16:59"), "202606", "202609", "202606", RollStatus.OK, 9),
        (at("2026-06-10", "00:00"), "202606", "202609", "202609", RollStatus.ROLL_WINDOW, 8),
        (at("2026-06-16", "00:00"), "202606", "202609", "202609", RollStatus.MUST_ROLL, 2),
        (at("2026-06-17", "00:00"), "202609", "202612", "202609", RollStatus.OK, 93),
        (at("2026-03-19", "23:00"), "202606", "202609", "202606", RollStatus.OK, 91),
    ],
)
def test_es_around_the_june_2026_roll(
    now: datetime,
    front: str,
    nxt: str,
    active: str,
    status: RollStatus,
    days: int,
    es_listing: list[ListedContract],
    xnys: BusinessCalendar,
) -> None:
    view = front_months(es_listing, now, xnys, DEFAULTS)
    assert view.symbol == "ES"
    assert view.front.contract.contract_month == front
    assert view.next is not None
    assert view.next.contract.contract_month == nxt
    assert view.active.contract_month == active
    assert view.status is status
    assert view.days_to_expiry == days
    assert view.roll_date == view.front.roll_date


def test_front_months_accepts_any_time_zone(
    es_listing: list[ListedContract], xnys: BusinessCalendar
) -> None:
    in_utc = front_months(es_listing, datetime(2026, 6, 10, 5, 0, tzinfo=UTC), xnys, DEFAULTS)
    in_chicago = front_months(es_listing, at("2026-06-10", "00:00"), xnys, DEFAULTS)
    assert in_utc == in_chicago


@pytest.mark.parametrize(
    ("now", "status"),
    [
        (at("2026-06-09", "23:59"), RollStatus.OK),
        (at("2026-06-10", "00:00"), RollStatus.ROLL_WINDOW),
        (at("2026-06-15", "23:59"), RollStatus.ROLL_WINDOW),
        (at("2026-06-16", "00:00"), RollStatus.MUST_ROLL),
        (at("2026-06-18", "08:29"), RollStatus.MUST_ROLL),
        (at("2026-06-18", "08:30"), RollStatus.EXPIRED),
        (at("2026-07-01"), RollStatus.EXPIRED),
    ],
)
def test_status_of_a_held_esm6(
    now: datetime, status: RollStatus, xnys: BusinessCalendar, listed: Listed
) -> None:
    assert roll_status(listed("ES", "202606"), now, xnys, DEFAULTS) is status


def test_the_last_listed_month_has_no_next(xnys: BusinessCalendar, listed: Listed) -> None:
    view = front_months([listed("ES", "202606")], at("2026-06-01"), xnys, DEFAULTS)
    assert view.next is None
    assert view.active == view.front.contract


def test_past_the_roll_date_with_no_next_month_active_stays_on_the_front(
    xnys: BusinessCalendar, listed: Listed
) -> None:
    view = front_months([listed("ES", "202606")], at("2026-06-12"), xnys, DEFAULTS)
    assert view.status is RollStatus.ROLL_WINDOW
    assert view.active.contract_month == "202606"


def test_gold_front_uses_only_active_months_and_leaves_before_first_notice(
    xnys: BusinessCalendar, listed: Listed
) -> None:
    listing = [listed("GC", m) for m in months("202603", "202612")]
    before = front_months(listing, at("2026-03-20"), xnys, DEFAULTS)
    assert before.front.contract.contract_month == "202604"
    assert before.next is not None
    assert before.next.contract.contract_month == "202606"  # May is not an active month
    assert before.active.contract_month == "202604"
    rolling = front_months(listing, at("2026-03-25"), xnys, DEFAULTS)
    assert rolling.active.contract_month == "202606"
    assert rolling.status is RollStatus.ROLL_WINDOW
    after = front_months(listing, at("2026-03-30", "00:00"), xnys, DEFAULTS)
    assert after.front.contract.contract_month == "202606"


def test_crude_front_moves_monthly(xnys: BusinessCalendar, listed: Listed) -> None:
    listing = [listed("CL", m) for m in months("202605", "202612")]
    view = front_months(listing, at("2026-06-12", "00:00"), xnys, DEFAULTS)
    assert view.front.contract.contract_month == "202607"
    assert view.active.contract_month == "202608"
    assert view.status is RollStatus.ROLL_WINDOW


# --- invalid input ---------------------------------------------------------------------------


def test_no_contracts_is_an_error(xnys: BusinessCalendar) -> None:
    with pytest.raises(ValueError, match="No listed contracts were given"):
        front_months([], at("2026-06-01"), xnys, DEFAULTS)


def test_mixed_products_are_an_error(xnys: BusinessCalendar, listed: Listed) -> None:
    with pytest.raises(ValueError, match="mixes ES, NQ"):
        front_months(
            [listed("ES", "202606"), listed("NQ", "202606")], at("2026-06-01"), xnys, DEFAULTS
        )


def test_naive_now_is_an_error(xnys: BusinessCalendar, listed: Listed) -> None:
    with pytest.raises(ValueError, match="naive time"):
        front_months([listed("ES", "202606")], datetime(2026, 6, 1), xnys, DEFAULTS)
    with pytest.raises(ValueError, match="naive time"):
        roll_status(listed("ES", "202606"), datetime(2026, 6, 1), xnys, DEFAULTS)


def test_a_naive_last_trade_is_refused_when_the_contract_is_built(listed: Listed) -> None:
    good = listed("ES", "202606")
    with pytest.raises(ValueError, match="last trade time of ESM6 must carry a time zone"):
        ListedContract(
            symbol=good.symbol,
            local_symbol=good.local_symbol,
            con_id=good.con_id,
            contract_month=good.contract_month,
            last_trade=datetime(2026, 6, 18, 8, 30),
            exchange=good.exchange,
            currency=good.currency,
            multiplier=good.multiplier,
            min_tick=good.min_tick,
            trading_class=good.trading_class,
        )


def test_all_expired_is_an_error_asking_for_later_months(
    xnys: BusinessCalendar, listed: Listed
) -> None:
    with pytest.raises(ValueError, match=r"up to ESM6 has expired.*later months are needed"):
        front_months(
            [listed("ES", "202603"), listed("ES", "202606")], at("2026-07-01"), xnys, DEFAULTS
        )


def test_only_off_cycle_months_is_an_error(xnys: BusinessCalendar, listed: Listed) -> None:
    with pytest.raises(ValueError, match=r"\(GCK6\) is in its roll cycle GJMQVZ"):
        front_months([listed("GC", "202605")], at("2026-03-01"), xnys, DEFAULTS)


# --- roll plan ---------------------------------------------------------------------------------


def order(order_id: int, con_id: int, side: Side, kind: OrderType) -> WorkingOrder:
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
        tif=TimeInForce.DAY,
    )


def test_rolling_a_long_sells_the_old_month_and_buys_the_new(listed: Listed) -> None:
    held, target = listed("ES", "202606"), listed("ES", "202609")
    stop = order(1, held.con_id, Side.SELL, OrderType.STOP)
    take_profit = order(2, held.con_id, Side.SELL, OrderType.LIMIT)
    add_on = order(3, held.con_id, Side.BUY, OrderType.LIMIT)
    elsewhere = order(4, target.con_id, Side.SELL, OrderType.STOP)
    plan = plan_roll(Decimal(3), held, target, [stop, take_profit, add_on, elsewhere], DEFAULTS)
    assert plan.position == Decimal(3)
    assert (plan.close.contract, plan.close.side, plan.close.quantity) == (
        held,
        Side.SELL,
        Decimal(3),
    )
    assert plan.open is not None
    assert (plan.open.contract, plan.open.side, plan.open.quantity) == (
        target,
        Side.BUY,
        Decimal(3),
    )
    assert [(o.order.order_id, o.action) for o in plan.orders] == [
        (1, OrderAction.MOVE),
        (2, OrderAction.MOVE),
        (3, OrderAction.CANCEL),
    ]


def test_rolling_a_short_buys_the_old_month_and_sells_the_new(listed: Listed) -> None:
    held, target = listed("CL", "202607"), listed("CL", "202608")
    stop = order(7, held.con_id, Side.BUY, OrderType.STOP)
    plan = plan_roll(Decimal(-2), held, target, [stop], DEFAULTS)
    assert (plan.close.side, plan.close.quantity) == (Side.BUY, Decimal(2))
    assert plan.open is not None
    assert (plan.open.side, plan.open.quantity) == (Side.SELL, Decimal(2))
    assert plan.orders[0].action is OrderAction.MOVE


def test_without_reopening_there_is_no_open_leg_and_every_order_is_cancelled(
    listed: Listed,
) -> None:
    held, target = listed("ES", "202606"), listed("ES", "202609")
    stop = order(1, held.con_id, Side.SELL, OrderType.STOP)
    plan = plan_roll(Decimal(1), held, target, [stop], RolloverSettings(reopen_on_roll=False))
    assert plan.open is None
    assert plan.close.side is Side.SELL
    assert [o.action for o in plan.orders] == [OrderAction.CANCEL]


def test_a_child_of_a_working_entry_is_cancelled_with_it_not_moved(listed: Listed) -> None:
    held, target = listed("ES", "202606"), listed("ES", "202609")
    entry = order(1, held.con_id, Side.BUY, OrderType.LIMIT)
    child = replace(order(2, held.con_id, Side.SELL, OrderType.STOP), parent_id=1)
    plan = plan_roll(Decimal(1), held, target, [entry, child], DEFAULTS)
    assert [o.action for o in plan.orders] == [OrderAction.CANCEL, OrderAction.CANCEL]


def move(
    plan: RollPlan, spread: str, opened: int, oca_prefix: str = "x"
) -> tuple[tuple[MovedOrder, ...], tuple[tuple[WorkingOrder, str], ...]]:
    keys = iter(f"ibc-moved-{n}" for n in range(1, 100))
    return move_exits(
        plan,
        Decimal(spread),
        Decimal(opened),
        oca_prefix=oca_prefix,
        new_key=lambda: next(keys),
        now=at("2026-06-08"),
        account="DU1234567",
    )


def _terms(intent: OrderIntent) -> tuple[object, ...]:
    return (
        intent.contract,
        intent.side,
        intent.quantity,
        intent.order_type,
        intent.limit_price,
        intent.stop_price,
        intent.tif,
    )


def test_moved_exits_keep_their_distance_from_the_position_on_the_new_tick_grid(
    listed: Listed,
) -> None:
    held, target = listed("ES", "202606"), listed("ES", "202609")
    stop = order(1, held.con_id, Side.SELL, OrderType.STOP)  # stop 5900, 2 contracts
    take_profit = replace(order(2, held.con_id, Side.SELL, OrderType.LIMIT), tif=TimeInForce.GTC)
    plan = plan_roll(Decimal(1), held, target, [stop, take_profit], DEFAULTS)

    # The new month filled 41.37 points above the old one (an average over several fills).
    moved, stuck = move(plan, "41.37", 1)

    assert stuck == ()
    assert [(m.source, *_terms(m.intent)) for m in moved] == [
        (stop, target, Side.SELL, 1, OrderType.STOP, None, Decimal("5941.25"), TimeInForce.DAY),
        (
            take_profit,
            target,
            Side.SELL,
            1,
            OrderType.LIMIT,
            Decimal("6041.50"),
            None,
            TimeInForce.GTC,
        ),
    ]
    assert [(m.intent.key, m.intent.purpose, m.intent.account) for m in moved] == [
        ("ibc-moved-1", Purpose.ROLL_MOVE, "DU1234567"),
        ("ibc-moved-2", Purpose.ROLL_MOVE, "DU1234567"),
    ]
    assert {(m.intent.bracket, m.intent.created_at) for m in moved} == {(None, at("2026-06-08"))}
    # Two standalone exits stay standalone: the trader did not link them.
    assert [m.intent.oca_group for m in moved] == ["", ""]


def test_exits_that_were_alternatives_stay_one_cancels_all_on_the_new_month(
    listed: Listed,
) -> None:
    held, target = listed("CL", "202607"), listed("CL", "202608")
    # a short's bracket exits (children of filled order 10), an OCA pair, and a lone stop
    bracket = [
        replace(order(n, held.con_id, Side.BUY, k), parent_id=10)
        for n, k in ((1, OrderType.LIMIT), (2, OrderType.STOP))
    ]
    linked = [
        replace(order(n, held.con_id, Side.BUY, k), oca_group="mine")
        for n, k in ((3, OrderType.LIMIT), (4, OrderType.STOP))
    ]
    alone = order(5, held.con_id, Side.BUY, OrderType.STOP)
    plan = plan_roll(Decimal(-2), held, target, [*bracket, *linked, alone], DEFAULTS)

    moved, _ = move(plan, "-0.12", 2, oca_prefix="ibc-X-exits")

    assert {m.source.order_id: m.intent.oca_group for m in moved} == {
        1: "ibc-X-exits-1",
        2: "ibc-X-exits-1",
        3: "ibc-X-exits-2",
        4: "ibc-X-exits-2",
        5: "",
    }


def test_an_exit_larger_than_what_was_reopened_shrinks_to_it(listed: Listed) -> None:
    held, target = listed("ES", "202606"), listed("ES", "202609")
    stop = order(1, held.con_id, Side.SELL, OrderType.STOP)  # 2 contracts
    plan = plan_roll(Decimal(2), held, target, [stop], DEFAULTS)
    (moved,), _ = move(plan, "0", 1)
    assert moved.intent.quantity == 1


def test_an_exit_with_a_time_in_force_the_console_cannot_place_is_reported_not_moved(
    listed: Listed,
) -> None:
    held, target = listed("ES", "202606"), listed("ES", "202609")
    good_till_date = replace(order(1, held.con_id, Side.SELL, OrderType.STOP), tif=None)
    plan = plan_roll(Decimal(2), held, target, [good_till_date], DEFAULTS)
    moved, stuck = move(plan, "5", 2)
    assert moved == ()
    assert stuck == ((good_till_date, "its time in force is not one this console places"),)


def test_exits_move_only_with_a_reopened_position(listed: Listed) -> None:
    held, target = listed("ES", "202606"), listed("ES", "202609")
    stop = order(1, held.con_id, Side.SELL, OrderType.STOP)
    closing_only = plan_roll(
        Decimal(1), held, target, [stop], RolloverSettings(reopen_on_roll=False)
    )
    with pytest.raises(ValueError, match="does not reopen"):
        move(closing_only, "1", 1)
    reopening = plan_roll(Decimal(1), held, target, [stop], DEFAULTS)
    with pytest.raises(ValueError, match="No contracts were opened in ESU6"):
        move(reopening, "1", 0)


@pytest.mark.parametrize(
    ("quantity", "held", "target", "message"),
    [
        ("0", ("ES", "202606"), ("ES", "202609"), "no position in ESM6 to roll"),
        ("1.5", ("ES", "202606"), ("ES", "202609"), "whole number of contracts, got 1.5"),
        ("1", ("ES", "202606"), ("NQ", "202609"), "a roll stays within one product"),
        ("1", ("ES", "202609"), ("ES", "202606"), "must expire after the old one"),
        ("1", ("ES", "202606"), ("ES", "202606"), "must expire after the old one"),
    ],
)
def test_bad_roll_requests_say_what_is_wrong(
    quantity: str,
    held: tuple[str, str],
    target: tuple[str, str],
    message: str,
    listed: Listed,
) -> None:
    with pytest.raises(ValueError, match=message):
        plan_roll(Decimal(quantity), listed(*held), listed(*target), [], DEFAULTS)


# --- properties ---------------------------------------------------------------------------------

SYMBOLS = sorted(PRODUCTS)
instants = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)
rules = st.builds(
    RollRule,
    st.sampled_from(list(RollRuleKind)),
    st.integers(min_value=0, max_value=30),
)


@given(
    symbol=st.sampled_from(SYMBOLS),
    now=instants,
    buffer_days=st.integers(min_value=0, max_value=5),
    warning_days=st.integers(min_value=0, max_value=5),
)
@settings(max_examples=150, deadline=None)
def test_the_front_month_is_never_expired_nor_inside_its_buffer(
    symbol: str,
    now: datetime,
    buffer_days: int,
    warning_days: int,
    xnys: BusinessCalendar,
    listed: Listed,
) -> None:
    item = product(symbol)
    listing = [
        listed(symbol, m)
        for m in months("202412", "202806")
        if MONTH_CODES[int(m[4:]) - 1] in item.cycle
    ]
    rules_now = RolloverSettings(buffer_days=buffer_days, close_out_warning_days=warning_days)
    view = front_months(listing, now, xnys, rules_now)
    assert now < view.front.contract.last_trade
    assert now < view.front.front_until <= view.front.deadline
    assert view.status is not RollStatus.EXPIRED
    assert view.days_to_expiry >= 0
    earlier = [c for c in listing if c.last_trade < view.front.contract.last_trade]
    for skipped in earlier:
        assert now >= contract_schedule(skipped, xnys, rules_now).front_until
    if view.next is not None:
        assert view.next.contract.last_trade > view.front.contract.last_trade
    assert view.active in (view.front.contract, view.next.contract if view.next else None)


@given(
    symbol=st.sampled_from(SYMBOLS),
    month=st.sampled_from(months("202501", "202712")),
    rule=rules,
)
@settings(max_examples=200, deadline=None)
def test_a_roll_date_always_comes_before_expiry(
    symbol: str, month: str, rule: RollRule, xnys: BusinessCalendar, listed: Listed
) -> None:
    rules_now = RolloverSettings(overrides={product(symbol).family: rule})
    schedule = contract_schedule(listed(symbol, month), xnys, rules_now)
    assert schedule.roll_at < schedule.contract.last_trade
    assert schedule.must_roll_at <= schedule.deadline <= schedule.contract.last_trade


FAMILIES = sorted({(p.family, p.symbol) for p in PRODUCTS.values() if p.is_micro})
# Rules that roll at least a couple of days out: a micro never expires more than a business day
# before its family, so the family's date always comes before the micro's own expiry.
family_rules = st.one_of(
    st.builds(RollRule, st.just(RollRuleKind.BUSINESS_DAYS), st.integers(2, 30)),
    st.builds(RollRule, st.just(RollRuleKind.CALENDAR_DAYS), st.integers(4, 30)),
)


@given(
    pair=st.sampled_from(FAMILIES),
    month=st.sampled_from(months("202501", "202712")),
    rule=st.one_of(st.none(), family_rules),
)
@settings(max_examples=200, deadline=None)
def test_micro_and_full_size_share_the_roll_date(
    pair: tuple[str, str],
    month: str,
    rule: RollRule | None,
    xnys: BusinessCalendar,
    listed: Listed,
) -> None:
    family, micro = pair
    rules_now = RolloverSettings(overrides={family: rule} if rule else {})
    full = contract_schedule(listed(family, month), xnys, rules_now)
    small = contract_schedule(listed(micro, month), xnys, rules_now)
    assert full.roll_date == small.roll_date


@given(
    held_month=st.sampled_from(months("202501", "202712")),
    quantity=st.integers(min_value=-50, max_value=50).filter(bool),
    reopen=st.booleans(),
)
@settings(max_examples=60, deadline=None)
def test_a_roll_plan_flattens_the_old_month_and_restores_the_position(
    held_month: str, quantity: int, reopen: bool, listed: Listed
) -> None:
    held = listed("CL", held_month)
    year, month = int(held_month[:4]), int(held_month[4:])
    target = listed("CL", f"{year + month // 12}{month % 12 + 1:02d}")
    plan = plan_roll(Decimal(quantity), held, target, [], RolloverSettings(reopen_on_roll=reopen))
    assert Decimal(quantity) + plan.close.side.sign * plan.close.quantity == 0
    if reopen:
        assert plan.open is not None
        assert plan.open.side.sign * plan.open.quantity == Decimal(quantity)
    else:
        assert plan.open is None


def test_days_to_expiry_counts_exchange_days(xnys: BusinessCalendar, listed: Listed) -> None:
    # 23:30 CT on 17 June is already 18 June in UTC, but still the 17th at the exchange.
    now = at("2026-06-17", "23:30")
    assert now.astimezone(UTC).date() == date(2026, 6, 18)
    view = front_months(
        [listed("ES", "202606"), listed("ES", "202609")],
        now,
        xnys,
        RolloverSettings(buffer_days=0),
    )
    assert view.front.contract.contract_month == "202606"
    assert view.days_to_expiry == 1
    assert now + timedelta(hours=9) == view.front.contract.last_trade


def test_a_business_calendar_can_be_built_for_any_range() -> None:
    small = business_calendar("XNYS", date(2026, 6, 1), date(2026, 6, 30))
    assert small.holidays == frozenset({date(2026, 6, 19)})
