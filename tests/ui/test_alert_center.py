"""Alerts over the simulator: each kind is raised once and not again after a reconnect (fills,
rejects, connection lost and restored, the breaker, roll window, must roll, close-out, price
alerts), price alerts are kept across restarts, and the settings switch each kind's
notification and sound."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ibconsole.config import Settings
from ibconsole.domain.alert_kinds import AlertKind, AlertSettings
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.health import BackoffPolicy, BreakerPolicy, HealthSettings, HealthState
from ibconsole.domain.order_entry import EntryFields, Sent
from ibconsole.domain.orders import OrderType, Side
from ibconsole.journal.price_alert_file import PriceAlertFile
from ibconsole.sim import PaperGateway
from ibconsole.ui.alert_center import AlertCenter
from ibconsole.ui.alert_sound import AlertSound
from ibconsole.ui.context import UiContext
from ibconsole.ui.notifier import AlertRecord, Notifier
from ibconsole.ui.price_alert_book import PriceAlertBook, PriceAlertRefused
from ibconsole.ui.rollover_panel import RolloverPanel
from tests.ui.conftest import FAST_HEALTH, UiContextFactory

K = AlertKind


@dataclass
class Rig:
    ctx: UiContext
    notifier: Notifier
    book: PriceAlertBook
    center: AlertCenter

    def kinds(self) -> list[AlertKind]:
        return [r.kind for r in self.notifier.history]

    def of(self, kind: AlertKind) -> list[AlertRecord]:
        return [r for r in self.notifier.history if r.kind is kind]


def make_rig(ctx: UiContext, alerts_file: Path, settings: AlertSettings | None = None) -> Rig:
    notifier = Notifier(settings or AlertSettings(), ctx.clock, AlertSound(None))
    book = PriceAlertBook(ctx, PriceAlertFile(alerts_file))
    return Rig(ctx, notifier, book, AlertCenter(ctx, notifier, book))


@pytest.fixture
def rig(ui_context: UiContext, tmp_path: Path) -> Rig:
    return make_rig(ui_context, tmp_path / "alerts.json")


async def reconnect(rig: Rig, gateway: PaperGateway, wait_for: Any) -> None:
    """Drop every connection and wait until the console is back, in sync and reconciled."""
    session = rig.ctx.broker.session
    restored = len(rig.of(K.CONNECTION_RESTORED))
    reconciled: list[object] = []
    rig.ctx.bridge.sig_reconciled.connect(reconciled.append)
    gateway.drop_connections()
    await wait_for(lambda: session.state is not HealthState.CONNECTED, what="the drop")
    await wait_for(lambda: session.state is HealthState.CONNECTED, timeout=10, what="reconnect")
    await wait_for(lambda: reconciled, what="the reconciliation after the reconnect")
    await wait_for(lambda: len(rig.of(K.CONNECTION_RESTORED)) == restored + 1, what="restored")


def contract_of(ctx: UiContext, symbol: str, month: str) -> ListedContract:
    chain = ctx.broker.contracts.cached(symbol)
    assert chain is not None
    return next(c for c in chain.contracts if c.contract_month == month)


async def front(ctx: UiContext, symbol: str = "ES") -> ListedContract:
    chain = await ctx.broker.contracts.chain(symbol)
    return chain.contracts[0]


async def priced(ctx: UiContext, contract: ListedContract, wait_for: Any) -> Decimal:
    ctx.broker.market.subscribe(contract)
    await wait_for(
        lambda: (q := ctx.broker.market.quote(contract.con_id)) and q.last_good_price(),
        what="a price",
    )
    quote = ctx.broker.market.quote(contract.con_id)
    assert quote is not None
    price = quote.last_good_price()
    assert price is not None
    return price


def buy(ctx: UiContext, contract: ListedContract, quantity: int = 1, **fields: Any) -> str:
    outcome = ctx.broker.entry.place(Side.BUY, EntryFields(contract, quantity, **fields))
    assert isinstance(outcome, Sent), outcome
    assert outcome.intent is not None
    return outcome.intent.key


# --- fills and rejects -----------------------------------------------------------------------


@pytest.mark.expect_log_warnings  # the dropped connection is logged as an error
async def test_a_fill_is_told_once_and_not_again_after_a_reconnect(
    rig: Rig, gateway: PaperGateway, wait_for: Any
) -> None:
    contract = await front(rig.ctx)
    await priced(rig.ctx, contract, wait_for)
    key = buy(rig.ctx, contract, 2)
    await wait_for(lambda: rig.of(K.FILL), what="the fill alert")
    await wait_for(
        lambda: any(f.commission is not None for f in rig.ctx.broker.journal.fills()),
        what="the commission report (the fill reported again)",
    )
    (fill,) = rig.of(K.FILL)
    assert fill.title == f"Bought 2 {contract.local_symbol}"
    assert fill.text.startswith(f"Bought 2 {contract.local_symbol} at ")
    assert key in fill.text
    await reconnect(rig, gateway, wait_for)
    assert len(rig.of(K.FILL)) == 1


@pytest.mark.expect_log_warnings
async def test_a_reject_is_told_once_and_not_again_after_a_reconnect(
    rig: Rig, gateway: PaperGateway, wait_for: Any
) -> None:
    contract = await front(rig.ctx)
    price = await priced(rig.ctx, contract, wait_for)
    gateway.faults.reject_next_order("Insufficient margin")
    buy(rig.ctx, contract, order_type=OrderType.LIMIT, limit_price=price - 5 * contract.min_tick)
    await wait_for(lambda: rig.of(K.REJECT), what="the reject alert")
    (reject,) = rig.of(K.REJECT)
    assert reject.title == f"Rejected: Buy 1 {contract.local_symbol} LMT"
    assert "Insufficient margin" in reject.text
    await reconnect(rig, gateway, wait_for)
    assert len(rig.of(K.REJECT)) == 1


# --- the connection ------------------------------------------------------------------------


@pytest.mark.expect_log_warnings
async def test_each_drop_is_told_lost_once_and_restored_once(
    rig: Rig, gateway: PaperGateway, wait_for: Any
) -> None:
    assert rig.kinds() == []  # connecting says nothing
    await reconnect(rig, gateway, wait_for)
    assert rig.kinds() == [K.CONNECTION_LOST, K.CONNECTION_RESTORED]
    await reconnect(rig, gateway, wait_for)
    assert rig.kinds() == [K.CONNECTION_LOST, K.CONNECTION_RESTORED] * 2
    assert rig.of(K.CONNECTION_LOST)[0].title == "Connection lost"


@pytest.mark.expect_log_warnings
async def test_ib_connectivity_1100_then_1101_is_one_outage(
    rig: Rig, gateway: PaperGateway, wait_for: Any
) -> None:
    session = rig.ctx.broker.session
    gateway.faults.lose_connectivity()
    await wait_for(lambda: rig.of(K.CONNECTION_LOST), what="the 1100 alert")
    assert rig.of(K.CONNECTION_LOST)[0].title == "IB connection lost"
    gateway.faults.restore_connectivity(data_maintained=False)
    await wait_for(lambda: rig.of(K.CONNECTION_RESTORED), what="the 1101 alert")
    await wait_for(lambda: session.state is HealthState.CONNECTED, what="in sync again")
    assert rig.kinds() == [K.CONNECTION_LOST, K.CONNECTION_RESTORED]


@pytest.mark.expect_log_warnings
async def test_the_breaker_opening_is_told_once_and_the_recovery_once(
    make_ui_context: UiContextFactory,
    make_gateway: Callable[..., Any],
    tmp_path: Path,
    as_of: datetime,
    wait_for: Any,
) -> None:
    first: PaperGateway = await make_gateway()
    port = first.port
    health = HealthSettings(
        heartbeat_interval=FAST_HEALTH.heartbeat_interval,
        heartbeat_timeout=FAST_HEALTH.heartbeat_timeout,
        backoff=BackoffPolicy(min_delay=timedelta(seconds=0.1), max_delay=timedelta(seconds=0.2)),
        breaker=BreakerPolicy(failure_threshold=2, window=timedelta(minutes=1)),
    )
    ctx = await make_ui_context(first, settings=Settings(health=health))
    rig = make_rig(ctx, tmp_path / "alerts.json")
    session = ctx.broker.session
    await first.stop()
    await wait_for(lambda: session.state is HealthState.CIRCUIT_OPEN, what="the open breaker")
    assert rig.kinds() == [K.CONNECTION_LOST, K.BREAKER_OPEN]
    assert rig.of(K.BREAKER_OPEN)[0].title == "Reconnecting paused"
    second = PaperGateway(seed=7, as_of=as_of)
    await second.start("127.0.0.1", port)
    try:
        session.reset_breaker()
        await wait_for(lambda: session.state is HealthState.CONNECTED, what="the reconnect")
        await wait_for(lambda: rig.of(K.CONNECTION_RESTORED), what="restored")
        assert rig.kinds() == [K.CONNECTION_LOST, K.BREAKER_OPEN, K.CONNECTION_RESTORED]
        await session.disconnect()
    finally:
        await second.stop()
    assert rig.kinds() == [K.CONNECTION_LOST, K.BREAKER_OPEN, K.CONNECTION_RESTORED]


# --- rollover ------------------------------------------------------------------------------

ROLL_KINDS = {K.ROLL_WINDOW.value, K.MUST_ROLL.value, K.CLOSE_OUT.value}


@pytest.mark.parametrize(
    ("as_of", "kind", "title"),
    [
        (datetime(2026, 12, 10, 15, 30, tzinfo=UTC), K.ROLL_WINDOW, "ESZ6 entered its roll window"),
        (datetime(2026, 12, 16, 15, 30, tzinfo=UTC), K.MUST_ROLL, "ESZ6 must roll"),
        (datetime(2026, 12, 17, 15, 30, tzinfo=UTC), K.CLOSE_OUT, "ESZ6 close-out deadline"),
    ],
)
@pytest.mark.expect_log_warnings
async def test_a_held_contract_s_roll_deadline_is_told_once(
    rig: Rig,
    gateway: PaperGateway,
    qtbot: Any,
    wait_for: Any,
    kind: AlertKind,
    title: str,
) -> None:
    panel = RolloverPanel(rig.ctx)
    qtbot.addWidget(panel)
    rig.center.watch_rollover(panel.model)
    await wait_for(lambda: panel.is_populated, timeout=30, what="the watch list")
    await rig.ctx.broker.contracts.chain("ES")
    expiring = contract_of(rig.ctx, "ES", "202612")
    await priced(rig.ctx, expiring, wait_for)
    assert rig.of(kind) == []  # nothing held yet
    buy(rig.ctx, expiring)
    await wait_for(lambda: rig.of(kind), timeout=10, what=f"the {kind.value} alert")
    (told,) = rig.of(kind)
    assert told.title == title
    assert "You are long +1 ESZ6" in told.text
    assert [r.kind for r in rig.notifier.history if r.kind.value in ROLL_KINDS] == [kind]
    await reconnect(rig, gateway, wait_for)
    rig.center.check_rolls()  # the rows as they stand after the reconnect
    assert len(rig.of(kind)) == 1


# --- price alerts --------------------------------------------------------------------------


@pytest.mark.expect_log_warnings  # the dropped connection is logged as an error
async def test_a_price_alert_fires_once_and_stays_fired_across_a_reconnect(
    rig: Rig, gateway: PaperGateway, wait_for: Any
) -> None:
    contract = await front(rig.ctx)
    price = await priced(rig.ctx, contract, wait_for)
    # One tick above and one below: the next move of the market crosses one of them.
    up = rig.book.add(contract, price + contract.min_tick)
    down = rig.book.add(contract, price - contract.min_tick)
    assert (up.direction.value, down.direction.value) == ("above", "below")
    await wait_for(lambda: rig.of(K.PRICE), timeout=10, what="a price alert")
    (fired,) = rig.of(K.PRICE)
    crossed = next(a for a in rig.book.alerts if a.triggered_at is not None)
    assert fired.title.startswith(f"{contract.local_symbol} crossed {crossed.direction.value}")
    await reconnect(rig, gateway, wait_for)
    fired_ids = {a.alert_id for a in rig.book.alerts if a.triggered_at is not None}
    assert crossed.alert_id in fired_ids
    assert len(rig.of(K.PRICE)) == len(fired_ids)  # the crossed one told once, never again


async def test_price_alerts_are_kept_across_a_restart(
    ui_context: UiContext,
    make_ui_context: UiContextFactory,
    gateway: PaperGateway,
    tmp_path: Path,
    wait_for: Any,
) -> None:
    path = tmp_path / "alerts.json"
    first = make_rig(ui_context, path)
    contract = await front(ui_context)
    price = await priced(ui_context, contract, wait_for)
    alert = first.book.add(contract, price + 40 * contract.min_tick)
    first.book.release()
    # A new console on the same file: the alert is back, armed, and watched again.
    restarted = await make_ui_context(gateway, client_id=2)
    second = make_rig(restarted, path)
    assert second.book.alerts == (alert,)
    await wait_for(
        lambda: restarted.broker.market.subscriptions().get(contract.con_id, 0) >= 1,
        what="the alert's contract subscribed again",
    )
    assert second.book.armed_for(contract.con_id) == (alert,)


async def test_an_alert_needs_a_price_and_a_level_away_from_it(rig: Rig, wait_for: Any) -> None:
    contract = await front(rig.ctx)
    price = await priced(rig.ctx, contract, wait_for)
    with pytest.raises(PriceAlertRefused, match="away from the market"):
        rig.book.add(contract, price)
    with pytest.raises(PriceAlertRefused, match="not a price"):
        rig.book.add(contract, Decimal(-1))
    later = await front(rig.ctx, "CL")
    with pytest.raises(PriceAlertRefused, match=f"No price for {later.local_symbol} yet"):
        rig.book.add(later, Decimal(70))
    assert rig.book.alerts == ()


# --- settings --------------------------------------------------------------------------------


def test_the_settings_switch_each_kind_s_sound(ui_context: UiContext) -> None:
    settings = AlertSettings(
        sound={**dict.fromkeys(AlertKind, False), K.FILL: True}, sound_enabled=True
    )
    sound = AlertSound(None)
    notifier = Notifier(settings, ui_context.clock, sound)
    assert notifier.notify(K.FILL, "Bought 1 ESH5", "…").sounded
    assert not notifier.notify(K.SIGNAL, "Signal", "…").sounded
    assert sound.plays == 1
    notifier.apply(AlertSettings(sound_enabled=False))
    assert not notifier.notify(K.FILL, "Bought 1 ESH5", "…").sounded
    assert sound.plays == 1
    assert [r.kind for r in notifier.history] == [K.FILL, K.SIGNAL, K.FILL]
