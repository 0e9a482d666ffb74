"""Every message IB's ``ibapi`` 10.x client can send at server version 176 is served or answered
as TWS answers it, never dropped: the whole ``ibapi.message.OUT`` list, each request built with
``EClient``'s own method, over TCP; and the gateway stays healthy for a second client."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from ibapi.message import OUT

from ibconsole.broker.ib_client import IB
from ibconsole.sim import PaperGateway
from tests.sim.ibapi_peer import IbapiPeer
from tests.sim.ibapi_requests import CANCELS, REQUESTS, SILENT

TIMEOUT = 3.0
# real-time bars come as each 5-second bar completes, as from TWS
SLOW = {OUT.REQ_REAL_TIME_BARS: 10.0}
NO_ID = (-1, 2**31 - 1)
# Requests without a request id, and the callback that answers each.
ANSWERED_BY = {
    OUT.REQ_OPEN_ORDERS: "openOrderEnd",
    OUT.REQ_ACCT_DATA: "accountDownloadEnd",
    OUT.REQ_IDS: "nextValidId",
    OUT.REQ_ALL_OPEN_ORDERS: "openOrderEnd",
    OUT.REQ_MANAGED_ACCTS: "managedAccounts",
    OUT.REQ_CURRENT_TIME: "currentTime",
    OUT.REQ_POSITIONS: "positionEnd",
    OUT.REQ_FAMILY_CODES: "familyCodes",
    OUT.REQ_NEWS_PROVIDERS: "newsProviders",
    OUT.REQ_MARKET_RULE: "marketRule",
    OUT.REQ_COMPLETED_ORDERS: "completedOrdersEnd",
    OUT.REQ_MKT_DEPTH_EXCHANGES: "mktDepthExchanges",
}
# ibapi refuses these itself at v176 (503: the server is too old; 545/551: verification was not
# asked for at connect): nothing reaches the gateway.
CLIENT_SIDE = {
    OUT.VERIFY_REQUEST: 545,
    OUT.VERIFY_AND_AUTH_REQUEST: 551,
    OUT.REQ_CURRENT_TIME_IN_MILLIS: 503,
    OUT.CANCEL_CONTRACT_DATA: 503,
    OUT.CANCEL_HISTORICAL_TICKS: 503,
    OUT.REQ_CONFIG: 503,
    OUT.UPDATE_CONFIG: 503,
}


def test_every_ibapi_message_has_a_request_here() -> None:
    assert set(REQUESTS) == {message.value for message in OUT}
    assert set(REQUESTS) >= SILENT
    assert not SILENT & set(ANSWERED_BY)


def _answered(peer: IbapiPeer, msg_id: int, req_id: int, before: int) -> Callable[[], bool]:
    def check() -> bool:
        new = peer.records[before:]
        if any(record.name == ANSWERED_BY.get(msg_id) for record in new):
            return True
        for record in new:
            ids = [record.args.get(key) for key in ("reqId", "tickerId", "orderId")]
            if req_id in ids or (record.name == "error" and record["reqId"] in NO_ID):
                return True
        return False

    return check


async def _fence(peer: IbapiPeer, wait_for) -> None:
    """Everything the gateway sent before this has reached the client."""
    count = len(peer.calls("currentTime"))
    peer.client.reqCurrentTime()
    await wait_for(lambda: len(peer.calls("currentTime")) > count, what="currentTime")


async def test_every_ibapi_request_is_served_or_answered(
    gateway: PaperGateway, ibapi_connect, connect, wait_for
) -> None:
    peer = await ibapi_connect(gateway)
    other: IB = await connect(gateway)
    silent_errors: list[str] = []
    for message in OUT:
        msg_id = message.value
        req_id = 5000 + CANCELS.get(message, message).value
        before = len(peer.records)
        REQUESTS[msg_id](peer.client, req_id)
        if msg_id in CLIENT_SIDE:
            new = peer.records[before:]
            codes = [record["errorCode"] for record in new if record.name == "error"]
            assert codes == [CLIENT_SIDE[msg_id]], message.name
            continue
        if msg_id in SILENT:
            await _fence(peer, wait_for)
            silent_errors += [
                f"{message.name}: {record.args}"
                for record in peer.records[before:]
                if record.name == "error" and record["reqId"] in (req_id, *NO_ID)
            ]
            continue
        answered = _answered(peer, msg_id, req_id, before)
        await wait_for(answered, SLOW.get(message, TIMEOUT), what=message.name)
    assert silent_errors == []
    assert peer.client.isConnected()
    assert (await asyncio.wait_for(other.reqCurrentTimeAsync(), TIMEOUT)).tzinfo is not None
    assert await asyncio.wait_for(other.reqMatchingSymbolsAsync("MES"), TIMEOUT)


@pytest.mark.parametrize(
    ("msg_id", "code", "text"),
    [
        (OUT.REQ_SCANNER_SUBSCRIPTION, 321, "reqScannerSubscription"),
        (OUT.REQ_HISTORICAL_TICKS, 321, "reqHistoricalTicks"),
        (OUT.REQ_WSH_META_DATA, 10276, "News is not allowed."),
        (OUT.REQ_NEWS_ARTICLE, 10276, "News is not allowed."),
        (OUT.REPLACE_FA, 321, "FA data operations ignored for non FA customers."),
    ],
)
async def test_unserved_requests_get_the_error_tws_gives(
    gateway: PaperGateway, ibapi_connect, wait_for, msg_id: int, code: int, text: str
) -> None:
    peer = await ibapi_connect(gateway)
    REQUESTS[msg_id](peer.client, 77)
    await wait_for(lambda: any(e[0] == 77 for e in peer.errors), what="the error")
    ((_, got_code, message),) = [e for e in peer.errors if e[0] == 77]
    assert got_code == code
    assert text in message
