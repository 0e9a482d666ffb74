"""A closed market: the walk stands still outside the sessions (weekend, daily Globex break),
orders wait for the open, and history ends at the price the quote shows."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ibconsole.broker.ib_client import IB, MarketOrder, Ticker
from ibconsole.sim import PaperGateway
from ibconsole.sim.clock import SimClock
from ibconsole.sim.instruments import Catalogue
from ibconsole.sim.market import Market, Quote

CHICAGO = ZoneInfo("US/Central")
# Saturday 21 November 2026, 14:00 in Chicago: Globex shut from Friday 16:00 to Sunday 17:00.
SATURDAY = datetime(2026, 11, 21, 20, 0, tzinfo=UTC)
FRIDAY_CLOSE = datetime(2026, 11, 20, 16, 0, tzinfo=CHICAGO)
SUNDAY_OPEN = datetime(2026, 11, 22, 17, 0, tzinfo=CHICAGO)
# Tuesday 8 December 2026, a second before the daily 16:00-17:00 Chicago break.
TUESDAY_BEFORE_HALT = datetime(2026, 12, 8, 15, 59, 59, tzinfo=CHICAGO)
TIMEOUT = 5.0
ES_MONTH = "202612"  # the front month at the instants above


def _run_to(clock: SimClock, moment: datetime) -> None:
    clock.advance(moment - clock.now())


@pytest.mark.parametrize("as_of", [SATURDAY])
async def test_saturday_sends_one_quote_then_nothing_until_the_sunday_open(
    make_gateway: Any, connect: Any, wait_for: Any, qualified_future: Any, round_trip: Any
) -> None:
    gateway: PaperGateway = await make_gateway(tick_rate=50)
    ib: IB = await connect(gateway)
    contract = await qualified_future(ib, month=ES_MONTH)
    assert not gateway.market.is_open(contract.conId)
    ticker = ib.reqMktData(contract)
    await wait_for(lambda: ticker.close > 0 and ticker.volume > 0, what="the first quote")
    await round_trip(ib)
    quote = gateway.market.quote(contract.conId)
    assert (ticker.bid, ticker.ask, ticker.last) == (
        float(quote.bid),
        float(quote.ask),
        float(quote.last),
    )
    assert (ticker.bidSize, ticker.askSize, ticker.lastSize) == (
        quote.bid_size,
        quote.ask_size,
        quote.last_size,
    )
    assert ticker.close == float(quote.close)
    assert quote.time == FRIDAY_CLOSE  # the last trade time is the last session's
    assert gateway.market.is_held(contract.conId)

    updated_at: list[datetime] = []

    def on_update(tickers: set[Ticker]) -> None:
        updated_at.append(gateway.clock.now())

    ib.pendingTickersEvent += on_update
    _run_to(gateway.clock, SUNDAY_OPEN - timedelta(milliseconds=500))
    volume, friday_last = ticker.volume, ticker.last
    # Sunday evening trades for Monday: the day's figures start over from Friday's last price
    await wait_for(lambda: 0 < ticker.volume < volume, what="a trade after the open")
    assert ticker.close == ticker.open == friday_last
    assert updated_at
    assert min(updated_at) >= SUNDAY_OPEN
    assert gateway.market.quote(contract.conId).time >= SUNDAY_OPEN


@pytest.mark.parametrize("as_of", [SATURDAY])
async def test_a_market_order_on_saturday_waits_and_fills_at_the_sunday_open(
    make_gateway: Any, connect: Any, wait_for: Any, qualified_future: Any, round_trip: Any
) -> None:
    gateway: PaperGateway = await make_gateway(tick_rate=20)
    ib: IB = await connect(gateway)
    contract = await qualified_future(ib, month=ES_MONTH)
    trade = ib.placeOrder(contract, MarketOrder("BUY", 1))
    await wait_for(lambda: trade.orderStatus.status == "PreSubmitted", what="the order accepted")
    await round_trip(ib)
    assert not trade.fills
    assert [order.order_id for order in gateway.desk.open_orders()] == [trade.order.orderId]
    frozen_ask = gateway.market.quote(contract.conId).ask

    _run_to(gateway.clock, SUNDAY_OPEN - timedelta(milliseconds=300))
    await asyncio.wait_for(trade.filledEvent, TIMEOUT)
    assert [entry.status for entry in trade.log] == [
        "PendingSubmit",
        "PreSubmitted",
        "Submitted",
        "Submitted",
        "Filled",
    ]
    (fill,) = trade.fills
    assert fill.execution.time >= SUNDAY_OPEN
    # it takes the ask of the first update of the session, one tick at most from Friday's
    assert abs(fill.execution.price - float(frozen_ask)) <= 0.25
    assert not gateway.desk.open_orders()


@pytest.mark.parametrize("as_of", [SATURDAY])
async def test_saturday_history_ends_at_the_live_last_price(
    gateway: PaperGateway, ib: IB, qualified_future: Any, round_trip: Any
) -> None:
    contract = await qualified_future(ib, month=ES_MONTH)
    ticker = ib.reqMktData(contract)
    minutes = await asyncio.wait_for(
        ib.reqHistoricalDataAsync(contract, "", "2 D", "1 min", "TRADES", False, timeout=0), 5
    )
    hours = await asyncio.wait_for(
        ib.reqHistoricalDataAsync(contract, "", "1 W", "1 hour", "TRADES", False, timeout=0), 5
    )
    days = await asyncio.wait_for(
        ib.reqHistoricalDataAsync(contract, "", "10 D", "1 day", "TRADES", False, timeout=0), 5
    )
    await round_trip(ib)
    last = gateway.market.quote(contract.conId).last
    assert ticker.last == float(last)
    assert minutes[-1].date == FRIDAY_CLOSE - timedelta(minutes=1)
    assert minutes[-1].close == float(last)
    assert hours[-1].date == FRIDAY_CLOSE - timedelta(hours=1)
    assert hours[-1].close == float(last)
    assert days[-1].date == date(2026, 11, 20)  # Friday's trade date, not Saturday
    assert days[-1].close == float(last)
    session = gateway.market.instrument(contract.conId).session
    starts = [bar.date for bar in minutes + hours]
    assert all(
        isinstance(start, datetime) and session.is_open(start.astimezone(CHICAGO))
        for start in starts
    )


@pytest.mark.parametrize("as_of", [SATURDAY])
async def test_one_day_of_minutes_on_saturday_is_friday_s_whole_session(
    ib: IB, qualified_future: Any
) -> None:
    contract = await qualified_future(ib, month=ES_MONTH)
    minutes = await asyncio.wait_for(
        ib.reqHistoricalDataAsync(contract, "", "1 D", "1 min", "TRADES", False, timeout=0), 5
    )
    # TWS counts "1 D" of intraday bars in trade dates: Thursday 17:00 to Friday 16:00 CT,
    # 23 hours of minutes, although the last 24 hours of the clock hold none.
    assert len(minutes) == 23 * 60
    assert minutes[0].date == FRIDAY_CLOSE - timedelta(hours=23)
    assert minutes[-1].date == FRIDAY_CLOSE - timedelta(minutes=1)


@pytest.mark.parametrize("as_of", [TUESDAY_BEFORE_HALT])
async def test_history_in_the_daily_break_ends_at_the_live_last_price(
    gateway: PaperGateway, ib: IB, qualified_future: Any
) -> None:
    contract = await qualified_future(ib, month=ES_MONTH)
    _run_to(gateway.clock, TUESDAY_BEFORE_HALT + timedelta(minutes=30))  # 16:29:59, halted
    bars = await asyncio.wait_for(
        ib.reqHistoricalDataAsync(contract, "", "3600 S", "5 mins", "TRADES", False, timeout=0), 5
    )
    assert bars[-1].date == datetime(2026, 12, 8, 15, 55, tzinfo=CHICAGO)
    assert bars[-1].close == float(gateway.market.quote(contract.conId).last)


async def test_the_daily_break_stops_the_walk_until_17_00(wait_for: Any) -> None:
    clock = SimClock(TUESDAY_BEFORE_HALT + timedelta(milliseconds=700))
    catalogue = Catalogue(clock)
    (es,) = catalogue.match(["", "ES", "FUT", "202612", "", "", "", "CME", "", "", "", ""])
    market = Market(catalogue, clock, seed=3, tick_rate=50)
    quotes: list[Quote] = []
    sessions: list[tuple[int, bool]] = []
    market.add_listener(lambda con_id, quote: quotes.append(quote))
    market.add_session_listener(lambda con_id, is_open: sessions.append((con_id, is_open)))
    halt = TUESDAY_BEFORE_HALT + timedelta(seconds=1)
    reopen = halt + timedelta(hours=1)
    market.hold(es.con_id)
    try:
        await wait_for(lambda: sessions == [(es.con_id, False)], what="the 16:00 close")
        assert quotes
        assert max(quote.time for quote in quotes) < halt
        frozen = market.quote(es.con_id)
        assert market.step(es.con_id) is frozen  # a forced step cannot move a closed market
        _run_to(clock, reopen - timedelta(milliseconds=300))
        await wait_for(lambda: quotes[-1].time >= reopen, what="the 17:00 open")
    finally:
        market.close()
    assert sessions == [(es.con_id, False), (es.con_id, True)]
    assert not [quote for quote in quotes if halt <= quote.time < reopen]


@pytest.mark.parametrize("as_of", [SUNDAY_OPEN - timedelta(milliseconds=500)])
async def test_real_time_bars_start_with_the_session(
    gateway: PaperGateway, ib: IB, wait_for: Any, qualified_future: Any
) -> None:
    contract = await qualified_future(ib, month=ES_MONTH)
    bars = ib.reqRealTimeBars(contract, 5, "TRADES", False)
    await wait_for(lambda: len(bars) >= 1, timeout=8, what="a real-time bar")
    assert bars[0].time == SUNDAY_OPEN  # not the closed 16:59:55 bar before it


def test_the_day_statistics_start_over_with_a_new_trade_date() -> None:
    clock = SimClock(TUESDAY_BEFORE_HALT - timedelta(minutes=5))
    catalogue = Catalogue(clock)
    (es,) = catalogue.match(["", "ES", "FUT", "202612", "", "", "", "CME", "", "", "", ""])
    market = Market(catalogue, clock, seed=3, tick_rate=50)
    try:
        first = market.step(es.con_id)
        for _ in range(300):
            tuesday = market.step(es.con_id)
        assert tuesday.volume > first.volume
        assert (tuesday.open, tuesday.close) == (first.open, first.close)

        _run_to(clock, TUESDAY_BEFORE_HALT + timedelta(hours=1, seconds=1))  # 17:00:00, Wednesday's
        wednesday = market.step(es.con_id)
    finally:
        market.close()
    assert wednesday.close == tuesday.last  # Tuesday's last price is Wednesday's previous close
    assert wednesday.open == tuesday.last
    assert wednesday.volume in (0, wednesday.last_size)  # at most the session's first trade
    tick = es.min_tick
    assert tuesday.last - tick <= wednesday.low <= wednesday.high <= tuesday.last + 2 * tick
