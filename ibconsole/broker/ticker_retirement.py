"""Tickers of cancelled market-data lines, taken out of the IB library's tables.

ib_async (and ib_insync) keep every Ticker of a connection in ``wrapper.tickers`` and every
request id's Ticker in ``wrapper.reqId2Ticker`` until the next connect: ``cancelMktData`` forgets
neither. An options chain whose strikes follow the market, or whose expiries the trader switches,
held a Ticker (with its ticks, computations and depth rows) for every option it had ever shown and
a request id for every line it had ever opened, all day long.

A cancelled line's request id is dropped a moment after the cancel, so ticks the gateway sent
before it saw the cancel still find their Ticker (rather than being logged as an unknown
request); its Ticker is dropped then too, unless another request (depth, or a new line on the same
contract) feeds it.
"""

from __future__ import annotations

import asyncio

from ibconsole.broker.ib_client import IB, Ticker

# Seconds after a cancel: ticks already on their way when it left arrive well within this.
RETIRE_AFTER = 2.0
_MARKET_DATA = "mktData"


class TickerRetirement:
    """Retires the Tickers of cancelled market-data lines of one ``IB``."""

    def __init__(self, ib: IB, delay: float = RETIRE_AFTER) -> None:
        self._ib = ib
        self._delay = delay

    def request_id(self, ticker: Ticker) -> int | None:
        """The request id of the market-data line feeding ``ticker`` (read it before the
        cancel, which forgets it); None when there is none."""
        req_id = self._ib.wrapper.ticker2ReqId[_MARKET_DATA].get(ticker)
        return int(req_id) if req_id else None

    def retire(self, ticker: Ticker, req_id: int) -> None:
        """The line ``req_id`` of ``ticker`` was cancelled: forget both a moment from now."""
        asyncio.get_running_loop().call_later(self._delay, self._forget, ticker, req_id)

    def _forget(self, ticker: Ticker, req_id: int) -> None:
        # A reconnect in between replaced the tables: the identity checks leave new ones alone.
        wrapper = self._ib.wrapper
        if wrapper.reqId2Ticker.get(req_id) is ticker:
            del wrapper.reqId2Ticker[req_id]
        if any(ticker in held for held in wrapper.ticker2ReqId.values()):
            return
        for key, kept in list(wrapper.tickers.items()):
            if kept is ticker:
                del wrapper.tickers[key]
