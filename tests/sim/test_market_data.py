"""The market walk and streaming quotes: live, delayed, snapshots, cancel, as ib_insync sees
them."""

from __future__ import annotations

import asyncio
import math
from decimal import Decimal
from typing import Any

import pytest

from ibconsole.broker.ib_client import IB, Forex, Future, Stock
from ibconsole.sim import PaperGateway
from ibconsole.sim.clock import SimClock
from ibconsole.sim.instruments import Catalogue
from ibconsole.sim.market import Market


def _on_grid(value: float, tick: float) -> bool:
    return math.isclose(round(value / tick) * tick, value, abs_tol=1e-9)


async def test_live_stream_fills_the_ticker(
    gateway: PaperGateway, ib: IB, wait_for: Any, qualified_future: Any
) -> None:
    contract = await qualified_future(ib)
    ticker = ib.reqMktData(contract)
    await wait_for(
        lambda: ticker.bid > 0 and ticker.last > 0 and ticker.volume > 0, what="first quote"
    )
    assert ticker.marketDataType == 1
    assert ticker.minTick == 0.25
    assert ticker.ask == ticker.bid + 0.25
    assert ticker.bidSize > 0
    assert ticker.askSize > 0
    assert ticker.lastSize > 0
    assert ticker.high >= ticker.low > 0
    assert ticker.close > 0
    assert ticker.open > 0
    for price in (ticker.bid, ticker.ask, ticker.last, ticker.high, ticker.low):
        assert _on_grid(price, 0.25)
    first_volume = ticker.volume
    await wait_for(lambda: ticker.volume > first_volume, what="a trade")
    assert gateway.market.is_held(contract.conId)
    quote = gateway.market.quote(contract.conId)
    assert Decimal(str(ticker.volume)) <= quote.volume


async def test_delayed_data_after_req_market_data_type_3(
    ib: IB, wait_for: Any, qualified_future: Any, record_errors: Any
) -> None:
    contract = await qualified_future(ib, "NQ")
    errors = record_errors(ib)
    ib.reqMarketDataType(3)
    ticker = ib.reqMktData(contract)
    await wait_for(lambda: ticker.bid > 0 and ticker.last > 0, what="delayed quote")
    assert ticker.marketDataType == 3
    assert errors.codes == [10167]
    await wait_for(lambda: ticker.volume > 0, what="delayed volume")
    assert ticker.ask > ticker.bid


async def test_delayed_tick_types_on_the_wire(ib: IB, wait_for: Any, qualified_future: Any) -> None:
    contract = await qualified_future(ib, "MES")
    ib.reqMarketDataType(4)
    ticker = ib.reqMktData(contract)
    seen: set[int] = set()
    ib.pendingTickersEvent += lambda tickers: seen.update(
        tick.tickType for t in tickers for tick in t.ticks
    )
    await wait_for(lambda: {66, 67, 68} <= seen, what="delayed bid/ask/last tick types")
    assert not seen & {1, 2, 4}
    assert ticker.marketDataType == 3


async def test_delayed_only_fault_overrides_a_live_request(
    gateway: PaperGateway, ib: IB, wait_for: Any, qualified_future: Any, record_errors: Any
) -> None:
    gateway.faults.delayed_data_only()
    contract = await qualified_future(ib)
    errors = record_errors(ib)
    ticker = ib.reqMktData(contract)
    await wait_for(lambda: ticker.bid > 0, what="quote")
    assert ticker.marketDataType == 3
    assert errors.codes == [10167]


async def test_snapshot_ends_with_tick_snapshot_end(
    gateway: PaperGateway, ib: IB, qualified_future: Any
) -> None:
    contract = await qualified_future(ib, "RTY")
    (ticker,) = await asyncio.wait_for(ib.reqTickersAsync(contract), 3)
    assert ticker.bid > 0
    assert ticker.ask > ticker.bid
    assert ticker.last > 0
    assert ticker.close > 0
    assert _on_grid(ticker.bid, 0.1)
    assert not gateway.market.is_held(contract.conId)
    assert gateway.market_data.subscription_count() == 0


async def test_cancel_stops_the_stream(
    gateway: PaperGateway, ib: IB, wait_for: Any, qualified_future: Any, round_trip: Any
) -> None:
    contract = await qualified_future(ib)
    ticker = ib.reqMktData(contract)
    await wait_for(lambda: ticker.volume > 0, what="first quote")
    ib.cancelMktData(contract)
    await wait_for(
        lambda: not gateway.market.is_held(contract.conId), what="the market to stop ticking"
    )
    assert gateway.market_data.subscription_count() == 0
    await round_trip(ib)
    volume = ticker.volume
    for _ in range(20):
        gateway.market.step(contract.conId)
    await round_trip(ib)
    assert ticker.volume == volume


async def test_two_clients_see_the_same_market(
    gateway: PaperGateway, ib: IB, connect: Any, wait_for: Any, qualified_future: Any
) -> None:
    other = await connect(gateway)
    contract = await qualified_future(ib)
    mine, theirs = ib.reqMktData(contract), other.reqMktData(contract)
    await wait_for(lambda: mine.volume > 0 and theirs.volume > 0, what="both quotes")
    ib.cancelMktData(contract)
    await wait_for(lambda: gateway.market_data.subscription_count() == 1, what="one cancel")
    assert gateway.market.is_held(contract.conId)
    quote = gateway.market.step(contract.conId)
    await wait_for(lambda: theirs.volume == float(quote.volume), what="the stepped quote")
    assert theirs.bid == float(quote.bid)


async def test_currency_quotes_have_no_trades(ib: IB, wait_for: Any) -> None:
    (eurusd,) = await asyncio.wait_for(ib.qualifyContractsAsync(Forex("EURUSD")), 3)
    ticker = ib.reqMktData(eurusd)
    await wait_for(lambda: ticker.bid > 0 and ticker.ask > 0, what="fx quote")
    assert math.isnan(ticker.last)
    assert math.isnan(ticker.volume)
    assert ticker.bidSize % 100_000 == 0


async def test_rt_volume_generic_tick(ib: IB, wait_for: Any) -> None:
    (aapl,) = await asyncio.wait_for(ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD")), 3)
    ticker = ib.reqMktData(aapl, "233")
    await wait_for(lambda: ticker.rtVolume > 0, what="an RTVolume tick")
    assert ticker.rtTime is not None
    assert ticker.vwap > 0


async def test_unknown_contract_gets_error_200(ib: IB, wait_for: Any, record_errors: Any) -> None:
    errors = record_errors(ib)
    # ib_async files tickers by contract hash, which needs a conId: one IB has never issued
    ticker = ib.reqMktData(Future("NOPE", "202503", "CME", conId=1))
    await wait_for(lambda: errors, what="an error")
    assert errors.codes == [200]
    assert math.isnan(ticker.bid)


def _market(seed: int, as_of: Any) -> tuple[Market, int]:
    clock = SimClock(as_of)
    catalogue = Catalogue(clock)
    (es,) = catalogue.match(["", "ES", "FUT", "202503", "", "", "", "CME", "", "", "", ""])
    return Market(catalogue, clock, seed=seed), es.con_id


def test_walk_is_deterministic_for_a_seed_and_stays_on_the_grid(as_of: Any) -> None:
    first, con_id = _market(5, as_of)
    second, _ = _market(5, as_of)
    other, _ = _market(6, as_of)
    path = [first.step(con_id) for _ in range(500)]
    again = [second.step(con_id) for _ in range(500)]
    assert [(q.bid, q.ask, q.last, q.volume) for q in path] == [
        (q.bid, q.ask, q.last, q.volume) for q in again
    ]
    assert [q.bid for q in path] != [other.step(con_id).bid for _ in range(500)]
    tick = Decimal("0.25")
    for quote in path:
        assert quote.ask - quote.bid == tick
        assert quote.bid % tick == 0
        assert quote.last % tick == 0
        assert quote.low <= quote.last <= quote.high
        assert quote.bid_size > 0
        assert quote.ask_size > 0
    assert path[-1].volume > path[0].volume
    assert len({q.bid for q in path}) > 3


async def test_hold_is_reference_counted(as_of: Any, wait_for: Any) -> None:
    market, con_id = _market(1, as_of)
    updates: list[int] = []
    market.add_listener(lambda cid, quote: updates.append(cid))
    market.hold(con_id)
    market.hold(con_id)
    market.release(con_id)
    assert market.is_held(con_id)
    await wait_for(lambda: len(updates) >= 2, what="timer updates")
    market.release(con_id)
    assert not market.is_held(con_id)
    with pytest.raises(ValueError, match="not held"):
        market.release(con_id)
    market.close()
    with pytest.raises(KeyError, match="no instrument"):
        market.quote(1)


async def test_market_data_type_is_per_connection(
    gateway: PaperGateway,
    ib: IB,
    connect: Any,
    wait_for: Any,
    qualified_future: Any,
    round_trip: Any,
) -> None:
    other = await connect(gateway)
    contract = await qualified_future(ib)
    ib.reqMarketDataType(3)
    await round_trip(ib)
    delayed, live = ib.reqMktData(contract), other.reqMktData(contract)
    await wait_for(lambda: delayed.bid > 0 and live.bid > 0, what="both quotes")
    assert delayed.marketDataType == 3
    assert live.marketDataType == 1
