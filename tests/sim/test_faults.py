"""Faults on demand: dropped and reset connections, a silent or slow gateway, IB connectivity
and farm outages, rejects; what an unmodified ib_insync client makes of them."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from ibconsole.broker.ib_client import IB, Future, MarketOrder
from ibconsole.sim import PaperGateway


def _disconnects(ib: IB) -> list[None]:
    seen: list[None] = []
    ib.disconnectedEvent += lambda: seen.append(None)
    return seen


@pytest.mark.parametrize("abrupt", [True, False], ids=["reset", "fin"])
async def test_lost_connection_fails_pending_requests_once_and_reconnect_works(
    gateway: PaperGateway, ib: IB, wait_for: Any, abrupt: bool, qualified_future: Any
) -> None:
    disconnects = _disconnects(ib)
    api_errors: list[str] = []
    ib.client.apiError += api_errors.append
    client_id = ib.client.clientId
    (connection,) = gateway.connections
    gateway.faults.delay_replies(60)
    pending = asyncio.ensure_future(ib.reqCurrentTimeAsync())
    await wait_for(lambda: connection.held_messages == 1, what="the request to arrive")
    closed = gateway.faults.reset(client_id) if abrupt else gateway.faults.drop(client_id)
    assert closed == 1
    with pytest.raises(ConnectionError):
        await asyncio.wait_for(pending, 3)
    await wait_for(lambda: disconnects, what="disconnectedEvent")
    assert not ib.isConnected()
    assert api_errors
    assert api_errors[-1] == (
        "[Errno 104] Connection reset by peer" if abrupt else "Peer closed connection."
    )
    with pytest.raises(ConnectionError, match="Not connected"):
        ib.reqMktData(Future("ES", "202503", "CME"))

    gateway.faults.delay_replies(0)
    await ib.connectAsync("127.0.0.1", gateway.port, clientId=client_id, timeout=3)
    assert ib.managedAccounts() == ["DU1234567"]
    ticker = ib.reqMktData(await qualified_future(ib))
    await wait_for(lambda: ticker.bid > 0, what="a quote after reconnecting")
    assert disconnects == [None]


async def test_drop_by_client_id_spares_the_others(
    gateway: PaperGateway, ib: IB, connect: Any, wait_for: Any
) -> None:
    other = await connect(gateway)
    gone = _disconnects(ib)
    assert gateway.faults.drop(ib.client.clientId) == 1
    await wait_for(lambda: gone, what="the dropped client to notice")
    assert other.isConnected()
    assert (await asyncio.wait_for(other.reqCurrentTimeAsync(), 3)).tzinfo is not None
    assert gateway.drop_connections() == 1
    await wait_for(lambda: not other.isConnected(), what="the second drop")
    assert gone == [None]


async def test_a_silent_gateway_times_out_connects(gateway: PaperGateway, connect: Any) -> None:
    gateway.faults.stop_answering()
    silent = IB()
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await connect(gateway, ib=silent, timeout=0.5)
    assert time.monotonic() - started >= 0.5
    gateway.faults.resume_answering()
    ib = await connect(gateway)
    assert ib.isConnected()


async def test_delayed_replies_keep_their_order(gateway: PaperGateway, ib: IB) -> None:
    gateway.faults.delay_replies(0.3)
    started = time.monotonic()
    first = asyncio.ensure_future(ib.reqCurrentTimeAsync())
    details = asyncio.ensure_future(ib.reqContractDetailsAsync(Future("ES", exchange="CME")))
    await asyncio.wait_for(asyncio.gather(first, details), 3)
    assert time.monotonic() - started >= 0.3
    assert len(details.result()) == 5
    gateway.faults.delay_replies(0)
    started = time.monotonic()
    await asyncio.wait_for(ib.reqCurrentTimeAsync(), 3)
    assert time.monotonic() - started < 0.3
    with pytest.raises(ValueError, match="zero or more"):
        gateway.faults.delay_replies(-1)


async def test_connectivity_lost_then_restored_with_data_maintained(
    gateway: PaperGateway,
    ib: IB,
    wait_for: Any,
    qualified_future: Any,
    record_errors: Any,
    round_trip: Any,
) -> None:
    errors = record_errors(ib)
    contract = await qualified_future(ib)
    ticker = ib.reqMktData(contract)
    await wait_for(lambda: ticker.volume > 0, what="a quote")
    gateway.faults.lose_connectivity()
    await wait_for(lambda: 1100 in errors.codes, what="1100")
    await round_trip(ib)
    volume = ticker.volume
    for _ in range(10):
        gateway.market.step(contract.conId)
    await round_trip(ib)
    assert ticker.volume == volume
    gateway.faults.restore_connectivity(data_maintained=True)
    await wait_for(lambda: 2158 in errors.codes, what="the farm status replay")
    assert errors.codes == [1100, 1102, 2104, 2106, 2158]
    await wait_for(lambda: ticker.volume > volume, what="the stream to resume")
    assert gateway.market_data.subscription_count() == 1


async def test_connectivity_restored_with_data_lost_drops_subscriptions(
    gateway: PaperGateway, ib: IB, wait_for: Any, qualified_future: Any, record_errors: Any
) -> None:
    errors = record_errors(ib)
    contract = await qualified_future(ib)
    ticker = ib.reqMktData(contract)
    await wait_for(lambda: ticker.volume > 0, what="a quote")
    gateway.faults.lose_connectivity(restore_after=0.05, data_maintained=False)
    await wait_for(lambda: 2158 in errors.codes, what="restore and farm status")
    assert errors.codes == [1100, 1101, 2104, 2106, 2158]
    assert gateway.market_data.subscription_count() == 0
    assert not gateway.market.is_held(contract.conId)
    ib.cancelMktData(contract)
    fresh = ib.reqMktData(contract)
    await wait_for(lambda: fresh.volume > 0, what="the resubscribed stream")


async def test_farm_flaps(gateway: PaperGateway, ib: IB, wait_for: Any, record_errors: Any) -> None:
    errors = record_errors(ib)
    gateway.faults.farm_flap("hmds", restore_after=0.05)
    gateway.faults.farm_flap("market")
    gateway.faults.farm_broken("secdef")
    await wait_for(lambda: 2106 in errors.codes, what="the HMDS farm to come back")
    assert errors.codes == [2105, 2103, 2157, 2104, 2106]
    with pytest.raises(ValueError, match="unknown data farm 'cloud'"):
        gateway.faults.farm_flap("cloud")


async def test_reject_next_order(
    gateway: PaperGateway, ib: IB, wait_for: Any, qualified_future: Any
) -> None:
    contract = await qualified_future(ib)
    gateway.faults.reject_next_order("Insufficient margin")
    trade = ib.placeOrder(contract, MarketOrder("BUY", 1))
    await wait_for(trade.isDone, what="the reject")
    assert trade.orderStatus.status == "Cancelled"
    assert trade.log[-1].errorCode == 201
    assert "Insufficient margin" in trade.log[-1].message
    assert len(gateway.orders) == 1


async def test_text_commands(
    gateway: PaperGateway, ib: IB, wait_for: Any, record_errors: Any
) -> None:
    errors = record_errors(ib)
    faults = gateway.faults
    assert faults.command("delay 0.25") == "reply delay 0.25 s"
    assert faults.reply_delay == 0.25
    assert faults.command("delay") == "reply delay 0 s"
    assert faults.command("stall") == "not answering"
    assert not faults.answering
    assert faults.command("resume") == "answering"
    assert faults.command("delayed on") == "delayed only: True"
    assert faults.command("delayed off") == "delayed only: False"
    assert faults.command("pace 100") == "next historical request will be paced"
    assert gateway.history.pacing_code == 100
    assert faults.command("lose") == "connectivity lost (1100)"
    assert faults.command("restore lost") == "connectivity restored"
    assert faults.command("flap secdef") == "secdef farm flapped"
    await wait_for(lambda: len(errors) >= 7, what="the broadcast errors")
    assert errors.codes == [1100, 1101, 2104, 2106, 2158, 2157, 2158]
    for bad in ("", "explode", "pace 7", "delay soon", "flap nowhere"):
        with pytest.raises(ValueError):  # noqa: PT011 - each command names its own problem
            faults.command(bad)
    assert faults.command(f"drop {ib.client.clientId}") == "drop: 1 connection(s)"
    await wait_for(lambda: not ib.isConnected(), what="the dropped client")
