"""The rules every entry point shares, without Qt and without a broker: flatten side and size, the
position if filled, the notional and the price it is figured at, whole quantities, the field
error shown before a side is chosen, what a family holds elsewhere, the month a new order goes
to and the month a position rolls into, which schedule says the market is open, and how orders,
prices and positions read."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from ibconsole.domain.account import PortfolioRow
from ibconsole.domain.clock import ManualClock
from ibconsole.domain.contracts import ListedContract, decimal_places
from ibconsole.domain.order_entry import (
    EntryFields,
    family_exposure,
    flatten_terms,
    notional,
    notional_price,
    positions_after,
    shared_error,
    whole_quantity,
)
from ibconsole.domain.order_words import (
    describe_intent,
    order_caption,
    position_text,
    position_words,
    price_text,
    working_text,
)
from ibconsole.domain.orders import (
    OrderType,
    OrderValidationError,
    Position,
    Side,
    WorkingOrder,
    build_intent,
)
from ibconsole.domain.rollover import (
    ContractSchedule,
    RolloverView,
    RollStatus,
    order_month,
    roll_target,
    trading_months,
)
from ibconsole.domain.sessions import SessionWindow, TradingSessions, schedule_at

D = Decimal
T0 = datetime(2025, 3, 3, 15, 0, tzinfo=UTC)
CHICAGO = ZoneInfo("America/Chicago")
ES = ListedContract(
    symbol="ES",
    local_symbol="ES202506",
    con_id=1,
    contract_month="202506",
    last_trade=datetime(2025, 6, 20, 8, 30, tzinfo=CHICAGO),
    exchange="CME",
    currency="USD",
    multiplier=D(50),
    min_tick=D("0.25"),
    trading_class="ES",
)


def contract(
    symbol: str = "ES",
    month: str = "202506",
    con_id: int = 1,
    tick: str = "0.25",
    multiplier: str = "50",
    last_trade: datetime | None = None,
) -> ListedContract:
    """ES, or another month or member of a family, by the fields that differ."""
    return replace(
        ES,
        symbol=symbol,
        local_symbol=f"{symbol}{month}",
        con_id=con_id,
        contract_month=month,
        last_trade=last_trade or ES.last_trade,
        multiplier=D(multiplier),
        min_tick=D(tick),
        trading_class=symbol,
    )


def position(quantity: int, avg_price: str = "5000") -> Position:
    return Position(ES.con_id, D(quantity), D(avg_price) * ES.multiplier, "DU1")


def working(con_id: int, side: Side = Side.BUY, order_id: int = 1) -> WorkingOrder:
    return WorkingOrder(
        order_id, "", con_id, side, D(1), OrderType.LIMIT, D("5000"), None, 0, "", "Submitted", None
    )


def held(symbol: str, con_id: int, quantity: int, local: str) -> PortfolioRow:
    return PortfolioRow("DU1", con_id, symbol, local, D(quantity), D(0), None, None, None, None)


# ----------------------------------------------------------------------- figures


@pytest.mark.parametrize(
    ("quantity", "side", "size"),
    [(3, Side.SELL, D(3)), (-2, Side.BUY, D(2)), (1, Side.SELL, D(1))],
)
def test_flatten_closes_the_whole_position_on_the_other_side(
    quantity: int, side: Side, size: Decimal
) -> None:
    assert flatten_terms(position(quantity)) == (side, size)


def test_a_flat_position_has_no_flatten_order() -> None:
    with pytest.raises(ValueError, match="nothing to flatten"):
        flatten_terms(position(0))


@pytest.mark.parametrize(
    ("held_now", "quantity", "after"),
    [(0, 2, (D(2), D(-2))), (3, 1, (D(4), D(2))), (-1, 1, (D(0), D(-2)))],
)
def test_the_position_if_filled_for_each_side(
    held_now: int, quantity: int, after: tuple[Decimal, Decimal]
) -> None:
    assert positions_after(position(held_now), D(quantity)) == after


@pytest.mark.parametrize(
    ("tick", "multiplier", "price", "quantity", "value"),
    [
        ("0.25", "50", "5000", 2, D(500000)),  # ES
        ("0.25", "5", "5000", 2, D(50000)),  # MES
        ("0.01", "1000", "-37.63", 1, D(37630)),  # CL below zero: notional is a size, not a sign
    ],
)
def test_notional_is_price_times_multiplier_times_quantity(
    tick: str, multiplier: str, price: str, quantity: int, value: Decimal
) -> None:
    item = contract(tick=tick, multiplier=multiplier)
    assert notional(item, D(price), D(quantity)) == value


@pytest.mark.parametrize(
    ("order_type", "limit", "stop", "expected"),
    [
        (OrderType.LIMIT, "4990.25", "5010", D("4990.25")),
        (OrderType.STOP, "4990.25", "5010", D("5010")),
        (OrderType.STOP_LIMIT, "4990.25", "5010", D("4990.25")),
        (OrderType.MARKET, "4990.25", "5010", D("5001")),  # the market's price
        (OrderType.LIMIT, "", "5010", D("5001")),  # no limit typed yet
        (OrderType.LIMIT, "abc", "", D("5001")),  # nor a usable one
        ("limit", "4990.25", "", D("4990.25")),  # as a signal spells it
        ("trailing", "4990.25", "", D("5001")),  # a type the console does not know: the market
    ],
)
def test_the_notional_is_figured_at_the_orders_own_price_else_the_markets(
    order_type: OrderType | str, limit: str, stop: str, expected: Decimal
) -> None:
    fields = EntryFields(ES, "1", order_type, limit_price=limit, stop_price=stop)
    assert notional_price(fields, D("5001")) == expected


@pytest.mark.parametrize(
    ("raw", "whole"),
    [
        ("2", D(2)),
        ("1,000", D(1000)),
        (3, D(3)),
        ("1.5", None),
        ("0", None),
        ("-1", None),
        ("", None),
        ("x", None),
        ("1e30", None),
    ],
)
def test_only_a_whole_number_above_zero_is_a_quantity(
    raw: str | int, whole: Decimal | None
) -> None:
    assert whole_quantity(raw) == whole


# ----------------------------------------------------------------- field errors


def _error(field: str, message: str) -> OrderValidationError:
    return OrderValidationError(field, message)


@pytest.mark.parametrize(
    ("buy", "sell", "fields", "shown"),
    [
        # both sides refuse the same typed value: say so before a side is chosen
        (
            _error("limit_price", "off the tick"),
            _error("limit_price", "off the tick"),
            EntryFields(ES, "1", OrderType.LIMIT, limit_price="5000.1"),
            {"limit_price": "off the tick"},
        ),
        # an empty field is not an error until an order is asked for
        (
            _error("limit_price", "required"),
            _error("limit_price", "required"),
            EntryFields(ES, "1", OrderType.LIMIT, limit_price=""),
            {},
        ),
        # a side-specific error waits until that side is clicked
        (
            _error("take_profit", "must be above"),
            _error("take_profit", "must be below"),
            EntryFields(ES, "1", OrderType.LIMIT, limit_price="5000", bracket=True),
            {},
        ),
        # one side is fine
        (
            _error("take_profit", "must be above"),
            None,
            EntryFields(ES, "1", OrderType.LIMIT, limit_price="5000", bracket=True),
            {},
        ),
    ],
)
def test_a_field_error_is_shown_before_a_side_only_when_both_sides_share_it(
    buy: OrderValidationError,
    sell: OrderValidationError | None,
    fields: EntryFields,
    shown: dict[str, str],
) -> None:
    intent = build_intent(
        contract=ES, side=Side.SELL, quantity=1, order_type="MKT", clock=ManualClock(T0)
    )
    assert shared_error({Side.BUY: buy, Side.SELL: sell or intent}, fields) == shown


# ---------------------------------------------------------------------- family

ESM5 = contract("ES", "202506", con_id=1)
ESU5 = contract("ES", "202509", con_id=2)
MESM5 = contract("MES", "202506", con_id=3, multiplier="5")
NQM5 = contract("NQ", "202506", con_id=4, multiplier="20")
NAMES = {c.con_id: c.local_symbol for c in (ESM5, ESU5, MESM5)}


@pytest.mark.parametrize(
    ("portfolio", "orders", "held_elsewhere", "working_elsewhere", "sentence"),
    [
        ((), (), (), (), "Nothing else held or working in ES or MES"),
        # the contract itself is shown elsewhere in the ticket, another family not at all
        (
            (held("ES", 1, 2, "ES202506"), held("NQ", 4, 1, "NQ202506")),
            (working(1), working(4)),
            (),
            (),
            "Nothing else held or working in ES or MES",
        ),
        # the micro sibling and another month of the same family count
        (
            (held("MES", 3, -4, "MES202506"), held("ES", 2, 1, "ES202509")),
            (working(3), working(3, Side.SELL, 2), working(2, order_id=3)),
            (("MES202506", D(-4)), ("ES202509", D(1))),
            (("ES202509", 1), ("MES202506", 2)),
            "MES202506 -4 · ES202509 +1 · 1 working on ES202509 · 2 working on MES202506",
        ),
        # a flat row is not exposure
        (
            (held("MES", 3, 0, "MES202506"),),
            (),
            (),
            (),
            "Nothing else held or working in ES or MES",
        ),
    ],
)
def test_the_family_line_counts_other_months_and_the_mini_micro_sibling(
    portfolio: tuple[PortfolioRow, ...],
    orders: tuple[WorkingOrder, ...],
    held_elsewhere: tuple[tuple[str, Decimal], ...],
    working_elsewhere: tuple[tuple[str, int], ...],
    sentence: str,
) -> None:
    exposure = family_exposure(ESM5, portfolio, orders, NAMES)
    assert exposure.held == held_elsewhere
    assert exposure.working == working_elsewhere
    assert exposure.sentence == sentence


def test_a_micro_contracts_family_names_its_full_size_sibling() -> None:
    assert family_exposure(MESM5, (), (), NAMES).sentence == (
        "Nothing else held or working in MES or ES"
    )


# ------------------------------------------------------------- months and hours


def _schedule(item: ListedContract) -> ContractSchedule:
    deadline = item.last_trade
    roll_at = deadline - timedelta(days=8)
    return ContractSchedule(item, roll_at.date(), roll_at, deadline, deadline, deadline)


def _view(
    active: ListedContract, front: ListedContract, following: ListedContract | None
) -> RolloverView:
    return RolloverView(
        "ES",
        _schedule(front),
        _schedule(following) if following else None,
        active,
        10,
        RollStatus.OK,
    )


H5 = contract("ES", "202503", con_id=10, last_trade=datetime(2025, 3, 21, 8, 30, tzinfo=CHICAGO))
M5 = contract("ES", "202506", con_id=11, last_trade=datetime(2025, 6, 20, 8, 30, tzinfo=CHICAGO))
U5 = contract("ES", "202509", con_id=12, last_trade=datetime(2025, 9, 19, 8, 30, tzinfo=CHICAGO))
MONTHS = (H5, M5, U5)


@pytest.mark.parametrize(
    ("now", "trading"),
    [
        (datetime(2025, 3, 3, tzinfo=UTC), MONTHS),
        (datetime(2025, 3, 21, 13, 30, tzinfo=UTC), (M5, U5)),  # H5's last trade, to the second
        (datetime(2025, 9, 20, tzinfo=UTC), ()),
    ],
)
def test_only_months_before_their_last_trade_are_offered(
    now: datetime, trading: tuple[ListedContract, ...]
) -> None:
    assert trading_months(MONTHS, now) == trading


@pytest.mark.parametrize(
    ("active", "listed", "keep", "chosen"),
    [
        (M5, MONTHS, None, M5),  # the active month by default
        (M5, MONTHS, U5, U5),  # the trader's choice stands while it trades
        (M5, (M5, U5), H5, M5),  # not once it has expired
        (H5, (M5, U5), None, M5),  # an expired active month gives way to the nearest
        (M5, (), None, None),  # nothing trades
    ],
)
def test_a_new_order_goes_to_the_active_month_unless_the_trader_chose_another(
    active: ListedContract,
    listed: tuple[ListedContract, ...],
    keep: ListedContract | None,
    chosen: ListedContract | None,
) -> None:
    assert order_month(_view(active, H5, M5), listed, keep) == chosen


@pytest.mark.parametrize(
    ("active", "following", "held_month", "target"),
    [
        (M5, M5, H5, M5),  # in the roll window: the active month is already the next
        (H5, M5, H5, M5),  # before it: the next month
        (M5, U5, M5, U5),  # a position already in the active month rolls one further
        (U5, None, U5, None),  # nothing expires after it
    ],
)
def test_a_position_rolls_into_the_first_of_active_and_next_that_expires_after_it(
    active: ListedContract,
    following: ListedContract | None,
    held_month: ListedContract,
    target: ListedContract | None,
) -> None:
    assert roll_target(_view(active, H5, following), held_month) == target


def _sessions(source: str, start: datetime, days: int, open_now: bool) -> TradingSessions:
    window = SessionWindow(start, start + timedelta(hours=1)) if open_now else None
    return TradingSessions(
        source=source,
        time_zone="UTC",
        windows=(window,) if window else (),
        covers_from=start,
        covers_until=start + timedelta(days=days),
        closed_days=(),
    )


NOW = datetime(2025, 3, 3, 15, 30, tzinfo=UTC)
IB_OPEN = _sessions("IB tradingHours", NOW - timedelta(minutes=30), 1, open_now=True)
IB_ELSEWHERE = _sessions("IB tradingHours", NOW + timedelta(days=2), 1, open_now=True)
CALENDAR_CLOSED = _sessions("exchange_calendars CMES", NOW - timedelta(days=1), 3, open_now=False)


@pytest.mark.parametrize(
    ("ib_hours", "calendar", "source", "calendar_read"),
    [
        (IB_OPEN, CALENDAR_CLOSED, "IB tradingHours", False),  # IB first: the calendar unread
        (None, CALENDAR_CLOSED, "exchange_calendars CMES", True),  # no hours from IB
        (IB_ELSEWHERE, CALENDAR_CLOSED, "exchange_calendars CMES", True),  # not covering now
        (IB_ELSEWHERE, None, None, True),  # neither can tell
        (None, IB_ELSEWHERE, None, True),  # a calendar that does not cover now says nothing
    ],
)
def test_ib_trading_hours_come_first_and_the_exchange_calendar_fills_in(
    ib_hours: TradingSessions | None,
    calendar: TradingSessions | None,
    source: str | None,
    calendar_read: bool,
) -> None:
    reads: list[bool] = []

    def read_calendar() -> TradingSessions | None:
        reads.append(True)
        return calendar

    schedule = schedule_at(NOW, ib_hours, read_calendar)
    assert (schedule.source if schedule else None) == source
    assert bool(reads) == calendar_read


# ------------------------------------------------------------------------ words


@pytest.mark.parametrize(
    ("tick", "price", "text", "places"),
    [
        ("0.25", "5931.75", "5,931.75", 2),
        ("0.25", "5931", "5,931.00", 2),
        ("0.01", "71.3", "71.30", 2),
        ("0.00005", "1.08", "1.08000", 5),  # 6E
        ("0.03125", "110.5", "110.50000", 5),  # ZN: 1/32 of a point
        ("1", "44210", "44,210", 0),  # YM
        ("0.1", "2650.1", "2,650.1", 1),  # GC
    ],
)
def test_a_price_reads_with_the_decimals_of_its_tick(
    tick: str, price: str, text: str, places: int
) -> None:
    item = contract(tick=tick)
    assert decimal_places(D(tick)) == places == item.price_places
    assert price_text(D(price), item) == text


def test_no_price_reads_as_a_dash() -> None:
    assert price_text(None, ES) == "—"


@pytest.mark.parametrize(
    ("fields", "said", "caption"),
    [
        (
            {"side": "BUY", "quantity": 2, "order_type": "MKT"},
            "Buy 2 ES202506 MKT DAY",
            "2 ES202506 MKT",
        ),
        (
            {
                "side": "SELL",
                "quantity": 1,
                "order_type": "LMT",
                "limit_price": "5931.75",
                "tif": "GTC",
            },
            "Sell 1 ES202506 LMT 5,931.75 GTC",
            "1 ES202506 LMT 5,931.75",
        ),
        (
            {
                "side": "BUY",
                "quantity": 1,
                "order_type": "STP LMT",
                "limit_price": "5001",
                "stop_price": "5000",
            },
            "Buy 1 ES202506 STP LMT stop 5,000.00 limit 5,001.00 DAY",
            "1 ES202506 STP LMT 5,001.00",
        ),
        (
            {
                "side": "BUY",
                "quantity": 1,
                "order_type": "LMT",
                "limit_price": "5000",
                "take_profit": "5010",
                "stop_loss": "4990",
            },
            "Buy 1 ES202506 LMT 5,000.00 DAY, bracket: take-profit 5,010.00 / stop-loss 4,990.00",
            "1 ES202506 LMT 5,000.00",
        ),
    ],
)
def test_an_order_reads_as_the_trader_would_say_it(
    fields: dict[str, object], said: str, caption: str
) -> None:
    intent = build_intent(contract=ES, clock=ManualClock(T0), **fields)
    assert describe_intent(intent) == said
    assert order_caption(intent) == caption


@pytest.mark.parametrize(
    ("quantity", "words", "text"),
    [
        (2, "long +2", "Long +2 @ 5,000.25"),
        (-3, "short -3", "Short -3 @ 5,000.25"),
        (0, "flat", "Flat (0)"),
    ],
)
def test_a_position_reads_with_its_direction_and_average_price(
    quantity: int, words: str, text: str
) -> None:
    assert position_words(D(quantity)) == words
    assert position_text(position(quantity, "5000.25"), ES) == text


def test_an_unknown_position_says_so() -> None:
    assert position_text(None, ES) == "Unknown: positions are not synced with the broker"


def test_working_orders_read_in_short_with_how_many_more() -> None:
    orders = tuple(working(ES.con_id, order_id=n) for n in range(5))
    assert working_text((), ES, 3) == "None"
    assert working_text(orders[:1], ES, 3) == "Buy 1 LMT 5,000.00"
    assert working_text(orders, ES, 3).endswith(" · and 2 more")
    assert working_text(orders, ES, 3).count("Buy 1 LMT") == 3


def test_entry_fields_know_which_typed_fields_are_blank() -> None:
    fields = EntryFields(ES, " ", OrderType.LIMIT, limit_price="", stop_price=None, tif="GTC")
    assert fields.blank("quantity")
    assert fields.blank("limit_price")
    assert fields.blank("stop_price")
    assert not fields.blank("tif")  # not a typed field
    assert not replace(fields, contract=None).blank("contract")
    assert not replace(fields, quantity="2").blank("quantity")
