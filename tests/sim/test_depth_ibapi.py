"""Market depth through IB's own ``ibapi`` client over TCP: ``updateMktDepth`` rows replayed by
position rebuild a book whose top is the quote, ``updateMktDepthL2`` carries exchange names and
the SMART flag, ``mktDepthExchanges`` decodes, and cancels end the stream (a cancel that names
the wrong kind of depth gets 310 and ends nothing, as TWS answers it)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ibapi.contract import Contract

from ibconsole.sim import PaperGateway
from tests.sim.ibapi_peer import Callback, IbapiPeer

FAST = {"tick_rate": 100.0, "depth_rate": 400.0}


def future(symbol: str = "ES", month: str = "202503") -> Contract:
    contract = Contract()
    contract.symbol = symbol
    contract.secType = "FUT"
    contract.exchange = "CME"
    contract.currency = "USD"
    contract.lastTradeDateOrContractMonth = month
    return contract


def smart_stock(symbol: str = "AAPL") -> Contract:
    contract = Contract()
    contract.symbol = symbol
    contract.secType = "STK"
    contract.exchange = "SMART"
    contract.currency = "USD"
    return contract


class Replay:
    """A book rebuilt from depth callbacks by position, as IB's samples keep one."""

    def __init__(self) -> None:
        self.sides: dict[int, list[tuple[float, Decimal]]] = {0: [], 1: []}
        self.most_rows = 0

    def apply(self, call: Callback) -> None:
        levels = self.sides[call["side"]]
        position, operation = call["position"], call["operation"]
        if operation == 0:
            assert position <= len(levels), f"insert past the end: {call}"
            levels.insert(position, (call["price"], call["size"]))
        elif operation == 1:
            assert position < len(levels), f"update of a missing row: {call}"
            levels[position] = (call["price"], call["size"])
        else:
            assert operation == 2
            assert position < len(levels), f"delete of a missing row: {call}"
            levels.pop(position)
        self.most_rows = max(self.most_rows, *(len(side) for side in self.sides.values()))


def _errors(peer: IbapiPeer) -> list[tuple[int, int, str]]:
    """Errors other than the data farm notices every connection starts with."""
    return [error for error in peer.errors if not 2100 <= error[1] < 2200]


async def _round_trip(peer: IbapiPeer, wait_for: Any) -> None:
    before = len(peer.calls("currentTime"))
    peer.client.reqCurrentTime()
    await wait_for(lambda: len(peer.calls("currentTime")) > before, what="currentTime")


async def _quiet(gateway: PaperGateway, peer: IbapiPeer, wait_for: Any) -> None:
    """Stop every stream and wait until ibapi has handled all it received: its message loop
    must not be decoding when the test disconnects it."""
    gateway.faults.lose_connectivity()
    await _round_trip(peer, wait_for)


def _last(peer: IbapiPeer, name: str, req_id: int, tick_type: int) -> Any:
    calls = [c for c in peer.by_request(name, req_id) if c["tickType"] == tick_type]
    return calls[-1]["price" if name == "tickPrice" else "size"]


async def test_exchange_depth_rows_replay_into_a_book_topped_by_the_quote(
    make_gateway: Any, ibapi_connect: Any, wait_for: Any
) -> None:
    gateway: PaperGateway = await make_gateway(**FAST)
    peer = await ibapi_connect(gateway)
    peer.client.reqMktData(1, future(), "", False, False, [])
    peer.client.reqMktDepth(2, future(), 5, False, [])
    await wait_for(
        lambda: len(list(peer.by_request("updateMktDepth", 2))) >= 1_500,
        timeout=15,
        what="1,500 depth rows",
    )
    await _quiet(gateway, peer, wait_for)

    replay = Replay()
    calls = list(peer.by_request("updateMktDepth", 2))
    for call in calls:
        replay.apply(call)
    # rows move in place: inserts build the window, updates change it
    assert {call["operation"] for call in calls} >= {0, 1}
    assert replay.most_rows == 5
    bids, asks = replay.sides[1], replay.sides[0]
    assert len(bids) == len(asks) == 5
    assert [price for price, _ in bids] == sorted((price for price, _ in bids), reverse=True)
    assert [price for price, _ in asks] == sorted(price for price, _ in asks)
    assert all(size > 0 and isinstance(size, Decimal) for _, size in bids + asks)
    assert all((price * 4).is_integer() for price, _ in bids + asks)
    assert bids[0] == (_last(peer, "tickPrice", 1, 1), _last(peer, "tickSize", 1, 0))
    assert asks[0] == (_last(peer, "tickPrice", 1, 2), _last(peer, "tickSize", 1, 3))
    assert not peer.calls("updateMktDepthL2")


async def test_smart_depth_arrives_as_l2_rows_with_exchange_names(
    make_gateway: Any, ibapi_connect: Any, wait_for: Any
) -> None:
    gateway: PaperGateway = await make_gateway(**FAST)
    peer = await ibapi_connect(gateway)
    peer.client.reqMktDepth(4, smart_stock(), 6, True, [])
    await wait_for(
        lambda: len(list(peer.by_request("updateMktDepthL2", 4))) >= 300, what="SMART depth rows"
    )
    calls = list(peer.by_request("updateMktDepthL2", 4))
    assert all(call["isSmartDepth"] is True for call in calls)
    assert {call["marketMaker"] for call in calls} <= {"ISLAND", "ARCA", "BATS", "IEX"}
    replay = Replay()
    for call in calls:
        replay.apply(call)
    assert replay.most_rows == 6
    assert not peer.calls("updateMktDepth")
    await _quiet(gateway, peer, wait_for)


async def test_island_depth_arrives_as_l2_rows_that_are_not_smart(
    make_gateway: Any, ibapi_connect: Any, wait_for: Any
) -> None:
    gateway: PaperGateway = await make_gateway(**FAST)
    peer = await ibapi_connect(gateway)
    contract = smart_stock()
    contract.exchange = "ISLAND"
    peer.client.reqMktDepth(5, contract, 4, False, [])
    await wait_for(
        lambda: len(list(peer.by_request("updateMktDepthL2", 5))) >= 100, what="ISLAND rows"
    )
    await _quiet(gateway, peer, wait_for)
    calls = list(peer.by_request("updateMktDepthL2", 5))
    assert all(call["isSmartDepth"] is False for call in calls)
    assert all(call["marketMaker"] for call in calls)
    replay = Replay()
    for call in calls:
        replay.apply(call)
    assert replay.most_rows == 4


async def test_a_cancel_of_the_wrong_kind_gets_310_and_the_right_one_ends_the_stream(
    make_gateway: Any, ibapi_connect: Any, wait_for: Any
) -> None:
    gateway: PaperGateway = await make_gateway(**FAST)
    peer = await ibapi_connect(gateway)
    peer.client.reqMktDepth(6, future(), 3, True, [])

    def rows() -> int:
        return len(list(peer.by_request("updateMktDepthL2", 6)))

    await wait_for(lambda: rows() >= 20, what="SMART depth rows")
    peer.client.cancelMktDepth(6, False)
    await wait_for(lambda: _errors(peer), what="error 310")
    assert _errors(peer) == [(6, 310, "Can't find the subscribed market depth with tickerId:6")]
    after_error = rows()
    await wait_for(lambda: rows() >= after_error + 20, what="the stream to go on")

    peer.client.cancelMktDepth(6, True)
    await _round_trip(peer, wait_for)
    stopped_at = rows()
    con_id = 710_000_000 + 25 * 100 + 3  # ESH5
    assert gateway.depth.book(con_id) is None
    peer.client.reqMktData(7, future(), "", False, False, [])  # keeps the market moving
    await wait_for(lambda: len(list(peer.by_request("tickPrice", 7))) >= 40, what="quotes")
    await _round_trip(peer, wait_for)
    assert rows() == stopped_at
    peer.client.cancelMktDepth(6, True)
    await wait_for(lambda: len(_errors(peer)) == 2, what="a second 310")
    assert _errors(peer)[-1][1] == 310
    await _quiet(gateway, peer, wait_for)


async def test_depth_exchanges_decode_in_ibapi(
    gateway: PaperGateway, ibapi_connect: Any, wait_for: Any
) -> None:
    peer = await ibapi_connect(gateway)
    peer.client.reqMktDepthExchanges()
    await wait_for(lambda: peer.calls("mktDepthExchanges"), what="mktDepthExchanges")
    (call,) = peer.calls("mktDepthExchanges")
    descriptions = {(d.exchange, d.secType): d for d in call["depthMktDataDescriptions"]}
    assert descriptions["CME", "FUT"].serviceDataType == "Deep"
    assert descriptions["ARCA", "STK"].aggGroup == 4
    assert descriptions["ISLAND", "STK"].listingExch == "NASDAQ"


async def test_the_limit_answers_309_in_ibapi(
    gateway: PaperGateway, ibapi_connect: Any, wait_for: Any
) -> None:
    peer = await ibapi_connect(gateway)
    for req_id, symbol in enumerate(("ES", "NQ", "RTY", "M2K"), start=10):
        peer.client.reqMktDepth(req_id, future(symbol), 5, False, [])
    await wait_for(lambda: _errors(peer), what="error 309")
    assert _errors(peer) == [(13, 309, "Max number (3) of market depth requests has been reached")]
    await _quiet(gateway, peer, wait_for)
    assert {c["reqId"] for c in peer.calls("updateMktDepth")} == {10, 11, 12}
