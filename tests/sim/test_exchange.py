"""The matching engine on its own, driven by scripted quotes and a hand-set clock."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from ibconsole.sim.clock import SimClock
from ibconsole.sim.exchange import (
    Exchange,
    OrderAccepted,
    OrderCancelled,
    OrderError,
    OrderEvent,
    OrderFilled,
)
from ibconsole.sim.instruments import Catalogue, Instrument
from ibconsole.sim.orders import ContractRef, OrderRequest

START = datetime(2025, 1, 15, 15, 0, tzinfo=UTC)  # 09:00 in Chicago
CLIENT = 7
D = Decimal


@dataclass(frozen=True)
class Touch:
    bid: Decimal
    ask: Decimal
    last: Decimal


class Book:
    def __init__(self) -> None:
        self.quotes: dict[int, Touch] = {}
        self.holds: Counter[int] = Counter()
        self.open = True

    def quote(self, con_id: int) -> Touch:
        return self.quotes[con_id]

    def is_open(self, con_id: int) -> bool:
        return self.open

    def hold(self, con_id: int) -> None:
        self.holds[con_id] += 1

    def release(self, con_id: int) -> None:
        assert self.holds[con_id] > 0, "release without hold"
        self.holds[con_id] -= 1


class Clock:
    def __init__(self) -> None:
        self.at = START

    def now(self) -> datetime:
        return self.at


@pytest.fixture(scope="module")
def mes() -> Instrument:
    catalogue = Catalogue(SimClock(START))
    return next(i for i in catalogue.listed() if i.local_symbol == "MESH5")


class Venue:
    """An exchange with a scripted MESH5 market at 6000.00 / 6000.25, last 6000.00."""

    def __init__(self, instrument: Instrument, seed: int = 1) -> None:
        self.instrument = instrument
        self.book = Book()
        self.clock = Clock()
        rng_base = 500_000_000 + seed
        self.exchange = Exchange(
            clock=self.clock, book=self.book, perm_id_base=rng_base, exec_prefix=f"{seed:08x}"
        )
        self.set(D("6000.00"), D("6000.25"), D("6000.00"))

    def set(self, bid: Decimal, ask: Decimal, last: Decimal) -> list[OrderEvent]:
        touch = Touch(bid, ask, last)
        self.book.quotes[self.instrument.con_id] = touch
        return self.exchange.on_quote(self.instrument.con_id, touch)

    def place(
        self,
        order_id: int,
        action: str,
        quantity: int,
        order_type: str,
        client_id: int = CLIENT,
        **kw: object,
    ) -> list[OrderEvent]:
        built = request(order_id, action, quantity, order_type, **kw)
        return self.exchange.submit(client_id, built, self.instrument)

    @property
    def held(self) -> int:
        return self.book.holds[self.instrument.con_id]


def request(
    order_id: int, action: str, quantity: int, order_type: str, **kw: object
) -> OrderRequest:
    values: dict[str, object] = {
        "order_id": order_id,
        "contract": ContractRef(711002503, "", "", "", "", "", "", "CME", "", "", "", ""),
        "action": action,
        "quantity": D(quantity),
        "order_type": order_type,
        "lmt_price": None,
        "aux_price": None,
        "tif": "",
        "oca_group": "",
        "account": "DU1234567",
        "open_close": "",
        "origin": 0,
        "order_ref": "",
        "transmit": True,
        "parent_id": 0,
        "block_order": False,
        "sweep_to_fill": False,
        "display_size": 0,
        "trigger_method": 0,
        "outside_rth": False,
        "hidden": False,
        "discretionary_amt": None,
        "good_after_time": "",
        "good_till_date": "",
        "fa_group": "",
        "fa_method": "",
        "fa_percentage": "",
        "fa_profile": "",
        "model_code": "",
        "oca_type": 0,
        "rule80a": "",
        "all_or_none": False,
        "min_qty": None,
        "trail_stop_price": None,
        "trailing_percent": None,
        "hedge_type": "",
        "hedge_param": "",
        "not_held": False,
        "algo_strategy": "",
        "algo_params": (),
        "algo_id": "",
        "what_if": False,
        "conditions": (),
        "cash_qty": None,
        "advanced_error_override": "",
        "manual_order_time": "",
    }
    for key in ("lmt_price", "aux_price"):
        if key in kw:
            kw[key] = D(str(kw[key]))
    values.update(kw)
    return OrderRequest(**values)  # type: ignore[arg-type]


def kinds(events: list[OrderEvent]) -> list[tuple[str, int, str]]:
    out = []
    for event in events:
        if isinstance(event, OrderError):
            out.append(("error", event.order_id, str(event.code)))
        else:
            out.append((type(event).__name__, event.order.order_id, event.order.status))
    return out


def fills(events: list[OrderEvent]) -> list[tuple[int, Decimal, Decimal]]:
    return [(e.order.order_id, e.shares, e.price) for e in events if isinstance(e, OrderFilled)]


@pytest.fixture
def venue(mes: Instrument) -> Venue:
    return Venue(mes)


# --- market and limit orders ------------------------------------------------------------------


def test_market_orders_take_the_touch(venue: Venue) -> None:
    bought = venue.place(1, "BUY", 2, "MKT")
    assert kinds(bought) == [("OrderAccepted", 1, "Submitted"), ("OrderFilled", 1, "Filled")]
    assert fills(bought) == [(1, D(2), D("6000.25"))]
    assert fills(venue.place(2, "SELL", 1, "MKT")) == [(2, D(1), D("6000.00"))]
    assert venue.held == 0
    assert venue.exchange.open_orders() == []


def test_marketable_limit_fills_at_the_touch_and_resting_limit_at_its_price(venue: Venue) -> None:
    assert fills(venue.place(1, "BUY", 1, "LMT", lmt_price="6001.00")) == [(1, D(1), D("6000.25"))]
    resting = venue.place(2, "BUY", 1, "LMT", lmt_price="5999.50")
    assert kinds(resting) == [("OrderAccepted", 2, "Submitted")]
    assert venue.held == 1
    assert venue.set(D("5999.50"), D("5999.75"), D("5999.75")) == []
    assert fills(venue.set(D("5999.25"), D("5999.50"), D("5999.50"))) == [(2, D(1), D("5999.50"))]
    assert venue.held == 0


def test_resting_limit_fills_when_last_trades_through(venue: Venue) -> None:
    venue.place(1, "SELL", 1, "LMT", lmt_price="6001.00")
    assert venue.set(D("6000.50"), D("6000.75"), D("6001.00")) == []
    assert fills(venue.set(D("6000.75"), D("6001.25"), D("6001.25"))) == [(1, D(1), D("6001.00"))]


def test_stop_triggers_on_last_then_fills_as_market(venue: Venue) -> None:
    assert kinds(venue.place(1, "SELL", 1, "STP", aux_price="5999.00")) == [
        ("OrderAccepted", 1, "Submitted")
    ]
    assert venue.set(D("5999.00"), D("5999.25"), D("5999.25")) == []
    assert fills(venue.set(D("5998.75"), D("5999.00"), D("5999.00"))) == [(1, D(1), D("5998.75"))]
    assert fills(venue.place(2, "BUY", 1, "STP", aux_price="5999.00")) == [(2, D(1), D("5999.00"))]


def test_stop_limit_triggers_then_works_as_limit(venue: Venue) -> None:
    venue.place(1, "BUY", 1, "STP LMT", aux_price="6001.00", lmt_price="6001.25")
    # the last trades through the stop while the ask jumps above the limit: triggered, resting
    assert venue.set(D("6001.50"), D("6001.75"), D("6001.00")) == []
    assert venue.set(D("6001.50"), D("6001.75"), D("6001.75")) == []
    assert fills(venue.set(D("6001.00"), D("6001.25"), D("6001.25"))) == [(1, D(1), D("6001.25"))]


# --- rejects ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "order_type", "prices", "reason"),
    [
        (1, "LMT", {"lmt_price": "6000.10"}, "does not conform to the minimum price variation"),
        (1, "STP", {"aux_price": "5999.3"}, "does not conform"),
        (0, "MKT", {}, "quantity must be positive"),
        (-1, "MKT", {}, "quantity must be positive"),
        (1, "LMT", {}, "needs a limit price"),
        (1, "STP LMT", {"aux_price": "6000"}, "needs a limit price"),
        (1, "STP", {}, "needs a stop price"),
        (1, "TRAIL", {}, "not supported"),
        (1, "MKT", {"tif": "GTD"}, "Time in force 'GTD' is not supported"),
        (1, "MKT", {"action": "SSHORT"}, "Invalid action"),
    ],
)
def test_bad_orders_are_rejected_with_201_and_json(
    venue: Venue, quantity: int, order_type: str, prices: dict[str, str], reason: str
) -> None:
    action = prices.pop("action", "BUY")
    (event,) = venue.place(9, action, quantity, order_type, **prices)
    assert isinstance(event, OrderError)
    assert event.code == 201
    assert event.message.startswith("Order rejected - reason:")
    assert reason in event.message
    assert reason in json.loads(event.advanced_json)["rejectReason"]
    assert venue.exchange.order((CLIENT, 9)) is None


def test_fractional_futures_quantity_is_rejected(venue: Venue) -> None:
    events = venue.exchange.submit(
        CLIENT, replace(request(3, "BUY", 1, "MKT"), quantity=D("1.5")), venue.instrument
    )
    assert kinds(events) == [("error", 3, "201")]


def test_reject_next_refuses_one_order_only(venue: Venue) -> None:
    venue.exchange.reject_next("Margin check failed")
    (event,) = venue.place(1, "BUY", 1, "MKT")
    assert isinstance(event, OrderError)
    assert event.message == "Order rejected - reason:Margin check failed"
    assert kinds(venue.place(2, "BUY", 1, "MKT"))[-1] == ("OrderFilled", 2, "Filled")


def test_conditional_orders_are_rejected(venue: Venue) -> None:
    events = venue.place(1, "BUY", 1, "MKT", conditions=(("3", "a", "1", "20250101 10:00:00"),))
    assert kinds(events) == [("error", 1, "201")]


# --- time in force ----------------------------------------------------------------------------


def test_ioc_cancels_what_it_cannot_fill_now(venue: Venue) -> None:
    events = venue.place(1, "BUY", 1, "LMT", lmt_price="5999.00", tif="IOC")
    assert kinds(events) == [("OrderAccepted", 1, "Submitted"), ("OrderCancelled", 1, "Cancelled")]
    assert venue.held == 0


def test_day_orders_expire_at_the_session_close_gtc_orders_do_not(venue: Venue) -> None:
    venue.place(1, "BUY", 1, "LMT", lmt_price="5990.00", tif="DAY")
    venue.place(2, "BUY", 1, "LMT", lmt_price="5990.00", tif="GTC")
    venue.clock.at = START + timedelta(hours=6, minutes=59)  # 15:59 Chicago
    assert venue.set(D("6000.00"), D("6000.25"), D("6000.00")) == []
    venue.clock.at = START + timedelta(hours=7)  # 16:00 Chicago: Globex daily close
    expired = venue.set(D("6000.00"), D("6000.25"), D("6000.00"))
    assert kinds(expired) == [("OrderCancelled", 1, "Cancelled")]
    assert [o.order_id for o in venue.exchange.open_orders()] == [2]


def test_the_close_ends_day_orders_without_waiting_for_a_quote(venue: Venue) -> None:
    venue.place(1, "BUY", 1, "LMT", lmt_price="5990.00", tif="DAY")
    venue.place(2, "BUY", 1, "LMT", lmt_price="5990.00", tif="GTC")
    venue.clock.at = START + timedelta(hours=7)  # 16:00 Chicago
    venue.book.open = False
    closed = venue.exchange.on_session(venue.instrument.con_id, False)
    assert kinds(closed) == [("OrderCancelled", 1, "Cancelled")]
    assert [(o.order_id, o.status) for o in venue.exchange.open_orders()] == [(2, "Submitted")]


# --- sessions ---------------------------------------------------------------------------------

SATURDAY = datetime(2025, 1, 25, 18, 0, tzinfo=UTC)  # noon in Chicago: Globex is shut
SUNDAY_OPEN = datetime(2025, 1, 26, 23, 0, tzinfo=UTC)  # 17:00 Chicago
MONDAY_CLOSE = datetime(2025, 1, 27, 22, 0, tzinfo=UTC)  # 16:00 Chicago


def closed_on_saturday(venue: Venue) -> Venue:
    venue.book.open = False
    venue.clock.at = SATURDAY
    return venue


def open_on_sunday(venue: Venue) -> list[OrderEvent]:
    venue.book.open = True
    venue.clock.at = SUNDAY_OPEN
    return venue.exchange.on_session(venue.instrument.con_id, True)


def test_an_order_placed_while_closed_waits_presubmitted_and_trades_from_the_open(
    venue: Venue,
) -> None:
    closed_on_saturday(venue)
    assert kinds(venue.place(1, "BUY", 2, "MKT")) == [("OrderAccepted", 1, "PreSubmitted")]
    assert venue.set(D("5990.00"), D("5990.25"), D("5990.00")) == []  # no trading while shut
    assert venue.held == 1
    assert kinds(open_on_sunday(venue)) == [("OrderChanged", 1, "Submitted")]
    assert fills(venue.set(D("6002.00"), D("6002.25"), D("6002.00"))) == [(1, D(2), D("6002.25"))]
    assert venue.held == 0


def test_a_stop_does_not_trigger_while_closed(venue: Venue) -> None:
    venue.place(1, "SELL", 1, "STP", aux_price="5995.00")
    venue.book.open = False
    assert venue.set(D("5990.00"), D("5990.25"), D("5990.00")) == []
    venue.book.open = True
    assert fills(venue.set(D("5990.00"), D("5990.25"), D("5990.00"))) == [(1, D(1), D("5990.00"))]


def test_a_day_order_placed_on_saturday_works_through_mondays_session(venue: Venue) -> None:
    closed_on_saturday(venue)
    venue.place(1, "BUY", 1, "LMT", lmt_price="5990.00", tif="DAY")
    assert kinds(open_on_sunday(venue)) == [("OrderChanged", 1, "Submitted")]
    assert venue.set(D("6000.00"), D("6000.25"), D("6000.00")) == []
    venue.clock.at = MONDAY_CLOSE
    venue.book.open = False
    expired = venue.exchange.on_session(venue.instrument.con_id, False)
    assert kinds(expired) == [("OrderCancelled", 1, "Cancelled")]
    assert venue.held == 0


# --- brackets and OCA -------------------------------------------------------------------------


def place_bracket(venue: Venue, parent_price: str = "5999.00") -> list[OrderEvent]:
    assert venue.place(10, "BUY", 1, "LMT", lmt_price=parent_price, transmit=False) == []
    assert (
        venue.place(11, "SELL", 1, "LMT", lmt_price="6003.00", parent_id=10, transmit=False) == []
    )
    return venue.place(12, "SELL", 1, "STP", aux_price="5995.00", parent_id=10)


def test_bracket_is_held_until_the_last_child_is_transmitted(venue: Venue) -> None:
    released = place_bracket(venue)
    assert kinds(released) == [
        ("OrderAccepted", 10, "Submitted"),
        ("OrderAccepted", 11, "PreSubmitted"),
        ("OrderAccepted", 12, "PreSubmitted"),
    ]
    assert [e.order.parent_id for e in released if isinstance(e, OrderAccepted)] == [0, 10, 10]
    # children wait for the parent: a bid through the take-profit does not fill it yet
    assert venue.set(D("6003.50"), D("6003.75"), D("6003.50")) == []


def test_parent_fill_activates_children_and_a_child_fill_cancels_its_sibling(venue: Venue) -> None:
    place_bracket(venue)
    activated = venue.set(D("5998.75"), D("5999.00"), D("5999.00"))
    assert kinds(activated) == [
        ("OrderFilled", 10, "Filled"),
        ("OrderChanged", 11, "Submitted"),
        ("OrderChanged", 12, "Submitted"),
    ]
    take_profit = venue.set(D("6003.00"), D("6003.25"), D("6003.00"))
    assert kinds(take_profit) == [
        ("OrderFilled", 11, "Filled"),
        ("OrderCancelled", 12, "Cancelled"),
    ]
    assert venue.exchange.open_orders() == []
    assert venue.held == 0


def test_marketable_parent_fills_on_release(venue: Venue) -> None:
    released = place_bracket(venue, parent_price="6000.25")
    assert ("OrderFilled", 10, "Filled") in kinds(released)
    assert kinds(released)[-2:] == [
        ("OrderChanged", 11, "Submitted"),
        ("OrderChanged", 12, "Submitted"),
    ]


def test_cancelling_a_parent_cancels_its_children(venue: Venue) -> None:
    place_bracket(venue)
    cancelled = venue.exchange.cancel(CLIENT, 10)
    assert kinds(cancelled) == [
        ("OrderCancelled", 10, "Cancelled"),
        ("OrderCancelled", 11, "Cancelled"),
        ("OrderCancelled", 12, "Cancelled"),
    ]
    assert venue.held == 0


def test_child_of_unknown_parent_is_rejected(venue: Venue) -> None:
    assert kinds(venue.place(5, "SELL", 1, "LMT", lmt_price="6003", parent_id=99)) == [
        ("error", 5, "201")
    ]


def test_oca_type_1_cancels_the_others(venue: Venue) -> None:
    venue.place(1, "SELL", 1, "LMT", lmt_price="6002.00", oca_group="g", oca_type=1)
    venue.place(2, "SELL", 1, "STP", aux_price="5998.00", oca_group="g", oca_type=1)
    venue.place(3, "SELL", 1, "LMT", lmt_price="6010.00", oca_group="other", oca_type=1)
    events = venue.set(D("6002.00"), D("6002.25"), D("6002.00"))
    assert kinds(events) == [("OrderFilled", 1, "Filled"), ("OrderCancelled", 2, "Cancelled")]
    assert [o.order_id for o in venue.exchange.open_orders()] == [3]


def test_oca_type_3_reduces_the_others(venue: Venue) -> None:
    venue.exchange.set_partial_fills(2, stall=True)
    venue.place(1, "SELL", 2, "LMT", lmt_price="6002.00", oca_group="g", oca_type=3)
    venue.place(2, "SELL", 2, "STP", aux_price="5998.00", oca_group="g", oca_type=3)
    events = venue.set(D("6002.00"), D("6002.25"), D("6002.00"))
    assert kinds(events) == [("OrderFilled", 1, "Submitted"), ("OrderChanged", 2, "Submitted")]
    reduced = venue.exchange.order((CLIENT, 2))
    assert reduced is not None
    assert reduced.request.quantity == 1
    assert reduced.remaining == 1


# --- modify and cancel ------------------------------------------------------------------------


def test_modify_reprices_and_can_make_an_order_marketable(venue: Venue) -> None:
    venue.place(1, "BUY", 1, "LMT", lmt_price="5990.00")
    moved = venue.place(1, "BUY", 1, "LMT", lmt_price="5995.00")
    assert kinds(moved) == [("OrderChanged", 1, "Submitted")]
    snapshot = venue.exchange.order((CLIENT, 1))
    assert snapshot is not None
    assert snapshot.request.lmt_price == D("5995.00")
    assert fills(venue.place(1, "BUY", 3, "MKT")) == [(1, D(3), D("6000.25"))]
    assert venue.held == 0


def test_modify_must_keep_contract_and_side_and_not_touch_done_orders(venue: Venue) -> None:
    venue.place(1, "BUY", 1, "LMT", lmt_price="5990.00")
    assert kinds(venue.place(1, "SELL", 1, "LMT", lmt_price="5990.00")) == [("error", 1, "105")]
    venue.place(2, "BUY", 1, "MKT")
    assert kinds(venue.place(2, "BUY", 2, "MKT")) == [("error", 2, "104")]
    venue.exchange.cancel(CLIENT, 1)
    assert kinds(venue.place(1, "BUY", 1, "LMT", lmt_price="5991.00")) == [("error", 1, "103")]


def test_cancel_known_unknown_and_done_orders(venue: Venue) -> None:
    venue.place(1, "BUY", 1, "LMT", lmt_price="5990.00")
    assert kinds(venue.exchange.cancel(CLIENT, 1)) == [("OrderCancelled", 1, "Cancelled")]
    unknown = venue.exchange.cancel(CLIENT, 42)
    assert kinds(unknown) == [("error", 42, "10147")]
    assert isinstance(unknown[0], OrderError)
    assert unknown[0].message == "OrderId 42 that needs to be cancelled is not found."
    assert kinds(venue.exchange.cancel(CLIENT, 1)) == [("error", 1, "10148")]
    assert kinds(venue.exchange.cancel(8, 1)) == [("error", 1, "10147")]


def test_global_cancel_reaches_every_client_and_held_orders(venue: Venue) -> None:
    venue.place(1, "BUY", 1, "LMT", lmt_price="5990.00")
    venue.place(1, "BUY", 1, "LMT", lmt_price="5990.00", client_id=8)
    venue.place(2, "BUY", 1, "LMT", lmt_price="5990.00", transmit=False)
    cancelled = venue.exchange.cancel_all()
    keys = [
        (e.order.client_id, e.order.order_id) for e in cancelled if isinstance(e, OrderCancelled)
    ]
    assert len(keys) == len(cancelled)
    assert sorted(keys) == [(7, 1), (7, 2), (8, 1)]
    assert venue.exchange.open_orders() == []
    assert venue.held == 0


# --- partial fills and identities -------------------------------------------------------------


def test_partial_fills_spread_over_later_quotes(venue: Venue) -> None:
    venue.exchange.set_partial_fills(3)
    first = venue.place(1, "BUY", 5, "MKT")
    assert fills(first) == [(1, D(2), D("6000.25"))]
    assert kinds(first)[-1] == ("OrderFilled", 1, "Submitted")
    second = venue.set(D("6000.25"), D("6000.50"), D("6000.25"))
    third = venue.set(D("6000.50"), D("6000.75"), D("6000.50"))
    assert fills(second) == [(1, D(2), D("6000.50"))]
    assert fills(third) == [(1, D(1), D("6000.75"))]
    done = venue.exchange.order((CLIENT, 1))
    assert done is not None
    assert done.status == "Filled"
    assert done.avg_fill_price == (2 * D("6000.25") + 2 * D("6000.50") + D("6000.75")) / 5
    exec_ids = [e.exec_id for e in [*first, *second, *third] if isinstance(e, OrderFilled)]
    assert len(set(exec_ids)) == 3
    # only the next order is split
    assert fills(venue.place(2, "BUY", 4, "MKT")) == [(2, D(4), D("6000.75"))]


def test_stalled_partial_fill_waits_until_cancelled(venue: Venue) -> None:
    venue.exchange.set_partial_fills(2, stall=True)
    assert fills(venue.place(1, "BUY", 4, "MKT")) == [(1, D(2), D("6000.25"))]
    assert venue.set(D("6000.00"), D("6000.25"), D("6000.00")) == []
    (cancelled,) = venue.exchange.cancel(CLIENT, 1)
    assert isinstance(cancelled, OrderCancelled)
    assert (cancelled.order.filled, cancelled.order.remaining) == (D(2), D(2))


def test_ids_are_unique_and_the_same_for_the_same_seed(mes: Instrument) -> None:
    def run() -> list[tuple[int, str]]:
        venue = Venue(mes, seed=3)
        events = [*venue.place(1, "BUY", 1, "MKT"), *venue.place(2, "SELL", 2, "MKT")]
        return [(e.order.perm_id, e.exec_id) for e in events if isinstance(e, OrderFilled)]

    first, again = run(), run()
    assert first == again
    assert len({perm for perm, _ in first}) == 2
    assert len({exec_id for _, exec_id in first}) == 2
