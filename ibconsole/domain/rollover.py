"""Futures rollover: last trade dates by exchange rule, roll dates, front/next/active months,
the roll status of a held contract and the two-leg plan that rolls a position.

Dates are counted on an exchange BusinessCalendar (see sessions); the clock is the caller's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from zoneinfo import ZoneInfo

from ibconsole.domain.clock import as_utc
from ibconsole.domain.contracts import ListedContract, parse_contract_month
from ibconsole.domain.orders import (
    KeyFactory,
    OrderIntent,
    Purpose,
    Side,
    SnapDirection,
    WorkingOrder,
    snap_to_tick,
)
from ibconsole.domain.products import (
    MONTH_CODES,
    PRODUCTS,
    ExpiryRuleKind,
    Product,
    RollRule,
    RollRuleKind,
    product,
)
from ibconsole.domain.sessions import BusinessCalendar


class RollStatus(StrEnum):
    OK = "ok"
    ROLL_WINDOW = "roll_window"  # from the roll date: new orders go to the next month
    MUST_ROLL = "must_roll"  # within the close-out warning of the holding deadline
    EXPIRED = "expired"  # past the last trade


def _empty_overrides() -> Mapping[str, RollRule]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class RolloverSettings:
    """How the console rolls; built by the settings loader from the TOML file."""

    buffer_days: int = 1  # business days before the deadline a contract stops being the front
    close_out_warning_days: int = 2  # business days before the deadline a position must roll
    reopen_on_roll: bool = True  # a roll opens the same position in the new month
    overrides: Mapping[str, RollRule] = field(default_factory=_empty_overrides)
    # a roll as two orders waits this long for IB to end each of them (cancels, close, open)
    fill_timeout: timedelta = timedelta(seconds=30)

    def __post_init__(self) -> None:
        if self.buffer_days < 0:
            raise ValueError(f"buffer_days must be zero or more, got {self.buffer_days}")
        if self.close_out_warning_days < 0:
            raise ValueError(
                f"close_out_warning_days must be zero or more, got {self.close_out_warning_days}"
            )
        for symbol in self.overrides:
            family = product(symbol).family
            if family != symbol:
                raise ValueError(
                    f"A roll rule override for {symbol} cannot apply: {symbol} rolls on the "
                    f"{family} roll date, so set the override on {family}"
                )
        object.__setattr__(self, "overrides", MappingProxyType(dict(self.overrides)))

    def rule_for(self, item: Product) -> RollRule:
        """The roll rule of the item's family: the override if one is set, else the default."""
        family = PRODUCTS[item.family]
        return self.overrides.get(family.symbol, family.roll_rule)


# --- expiry rules -------------------------------------------------------------------------


def _previous_month(year: int, month: int) -> tuple[int, int]:
    return (year - 1, 12) if month == 1 else (year, month - 1)


def _last_business_day(year: int, month: int, calendar: BusinessCalendar) -> date:
    following = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return calendar.on_or_before(following - timedelta(days=1))


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _check_calendar(item: Product, calendar: BusinessCalendar) -> None:
    if calendar.name != item.business_calendar:
        raise ValueError(
            f"{item.symbol} expiries count business days on the {item.business_calendar} "
            f"calendar, but the {calendar.name} calendar was given"
        )


def last_trade_date(item: Product, contract_month: str, calendar: BusinessCalendar) -> date:
    """The exchange's last trading day for a contract month, by the product's rule."""
    _check_calendar(item, calendar)
    year, month = parse_contract_month(contract_month)
    rule = item.expiry
    n = rule.business_days
    if rule.kind is ExpiryRuleKind.THIRD_FRIDAY:
        return calendar.on_or_before(_nth_weekday(year, month, 4, 3))
    if rule.kind is ExpiryRuleKind.BEFORE_25TH_OF_PRIOR_MONTH:
        the_25th = date(*_previous_month(year, month), 25)
        return calendar.shift(the_25th, -n if calendar.is_business_day(the_25th) else -(n + 1))
    if rule.kind is ExpiryRuleKind.NTH_LAST_BUSINESS_DAY_OF_PRIOR_MONTH:
        return calendar.shift(_last_business_day(*_previous_month(year, month), calendar), 1 - n)
    if rule.kind is ExpiryRuleKind.NTH_LAST_BUSINESS_DAY_OF_MONTH:
        return calendar.shift(_last_business_day(year, month, calendar), 1 - n)
    if rule.kind is ExpiryRuleKind.BEFORE_LAST_BUSINESS_DAY_OF_MONTH:
        return calendar.shift(_last_business_day(year, month, calendar), -n)
    return calendar.shift(_nth_weekday(year, month, 2, 3), -n)  # BEFORE_THIRD_WEDNESDAY


def last_trade(item: Product, contract_month: str, calendar: BusinessCalendar) -> datetime:
    """The last trade date and time, in the product's time zone."""
    day = last_trade_date(item, contract_month, calendar)
    return datetime.combine(day, item.expiry.time, ZoneInfo(item.time_zone))


def first_notice_date(
    item: Product, contract_month: str, calendar: BusinessCalendar
) -> date | None:
    """The first notice day when it comes before the last trade (gold, Treasuries), else None.

    COMEX gold and CBOT Treasuries: the last business day of the month before the contract month.
    """
    if not item.expiry.notice_before_expiry:
        return None
    _check_calendar(item, calendar)
    return _last_business_day(*_previous_month(*parse_contract_month(contract_month)), calendar)


# --- per-contract schedule ---------------------------------------------------------------------


def _start_of(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), zone)


def _before(anchor: date, rule: RollRule, calendar: BusinessCalendar) -> date:
    if rule.kind is RollRuleKind.CALENDAR_DAYS:
        return anchor - timedelta(days=rule.days)
    return calendar.shift(anchor, -rule.days)


def _deadline(
    item: Product, contract_month: str, expiry: datetime, cal: BusinessCalendar
) -> datetime:
    notice = first_notice_date(item, contract_month, cal)
    if notice is None:
        return expiry
    return min(expiry, _start_of(notice, ZoneInfo(item.time_zone)))


def _warning(deadline: datetime, days: int, calendar: BusinessCalendar, zone: ZoneInfo) -> datetime:
    if days == 0:
        return deadline
    return _start_of(calendar.shift(deadline.astimezone(zone).date(), -days), zone)


@dataclass(frozen=True, slots=True)
class ContractSchedule:
    """The roll facts of one listed contract month.

    ``deadline`` is the last moment to hold it: the start of the first notice day for products
    whose notices begin before the last trade, else the last trade itself.
    """

    contract: ListedContract
    roll_date: date
    roll_at: datetime  # start of the roll date in the exchange's time zone
    deadline: datetime
    must_roll_at: datetime
    front_until: datetime  # from here on (buffer_days before the deadline) it is not the front

    def status(self, now: datetime) -> RollStatus:
        # Compare in UTC: comparisons between datetimes sharing a zone ignore DST folds.
        now = as_utc(now, "The current time")
        if now >= self.contract.last_trade:
            return RollStatus.EXPIRED
        if now >= self.must_roll_at:
            return RollStatus.MUST_ROLL
        if now >= self.roll_at:
            return RollStatus.ROLL_WINDOW
        return RollStatus.OK


def contract_schedule(
    contract: ListedContract, calendar: BusinessCalendar, settings: RolloverSettings
) -> ContractSchedule:
    """Roll date, deadline and warnings of one contract.

    The roll date follows the family: the full-size product's rule applied to its own deadline
    in the same contract month, so MES rolls with ES and MCL with CL. Should that date not
    come before this contract's own last trade (a roll rule of zero days on a micro expiring a
    day early), the rule is applied to this contract's own last trade instead.
    """
    item = product(contract.symbol)
    family = PRODUCTS[item.family]
    zone = ZoneInfo(item.time_zone)
    rule = settings.rule_for(item)
    month = contract.contract_month
    family_deadline = _deadline(family, month, last_trade(family, month, calendar), calendar)
    roll = _before(family_deadline.astimezone(zone).date(), rule, calendar)
    expiry = contract.last_trade.astimezone(zone)
    if _start_of(roll, zone) >= expiry:
        roll = _before(expiry.date(), rule, calendar)
    while _start_of(roll, zone) >= expiry:
        roll = calendar.shift(roll, -1)
    deadline = _deadline(item, month, expiry, calendar)
    return ContractSchedule(
        contract=contract,
        roll_date=roll,
        roll_at=_start_of(roll, zone),
        deadline=deadline,
        must_roll_at=_warning(deadline, settings.close_out_warning_days, calendar, zone),
        front_until=_warning(deadline, settings.buffer_days, calendar, zone),
    )


def roll_status(
    held: ListedContract, now: datetime, calendar: BusinessCalendar, settings: RolloverSettings
) -> RollStatus:
    """ok / roll_window / must_roll / expired for a held contract at this instant."""
    return contract_schedule(held, calendar, settings).status(now)


# --- front, next and active months -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RolloverView:
    """What the rollover panel shows for one product at one instant."""

    symbol: str
    front: ContractSchedule
    next: ContractSchedule | None
    active: ListedContract  # where new orders go: the next month from the front's roll date
    days_to_expiry: int  # calendar days from today (exchange time) to the front's last trade
    status: RollStatus  # of the front month

    @property
    def roll_date(self) -> date:
        return self.front.roll_date


def trading_months(
    contracts: Sequence[ListedContract], now: datetime
) -> tuple[ListedContract, ...]:
    """The months of ``contracts`` still trading at ``now`` (last trade after it), in order."""
    return tuple(c for c in contracts if c.last_trade > now)


def order_month(
    view: RolloverView, listed: Sequence[ListedContract], keep: ListedContract | None = None
) -> ListedContract | None:
    """The month of ``listed`` (those trading) a new order of the family goes to: ``keep`` (the
    trader's choice) while it trades, else the active month, else the nearest; None if none."""
    for candidate in (keep, view.active):
        if candidate is not None and candidate in listed:
            return candidate
    return listed[0] if listed else None


def roll_target(view: RolloverView, held: ListedContract) -> ListedContract | None:
    """The month a position in ``held`` rolls into: the active month, else the next one, the
    first of them that expires after ``held``; None when neither does."""
    for candidate in (view.active, view.next.contract if view.next else None):
        if candidate is not None and candidate.last_trade > held.last_trade:
            return candidate
    return None


def _in_cycle(contract: ListedContract, item: Product) -> bool:
    return MONTH_CODES[int(contract.contract_month[4:]) - 1] in item.cycle


def front_months(
    contracts: Sequence[ListedContract],
    now: datetime,
    calendar: BusinessCalendar,
    settings: RolloverSettings,
) -> RolloverView:
    """Front, next and active month of one product's listed contracts at this instant.

    Only months in the product's roll cycle are considered (gold rolls through its active
    months). The front is the nearest one not past ``front_until``.
    """
    now = as_utc(now, "The current time")
    if not contracts:
        raise ValueError("No listed contracts were given, so there is no front month to find")
    symbols = sorted({c.symbol for c in contracts})
    if len(symbols) > 1:
        raise ValueError(
            f"Front months are found one product at a time, but the list mixes {', '.join(symbols)}"
        )
    item = product(symbols[0])
    in_cycle = sorted((c for c in contracts if _in_cycle(c, item)), key=lambda c: c.last_trade)
    if not in_cycle:
        listed = ", ".join(c.local_symbol for c in contracts)
        raise ValueError(
            f"None of the listed {item.symbol} contracts ({listed}) is in its roll cycle "
            f"{item.cycle}"
        )
    schedules = [contract_schedule(c, calendar, settings) for c in in_cycle]
    live = [s for s in schedules if now < s.front_until]
    if not live:
        last = in_cycle[-1]
        raise ValueError(
            f"Every listed {item.symbol} contract up to {last.local_symbol} has expired or is in "
            f"its last {settings.buffer_days} business day(s); later months are needed"
        )
    front = live[0]
    following = live[1] if len(live) > 1 else None
    active = following.contract if following and now >= front.roll_at else front.contract
    today = now.astimezone(ZoneInfo(item.time_zone)).date()
    expiry_day = front.contract.last_trade.astimezone(ZoneInfo(item.time_zone)).date()
    return RolloverView(
        symbol=item.symbol,
        front=front,
        next=following,
        active=active,
        days_to_expiry=(expiry_day - today).days,
        status=front.status(now),
    )


# --- roll plan --------------------------------------------------------------------------------


class OrderAction(StrEnum):
    CANCEL = "cancel"  # cancel on the old month and leave it
    MOVE = "move"  # cancel on the old month and re-create on the new one


@dataclass(frozen=True, slots=True)
class RollLeg:
    contract: ListedContract
    side: Side
    quantity: Decimal  # always positive


@dataclass(frozen=True, slots=True)
class OldMonthOrder:
    order: WorkingOrder
    action: OrderAction


@dataclass(frozen=True, slots=True)
class RollPlan:
    """Both legs of a roll and what happens to the orders working on the old month."""

    position: Decimal  # signed quantity held in the old month
    close: RollLeg  # flattens the old month
    open: RollLeg | None  # the same signed position in the new month; None when not reopening
    orders: tuple[OldMonthOrder, ...]

    @property
    def exits_to_move(self) -> tuple[WorkingOrder, ...]:
        return tuple(item.order for item in self.orders if item.action is OrderAction.MOVE)

    @property
    def exits(self) -> tuple[WorkingOrder, ...]:
        """The orders protecting the position (the closing side, none a child of an entry still
        working), whether the roll moves them or, not reopening, only cancels them."""
        working = {item.order.order_id for item in self.orders}
        return tuple(
            item.order
            for item in self.orders
            if item.order.side is self.close.side and item.order.parent_id not in working
        )


def plan_roll(
    position_qty: Decimal,
    held: ListedContract,
    target: ListedContract,
    working_orders: Sequence[WorkingOrder],
    settings: RolloverSettings,
) -> RollPlan:
    """The legs that roll ``position_qty`` of ``held`` into ``target``.

    Every working order on the old month must leave it. When the position is reopened, the
    exits that protect it (orders on the closing side: stops, take-profits) are moved to the
    new month; orders that would add to it are cancelled.
    """
    if position_qty == 0:
        raise ValueError(f"There is no position in {held.local_symbol} to roll")
    if position_qty != position_qty.to_integral_value():
        raise ValueError(
            f"A futures position is a whole number of contracts, got {position_qty} "
            f"in {held.local_symbol}"
        )
    if held.symbol != target.symbol:
        raise ValueError(
            f"Cannot roll {held.local_symbol} into {target.local_symbol}: a roll stays within "
            f"one product ({held.symbol} here)"
        )
    if target.last_trade <= held.last_trade:
        raise ValueError(
            f"Cannot roll {held.local_symbol} into {target.local_symbol}: the new month must "
            "expire after the old one"
        )
    closing_side = Side.SELL if position_qty > 0 else Side.BUY
    quantity = abs(position_qty)
    close = RollLeg(held, closing_side, quantity)
    reopen = RollLeg(target, closing_side.opposite, quantity) if settings.reopen_on_roll else None
    old_month = [order for order in working_orders if order.con_id == held.con_id]
    # A child whose parent still works protects an entry that the roll cancels, not the position.
    working_ids = {order.order_id for order in old_month}
    orders = tuple(
        OldMonthOrder(
            order,
            OrderAction.MOVE
            if reopen is not None
            and order.side is closing_side
            and order.parent_id not in working_ids
            else OrderAction.CANCEL,
        )
        for order in old_month
    )
    return RollPlan(position=position_qty, close=close, open=reopen, orders=orders)


@dataclass(frozen=True, slots=True)
class MovedOrder:
    """An exit of the old month and the order that re-creates it (on the new month when moved,
    on the old one when restored)."""

    source: WorkingOrder
    intent: OrderIntent


def move_exits(
    plan: RollPlan,
    spread: Decimal,
    opened: Decimal,
    *,
    oca_prefix: str,
    new_key: KeyFactory,
    now: datetime,
    account: str,
) -> tuple[tuple[MovedOrder, ...], tuple[tuple[WorkingOrder, str], ...]]:
    """The exits ``plan`` moves, as orders on the new month, and those that cannot move (why).

    Prices shift by ``spread`` (the new month's fill price minus the old month's) onto the new
    month's tick grid, so each exit keeps its distance from the position's price. No exit is
    larger than the ``opened`` contracts it protects. Exits that were alternatives on the old
    month (the children of one bracket, or one OCA group) stay one-cancels-all on the new one,
    in a group named from ``oca_prefix``: alone, each would be a new position once another fills.
    """
    if plan.open is None:
        raise ValueError(f"The roll of {plan.close.contract.local_symbol} does not reopen")
    if opened <= 0:
        raise ValueError(f"No contracts were opened in {plan.open.contract.local_symbol}")
    return _recreated(
        plan.exits_to_move,
        plan.open.contract,
        spread,
        opened,
        Purpose.ROLL_MOVE,
        oca_prefix=oca_prefix,
        new_key=new_key,
        now=now,
        account=account,
    )


def restore_exits(
    plan: RollPlan,
    exits: Sequence[WorkingOrder],
    *,
    oca_prefix: str,
    new_key: KeyFactory,
    now: datetime,
    account: str,
) -> tuple[tuple[MovedOrder, ...], tuple[tuple[WorkingOrder, str], ...]]:
    """``exits`` (cancelled by a roll of ``plan`` that rolled nothing) as orders on the old month
    again, at their own prices and sizes, and those that cannot be placed (why). Alternatives
    stay one-cancels-all, in a new group named from ``oca_prefix`` (the old group has ended)."""
    held = abs(plan.position)
    return _recreated(
        exits,
        plan.close.contract,
        Decimal(0),
        held,
        Purpose.ROLL_RESTORE,
        oca_prefix=oca_prefix,
        new_key=new_key,
        now=now,
        account=account,
    )


def _recreated(
    exits: Sequence[WorkingOrder],
    target: ListedContract,
    spread: Decimal,
    held: Decimal,
    purpose: Purpose,
    *,
    oca_prefix: str,
    new_key: KeyFactory,
    now: datetime,
    account: str,
) -> tuple[tuple[MovedOrder, ...], tuple[tuple[WorkingOrder, str], ...]]:
    """Each of ``exits`` as an order on ``target``, its prices shifted by ``spread``, its size at
    most the ``held`` contracts it protects, alternatives one-cancels-all in groups of
    ``oca_prefix``; and the exits this console cannot place, with why."""
    groups: dict[tuple[str, object], list[WorkingOrder]] = {}
    for order in exits:
        group = ("parent", order.parent_id) if order.parent_id else ("oca", order.oca_group)
        if group != ("oca", ""):
            groups.setdefault(group, []).append(order)
    names: dict[int, str] = {}
    for number, members in enumerate((m for m in groups.values() if len(m) > 1), start=1):
        names.update((member.order_id, f"{oca_prefix}-{number}") for member in members)
    moved: list[MovedOrder] = []
    stuck: list[tuple[WorkingOrder, str]] = []
    for order in exits:
        if order.tif is None:
            stuck.append((order, "its time in force is not one this console places"))
            continue
        intent = OrderIntent(
            key=new_key(),
            contract=target,
            side=order.side,
            quantity=min(order.remaining, held),
            order_type=order.order_type,
            limit_price=_shifted(order.limit_price, spread, target),
            stop_price=_shifted(order.stop_price, spread, target),
            tif=order.tif,
            bracket=None,
            created_at=now,
            purpose=purpose,
            account=account,
            oca_group=names.get(order.order_id, ""),
        )
        moved.append(MovedOrder(order, intent))
    return tuple(moved), tuple(stuck)


def _shifted(price: Decimal | None, spread: Decimal, contract: ListedContract) -> Decimal | None:
    if price is None:
        return None
    return snap_to_tick(price + spread, contract.min_tick, SnapDirection.NEAREST)
