"""The signal inbox over a broker synced to the simulator, without a window: what it remembers of
the signals it sent when it starts again on the same journal."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from decimal import Decimal

import pytest

from ibconsole.broker.broker import Broker
from ibconsole.broker.signal_inbox import SignalInbox
from ibconsole.domain.order_entry import NeedsConfirmation, Sent
from ibconsole.domain.rollover import RolloverSettings
from ibconsole.domain.signals import SignalSettings, SignalState, parse_signal
from ibconsole.journal import OrderState
from ibconsole.journal.signal_log import SignalLog
from ibconsole.sim import PaperGateway
from tests.conftest import WaitFor

SETTINGS = SignalSettings(enabled=True, port=0)

InboxFactory = Callable[[], SignalInbox]


@pytest.fixture
async def make_inbox(broker: Broker) -> AsyncIterator[InboxFactory]:
    """``make_inbox()``: an inbox on the broker's journal, as the console builds it at start;
    the one made before is closed first, as a restart closes it."""
    made: list[SignalInbox] = []

    def make() -> SignalInbox:
        inbox = SignalInbox(
            broker.entry,
            broker.contracts,
            broker.calendars,
            broker.market,
            broker.journal,
            SignalLog(broker.journal.path),
            broker.clock,
            SETTINGS,
            RolloverSettings(),
        )
        broker.orders.fill_recorded += inbox.on_fill
        made.append(inbox)
        return inbox

    yield make
    for inbox in made:
        broker.orders.fill_recorded -= inbox.on_fill
        await inbox.close()


async def _send_resting_limit(
    broker: Broker, gateway: PaperGateway, inbox: SignalInbox, wait_for: WaitFor
) -> tuple[str, str, int]:
    """A buy limit signal well below the market, sent from ``inbox`` and working at the
    exchange: its key, its order's key and IB's order id."""
    front = (await broker.contracts.chain("ES")).months[0].contract
    bid = gateway.market.quote(front.con_id).bid
    body = {
        "id": "rest-1",
        "symbol": "ES1!",
        "action": "buy",
        "quantity": 1,
        "order_type": "limit",
        "price": str(bid - 8 * front.min_tick),
    }
    signal = parse_signal(body, broker.clock.now())
    assert inbox.signal_log.record(signal)
    inbox.accept(signal)
    await wait_for(lambda: getattr(inbox.get(signal.key), "contract", None), what="resolved")
    outcome = inbox.send(signal.key)
    if isinstance(outcome, NeedsConfirmation):
        outcome = inbox.confirm(signal.key, outcome)
    assert isinstance(outcome, Sent)
    assert outcome.intent is not None
    order_key = outcome.intent.key
    await wait_for(
        lambda: getattr(broker.journal.order(order_key), "state", None) is OrderState.WORKING,
        what="the limit working at the exchange",
    )
    working = broker.journal.order(order_key)
    assert working is not None
    assert working.lifecycle.order_id is not None
    return signal.key, order_key, working.lifecycle.order_id


async def _fill(broker: Broker, gateway: PaperGateway, order_id: int) -> None:
    """The trader moves the limit through the market."""
    front = (await broker.contracts.chain("ES")).months[0].contract
    ask = gateway.market.quote(front.con_id).ask
    broker.orders.modify(order_id, limit_price=ask + 4 * front.min_tick, confirmed=True)


async def _stop(broker: Broker, inbox: SignalInbox) -> None:
    broker.orders.fill_recorded -= inbox.on_fill
    await inbox.close()


async def test_a_signal_sent_before_a_restart_shows_filled_when_its_order_fills_after_it(
    broker: Broker, gateway: PaperGateway, make_inbox: InboxFactory, wait_for: WaitFor
) -> None:
    inbox = make_inbox()
    key, order_key, order_id = await _send_resting_limit(broker, gateway, inbox, wait_for)
    await _stop(broker, inbox)

    again = make_inbox()
    again.restore()
    restored = again.get(key)
    assert restored is not None
    assert restored.state is SignalState.SENT
    assert restored.order_key == order_key
    await _fill(broker, gateway, order_id)
    await wait_for(
        lambda: getattr(again.get(key), "state", None) is SignalState.FILLED,
        what="the signal shown filled",
    )
    filled = broker.journal.order(order_key)
    assert filled is not None
    assert filled.state is OrderState.FILLED
    assert filled.lifecycle.executed == Decimal(1)


async def test_a_signal_whose_order_filled_while_the_inbox_was_closed_shows_filled(
    broker: Broker, gateway: PaperGateway, make_inbox: InboxFactory, wait_for: WaitFor
) -> None:
    inbox = make_inbox()
    key, order_key, order_id = await _send_resting_limit(broker, gateway, inbox, wait_for)
    await _stop(broker, inbox)
    await _fill(broker, gateway, order_id)
    await wait_for(
        lambda: getattr(broker.journal.order(order_key), "state", None) is OrderState.FILLED,
        what="the fill journalled",
    )

    again = make_inbox()
    again.restore()
    restored = again.get(key)
    assert restored is not None
    assert restored.state is SignalState.FILLED
    assert restored.order_key == order_key
    # the move is journalled: the next start shows it filled from the signal log alone
    assert [i.state for i in again.signal_log.since(broker.clock.now() - timedelta(days=1))] == [
        SignalState.FILLED
    ]
