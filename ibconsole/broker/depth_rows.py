"""Depth rows of a request that is no longer live are dropped before the client applies them.

IB keeps sending rows for a depth request for a moment after its cancel (they were on the way),
and the console asks again for the same contract on the same socket (a view comes back, a farm
or IB's connectivity returns). The client library files the rows of every request id under the
contract's one Ticker and never forgets an id (``reqId2Ticker``), so the late rows of the
cancelled request land in the book of the new one, after the new request's empty book was
shown: the book the trader sees is wrong until the rows concerned change again.

The client knows which request is live for a Ticker's depth (``ticker2ReqId["mktDepth"]``): a
row of any other request id is dropped here, before it touches the Ticker. Both ib_async and
ib_insync look their wrapper's ``updateMktDepthL2`` up as each row arrives, and their
``updateMktDepth`` calls it, so one replacement holds both kinds of row.
"""

from __future__ import annotations

from ibconsole.broker.ib_client import IB

_DEPTH = "mktDepth"  # the client's key of depth requests in ticker2ReqId


def drop_stray_depth_rows(ib: IB) -> None:
    """Make ``ib``'s client drop every depth row whose request is not its Ticker's live depth
    request (before it connects; it holds across reconnects)."""
    wrapper = ib.wrapper
    apply = wrapper.updateMktDepthL2

    def update_mkt_depth_l2(  # the client's signature, so a call by keyword works too
        reqId: int,
        position: int,
        marketMaker: str,
        operation: int,
        side: int,
        price: float,
        size: float,
        isSmartDepth: bool = False,
    ) -> None:
        # read at each row: the client replaces both maps when it resets for a new connection
        ticker = wrapper.reqId2Ticker.get(reqId)
        if ticker is None or wrapper.ticker2ReqId[_DEPTH].get(ticker) != reqId:
            return
        apply(reqId, position, marketMaker, operation, side, price, size, isSmartDepth)

    wrapper.updateMktDepthL2 = update_mkt_depth_l2  # type: ignore[method-assign,unused-ignore]
