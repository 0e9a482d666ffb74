"""Market depth against the paper gateway: one reqMktDepth per contract however many views share
it, released by the last one out, requested again after a reconnect and 1101, the console's
own line limit and IB's 309 said in words, and the book a view rebuilds from the rows equal to
the simulator's book, also when rows of a cancelled request arrive after it was requested again."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from ibconsole.broker.broker import Broker
from ibconsole.broker.ib_client import Event
from ibconsole.broker.market_depth import DepthUpdate
from ibconsole.broker.volume_profile import VolumeProfileService
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.depth import DepthBook, DepthSide, DepthState, DepthStatus
from ibconsole.domain.quotes import MarketDataType, Quote
from ibconsole.sim import PaperGateway

Record = Callable[[Event], Any]
WaitFor = Callable[..., Any]
BrokerFactory = Callable[..., Broker]
Spy = Callable[[PaperGateway], Any]

REQ_MKT_DEPTH = 10
CANCEL_MKT_DEPTH = 11


class Follower:
    """A view's side of the service: a book rebuilt from every update of one contract."""

    def __init__(self, broker: Broker, con_id: int) -> None:
        self.con_id = con_id
        self.book = DepthBook()
        self.resets = 0
        self.trades: list[tuple[Decimal, Decimal]] = []
        broker.depth.depth_updated += self.on_update

    def on_update(self, update: DepthUpdate) -> None:
        if update.con_id != self.con_id:
            return
        if update.reset:
            self.resets += 1
            self.book.clear()
        self.book.apply_all(update.changes)
        self.trades.extend(update.trades)


def sim_rows(
    gateway: PaperGateway, contract: ListedContract, side: DepthSide, rows: int
) -> tuple[tuple[Decimal, Decimal], ...]:
    """The simulator's own book: its first ``rows`` rows of ``side`` as (price, size)."""
    book = gateway.depth.book(contract.con_id)
    assert book is not None
    levels = book.side(int(side))
    return tuple(
        (levels.prices[i] * contract.min_tick, Decimal(levels.sizes[i]))
        for i in range(min(rows, len(levels)))
    )


async def test_views_share_one_request_and_the_last_one_out_cancels_it(
    gateway: PaperGateway,
    broker: Broker,
    es_front: ListedContract,
    inbound: Spy,
    record: Record,
    wait_for: WaitFor,
) -> None:
    seen = inbound(gateway)
    statuses = record(broker.depth.depth_status)
    follower = Follower(broker, es_front.con_id)

    first = broker.depth.subscribe(es_front)
    assert first == DepthStatus(es_front.con_id, DepthState.REQUESTED)
    assert broker.depth.subscribe(es_front).state is DepthState.REQUESTED

    await wait_for(
        lambda: broker.depth.status(es_front.con_id).state is DepthState.LIVE, what="depth rows"
    )
    assert seen.count(REQ_MKT_DEPTH) == 1
    assert gateway.depth.subscription_count() == 1
    assert broker.depth.subscriptions() == {es_front.con_id: 2}
    assert [s.state for s in statuses.values] == [DepthState.REQUESTED, DepthState.LIVE]
    assert not follower.book.empty
    bid, ask = follower.book.best(DepthSide.BID), follower.book.best(DepthSide.ASK)
    assert bid is not None
    assert ask is not None
    assert bid < ask
    assert bid % es_front.min_tick == 0

    broker.depth.unsubscribe(es_front.con_id)
    assert seen.count(CANCEL_MKT_DEPTH) == 0
    broker.depth.unsubscribe(es_front.con_id)
    await wait_for(lambda: gateway.depth.subscription_count() == 0, what="the cancel")
    assert seen.count(CANCEL_MKT_DEPTH) == 1
    assert broker.depth.status(es_front.con_id) is None
    with pytest.raises(KeyError):
        broker.depth.unsubscribe(es_front.con_id)


async def test_the_rows_rebuild_the_simulators_book_through_a_burst(
    make_gateway: Any, make_broker: BrokerFactory, wait_for: WaitFor
) -> None:
    gateway = await make_gateway(depth_rate=200.0, tick_rate=20.0)
    broker = make_broker(gateway)
    await broker.start()
    contract = (await broker.contracts.chain("ES")).months[0].contract
    follower = Follower(broker, contract.con_id)
    broker.depth.subscribe(contract)
    await wait_for(lambda: not follower.book.empty, what="the book")
    gateway.faults.depth_burst(2000.0, 0.3, contract.con_id)
    # Between two network batches the rebuilt book equals the simulator's first 10 rows.
    ok: list[bool] = []

    def compare(update: DepthUpdate) -> None:
        if update.changes:
            ok.append(
                all(
                    follower.book.rows(side) == sim_rows(gateway, contract, side, 10)
                    for side in DepthSide
                )
            )

    broker.depth.depth_updated += compare
    await wait_for(lambda: len(ok) >= 50, what="50 batches of depth rows")
    broker.depth.depth_updated -= compare
    # the simulator may have changed its book after the last batch it sent: most batches agree
    assert sum(ok) >= len(ok) * 0.8, f"{sum(ok)} of {len(ok)} batches matched the simulator"
    assert follower.book.rows(DepthSide.BID)
    assert len(follower.book.rows(DepthSide.BID)) <= 10


async def test_trades_come_with_the_depth(
    make_gateway: Any, make_broker: BrokerFactory, wait_for: WaitFor
) -> None:
    gateway = await make_gateway(tick_rate=50.0)
    broker = make_broker(gateway)
    await broker.start()
    contract = (await broker.contracts.chain("ES")).months[0].contract
    follower = Follower(broker, contract.con_id)
    broker.market.subscribe(contract)
    broker.depth.subscribe(contract)
    await wait_for(lambda: len(follower.trades) >= 3, what="three trades")
    assert all(size > 0 for _, size in follower.trades)
    assert all(price % contract.min_tick == 0 for price, _ in follower.trades)


async def test_the_console_holds_no_more_lines_than_ib_allows_and_a_freed_line_is_reused(
    gateway: PaperGateway, broker: Broker, inbound: Spy, wait_for: WaitFor
) -> None:
    seen = inbound(gateway)
    months = [m.contract for m in (await broker.contracts.chain("ES")).months[:2]]
    months += [m.contract for m in (await broker.contracts.chain("NQ")).months[:2]]
    for contract in months:
        broker.depth.subscribe(contract)
    fourth = broker.depth.status(months[3].con_id)
    assert fourth is not None
    assert fourth.state is DepthState.REFUSED
    assert "already holds 3 market depth subscriptions" in fourth.sentence
    assert "top of the book" in fourth.sentence
    await wait_for(lambda: gateway.depth.subscription_count() == 3, what="three depth streams")
    assert seen.count(REQ_MKT_DEPTH) == 3

    broker.depth.unsubscribe(months[0].con_id)
    await wait_for(
        lambda: broker.depth.status(months[3].con_id).state is DepthState.LIVE,
        what="the freed line used",
    )
    assert seen.count(REQ_MKT_DEPTH) == 4


async def test_ibs_309_is_said_in_words_and_the_refused_request_holds_no_line(
    make_gateway: Any, make_broker: BrokerFactory, wait_for: WaitFor
) -> None:
    gateway = await make_gateway(max_depth_requests=1)
    other = make_broker(gateway, client_id=2)
    await other.start()
    broker = make_broker(gateway)
    await broker.start()
    contracts = [m.contract for m in (await broker.contracts.chain("ES")).months[:2]]
    other.depth.subscribe(contracts[0])
    await wait_for(
        lambda: other.depth.status(contracts[0].con_id).state is DepthState.LIVE,
        what="the other client's depth",
    )

    broker.depth.subscribe(contracts[1])
    await wait_for(
        lambda: broker.depth.status(contracts[1].con_id).state is DepthState.REFUSED,
        what="309",
    )
    refused = broker.depth.status(contracts[1].con_id)
    assert refused is not None
    assert "error 309" in refused.sentence
    assert "top of the book only" in refused.sentence
    assert broker.depth.subscriptions() == {contracts[1].con_id: 1}
    # a refused request holds no line of the console's own three
    nq = (await broker.contracts.chain("NQ")).months[0].contract
    assert broker.depth.subscribe(nq).state is DepthState.REQUESTED


async def test_delayed_data_only_asks_for_no_depth(
    gateway: PaperGateway, make_broker: BrokerFactory, inbound: Spy
) -> None:
    seen = inbound(gateway)
    broker = make_broker(gateway, data_type=MarketDataType.DELAYED)
    await broker.start()
    contract = (await broker.contracts.chain("ES")).months[0].contract
    status = broker.depth.subscribe(contract)
    assert status.state is DepthState.REFUSED
    assert "delayed market data" in status.sentence
    assert seen.count(REQ_MKT_DEPTH) == 0


@pytest.mark.expect_log_warnings
@pytest.mark.parametrize("how", ["drop", "reset"])
async def test_a_reconnect_requests_the_depth_again_and_starts_the_book_over(
    how: str,
    gateway: PaperGateway,
    broker: Broker,
    es_front: ListedContract,
    inbound: Spy,
    record: Record,
    wait_for: WaitFor,
) -> None:
    follower = Follower(broker, es_front.con_id)
    broker.depth.subscribe(es_front)
    await wait_for(lambda: not follower.book.empty, what="the book")
    seen = inbound(gateway)
    statuses = record(broker.depth.depth_status)
    resets = follower.resets

    getattr(gateway.faults, how)()

    await wait_for(
        lambda: (
            DepthState.WAITING in [s.state for s in statuses.values]
            and broker.depth.status(es_front.con_id).state is DepthState.LIVE
        ),
        what="depth live again after the resync",
    )
    assert seen.count(REQ_MKT_DEPTH) == 1
    assert gateway.depth.subscription_count() == 1
    assert follower.resets == resets + 1
    assert not follower.book.empty


@pytest.mark.expect_log_warnings
async def test_1101_requests_the_depth_again_exactly_once(
    gateway: PaperGateway,
    broker: Broker,
    es_front: ListedContract,
    inbound: Spy,
    wait_for: WaitFor,
) -> None:
    follower = Follower(broker, es_front.con_id)
    broker.depth.subscribe(es_front)
    await wait_for(lambda: not follower.book.empty, what="the book")
    seen = inbound(gateway)
    gateway.faults.lose_connectivity()
    await wait_for(lambda: broker.session.health.connectivity_lost, what="1100")

    gateway.faults.restore_connectivity(data_maintained=False)

    await wait_for(lambda: seen.count(REQ_MKT_DEPTH) == 1, what="depth asked again")
    await wait_for(
        lambda: broker.depth.status(es_front.con_id).state is DepthState.LIVE,
        what="depth live again",
    )
    assert gateway.depth.subscription_count() == 1
    assert seen.count(CANCEL_MKT_DEPTH) <= 1


async def test_volume_today_comes_from_ibs_histogram_on_the_tick_grid(
    broker: Broker, es_front: ListedContract
) -> None:
    # The simulator reads a day of history for it: more than the suite's quick request timeout.
    profile = await VolumeProfileService(broker.session, 10.0).today(es_front)
    assert profile.problem == ""
    assert len(profile.volumes) > 10
    assert all(price % es_front.min_tick == 0 for price in profile.volumes)
    assert all(volume > 0 for volume in profile.volumes.values())


async def test_volume_today_says_why_when_not_connected(
    gateway: PaperGateway, make_broker: BrokerFactory, es_front: ListedContract
) -> None:
    idle = make_broker(gateway, client_id=5)
    profile = await idle.volume.today(es_front)
    assert profile.volumes == {}
    assert profile.problem == "not connected"


async def test_a_batch_with_depth_alone_runs_no_quote_listener(
    make_gateway: Any, make_broker: BrokerFactory, wait_for: WaitFor
) -> None:
    # ib_async keeps a contract's depth and quote on one Ticker: a depth row puts it in the
    # batch, yet no quote changed, and the quote's listeners (chart, ticket, ladder, chain,
    # alerts) must not run for it.
    gateway = await make_gateway(tick_rate=0.01, depth_rate=0.0)
    broker = make_broker(gateway)
    await broker.start()
    contract = (await broker.contracts.chain("ES")).months[0].contract
    follower = Follower(broker, contract.con_id)
    broker.market.subscribe(contract)
    broker.depth.subscribe(contract)
    await wait_for(
        lambda: broker.market.quote(contract.con_id) is not None and not follower.book.empty,
        what="the quote and the book",
    )
    depth_batches: list[int] = []
    quote_batches: list[int] = []

    def on_depth(update: DepthUpdate) -> None:
        if update.con_id == contract.con_id and update.changes:
            depth_batches.append(len(update.changes))

    def on_quotes(quotes: tuple[Quote, ...]) -> None:
        quote_batches.extend(1 for quote in quotes if quote.con_id == contract.con_id)

    broker.depth.depth_updated += on_depth
    broker.market.quotes_updated += on_quotes
    gateway.faults.depth_burst(2000.0, 0.3, contract.con_id)
    await wait_for(lambda: len(depth_batches) >= 5, what="five batches of depth rows")
    assert quote_batches == []


async def test_rows_of_a_cancelled_request_never_reach_the_book_of_the_next_one(
    make_gateway: Any, make_broker: BrokerFactory, wait_for: WaitFor
) -> None:
    # A still book: no churn, and quotes that move once in days, so only the test changes it.
    gateway = await make_gateway(depth_rate=0.0, tick_rate=1e-6)
    broker = make_broker(gateway)
    await broker.start()
    contract = (await broker.contracts.chain("ES")).months[0].contract
    follower = Follower(broker, contract.con_id)

    def matches() -> bool:
        return all(
            follower.book.rows(side) == sim_rows(gateway, contract, side, 10) for side in DepthSide
        )

    broker.depth.subscribe(contract)
    await wait_for(lambda: not follower.book.empty and matches(), what="the first book")
    book = gateway.depth.book(contract.con_id)
    assert book is not None
    before = [sim_rows(gateway, contract, side, 10) for side in DepthSide]
    # The simulator sends rows for the first request now; the console reads them only after it
    # has cancelled that request and asked again (as IB's rows in flight at a cancel).
    book.churn(40)
    assert [sim_rows(gateway, contract, side, 10) for side in DepthSide] != before
    broker.depth.unsubscribe(contract.con_id)
    broker.depth.subscribe(contract)
    resets = follower.resets
    # The gateway answers in order: once it has told the time, the stray rows and the whole new
    # book have arrived.
    await asyncio.wait_for(broker.session.ib.reqCurrentTimeAsync(), 5)
    assert gateway.depth.subscription_count() == 1
    assert follower.resets == resets
    assert matches(), "rows of the cancelled request reached the new book"
    assert broker.depth.status(contract.con_id) == DepthStatus(contract.con_id, DepthState.LIVE)


async def test_rows_read_with_a_farms_return_never_reach_the_book_it_requests_again(
    make_gateway: Any, make_broker: BrokerFactory, wait_for: WaitFor
) -> None:
    gateway = await make_gateway(depth_rate=0.0, tick_rate=1e-6)
    broker = make_broker(gateway)
    await broker.start()
    contract = (await broker.contracts.chain("ES")).months[0].contract
    follower = Follower(broker, contract.con_id)
    statuses: list[DepthStatus] = []
    broker.depth.depth_status += statuses.append

    def matches() -> bool:
        return all(
            follower.book.rows(side) == sim_rows(gateway, contract, side, 10) for side in DepthSide
        )

    broker.depth.subscribe(contract)
    await wait_for(lambda: not follower.book.empty and matches(), what="the first book")
    gateway.faults.farm_broken("market")
    await wait_for(lambda: broker.session.health.broken_farms, what="the broken farm")
    book = gateway.depth.book(contract.con_id)
    assert book is not None
    before = [sim_rows(gateway, contract, side, 10) for side in DepthSide]
    # Rows of the first request, then the farm's return: the console reads them in one batch,
    # and the return (which renews every subscription) is decoded after the rows.
    book.churn(40)
    assert [sim_rows(gateway, contract, side, 10) for side in DepthSide] != before
    gateway.faults.farm_ok("market")
    resets = follower.resets
    await wait_for(lambda: follower.resets > resets, what="the depth requested again")
    await asyncio.wait_for(broker.session.ib.reqCurrentTimeAsync(), 5)
    assert follower.resets == resets + 1
    assert matches(), "rows of the cancelled request reached the new book"
    assert statuses[-1] == DepthStatus(contract.con_id, DepthState.LIVE)
