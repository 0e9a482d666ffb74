"""The ladder model without Qt or a broker: rows per tick highest first, depth and quote, own
orders (pending until acknowledged), volume and the last trade's side, the position's average
and exits, what each click and drag means, and when the window re-centres."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from ibconsole.domain.clock import ManualClock
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.depth import DepthChange, DepthOperation, DepthSide
from ibconsole.domain.ladder import (
    AIM_HOLD_SECONDS,
    FarSideClick,
    Ladder,
    LadderColumn,
    LadderSettings,
    Mark,
)
from ibconsole.domain.ladder_clicks import (
    ClickKind,
    click_action,
    drag_changes,
    marketable_confirmation,
)
from ibconsole.domain.order_entry import OrderChange
from ibconsole.domain.orders import OrderType, Side, TimeInForce, WorkingOrder, build_intent
from ibconsole.domain.risk import RiskReport

TICK = Decimal("0.25")
D = Decimal


def working(
    order_id: int,
    side: Side,
    order_type: OrderType,
    *,
    limit: str | None = None,
    stop: str | None = None,
    remaining: int = 1,
    status: str = "Submitted",
    parent_id: int = 0,
    oca: str = "",
) -> WorkingOrder:
    return WorkingOrder(
        order_id=order_id,
        key=f"K{order_id}",
        con_id=1,
        side=side,
        remaining=D(remaining),
        order_type=order_type,
        limit_price=D(limit) if limit else None,
        stop_price=D(stop) if stop else None,
        parent_id=parent_id,
        oca_group=oca,
        status=status,
        tif=TimeInForce.DAY,
    )


def book(ladder: Ladder, bids: list[tuple[str, int]], asks: list[tuple[str, int]]) -> None:
    changes = [
        DepthChange(DepthOperation.INSERT, side, position, D(price), D(size))
        for side, levels in ((DepthSide.BID, bids), (DepthSide.ASK, asks))
        for position, (price, size) in enumerate(levels)
    ]
    ladder.apply_depth(changes)


@pytest.fixture
def ladder() -> Ladder:
    """Bid 100.00 × 5, 99.75 × 8; ask 100.25 × 4, 100.50 × 9; 10 rows centred on the market."""
    made = Ladder(TICK, rows=10)
    book(made, [("100.00", 5), ("99.75", 8)], [("100.25", 4), ("100.50", 9)])
    assert made.recentre()
    return made


def test_settings_defaults() -> None:
    settings = LadderSettings()
    assert settings.far_side_click is FarSideClick.CONFIRM
    assert settings.quantity_presets == (1, 2, 5, 10)
    assert FarSideClick("stop") is FarSideClick.STOP


def test_rows_are_one_tick_each_highest_first(ladder: Ladder) -> None:
    prices = [ladder.price_at(r) for r in range(ladder.rows)]
    assert prices[0] == D("101.25")
    assert all(a - b == TICK for a, b in itertools.pairwise(prices))
    assert ladder.price_at(10) is None
    assert ladder.row_of(D("100.25")) == 4  # the ask just above the middle
    assert ladder.row_of(D("100.00")) == 5
    assert ladder.row_of(D("100.1")) == 5  # snapped to the grid
    assert ladder.row_of(D("90")) is None
    assert [c.title for c in LadderColumn] == ["Buy", "Bid", "Price", "Ask", "Sell", "Volume"]


def test_rows_show_depth_best_prices_and_sizes(ladder: Ladder) -> None:
    bid = ladder.row(5)
    ask = ladder.row(4)
    assert bid is not None
    assert ask is not None
    assert (bid.price, bid.bid_size, bid.ask_size) == (D("100.00"), D(5), None)
    assert (ask.price, ask.bid_size, ask.ask_size) == (D("100.25"), None, D(4))
    assert Mark.BEST_BID in bid.marks
    assert Mark.BEST_ASK not in bid.marks
    assert Mark.BEST_ASK in ask.marks
    # a depth update moves the best bid up one tick
    ladder.apply_depth([DepthChange(DepthOperation.UPDATE, DepthSide.BID, 0, D("100.00"), D(11))])
    assert ladder.row_at(D("100.00")).bid_size == 11


def test_without_depth_the_quote_gives_the_best_bid_and_ask() -> None:
    ladder = Ladder(TICK, rows=10)
    ladder.set_quote(D("50.00"), D("50.25"), D("50.00"))
    assert (ladder.best_bid, ladder.best_ask) == (D("50.00"), D("50.25"))
    assert ladder.recentre()
    row = ladder.row_at(D("50.00"))
    assert Mark.BEST_BID in row.marks
    assert row.bid_size is None


@pytest.mark.parametrize(
    ("status", "pending"),
    [("PendingSubmit", True), ("ApiPending", True), ("PendingCancel", True),
     ("PreSubmitted", False), ("Submitted", False)],
)  # fmt: skip
def test_own_orders_total_per_price_and_side_pending_until_acknowledged(
    ladder: Ladder, status: str, pending: bool
) -> None:
    ladder.set_orders(
        [
            working(1, Side.BUY, OrderType.LIMIT, limit="99.75", remaining=2, status=status),
            working(2, Side.BUY, OrderType.LIMIT, limit="99.75", remaining=3),
            working(3, Side.SELL, OrderType.STOP, stop="99.00"),
            working(4, Side.SELL, OrderType.MARKET),
        ]
    )
    row = ladder.row_at(D("99.75"))
    assert row.buys is not None
    assert row.sells is None
    assert row.buys.quantity == 5
    assert row.buys.order_ids == (1, 2)
    assert row.buys.pending is pending
    stop = ladder.row_at(D("99.00")).sells
    assert stop is not None
    assert stop.order_ids == (3,)


def test_volume_last_trade_and_its_side(ladder: Ladder) -> None:
    ladder.record_trades([(D("100.25"), D(2)), (D("100.25"), D(1))])
    row = ladder.row_at(D("100.25"))
    assert row.volume == 3
    assert Mark.LAST in row.marks
    assert row.last_side is Side.BUY  # lifted the ask
    ladder.record_trades([(D("100.00"), D(4))])
    assert ladder.row_at(D("100.00")).last_side is Side.SELL  # hit the bid
    assert ladder.row_at(D("100.25")).last_side is None  # only the last trade's row says
    ladder.set_volume({D("100.00"): D(40), D("99.5"): D(0)})
    assert ladder.volume_at(D("100.00")) == 40
    assert ladder.volume_at(D("99.50")) is None


def test_average_price_stop_and_take_profit_of_a_long_position(ladder: Ladder) -> None:
    ladder.set_orders(
        [
            working(7, Side.SELL, OrderType.STOP, stop="99.00", parent_id=6),
            working(8, Side.SELL, OrderType.LIMIT, limit="101.00", parent_id=6),
            working(9, Side.SELL, OrderType.LIMIT, limit="100.75"),  # not an exit: no group
            working(10, Side.BUY, OrderType.STOP, stop="101.25"),  # adds to the position
        ]
    )
    ladder.set_position(D(2), D("100.1"))
    assert Mark.AVERAGE in ladder.row_at(D("100.00")).marks  # 100.10 snaps to 100.00
    assert Mark.STOP in ladder.row_at(D("99.00")).marks
    assert Mark.TAKE_PROFIT in ladder.row_at(D("101.00")).marks
    assert ladder.row_at(D("100.75")).marks == Mark.NONE
    assert ladder.row_at(D("101.25")).marks == Mark.NONE
    ladder.set_position(D(0), None)
    assert Mark.STOP not in ladder.row_at(D("99.00")).marks
    assert ladder.average_price is None


# --------------------------------------------------------------------------------- clicks
# best bid 100.00, best ask 100.25
CLICKS = [
    ("100.00", LadderColumn.BID, FarSideClick.CONFIRM, ClickKind.PLACE, Side.BUY, OrderType.LIMIT, False),
    ("99.50", LadderColumn.BID, FarSideClick.CONFIRM, ClickKind.PLACE, Side.BUY, OrderType.LIMIT, False),
    ("100.25", LadderColumn.ASK, FarSideClick.CONFIRM, ClickKind.PLACE, Side.SELL, OrderType.LIMIT, False),
    ("101.00", LadderColumn.ASK, FarSideClick.STOP, ClickKind.PLACE, Side.SELL, OrderType.LIMIT, False),
    # far side: a buy at or above the ask, a sell at or below the bid
    ("100.25", LadderColumn.BID, FarSideClick.CONFIRM, ClickKind.PLACE, Side.BUY, OrderType.LIMIT, True),
    ("101.00", LadderColumn.BID, FarSideClick.STOP, ClickKind.PLACE, Side.BUY, OrderType.STOP, False),
    ("100.00", LadderColumn.ASK, FarSideClick.CONFIRM, ClickKind.PLACE, Side.SELL, OrderType.LIMIT, True),
    ("99.50", LadderColumn.ASK, FarSideClick.STOP, ClickKind.PLACE, Side.SELL, OrderType.STOP, False),
    # cells that do nothing
    ("100.00", LadderColumn.PRICE, FarSideClick.CONFIRM, ClickKind.NOTHING, None, None, False),
    ("100.00", LadderColumn.VOLUME, FarSideClick.CONFIRM, ClickKind.NOTHING, None, None, False),
    ("100.00", LadderColumn.BUY, FarSideClick.CONFIRM, ClickKind.NOTHING, None, None, False),
]  # fmt: skip


@pytest.mark.parametrize(
    ("price", "column", "setting", "kind", "side", "order_type", "marketable"), CLICKS
)
def test_what_a_click_means(
    ladder: Ladder,
    price: str,
    column: LadderColumn,
    setting: FarSideClick,
    kind: ClickKind,
    side: Side | None,
    order_type: OrderType | None,
    marketable: bool,
) -> None:
    row = ladder.row_of(D(price))
    assert row is not None
    action = click_action(ladder, row, column, setting)
    assert action.kind is kind
    assert action.side is side
    assert action.order_type is order_type
    assert action.marketable is marketable
    if kind is ClickKind.PLACE:
        assert action.price == D(price)


def test_a_click_on_own_orders_cancels_them(ladder: Ladder) -> None:
    ladder.set_orders(
        [
            working(1, Side.SELL, OrderType.LIMIT, limit="100.75"),
            working(2, Side.SELL, OrderType.LIMIT, limit="100.75"),
        ]
    )
    row = ladder.row_of(D("100.75"))
    assert row is not None
    action = click_action(ladder, row, LadderColumn.SELL, FarSideClick.CONFIRM)
    assert (action.kind, action.order_ids) == (ClickKind.CANCEL, (1, 2))
    # the Buy cell of that row holds none of them
    assert click_action(ladder, row, LadderColumn.BUY, FarSideClick.CONFIRM).kind is (
        ClickKind.NOTHING
    )


@pytest.mark.parametrize(("column", "side"), [(LadderColumn.BID, "ask"), (LadderColumn.ASK, "bid")])
def test_an_unknown_market_places_nothing_and_says_why(column: LadderColumn, side: str) -> None:
    ladder = Ladder(TICK, rows=10)
    ladder.set_quote(None, None, D("100.00"))
    assert ladder.recentre()
    action = click_action(ladder, 3, column, FarSideClick.CONFIRM)
    assert action.kind is ClickKind.REFUSED
    assert f"The market's {side} is unknown" in action.reason
    assert "nothing was sent" in action.reason


def test_a_click_outside_the_placed_window_does_nothing() -> None:
    ladder = Ladder(TICK, rows=10)  # no market yet: no window
    assert click_action(ladder, 0, LadderColumn.BID, FarSideClick.CONFIRM).kind is (
        ClickKind.NOTHING
    )


def test_dragging_own_orders_moves_each_to_the_new_price(ladder: Ladder) -> None:
    ladder.set_orders(
        [
            working(1, Side.BUY, OrderType.LIMIT, limit="99.50"),
            working(2, Side.BUY, OrderType.STOP_LIMIT, stop="99.50", limit="99.25"),
            working(3, Side.SELL, OrderType.STOP, stop="99.50"),
        ]
    )
    source, target = ladder.row_of(D("99.50")), ladder.row_of(D("99.00"))
    assert source is not None
    assert target is not None
    assert drag_changes(ladder, source, LadderColumn.BUY, target) == (
        OrderChange(1, limit_price=D("99.00")),
        OrderChange(2, limit_price=D("98.75"), stop_price=D("99.00")),
    )
    assert drag_changes(ladder, source, LadderColumn.SELL, target) == (
        OrderChange(3, stop_price=D("99.00")),
    )
    assert drag_changes(ladder, source, LadderColumn.BID, target) == ()
    assert drag_changes(ladder, source, LadderColumn.BUY, source) == ()
    assert drag_changes(ladder, target, LadderColumn.BUY, source) == ()  # nothing there


def test_the_far_side_question_says_the_order_fills_at_once(
    listed: Callable[[str, str], ListedContract],
) -> None:
    contract = listed("ES", "202506")
    intent = build_intent(
        contract=contract,
        side=Side.BUY,
        quantity=2,
        order_type=OrderType.LIMIT,
        clock=ManualClock(datetime(2025, 3, 4, 15, tzinfo=UTC)),
        limit_price=D("5931.75"),
        key_factory=lambda: "KEY",
    )
    asked = marketable_confirmation(intent, RiskReport(()), D("5931.50"))
    assert asked.intent is intent
    assert asked.confirm_text == "Buy 2"
    assert "Buy 2" in asked.summary
    assert "5,931.75" in asked.summary
    assert "at or above the best ask (5,931.50)" in asked.notes[0]


# ------------------------------------------------------------------------------- re-centre
def _move_market(ladder: Ladder, bid: str) -> None:
    """Replace the book with one level a side: ``bid`` and the tick above."""
    ladder.reset_depth()
    book(ladder, [(bid, 1)], [(str(D(bid) + TICK), 1)])


RECENTRES = [
    # (new bid, seconds since the trader last aimed, moves)
    ("100.00", 10.0, False),  # still in view
    ("100.25", 10.0, False),  # one tick up: still in view
    ("102.00", 10.0, True),  # left the window
    ("102.00", AIM_HOLD_SECONDS / 2, False),  # the trader is aiming: never jump
    ("97.00", AIM_HOLD_SECONDS, True),  # aim held long enough
]


@pytest.mark.parametrize(("bid", "since_aim", "moves"), RECENTRES)
def test_auto_recentre_follows_the_market_but_not_while_aiming(
    ladder: Ladder, bid: str, since_aim: float, moves: bool
) -> None:
    ladder.aim(100.0)
    top = ladder.top
    _move_market(ladder, bid)
    assert ladder.auto_recentre(100.0 + since_aim) is moves
    assert (ladder.top != top) is moves
    if moves:
        assert ladder.market_in_view()


def test_the_market_at_the_edge_counts_as_leaving(ladder: Ladder) -> None:
    _move_market(ladder, "100.75")  # ask 101.00 is row 1: inside the two edge rows
    assert not ladder.market_in_view()
    assert ladder.auto_recentre(1e9)


def test_scrolling_moves_the_window_and_holds_it(ladder: Ladder) -> None:
    top = ladder.top
    assert top is not None
    ladder.scroll(3, now=50.0)
    assert ladder.top == top + 3 * TICK
    assert not ladder.auto_recentre(50.0 + AIM_HOLD_SECONDS / 2)
    assert ladder.auto_recentre(50.0 + AIM_HOLD_SECONDS)  # the market is off the edge now
    assert ladder.top == top
    assert not ladder.recentre()  # already centred


def test_resize_keeps_the_middle() -> None:
    ladder = Ladder(TICK, rows=10)
    ladder.set_quote(D("100.00"), D("100.25"), None)
    ladder.recentre()
    middle = ladder.price_at(5)
    ladder.resize(20)
    assert ladder.rows == 20
    assert ladder.price_at(10) == middle


def test_a_ladder_needs_a_positive_tick() -> None:
    with pytest.raises(ValueError, match="positive tick"):
        Ladder(D(0))


def test_the_quotes_last_trade_moves_the_last_mark_without_a_side(ladder: Ladder) -> None:
    ladder.record_trades([(D("100.25"), D(1))])
    ladder.set_quote(D("100.00"), D("100.25"), D("100.25"))  # the same trade: side kept
    assert ladder.last_side is Side.BUY
    ladder.set_quote(D("100.00"), D("100.25"), D("100.00"))  # a trade not printed here
    assert ladder.last == D("100.00")
    assert ladder.last_side is None
