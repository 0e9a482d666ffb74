"""From a click to the order's bytes, in order: when a placeOrder message is handed to the socket
the journal file already holds the order's intent, decision and submission (read on a connection
of its own, so only what is committed counts), the ticket or ladder has not yet said "Sent" (what
the trader sees follows the bytes), and each click sends its order exactly once. For a click on
the ticket's Buy and on a ladder cell, and for a bracket's three legs."""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QCheckBox, QComboBox, QPushButton

from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.ladder import LadderColumn
from ibconsole.sim import PaperGateway
from ibconsole.ui.context import UiContext
from ibconsole.ui.decimal_spin_box import DecimalSpinBox
from ibconsole.ui.ladder import PriceLadder
from ibconsole.ui.order_ticket import OrderTicket

PLACE_ORDER = b"3"  # placeOrder's outbound message id
COMMITTED = "SELECT key, kind FROM events WHERE key LIKE 'ibc-%' ORDER BY id"


@dataclass
class WireWatch:
    """At each placeOrder message the IB client hands to its socket: the journal's committed
    events by order key, and what the entry point said then."""

    said: Callable[[], str]
    journal: dict[str, list[str]] = field(default_factory=dict)
    moments: list[tuple[dict[str, list[str]], str]] = field(default_factory=list)

    def attach(self, ctx: UiContext) -> None:
        connection = ctx.broker.session.ib.client.conn
        send = connection.sendMsg
        path = ctx.broker.journal.path

        def watched(message: bytes) -> None:
            if message[4:].split(b"\0", 1)[0] == PLACE_ORDER:
                self.moments.append((committed(path), self.said()))
            send(message)

        connection.sendMsg = watched  # type: ignore[method-assign]  # watched, then sent


def committed(path: Any) -> dict[str, list[str]]:
    with closing(sqlite3.connect(path)) as reader:
        events: dict[str, list[str]] = {}
        for key, kind in reader.execute(COMMITTED):
            events.setdefault(key, []).append(kind)
        return events


def sent(gateway: PaperGateway, key: str) -> int:
    return sum(1 for o in gateway.orders if o.request.order_ref == key and not o.is_modify)


def newest_entered(ctx: UiContext) -> str:
    entered = [o for o in ctx.broker.journal.orders(limit=5) if o.lifecycle.parent_key is None]
    assert entered, "the journal holds no order"
    return entered[0].key


@pytest.fixture
async def ticket(ui_context: UiContext, qtbot: Any, wait_for: Any) -> OrderTicket:
    widget = OrderTicket(ui_context)
    qtbot.addWidget(widget)
    widget.resize(400, 760)
    widget.show()
    await wait_for(lambda: widget.is_populated, what="the ticket's contract")
    contract = widget.contract
    assert contract is not None
    await wait_for(lambda: ui_context.broker.market.quote(contract.con_id), what="a quote")
    return widget


def _choose_market(ticket: OrderTicket) -> None:
    kind = ticket.findChild(QComboBox, "ticketOrderType")
    assert kind is not None
    kind.setCurrentIndex(kind.findData("MKT"))


async def test_a_buy_click_journals_then_sends_once_then_says_sent(
    ticket: OrderTicket, ui_context: UiContext, gateway: PaperGateway, wait_for: Any
) -> None:
    _choose_market(ticket)
    watch = WireWatch(lambda: ticket.status_text)
    watch.attach(ui_context)
    buy = ticket.findChild(QPushButton, "buyButton")
    assert buy is not None

    QTest.mouseClick(buy, Qt.MouseButton.LeftButton)

    key = newest_entered(ui_context)
    ((at_the_wire, said),) = watch.moments
    assert at_the_wire[key] == ["intent", "decision", "submission"]
    assert not said.startswith("Sent")
    assert ticket.status_text.startswith("Sent: Buy 1")
    await wait_for(lambda: sent(gateway, key) == 1, what="the order at the simulator")
    journal = ui_context.broker.journal
    await wait_for(lambda: any(f.key == key for f in journal.fills()), what="its fill journalled")
    assert sent(gateway, key) == 1


async def test_a_click_writes_the_journal_once_before_its_bytes(
    ticket: OrderTicket, ui_context: UiContext
) -> None:
    """The intent, the decision and the submission are one transaction, and the order's row is
    written once: no update of a row written in the same click, no re-read of it."""
    _choose_market(ticket)
    statements: list[str] = []
    journal = ui_context.broker.journal
    watch = WireWatch(lambda: str(len(statements)))  # how many had run when the bytes left
    watch.attach(ui_context)
    buy = ticket.findChild(QPushButton, "buyButton")
    assert buy is not None

    journal.trace(lambda sql: statements.append(" ".join(sql.split()[:3])))
    QTest.mouseClick(buy, Qt.MouseButton.LeftButton)
    journal.trace(None)

    ((_, ran),) = watch.moments
    assert Counter(statements[: int(ran)]) == {
        "PRAGMA data_version": 2,  # the key is new; the write's check for other connections
        "SELECT intent, lifecycle": 1,  # the key is not journalled yet (the duplicate guard)
        "BEGIN IMMEDIATE": 1,
        "INSERT INTO events": 3,  # intent, decision, submission
        "INSERT INTO orders": 1,
        "COMMIT": 1,
    }


async def test_each_bracket_leg_goes_out_with_all_three_journalled(
    ticket: OrderTicket, ui_context: UiContext, gateway: PaperGateway, wait_for: Any
) -> None:
    contract = ticket.contract
    assert contract is not None
    quote = ui_context.broker.market.quote(contract.con_id)
    assert quote is not None
    assert quote.bid is not None
    entry = quote.bid - 4 * contract.min_tick
    kind = ticket.findChild(QComboBox, "ticketOrderType")
    assert kind is not None
    kind.setCurrentIndex(kind.findData("LMT"))
    for name, value in (
        ("ticketLimitPrice", entry),
        ("ticketTakeProfit", entry + 20 * contract.min_tick),
        ("ticketStopLoss", entry - 20 * contract.min_tick),
    ):
        box = ticket.findChild(DecimalSpinBox, name)
        assert box is not None
        box.set_value(value)
    bracket = ticket.findChild(QCheckBox, "ticketBracket")
    assert bracket is not None
    bracket.setChecked(True)
    watch = WireWatch(lambda: ticket.status_text)
    watch.attach(ui_context)

    ticket.buy()

    key = newest_entered(ui_context)
    legs = (key, f"{key}.tp", f"{key}.sl")
    assert len(watch.moments) == 3
    for at_the_wire, said in watch.moments:
        assert [at_the_wire[leg][:3] for leg in legs] == [["intent", "decision", "submission"]] * 3
        assert not said.startswith("Sent")
    await wait_for(lambda: all(sent(gateway, leg) == 1 for leg in legs), what="three legs")


async def _front(ctx: UiContext) -> ListedContract:
    return (await ctx.broker.contracts.chain("ES")).months[0].contract


async def test_a_ladder_bid_click_journals_then_sends_once_then_says_sent(
    ui_context: UiContext, gateway: PaperGateway, qtbot: Any, wait_for: Any
) -> None:
    ladder = PriceLadder(ui_context)
    qtbot.addWidget(ladder)
    ladder.resize(380, 900)
    ladder.show()
    ladder.follow(await _front(ui_context))
    await wait_for(ladder.ladder.market_in_view, what="the market in the window")
    await wait_for(lambda: not ladder.ladder.book.empty, what="the depth")
    bid = ladder.ladder.best_bid
    assert bid is not None
    price = bid - 3 * ladder.ladder.tick
    row = ladder.ladder.row_of(price)
    assert row is not None
    x, y, w, h = ladder.view.cell_rect(row, int(LadderColumn.BID))
    watch = WireWatch(lambda: ladder.status_text)
    watch.attach(ui_context)

    QTest.mouseClick(
        ladder.view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
        QPoint(x + w // 2, y + h // 2),
    )  # fmt: skip

    key = newest_entered(ui_context)
    ((at_the_wire, said),) = watch.moments
    assert at_the_wire[key] == ["intent", "decision", "submission"]
    assert not said.startswith("Sent")
    assert ladder.status_text.startswith("Sent: Buy")
    assert ui_context.broker.journal.order(key) is not None
    await wait_for(lambda: sent(gateway, key) == 1, what="the order at the simulator")
    (order,) = [o.request for o in gateway.orders if o.request.order_ref == key]
    assert (order.action, order.order_type, order.lmt_price) == ("BUY", "LMT", Decimal(price))
