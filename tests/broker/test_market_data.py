"""Quotes and bars against the paper gateway: one IB subscription per contract however many charts
share it (checked at the gateway too), data types per quote, staleness, keepUpToDate bars, and
every subscription requested again exactly once after a reconnect, 1101 or a farm flap."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from ibconsole.broker.broker import Broker
from ibconsole.broker.ib_client import Event
from ibconsole.broker.market_data import BarKey
from ibconsole.domain.bars import Bar, BarGap
from ibconsole.domain.clock import ManualClock
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.health import HealthState
from ibconsole.domain.ib_codes import IbCategory
from ibconsole.domain.quotes import MarketDataType
from ibconsole.sim import PaperGateway

Record = Callable[[Event], Any]
WaitFor = Callable[..., Any]
BrokerFactory = Callable[..., Broker]
Spy = Callable[[PaperGateway], Any]

REQ_MKT_DATA = 1
CANCEL_MKT_DATA = 2
REQ_HISTORICAL_DATA = 20
CANCEL_HISTORICAL_DATA = 25


def history_streams(gateway: PaperGateway) -> int:
    """keepUpToDate bar streams the gateway is feeding."""
    return sum(len(streams) for streams in gateway.history._live.values())


# --------------------------------------------------------------------------- quotes


async def test_two_subscribers_share_one_subscription_and_the_last_one_out_cancels_it(
    gateway: PaperGateway,
    broker: Broker,
    es_front: ListedContract,
    inbound: Spy,
    record: Record,
    wait_for: WaitFor,
) -> None:
    seen = inbound(gateway)
    quotes = record(broker.market.quotes_updated)

    broker.market.subscribe(es_front)
    broker.market.subscribe(es_front)

    await wait_for(lambda: broker.market.quote(es_front.con_id) is not None, what="a quote")
    assert broker.market.subscriptions() == {es_front.con_id: 2}
    assert gateway.market_data.subscription_count() == 1
    assert seen.count(REQ_MKT_DATA) == 1
    first = broker.market.quote(es_front.con_id)
    assert first is not None
    assert first.con_id == es_front.con_id
    assert first.data_type is MarketDataType.LIVE
    assert first.bid is not None
    assert first.ask is not None
    assert first.bid < first.ask
    assert first.bid % es_front.min_tick == 0, "prices sit on the tick grid"
    assert all(q.con_id == es_front.con_id for batch in quotes.values for q in batch)

    broker.market.unsubscribe(es_front.con_id)
    assert broker.market.subscriptions() == {es_front.con_id: 1}
    assert seen.count(CANCEL_MKT_DATA) == 0

    broker.market.unsubscribe(es_front.con_id)

    await wait_for(lambda: gateway.market_data.subscription_count() == 0, what="the cancel")
    assert seen.count(CANCEL_MKT_DATA) == 1
    assert broker.market.subscriptions() == {}
    assert broker.market.quote(es_front.con_id) is None
    with pytest.raises(KeyError, match=str(es_front.con_id)):
        broker.market.unsubscribe(es_front.con_id)


async def test_quotes_keep_arriving_and_are_stamped_by_the_console_clock(
    broker: Broker, es_front: ListedContract, record: Record, wait_for: WaitFor
) -> None:
    quotes = record(broker.market.quotes_updated)
    broker.market.subscribe(es_front)

    await wait_for(lambda: len(quotes) >= 3, what="three quote batches")

    stamps = [batch[0].time for batch in quotes.values]
    assert stamps == sorted(stamps)
    now = broker.clock.now()
    assert all(now - timedelta(seconds=5) <= stamp <= now for stamp in stamps)


async def test_a_gateway_serving_only_delayed_data_is_reported_per_quote(
    gateway: PaperGateway,
    broker: Broker,
    es_front: ListedContract,
    record: Record,
    wait_for: WaitFor,
) -> None:
    messages = record(broker.session.ib_message)
    gateway.faults.delayed_data_only()

    broker.market.subscribe(es_front)

    await wait_for(lambda: broker.market.quote(es_front.con_id) is not None, what="a quote")
    quote = broker.market.quote(es_front.con_id)
    assert quote is not None
    assert quote.data_type is MarketDataType.DELAYED
    assert quote.data_type.label == "delayed"
    assert quote.last is not None
    assert IbCategory.DELAYED_DATA in [m.category for _, m in messages.values]


async def test_a_console_set_to_delayed_data_asks_for_it(
    gateway: PaperGateway, make_broker: BrokerFactory, wait_for: WaitFor
) -> None:
    broker = make_broker(gateway, data_type=MarketDataType.DELAYED)
    await broker.start()
    chain = await broker.contracts.chain("NQ")
    front = chain.months[0].contract

    broker.market.subscribe(front)

    await wait_for(lambda: broker.market.quote(front.con_id) is not None, what="a quote")
    quote = broker.market.quote(front.con_id)
    assert quote is not None
    assert quote.data_type is MarketDataType.DELAYED


@pytest.mark.expect_log_warnings
async def test_a_quote_goes_stale_while_ib_is_unreachable(
    gateway: PaperGateway, make_broker: BrokerFactory, as_of: datetime, wait_for: WaitFor
) -> None:
    clock = ManualClock(as_of)
    broker = make_broker(gateway, clock=clock)
    await broker.start()
    chain = await broker.contracts.chain("ES")
    front = chain.months[0].contract
    broker.market.subscribe(front)
    await wait_for(lambda: broker.market.quote(front.con_id) is not None, what="a quote")
    gateway.faults.lose_connectivity()
    await wait_for(lambda: broker.session.health.connectivity_lost, what="1100")

    clock.advance(timedelta(minutes=1))

    quote = broker.market.quote(front.con_id)
    assert quote is not None
    assert quote.age(clock.now()) >= timedelta(minutes=1)
    assert quote.is_stale(clock.now(), timedelta(seconds=30))

    gateway.faults.restore_connectivity(data_maintained=True)
    await wait_for(
        lambda: broker.market.quote(front.con_id).time == clock.now(),  # type: ignore[union-attr]
        what="a fresh quote once IB is back",
    )
    fresh = broker.market.quote(front.con_id)
    assert fresh is not None
    assert not fresh.is_stale(clock.now(), timedelta(seconds=30))


async def test_a_subscription_made_before_connecting_is_requested_once_synced(
    gateway: PaperGateway, make_broker: BrokerFactory, wait_for: WaitFor, inbound: Spy
) -> None:
    probe = make_broker(gateway, client_id=9)
    await probe.start()
    front = (await probe.contracts.chain("ES")).months[0].contract
    await probe.stop()
    seen = inbound(gateway)
    broker = make_broker(gateway)

    broker.market.subscribe(front)
    key = await broker.market.subscribe_bars(front, "1 min")
    assert gateway.market_data.subscription_count() == 0
    assert broker.market.bar_subscriptions() == {key: 1}
    bars = asyncio.Event()
    broker.market.bars_reset += lambda k, loaded: bars.set()
    await broker.start()

    await wait_for(lambda: broker.market.quote(front.con_id) is not None, what="a quote")
    await asyncio.wait_for(bars.wait(), 5)
    assert gateway.market_data.subscription_count() == 1
    assert history_streams(gateway) == 1
    assert seen.count(REQ_MKT_DATA, client_id=1) == 1
    assert seen.count(REQ_HISTORICAL_DATA, client_id=1) == 1


# --------------------------------------------------------------------------- bars


async def test_bar_streams_are_shared_and_kept_up_to_date(
    gateway: PaperGateway,
    broker: Broker,
    es_front: ListedContract,
    record: Record,
    inbound: Spy,
    wait_for: WaitFor,
) -> None:
    seen = inbound(gateway)
    resets = record(broker.market.bars_reset)
    updates = record(broker.market.bar_updated)

    key = await broker.market.subscribe_bars(es_front, "1 min")
    again = await broker.market.subscribe_bars(es_front, "1 min")

    assert key == again == BarKey(es_front.con_id, "1 min")
    assert broker.market.bar_subscriptions() == {key: 2}
    assert seen.count(REQ_HISTORICAL_DATA) == 1
    assert history_streams(gateway) == 1
    assert len(resets) == 2, "the second chart gets the loaded bars at once"
    loaded: tuple[Bar, ...] = resets.values[0][1]
    assert loaded
    assert resets.values[1] == resets.values[0]
    starts = [bar.start for bar in loaded]
    assert starts == sorted(starts)
    assert all(bar.start.tzinfo is not None for bar in loaded)
    assert all(bar.low <= min(bar.open, bar.close) <= bar.high for bar in loaded)

    await wait_for(lambda: updates.values, what="a keepUpToDate update")
    updated_key, bar, _new = updates.values[0]
    assert updated_key == key
    assert bar.start >= loaded[-1].start

    broker.market.unsubscribe_bars(key)
    assert history_streams(gateway) == 1
    broker.market.unsubscribe_bars(key)

    await wait_for(lambda: history_streams(gateway) == 0, what="the stream cancelled")
    assert seen.count(CANCEL_HISTORICAL_DATA) == 1
    assert broker.market.bar_subscriptions() == {}
    with pytest.raises(KeyError):
        broker.market.unsubscribe_bars(key)


async def test_an_unknown_bar_size_is_refused_before_anything_is_sent(
    gateway: PaperGateway, broker: Broker, es_front: ListedContract, inbound: Spy
) -> None:
    seen = inbound(gateway)

    with pytest.raises(ValueError, match="'2 mins' is not offered"):
        await broker.market.subscribe_bars(es_front, "2 mins")

    assert seen.messages == []
    assert broker.market.bar_subscriptions() == {}


@pytest.mark.expect_log_warnings
async def test_a_paced_bar_request_is_asked_again_later(
    gateway: PaperGateway,
    broker: Broker,
    es_front: ListedContract,
    record: Record,
    inbound: Spy,
    wait_for: WaitFor,
) -> None:
    seen = inbound(gateway)
    messages = record(broker.session.ib_message)
    resets = record(broker.market.bars_reset)
    gateway.faults.pace_next_historical(162)

    key = await broker.market.subscribe_bars(es_front, "5 mins")

    assert IbCategory.PACING in [m.category for _, m in messages.values]
    await wait_for(lambda: resets.values, what="the bars after the retry")
    assert resets.values[0][0] == key
    assert resets.values[0][1], "the retry brought the bars"
    assert seen.count(REQ_HISTORICAL_DATA) == 2
    assert history_streams(gateway) == 1


@pytest.mark.expect_log_warnings
async def test_bars_ib_refuses_for_good_are_reported_empty_and_not_retried(
    gateway: PaperGateway,
    broker: Broker,
    es_front: ListedContract,
    record: Record,
    inbound: Spy,
) -> None:
    unknown = replace(es_front, con_id=999_999, local_symbol="ESZ9")
    seen = inbound(gateway)
    resets = record(broker.market.bars_reset)

    key = await broker.market.subscribe_bars(unknown, "1 hour")

    assert resets.values == [(key, ())]
    assert seen.count(REQ_HISTORICAL_DATA) == 1
    assert history_streams(gateway) == 0
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("load bars")]
    assert broker.market.bar_subscriptions() == {key: 1}


async def test_unsubscribing_while_a_paced_request_waits_stops_the_retry(
    gateway: PaperGateway, broker: Broker, es_front: ListedContract, inbound: Spy
) -> None:
    seen = inbound(gateway)
    gateway.faults.pace_next_historical(100)
    key = await broker.market.subscribe_bars(es_front, "15 mins")
    waiting = [t for t in asyncio.all_tasks() if t.get_name().startswith("load bars")]
    assert len(waiting) == 1

    broker.market.unsubscribe_bars(key)

    await asyncio.wait(waiting, timeout=1)
    assert waiting[0].cancelled()
    assert seen.count(REQ_HISTORICAL_DATA) == 1
    assert history_streams(gateway) == 0


# --------------------------------------------------------------------------- resubscribing


@pytest.mark.expect_log_warnings
@pytest.mark.parametrize("how", ["drop", "reset"])
async def test_a_reconnect_requests_every_subscription_again_and_marks_the_gap(
    how: str,
    gateway: PaperGateway,
    broker: Broker,
    es_front: ListedContract,
    record: Record,
    inbound: Spy,
    wait_for: WaitFor,
) -> None:
    broker.market.subscribe(es_front)
    broker.market.subscribe(es_front)
    key = await broker.market.subscribe_bars(es_front, "1 min")
    seen = inbound(gateway)
    gaps = record(broker.market.gap_marked)
    resets = record(broker.market.bars_reset)
    synced = record(broker.session.synced)

    getattr(gateway.faults, how)()

    await wait_for(lambda: synced.values and resets.values, what="bars reloaded after the resync")
    await wait_for(lambda: gateway.market_data.subscription_count() == 1, what="quotes again")
    assert seen.count(REQ_MKT_DATA) == 1
    assert seen.count(REQ_HISTORICAL_DATA) == 1
    assert history_streams(gateway) == 1
    assert broker.market.subscriptions() == {es_front.con_id: 2}
    ((gap_key, gap),) = gaps.values
    assert gap_key == key
    assert isinstance(gap, BarGap)
    assert gap.start == synced.values[0].lost_at
    assert gap.start < gap.end <= broker.clock.now()
    before = broker.market.quote(es_front.con_id)
    await wait_for(
        lambda: broker.market.quote(es_front.con_id) != before, what="quotes flowing again"
    )


@pytest.mark.expect_log_warnings
async def test_1101_requests_every_subscription_again_exactly_once(
    gateway: PaperGateway,
    broker: Broker,
    es_front: ListedContract,
    record: Record,
    inbound: Spy,
    wait_for: WaitFor,
) -> None:
    broker.market.subscribe(es_front)
    key = await broker.market.subscribe_bars(es_front, "1 min")
    seen = inbound(gateway)
    gaps = record(broker.market.gap_marked)
    synced = record(broker.session.synced)
    gateway.faults.lose_connectivity()
    await wait_for(lambda: broker.session.health.connectivity_lost, what="1100")
    lost_at = broker.clock.now()

    gateway.faults.restore_connectivity(data_maintained=False)

    await wait_for(lambda: synced.values and gaps.values, what="the resync and the gap mark")
    await wait_for(lambda: history_streams(gateway) == 1, what="the bar stream again")
    assert gateway.market_data.subscription_count() == 1
    assert seen.count(REQ_MKT_DATA) == 1
    assert seen.count(REQ_HISTORICAL_DATA) == 1
    ((gap_key, gap),) = gaps.values
    assert gap_key == key
    assert gap.start <= lost_at < gap.end
    assert broker.session.state is HealthState.CONNECTED


@pytest.mark.expect_log_warnings
async def test_1102_keeps_every_subscription(
    gateway: PaperGateway,
    broker: Broker,
    es_front: ListedContract,
    record: Record,
    inbound: Spy,
    wait_for: WaitFor,
) -> None:
    broker.market.subscribe(es_front)
    await broker.market.subscribe_bars(es_front, "1 min")
    seen = inbound(gateway)
    gaps = record(broker.market.gap_marked)
    synced = record(broker.session.synced)

    gateway.faults.lose_connectivity(restore_after=0.05, data_maintained=True)

    await wait_for(lambda: synced.values, what="the resync after 1102")
    before = broker.market.quote(es_front.con_id)
    await wait_for(lambda: broker.market.quote(es_front.con_id) != before, what="quotes flowing")
    assert seen.count(REQ_MKT_DATA) == 0
    assert seen.count(REQ_HISTORICAL_DATA) == 0
    assert gaps.values == []
    assert gateway.market_data.subscription_count() == 1
    assert history_streams(gateway) == 1


async def test_a_market_data_farm_flap_renews_the_subscriptions(
    gateway: PaperGateway,
    broker: Broker,
    es_front: ListedContract,
    record: Record,
    inbound: Spy,
    wait_for: WaitFor,
) -> None:
    broker.market.subscribe(es_front)
    key = await broker.market.subscribe_bars(es_front, "1 min")
    seen = inbound(gateway)
    gaps = record(broker.market.gap_marked)

    gateway.faults.farm_broken("market")
    await wait_for(lambda: broker.session.state is HealthState.DEGRADED, what="degraded")
    broken_at = broker.clock.now()
    gateway.faults.farm_ok("market")

    await wait_for(lambda: gaps.values, what="the gap mark of the reload")
    await wait_for(lambda: seen.count(CANCEL_HISTORICAL_DATA) == 1, what="the old stream cancelled")
    assert seen.count(CANCEL_MKT_DATA) == 1
    assert seen.count(REQ_MKT_DATA) == 1
    assert seen.count(REQ_HISTORICAL_DATA) == 1
    assert gateway.market_data.subscription_count() == 1
    assert history_streams(gateway) == 1
    ((gap_key, gap),) = gaps.values
    assert gap_key == key
    assert gap.start <= broken_at < gap.end


async def test_stop_cancels_every_subscription_at_the_gateway(
    gateway: PaperGateway,
    broker: Broker,
    es_front: ListedContract,
    inbound: Spy,
    wait_for: WaitFor,
) -> None:
    broker.market.subscribe(es_front)
    broker.market.subscribe(es_front)
    await broker.market.subscribe_bars(es_front, "1 min")
    await broker.market.subscribe_bars(es_front, "5 mins")
    seen = inbound(gateway)

    await broker.stop()

    assert broker.market.subscriptions() == {}
    assert broker.market.bar_subscriptions() == {}
    # The cancels leave before the socket closes; the gateway has read them once it saw the close.
    await wait_for(lambda: not gateway.connections, what="the socket closed")
    assert seen.count(CANCEL_MKT_DATA) == 1
    assert seen.count(CANCEL_HISTORICAL_DATA) == 2
    assert asyncio.all_tasks() == {asyncio.current_task()}
