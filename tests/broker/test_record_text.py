"""The IB client library's log lines about orders: its text of a whole order is made only when its
line is kept (``--log-level DEBUG``); otherwise the library logs warnings only, with a short text
that names no account, and the console says each order sent, status and execution in a line of
its own. Orders go through the Broker to the paper gateway over TCP."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

from ibconsole.broker.ib_client import (
    LIBRARY,
    CommissionReport,
    Execution,
    Fill,
    Future,
    MarketOrder,
    Order,
    OrderStatus,
    PortfolioItem,
    Position,
    Trade,
)
from ibconsole.broker.record_text import format_records_when_kept, library_log_level
from ibconsole.journal import OrderState

if TYPE_CHECKING:
    from conftest import Rig, WaitFor

ACCOUNT = "DU1234567"


@pytest.fixture
def library_level() -> Iterator[Callable[[str], None]]:
    """Set the library's loggers as the console's logging set-up does; put them back after."""
    logger = logging.getLogger(LIBRARY)
    before = logger.level
    yield library_log_level
    logger.setLevel(before)


@pytest.fixture
def order_texts(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times the library's text of an order is made (part of each ``Trade``'s)."""
    made: list[int] = []
    full = Order.__repr__

    def counted(order: Order) -> str:
        made.append(1)
        return full(order)

    monkeypatch.setattr(Order, "__repr__", counted)
    return made


def _trade() -> Trade:
    contract = Future(conId=495512563, symbol="ES", localSymbol="ESZ6", exchange="CME")
    order = MarketOrder("BUY", 2, orderRef="ibc-1", account=ACCOUNT, orderId=12, permId=88)
    status = OrderStatus(orderId=12, status="Submitted", filled=1, remaining=1, permId=88)
    return Trade(contract, order, status, [], [])


def _records() -> list[object]:
    trade = _trade()
    execution = Execution(
        execId="0001.01", acctNumber=ACCOUNT, side="BOT", shares=1, price=5000.25, orderRef="ibc-1"
    )
    now = datetime.datetime.now(datetime.UTC)
    return [
        trade,
        execution,
        Fill(trade.contract, execution, CommissionReport(), now),
        CommissionReport(execId="0001.01", commission=2.25, currency="USD"),
        Position(ACCOUNT, trade.contract, 1.0, 250012.5),
        PortfolioItem(trade.contract, 1.0, 5000.0, 250000.0, 250012.5, -12.5, 0.0, ACCOUNT),
    ]


@pytest.mark.parametrize("record", _records(), ids=lambda r: type(r).__name__)
def test_an_f_string_of_a_record_is_short_and_names_no_account_unless_kept(
    record: object, library_level: Callable[[str], None]
) -> None:
    format_records_when_kept()
    full = repr(record)

    library_level("INFO")  # the console at INFO: the library's INFO lines are not kept
    short = f"{record}"
    assert ACCOUNT not in short
    assert len(short) < len(full)
    assert short.startswith(type(record).__name__ + "(")
    assert repr(record) == full  # repr and str stay the library's
    assert str(record) == full

    library_level("DEBUG")  # kept: the library's full text, as before
    assert f"{record}" == full


def test_the_short_text_of_an_order_says_what_a_kept_warning_needs(
    library_level: Callable[[str], None],
) -> None:
    format_records_when_kept()
    library_level("WARNING")
    assert f"{_trade()}" == (
        "Trade(orderId=12, permId=88, orderRef='ibc-1', BUY 2 ESZ6 MKT, status=Submitted, "
        "filled=1, remaining=1)"
    )


@pytest.mark.parametrize(("console_level", "full_text"), [("INFO", False), ("DEBUG", True)])
async def test_an_order_round_trip_makes_the_order_text_only_when_its_lines_are_kept(
    rig: Rig,
    wait_for: WaitFor,
    caplog: pytest.LogCaptureFixture,
    library_level: Callable[[str], None],
    order_texts: list[int],
    console_level: str,
    full_text: bool,
) -> None:
    library_level(console_level)
    caplog.set_level(console_level)
    intent = rig.intent(quantity=1)

    rig.broker.orders.submit(intent)
    assert await rig.final(intent.key) is OrderState.FILLED
    await wait_for(
        lambda: any(f.commission is not None for f in rig.journal.fills() if f.key == intent.key),
        what="the commission",
    )

    library = [r for r in caplog.records if r.name.startswith(LIBRARY)]
    console = [r.getMessage() for r in caplog.records if r.name.startswith("ibconsole.broker")]
    assert f"sent BUY 1 {rig.es.local_symbol} MKT ({intent.key})" in console
    assert f"order {intent.key}: Filled, filled 1.0, remaining 0.0" in console
    assert any(m.startswith(f"order {intent.key}: execution ") for m in console)
    if full_text:
        assert order_texts  # the library's lines, in full
        assert any(r.getMessage().startswith("orderStatus: Trade(contract=") for r in library)
    else:
        assert order_texts == []  # never made, not even to be dropped
        assert [r.getMessage() for r in library if r.levelno < logging.WARNING] == []
