"""A combo order in the journal: one order with its legs, the combo's own execution counted
toward it, each leg's execution kept as a leg (with its commission), repeats ignored, and the
legs surviving a rebuild of the projection. Over a real SQLite file."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest

from ibconsole.domain.calendar_spread import CalendarSpread
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.orders import OrderIntent, OrderType, Side
from ibconsole.journal import Decision, Journal, JournalError, OrderState, export_csv
from ibconsole.journal.codec import decode_intent, encode_intent

AT = datetime(2025, 1, 2, 15, 0, tzinfo=UTC)


@pytest.fixture
def spread_intent(contract: ListedContract) -> OrderIntent:
    far = replace(
        contract,
        local_symbol="ESM5",
        con_id=contract.con_id + 1,
        contract_month="202506",
        last_trade=datetime(2025, 6, 20, 8, 30, tzinfo=ZoneInfo("America/Chicago")),
    )
    return CalendarSpread(contract, far, Side.BUY, D(2)).intent(
        OrderType.LIMIT, D("50.45"), key_factory=lambda: "ibc-spread", now=AT, account="DU1"
    )


def _sent(journal: Journal, intent: OrderIntent) -> None:
    journal.record_intent(intent)
    journal.record_decision(intent.key, Decision.CONFIRMED, [])
    journal.record_submission(intent.key, 11, 7)


def test_the_combo_s_execution_counts_and_the_legs_are_kept_as_legs(
    journal: Journal, spread_intent: OrderIntent
) -> None:
    _sent(journal, spread_intent)
    near, far = (leg.contract.con_id for leg in spread_intent.legs)
    key = spread_intent.key
    assert journal.record_fill(key, "e1.01", near, Side.SELL, D(1), D("5930.25"), AT)
    assert journal.record_fill(key, "e2.01", far, Side.BUY, D(1), D("5980.70"), AT)
    assert journal.record_fill(key, "c1.01", 0, Side.BUY, D(1), D("50.45"), AT)
    journal.record_commission("e1.01", D("2.25"), "USD", None)
    journal.record_commission("e2.01", D("2.25"), "USD", None)

    half = journal.order(key)
    assert half is not None
    assert half.state is OrderState.PARTIALLY_FILLED
    assert half.lifecycle.filled == 1
    assert half.lifecycle.avg_fill_price == D("50.45")
    assert half.lifecycle.commission == D("4.50")
    assert len(half.lifecycle.leg_fills) == 2

    # IB sends the day's executions again after a reconnect: none counts twice
    assert not journal.record_fill(key, "e1.01", near, Side.SELL, D(1), D("5930.25"), AT)
    assert not journal.record_fill(key, "c1.01", 0, Side.BUY, D(1), D("50.45"), AT)
    assert journal.record_fill(key, "c2.01", 0, Side.BUY, D(1), D("50.55"), AT)

    full = journal.order(key)
    assert full is not None
    assert full.state is OrderState.FILLED
    assert full.lifecycle.filled == 2
    assert full.lifecycle.avg_fill_price == D("50.50")
    journal.rebuild_projection()
    assert journal.order(key) == full
    assert {(f.con_id, f.side) for f in journal.fills()} == {
        (near, Side.SELL),
        (far, Side.BUY),
        (0, Side.BUY),
    }
    # the export names each fill by what it traded: a leg's month, or the spread
    exported = io.StringIO()
    export_csv(journal, exported)
    rows = list(csv.DictReader(io.StringIO(exported.getvalue())))
    assert sorted((r["local_symbol"], r["price"]) for r in rows if r["record"] == "fill") == [
        ("ESH5", "5930.25"),
        ("ESH5-ESM5", "50.45"),
        ("ESH5-ESM5", "50.55"),
        ("ESM5", "5980.70"),
    ]
    (order_row,) = [r for r in rows if r["record"] == "order"]
    assert (order_row["local_symbol"], order_row["avg_fill_price"]) == ("ESH5-ESM5", "50.50")


@pytest.mark.parametrize(
    ("leg", "side", "message"),
    [(0, Side.BUY, "trades that leg as a SELL"), (1, Side.SELL, "trades that leg as a BUY")],
)
def test_a_leg_execution_on_the_wrong_side_is_refused(
    journal: Journal, spread_intent: OrderIntent, leg: int, side: Side, message: str
) -> None:
    _sent(journal, spread_intent)
    con_id = spread_intent.legs[leg].contract.con_id
    with pytest.raises(JournalError, match=message):
        journal.record_fill(spread_intent.key, "x.01", con_id, side, D(1), D(1), AT)


def test_an_execution_on_a_contract_outside_the_combo_is_refused(
    journal: Journal, spread_intent: OrderIntent
) -> None:
    _sent(journal, spread_intent)
    with pytest.raises(JournalError, match="trades contract 0"):
        journal.record_fill(spread_intent.key, "x.01", 99, Side.BUY, D(1), D(1), AT)


def test_the_legs_round_trip_and_older_intents_have_none(spread_intent: OrderIntent) -> None:
    assert decode_intent(encode_intent(spread_intent)) == spread_intent
    plain = replace(spread_intent, legs=())
    older = encode_intent(plain).replace(',"legs":[]', "")
    assert '"legs"' not in older
    assert decode_intent(older) == plain
