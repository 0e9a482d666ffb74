"""A request id already streaming is refused with TWS's 322 by every streaming service, and the
first stream carries on (real-time bars come every 5 s, so only their refusal is checked); IB's
own ``ibapi`` client as the peer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from ibapi.client import EClient

from ibconsole.sim import PaperGateway
from tests.sim.test_depth_ibapi import future

Request = Callable[[EClient, int], None]

_STREAMS: dict[str, tuple[Request, str, str]] = {
    "market data": (
        lambda c, r: c.reqMktData(r, future(), "", False, False, []),
        "bX",
        "tickPrice",
    ),
    "depth": (lambda c, r: c.reqMktDepth(r, future(), 5, False, []), "bX", "updateMktDepth"),
    "real-time bars": (
        lambda c, r: c.reqRealTimeBars(r, future(), 5, "TRADES", False, []),
        "bR",
        "",
    ),
}


@pytest.mark.parametrize("kind", list(_STREAMS))
async def test_a_second_request_with_a_streaming_id_gets_322(
    kind: str, gateway: PaperGateway, ibapi_connect: Any, wait_for: Any
) -> None:
    request, code, callback = _STREAMS[kind]
    peer = await ibapi_connect(gateway)
    request(peer.client, 7)
    await wait_for(
        lambda: not callback or any(True for _ in peer.by_request(callback, 7)),
        what=f"the first {kind} stream",
    )
    request(peer.client, 7)
    expected = (7, 322, f"Error processing request.-'{code}' : cause - Duplicate ticker id")
    await wait_for(lambda: expected in peer.errors, what="the 322 refusal")
    assert [e for e in peer.errors if e[0] == 7] == [expected]
    if callback:
        seen = len(list(peer.by_request(callback, 7)))
        await wait_for(
            lambda: len(list(peer.by_request(callback, 7))) > seen,
            what=f"the first {kind} stream carrying on",
        )
