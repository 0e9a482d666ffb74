"""Cancelled market-data lines leave nothing behind in the IB library: its Ticker of each line and
the line's request id go a moment after the cancel (the options chain opens and closes dozens of
lines each time its strikes move or the trader switches expiries), while a Ticker depth still
feeds stays, its depth keeps flowing and can still be cancelled at the gateway."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ibconsole.broker.broker import Broker
from ibconsole.domain.contracts import ListedContract
from ibconsole.sim import PaperGateway

WaitFor = Callable[..., Any]


def _tickers_of(broker: Broker, months: list[ListedContract]) -> list[Any]:
    con_ids = {m.con_id for m in months}
    return [t for t in broker.session.ib.tickers() if t.contract.conId in con_ids]


def _request_ids(broker: Broker) -> int:
    return len(broker.session.ib.wrapper.reqId2Ticker)


async def test_lines_opened_and_closed_again_and_again_leave_no_ticker_or_request_id(
    gateway: PaperGateway, broker: Broker, wait_for: WaitFor
) -> None:
    months = list((await broker.contracts.chain("ES")).contracts[:3])
    assert len(months) == 3
    before = _request_ids(broker)

    for _ in range(3):
        for month in months:
            broker.market.subscribe(month)
        await wait_for(
            lambda: all(broker.market.quote(m.con_id) is not None for m in months),
            what="quotes on every month",
        )
        for month in months:
            broker.market.unsubscribe(month.con_id)

    await wait_for(lambda: gateway.market_data.subscription_count() == 0, what="the cancels")
    await wait_for(
        lambda: not _tickers_of(broker, months) and _request_ids(broker) == before,
        timeout=10,
        what="the cancelled lines' tickers and request ids forgotten",
    )
    # a line opened again afterwards quotes as before
    broker.market.subscribe(months[0])
    await wait_for(lambda: broker.market.quote(months[0].con_id) is not None, what="a quote")
    assert len(_tickers_of(broker, months)) == 1


async def test_a_ticker_depth_still_feeds_stays_and_its_depth_can_still_be_cancelled(
    gateway: PaperGateway, broker: Broker, es_front: ListedContract, wait_for: WaitFor
) -> None:
    broker.market.subscribe(es_front)
    broker.depth.subscribe(es_front)
    await wait_for(lambda: broker.market.quote(es_front.con_id) is not None, what="a quote")
    await wait_for(lambda: gateway.depth.subscription_count() == 1, what="the depth request")
    await wait_for(
        lambda: any(t.domBids and t.domAsks for t in _tickers_of(broker, [es_front])),
        what="depth rows",
    )
    # ib_async feeds quotes and depth of a contract into one Ticker, ib_insync into one each
    (ticker,) = [t for t in _tickers_of(broker, [es_front]) if t.domBids and t.domAsks]
    wrapper = broker.session.ib.wrapper

    def request_ids() -> list[int]:
        return [r for r, t in wrapper.reqId2Ticker.items() if t.contract.conId == es_front.con_id]

    held = request_ids()
    assert len(held) == 2, "one request id for the quotes, one for the depth"

    broker.market.unsubscribe(es_front.con_id)

    await wait_for(lambda: len(request_ids()) == 1, timeout=10, what="the quotes' id forgotten")
    assert _tickers_of(broker, [es_front]) == [ticker], "depth still feeds it"

    broker.depth.unsubscribe(es_front.con_id)
    await wait_for(lambda: gateway.depth.subscription_count() == 0, what="the depth cancel")
