"""Market depth as an unmodified ib_insync client sees it over TCP: ``reqMktDepth`` fills
``ticker.domBids``/``domAsks`` with a book whose best levels are the quote's, ``numRows`` is
respected, SMART depth names exchanges, TWS's limit of 3 depth subscriptions answers 309,
cancel and disconnect free a slot, and faults stop and restart the stream as TWS does."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

import pytest

from ibconsole.broker.ib_client import IB, Contract, Forex, Stock, Ticker
from ibconsole.sim import PaperGateway

FAST = {"tick_rate": 100.0, "depth_rate": 400.0}
EXCHANGES = {"ISLAND", "ARCA", "BATS", "IEX"}


class DomWatch:
    """Checks a ticker's depth after every update the client applies: at most ``rows`` rows a
    side, prices strictly sorted best first and on the tick grid, sizes positive, never
    crossed; counts the depth changes received."""

    def __init__(self, ticker: Ticker, rows: int, tick: float) -> None:
        self.rows = rows
        self.tick = tick
        self.changes = 0
        self.violations: list[str] = []
        ticker.updateEvent += self.check

    def check(self, ticker: Ticker) -> None:
        self.changes += len(ticker.domTicks)
        for name, levels, order in (("bids", ticker.domBids, -1), ("asks", ticker.domAsks, 1)):
            prices = [level.price for level in levels]
            if len(levels) > self.rows:
                self.violations.append(f"{len(levels)} {name} rows for numRows {self.rows}")
            if any(order * (b - a) <= 0 for a, b in pairwise(prices)):
                self.violations.append(f"{name} not sorted: {prices}")
            if any(not _on_grid(price, self.tick) for price in prices):
                self.violations.append(f"{name} off the {self.tick} grid: {prices}")
            if any(level.size <= 0 for level in levels):
                self.violations.append(f"{name} with a size of zero or less: {levels}")
        if ticker.domBids and ticker.domAsks and ticker.domBids[0].price >= ticker.domAsks[0].price:
            self.violations.append(f"crossed: {ticker.domBids[0]} / {ticker.domAsks[0]}")


def _on_grid(value: float, tick: float) -> bool:
    return math.isclose(round(value / tick) * tick, value, abs_tol=1e-9)


def _steps(gateway: PaperGateway, con_id: int) -> Callable[[], int]:
    """How many quote updates the market has made of ``con_id`` since this was called."""
    count = [0]

    def on_quote(updated: int, quote: object) -> None:
        if updated == con_id:
            count[0] += 1

    gateway.market.add_listener(on_quote)
    return lambda: count[0]


def _assert_top_is_the_quote(ticker: Ticker) -> None:
    assert ticker.domBids[0].price == ticker.bid
    assert ticker.domBids[0].size == ticker.bidSize
    assert ticker.domAsks[0].price == ticker.ask
    assert ticker.domAsks[0].size == ticker.askSize


async def test_book_top_is_the_quote_top_after_many_updates(
    make_gateway: Any, connect: Any, wait_for: Any, qualified_future: Any, round_trip: Any
) -> None:
    gateway = await make_gateway(**FAST)
    ib = await connect(gateway)
    contract = await qualified_future(ib)
    ticker = ib.reqMktData(contract)
    assert ib.reqMktDepth(contract, numRows=5) is ticker
    watch = DomWatch(ticker, rows=5, tick=0.25)
    bids_seen: set[float] = set()
    ticker.updateEvent += lambda t: bids_seen.add(t.domBids[0].price) if t.domBids else None

    await wait_for(
        lambda: watch.changes >= 1_500 and len(bids_seen) >= 3,
        timeout=15,
        what="1,500 depth changes across three best bids",
    )
    gateway.faults.lose_connectivity()  # freezes every stream where it is
    await round_trip(ib)

    assert watch.violations == []
    assert len(ticker.domBids) == len(ticker.domAsks) == 5
    _assert_top_is_the_quote(ticker)
    assert {level.marketMaker for level in ticker.domBids + ticker.domAsks} == {""}


async def test_rows_are_capped_at_the_book_depth(
    make_gateway: Any, connect: Any, wait_for: Any, qualified_future: Any, round_trip: Any
) -> None:
    gateway = await make_gateway(**FAST)
    ib = await connect(gateway)
    contract = await qualified_future(ib, "NQ")
    ticker = ib.reqMktDepth(contract, numRows=50)
    watch = DomWatch(ticker, rows=10, tick=0.25)
    await wait_for(lambda: watch.changes >= 500, timeout=10, what="500 depth changes")
    gateway.faults.lose_connectivity()
    await round_trip(ib)

    assert watch.violations == []
    assert len(ticker.domBids) == len(ticker.domAsks) == 10


async def test_smart_depth_names_the_exchange_of_each_row(
    make_gateway: Any, connect: Any, wait_for: Any, qualified_future: Any
) -> None:
    gateway = await make_gateway(**FAST)
    ib = await connect(gateway)
    (stock,) = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
    future = await qualified_future(ib)
    stock_ticker = ib.reqMktDepth(stock, numRows=8, isSmartDepth=True)
    future_ticker = ib.reqMktDepth(future, numRows=3, isSmartDepth=True)
    watch = DomWatch(stock_ticker, rows=8, tick=0.01)

    await wait_for(lambda: watch.changes >= 200, what="SMART depth changes")
    await wait_for(lambda: len(future_ticker.domAsks) == 3, what="the future's SMART book")
    makers = {level.marketMaker for level in stock_ticker.domBids + stock_ticker.domAsks}
    assert makers <= EXCHANGES
    assert len(makers) >= 2
    assert {level.marketMaker for level in future_ticker.domBids} == {"CME"}
    assert watch.violations == []


async def test_island_depth_names_market_makers_and_arca_depth_names_none(
    make_gateway: Any, connect: Any, wait_for: Any
) -> None:
    gateway = await make_gateway(**FAST)
    ib = await connect(gateway)
    (island,) = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
    (arca,) = await ib.qualifyContractsAsync(Stock("MSFT", "SMART", "USD"))
    island.exchange, arca.exchange = "ISLAND", "ARCA"  # depth is direct-routed
    island_ticker = ib.reqMktDepth(island, numRows=5)
    arca_ticker = ib.reqMktDepth(arca, numRows=5)
    watch = DomWatch(island_ticker, rows=5, tick=0.01)
    await wait_for(lambda: watch.changes >= 200, what="ISLAND depth changes")
    await wait_for(lambda: len(arca_ticker.domBids) == 5, what="the ARCA book")
    makers = {level.marketMaker for level in island_ticker.domBids + island_ticker.domAsks}
    assert makers <= {"NSDQ", "CDRG", "GSCO", "MSCO", "UBSS", "VIRT"}
    assert makers
    assert {level.marketMaker for level in arca_ticker.domBids} == {""}
    assert watch.violations == []


async def test_exchange_depth_on_smart_is_not_supported(
    ib: IB, wait_for: Any, record_errors: Any
) -> None:
    errors = record_errors(ib)
    (stock,) = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
    ticker = ib.reqMktDepth(stock, numRows=5)
    await wait_for(lambda: errors, what="an error")
    (error,) = errors
    assert error[1:] == (10092, "Deep market data is not supported for this combination.")
    assert ticker.domBids == []


async def test_the_fourth_instrument_gets_309_until_a_slot_is_freed(
    gateway: PaperGateway,
    ib: IB,
    connect: Any,
    wait_for: Any,
    qualified_future: Any,
    record_errors: Any,
    round_trip: Any,
) -> None:
    errors = record_errors(ib)
    contracts = [await qualified_future(ib, symbol) for symbol in ("ES", "NQ", "RTY", "M2K")]
    tickers = [ib.reqMktDepth(contract) for contract in contracts[:3]]
    await wait_for(lambda: all(t.domBids for t in tickers), what="three books")
    # a second request for a watched instrument takes no further slot
    again = Contract(conId=contracts[0].conId, exchange="CME")
    assert ib.reqMktDepth(again, numRows=2).domBids is not None
    fourth = ib.reqMktDepth(contracts[3])
    await wait_for(lambda: 309 in errors.codes, what="error 309")
    assert errors[-1][2] == "Max number (3) of market depth requests has been reached"
    assert errors.codes == [309]

    ib.cancelMktDepth(contracts[1])
    await round_trip(ib)
    fourth = ib.reqMktDepth(contracts[3])
    await wait_for(lambda: fourth.domBids, what="the fourth book after a cancel")

    # another client is refused until the first disconnects
    other = await connect(gateway)
    other_errors = record_errors(other)
    (nq,) = await other.qualifyContractsAsync(Contract(conId=contracts[1].conId, exchange="CME"))
    other.reqMktDepth(nq)
    await wait_for(lambda: other_errors.codes == [309], what="309 for the other client")
    ib.disconnect()
    await wait_for(lambda: gateway.depth.subscription_count() == 0, what="slots freed")
    book = other.reqMktDepth(nq)
    await wait_for(lambda: book.domAsks, what="a book once the slots are free")


async def test_cancel_frees_the_market_and_unknown_contracts_get_200(
    gateway: PaperGateway,
    ib: IB,
    wait_for: Any,
    qualified_future: Any,
    record_errors: Any,
    round_trip: Any,
) -> None:
    errors = record_errors(ib)
    contract = await qualified_future(ib, "RTY")
    ticker = ib.reqMktDepth(contract)
    await wait_for(lambda: ticker.domBids, what="a book")
    assert gateway.market.is_held(contract.conId)
    ib.cancelMktDepth(contract)
    await round_trip(ib)
    assert gateway.depth.subscription_count() == 0
    assert gateway.depth.book(contract.conId) is None
    assert not gateway.market.is_held(contract.conId)

    # ib_async keys a ticker by conId, so the unknown contract carries one
    ib.reqMktDepth(Contract(conId=1, symbol="NOPE", secType="FUT", exchange="CME", currency="USD"))
    await wait_for(lambda: errors, what="an error")
    assert errors.codes == [200]
    assert errors == [(errors[0][0], 200, "No security definition has been found for the request")]


@pytest.mark.parametrize("rows", [0, -3])
async def test_a_request_without_rows_is_refused(
    ib: IB, wait_for: Any, qualified_future: Any, record_errors: Any, rows: int
) -> None:
    errors = record_errors(ib)
    ticker = ib.reqMktDepth(await qualified_future(ib), numRows=rows)
    await wait_for(lambda: errors, what="an error")
    assert errors.codes == [321]
    assert "numRows" in errors[0][2]
    assert ticker.domBids == []


async def test_depth_exchanges_list_where_depth_is_served(ib: IB) -> None:
    descriptions = await ib.reqMktDepthExchangesAsync()
    by_exchange = {(d.exchange, d.secType): d for d in descriptions}
    for exchange in ("CME", "CBOT", "NYMEX", "COMEX"):
        assert by_exchange[exchange, "FUT"].serviceDataType == "Deep"
    assert by_exchange["ARCA", "STK"].listingExch == "ARCA"
    assert by_exchange["ARCA", "STK"].aggGroup == 4
    assert by_exchange["ISLAND", "STK"].serviceDataType == "Deep2"
    assert ("IDEALPRO", "CASH") in by_exchange


async def test_lost_connectivity_stops_the_book_and_its_return_resends_it_after_317(
    make_gateway: Any,
    connect: Any,
    wait_for: Any,
    qualified_future: Any,
    record_errors: Any,
    round_trip: Any,
) -> None:
    gateway = await make_gateway(**FAST)
    ib = await connect(gateway)
    errors = record_errors(ib)
    contract = await qualified_future(ib)
    ticker = ib.reqMktData(contract)
    ib.reqMktDepth(contract, numRows=4)
    watch = DomWatch(ticker, rows=4, tick=0.25)
    await wait_for(lambda: watch.changes >= 100, what="depth changes")

    gateway.faults.lose_connectivity()
    await round_trip(ib)
    frozen = watch.changes
    steps = _steps(gateway, contract.conId)
    await wait_for(lambda: steps() >= 20, what="the market to move on")
    await round_trip(ib)
    assert watch.changes == frozen

    gateway.faults.restore_connectivity(data_maintained=True)
    await wait_for(lambda: 317 in errors.codes, what="error 317")
    await wait_for(lambda: watch.changes >= frozen + 200, what="depth streaming again")
    gateway.faults.lose_connectivity()
    await round_trip(ib)
    assert watch.violations == []
    assert len(ticker.domBids) == 4
    _assert_top_is_the_quote(ticker)
    assert errors.codes == [1100, 1102, 2104, 2106, 2158, 317, 1100]


async def test_data_lost_and_dropped_connections_end_every_depth_subscription(
    make_gateway: Any, connect: Any, wait_for: Any, qualified_future: Any
) -> None:
    gateway = await make_gateway(**FAST)
    ib = await connect(gateway)
    contract = await qualified_future(ib)
    ticker = ib.reqMktDepth(contract)
    await wait_for(lambda: ticker.domBids, what="a book")

    gateway.faults.lose_connectivity()
    gateway.faults.restore_connectivity(data_maintained=False)
    assert gateway.depth.subscription_count() == 0
    assert not gateway.market.is_held(contract.conId)

    again = ib.reqMktDepth(await qualified_future(ib, "NQ"))
    await wait_for(lambda: again.domBids, what="a book after resubscribing")
    client_id = ib.client.clientId
    assert gateway.faults.drop(client_id) == 1
    await wait_for(lambda: gateway.depth.subscription_count() == 0, what="the drop to free it")
    await wait_for(lambda: not ib.isConnected(), what="the client to notice")


async def test_a_burst_drives_thousands_of_changes_a_second_on_one_book(
    make_gateway: Any, connect: Any, wait_for: Any, qualified_future: Any
) -> None:
    gateway = await make_gateway(depth_rate=0.0)
    ib = await connect(gateway)
    contract = await qualified_future(ib)
    ticker = ib.reqMktDepth(contract, numRows=10)
    watch = DomWatch(ticker, rows=10, tick=0.25)
    await wait_for(lambda: ticker.domBids, what="a book")
    assert (
        gateway.faults.command(f"burst 2000 30 {contract.conId}") == "depth burst 2000/s for 30 s"
    )
    await wait_for(lambda: watch.changes >= 2_000, timeout=10, what="2,000 depth changes")
    assert watch.violations == []
    with pytest.raises(ValueError, match="positive number of seconds"):
        gateway.faults.depth_burst(100, 0)
    for bad in ("burst", "burst 2000", "burst fast 3", "burst 2000 3 ES"):
        with pytest.raises(ValueError):  # noqa: PT011 - each names its own problem
            gateway.faults.command(bad)
    with pytest.raises(ValueError, match="zero or more"):
        gateway.depth.rate = -1


# Tuesday 22:30 UTC: CME's daily break (16:00–17:00 Chicago), while IDEALPRO trades.
CME_BREAK = datetime(2025, 3, 4, 22, 30, tzinfo=UTC)


@pytest.mark.parametrize("as_of", [CME_BREAK])
async def test_a_closed_market_sends_its_book_once_and_then_nothing(
    make_gateway: Any, connect: Any, wait_for: Any, qualified_future: Any, round_trip: Any
) -> None:
    gateway = await make_gateway(depth_rate=2_000.0)
    ib = await connect(gateway)
    closed = await qualified_future(ib)
    (fx,) = await ib.qualifyContractsAsync(Forex("EURUSD"))
    assert not gateway.market.is_open(closed.conId)
    assert gateway.market.is_open(fx.conId)
    closed_ticker = ib.reqMktDepth(closed, numRows=5)
    watch = DomWatch(closed_ticker, rows=5, tick=0.25)
    open_ticker = ib.reqMktDepth(Contract(conId=fx.conId, exchange="IDEALPRO"), numRows=5)
    open_watch = DomWatch(open_ticker, rows=5, tick=0.00005)

    await wait_for(lambda: open_watch.changes >= 1_000, what="the open market's depth")
    await round_trip(ib)
    assert watch.changes == 10  # the snapshot's inserts only
    assert len(closed_ticker.domBids) == len(closed_ticker.domAsks) == 5
    assert open_watch.violations == watch.violations == []
