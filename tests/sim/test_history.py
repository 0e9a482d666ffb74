"""Historical bars, keepUpToDate updates and real-time bars, consistent with the live stream."""

from __future__ import annotations

import asyncio
import itertools
import math
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ibconsole.broker.ib_client import IB, BarData, Contract, Forex, Future
from ibconsole.sim import PaperGateway

_CHICAGO = ZoneInfo("US/Central")


async def _bars(ib: IB, contract: Contract, *args: Any, **kwargs: Any) -> Any:
    return await asyncio.wait_for(
        ib.reqHistoricalDataAsync(contract, *args, **kwargs, timeout=0), 5
    )


async def _refused(ib: IB, errors: Any, contract: Contract, *args: Any, **kwargs: Any) -> bool:
    """Ask for bars the gateway must refuse; True when it answered with an error and no bars.

    The error is the answer: ib_insync ends the request with it, while ib_async takes error 321
    for a warning and keeps waiting, so a request still open once the error is in is cancelled.
    """
    before = len(errors)
    answered = asyncio.Event()

    def on_error(*_: Any) -> None:
        answered.set()

    ib.errorEvent += on_error
    request = asyncio.ensure_future(ib.reqHistoricalDataAsync(contract, *args, **kwargs, timeout=0))
    error_in = asyncio.ensure_future(answered.wait())
    try:
        await asyncio.wait({request, error_in}, timeout=5, return_when=asyncio.FIRST_COMPLETED)
    finally:
        ib.errorEvent -= on_error
        error_in.cancel()
    if not request.done():
        request.cancel()
        await asyncio.gather(request, error_in, return_exceptions=True)
        return len(errors) > before
    await asyncio.gather(error_in, return_exceptions=True)
    return len(errors) > before and not request.result()


def _sane(bar: BarData, tick: float = 0.25) -> bool:
    on_grid = all(
        math.isclose(round(p / tick) * tick, p, abs_tol=1e-9)
        for p in (bar.open, bar.high, bar.low, bar.close)
    )
    return on_grid and bar.low <= min(bar.open, bar.close) <= max(bar.open, bar.close) <= bar.high


async def test_intraday_bars_end_where_the_live_walk_continues(
    gateway: PaperGateway, ib: IB, as_of: datetime, qualified_future: Any
) -> None:
    contract = await qualified_future(ib)
    bars = await _bars(ib, contract, "", "1800 S", "1 min", "TRADES", False)
    assert len(bars) == 31  # 30 whole minutes and the current one
    assert all(_sane(bar) for bar in bars)
    assert bars[0].date.tzinfo is not None
    assert bars[-1].date == as_of.astimezone(_CHICAGO).replace(second=0, microsecond=0)
    steps = {b.date - a.date for a, b in itertools.pairwise(bars)}
    assert steps == {timedelta(minutes=1)}
    quote = gateway.market.quote(contract.conId)
    assert bars[-1].close == float(quote.last)
    assert bars[-2].close == bars[-1].open
    assert all(bar.volume > 0 for bar in bars[:-1])


async def test_keep_up_to_date_appends_and_updates_with_the_same_date_format(
    gateway: PaperGateway, ib: IB, wait_for: Any, qualified_future: Any
) -> None:
    contract = await qualified_future(ib)
    bars = await _bars(ib, contract, "", "30 S", "1 secs", "TRADES", False, keepUpToDate=True)
    initial = len(bars)
    assert initial >= 30
    updates: list[bool] = []
    bars.updateEvent += lambda bar_list, has_new_bar: updates.append(has_new_bar)
    await wait_for(lambda: True in updates, what="a new bar")
    assert len(bars) > initial
    assert bars[-1].date > bars[-2].date
    assert isinstance(bars[-1].date, datetime)
    assert bars[-1].date.tzinfo is not None
    assert gateway.market.is_held(contract.conId)
    quote = gateway.market.quote(contract.conId)
    assert bars[-1].close in (float(quote.last), float(bars[-2].close))
    ib.cancelHistoricalData(bars)
    await wait_for(lambda: not gateway.market.is_held(contract.conId), what="cancel")


async def test_daily_bars_are_trade_dates_ending_today(
    gateway: PaperGateway, ib: IB, as_of: datetime, wait_for: Any, qualified_future: Any
) -> None:
    contract = await qualified_future(ib)
    bars = await _bars(ib, contract, "", "30 D", "1 day", "TRADES", False, keepUpToDate=True)
    dates = [bar.date for bar in bars]
    assert all(type(day) is date for day in dates)
    assert dates[-1] == date(2025, 3, 4)
    assert all(day.weekday() < 5 for day in dates)
    # "30 D" is 30 trade dates (ib_insync's notes: "60 D" is "the last 60 trading days"),
    # Presidents' Day off
    assert len(dates) == 30
    assert dates[0] == date(2025, 1, 21)
    assert date(2025, 2, 17) not in dates
    assert all(_sane(bar) for bar in bars)
    quote = gateway.market.quote(contract.conId)
    assert bars[-2].close == float(quote.close)
    assert bars[-1].open == float(quote.open)
    volume = bars[-1].volume
    await wait_for(lambda: bars[-1].volume > volume, what="today's bar to update")
    assert bars[-1].date == date(2025, 3, 4)
    assert len(bars) == 30


async def test_weekly_and_monthly_bars(ib: IB, qualified_future: Any) -> None:
    contract = await qualified_future(ib)
    weeks = await _bars(ib, contract, "", "1 Y", "1 week", "TRADES", False)
    months = await _bars(ib, contract, "", "1 Y", "1 month", "TRADES", False)
    assert 52 <= len(weeks) <= 54
    assert 12 <= len(months) <= 13
    assert all(a.date < b.date for a, b in itertools.pairwise(weeks))
    assert all(bar.date.weekday() < 5 for bar in weeks)
    assert all(_sane(bar) for bar in weeks + months)


async def test_epoch_dates_rth_and_an_end_in_the_past(ib: IB, qualified_future: Any) -> None:
    contract = await qualified_future(ib)
    epoch = await _bars(ib, contract, "", "600 S", "5 mins", "TRADES", False, formatDate=2)
    assert epoch[-1].date.tzinfo is not None
    assert epoch[-1].date.utcoffset() == timedelta(0)
    rth = await _bars(ib, contract, "", "3 D", "1 hour", "TRADES", True)
    assert rth
    assert all(time(8) <= bar.date.astimezone(_CHICAGO).time() < time(16) for bar in rth)
    end = datetime(2025, 3, 3, 20, 0, tzinfo=UTC)
    past = await _bars(ib, contract, end, "3600 S", "5 mins", "MIDPOINT", False)
    assert len(past) == 12
    assert past[-1].date == datetime(2025, 3, 3, 13, 55, tzinfo=_CHICAGO)


async def test_weekend_has_no_generated_bars(ib: IB, qualified_future: Any) -> None:
    contract = await qualified_future(ib)
    end = datetime(2025, 3, 2, 12, 0, tzinfo=UTC)  # Sunday morning
    bars = await _bars(ib, contract, end, "2 D", "1 hour", "TRADES", False)
    assert bars
    assert all(
        bar.date.astimezone(_CHICAGO) <= datetime(2025, 2, 28, 16, tzinfo=_CHICAGO) for bar in bars
    )


async def test_currency_midpoint_bars(ib: IB) -> None:
    (eurusd,) = await asyncio.wait_for(ib.qualifyContractsAsync(Forex("EURUSD")), 3)
    bars = await _bars(ib, eurusd, "", "3600 S", "5 mins", "MIDPOINT", False)
    assert len(bars) == 13
    assert all(bar.volume == 0 for bar in bars)
    assert all(1.0 < bar.close < 1.2 for bar in bars)


async def test_same_seed_same_history(
    make_gateway: Any, connect: Any, qualified_future: Any
) -> None:
    first = await connect(await make_gateway(seed=42))
    second = await connect(await make_gateway(seed=42))
    one = await _bars(first, await qualified_future(first), "", "60 D", "1 day", "TRADES", False)
    two = await _bars(second, await qualified_future(second), "", "60 D", "1 day", "TRADES", False)
    assert [(b.date, b.open, b.high, b.low, b.close, b.volume) for b in one] == [
        (b.date, b.open, b.high, b.low, b.close, b.volume) for b in two
    ]


async def test_request_errors_end_the_request(
    gateway: PaperGateway, ib: IB, qualified_future: Any, record_errors: Any
) -> None:
    contract = await qualified_future(ib)
    errors = record_errors(ib)
    assert await _refused(ib, errors, contract, "", "1 D", "7 mins", "TRADES", False)
    assert await _refused(ib, errors, contract, "", "forever", "1 min", "TRADES", False)
    assert await _refused(ib, errors, contract, "", "1 D", "1 min", "SCHEDULE", False)
    assert await _refused(ib, errors, contract, "2025-01-01 x", "1 D", "1 min", "TRADES", False)
    assert await _refused(ib, errors, contract, "", "30 D", "1 secs", "TRADES", False)
    end = datetime(2025, 3, 3, tzinfo=UTC)
    assert await _refused(
        ib, errors, contract, end, "1 D", "1 min", "TRADES", False, keepUpToDate=True
    )
    unknown = Future("ES", "202412", "CME")
    unknown.conId = 1
    assert await _refused(ib, errors, unknown, "", "1 D", "1 min", "TRADES", False)
    assert errors.codes == [321, 321, 162, 10314, 162, 321, 200]


async def test_pacing_faults_hit_the_next_request_only(
    gateway: PaperGateway, ib: IB, qualified_future: Any, record_errors: Any
) -> None:
    contract = await qualified_future(ib)
    errors = record_errors(ib)
    gateway.faults.pace_next_historical()
    assert not await _bars(ib, contract, "", "600 S", "1 min", "TRADES", False)
    gateway.faults.pace_next_historical(100)
    assert not await _bars(ib, contract, "", "600 S", "1 min", "TRADES", False)
    assert len(await _bars(ib, contract, "", "600 S", "1 min", "TRADES", False)) == 11
    assert errors.codes == [162, 100]


async def test_head_timestamp(ib: IB, as_of: datetime, qualified_future: Any) -> None:
    contract = await qualified_future(ib)
    head = await asyncio.wait_for(ib.reqHeadTimeStampAsync(contract, "TRADES", False, 2), 3)
    assert isinstance(head, datetime)
    assert head.tzinfo is not None
    assert timedelta(days=729) < as_of - head < timedelta(days=731)


async def test_real_time_bars_every_five_seconds(
    gateway: PaperGateway, ib: IB, wait_for: Any, qualified_future: Any
) -> None:
    contract = await qualified_future(ib)
    bars = ib.reqRealTimeBars(contract, 5, "TRADES", False)
    await wait_for(lambda: len(bars) >= 1, timeout=8, what="a real-time bar")
    bar = bars[0]
    assert bar.time.tzinfo is not None
    assert bar.time.timestamp() % 5 == 0
    assert bar.low <= bar.open_ <= bar.high
    assert bar.low <= bar.close <= bar.high
    start = int(bar.time.timestamp())
    span = gateway.tape.span(
        contract.conId, start, start + 5, gateway.market.instrument(contract.conId).min_tick
    )
    assert (bar.open_, bar.close, bar.volume) == (float(span.open), float(span.close), span.volume)
    assert gateway.market.is_held(contract.conId)
    ib.cancelRealTimeBars(bars)
    await wait_for(lambda: not gateway.market.is_held(contract.conId), what="cancel")
