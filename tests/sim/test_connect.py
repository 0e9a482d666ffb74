"""Handshake, connect sync, several clients, clientId uniqueness and robustness against bad
peers, with an unmodified ib_insync client and raw sockets over real TCP."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ibconsole.broker.ib_client import IB
from ibconsole.sim import PaperGateway
from ibconsole.sim.wire import encode_fields
from tests.sim.raw_peer import RawClient


@pytest.fixture
async def raw(gateway: PaperGateway) -> Any:
    clients: list[RawClient] = []

    async def open_raw() -> RawClient:
        client = await RawClient.open(gateway)
        clients.append(client)
        return client

    yield open_raw
    for client in clients:
        client.close()


async def test_connect_sync_gives_accounts_order_id_and_farm_status(
    gateway: PaperGateway, connect: Any, record_errors: Any
) -> None:
    ib = IB()
    errors = record_errors(ib)
    await connect(gateway, client_id=7, ib=ib)

    assert ib.isConnected()
    assert ib.managedAccounts() == ["DU1234567"]
    assert ib.client.serverVersion() == 176
    assert ib.client.getReqId() >= gateway.desk.next_order_id()
    assert errors.codes == [2104, 2106, 2158]
    assert all(req_id == -1 for req_id, _, _ in errors)
    assert "usfarm" in errors[0][2]


async def test_several_accounts_including_live_style_codes(make_gateway: Any, connect: Any) -> None:
    gateway = await make_gateway(accounts=["U1234567", "U7654321"])
    ib = await connect(gateway)
    assert ib.managedAccounts() == ["U1234567", "U7654321"]


async def test_current_time_is_aware_utc_on_the_simulated_clock(ib: IB, as_of: datetime) -> None:
    now = await asyncio.wait_for(ib.reqCurrentTimeAsync(), 3)
    assert now.tzinfo is not None
    assert now.utcoffset() == timedelta(0)
    assert as_of - timedelta(seconds=1) <= now <= as_of + timedelta(seconds=30)


async def test_duplicate_client_id_times_out_and_leaves_the_first_session_alone(
    gateway: PaperGateway, connect: Any
) -> None:
    first = await connect(gateway, client_id=7)
    second = IB()
    with pytest.raises(TimeoutError):
        await connect(gateway, client_id=7, ib=second, timeout=1)
    assert not second.isConnected()
    assert first.isConnected()
    assert (await asyncio.wait_for(first.reqCurrentTimeAsync(), 3)).tzinfo is not None


async def test_duplicate_client_id_gets_error_326_then_close(
    gateway: PaperGateway, raw: Any
) -> None:
    holder = await raw()
    await holder.start(5)
    intruder = await raw()
    intruder.send_raw(intruder.hello())
    await intruder.receive()
    intruder.send(71, 2, 5, "")
    error = await intruder.receive_until("4")
    assert error[2:4] == ["-1", "326"]
    assert "already in use" in error[4]
    assert await intruder.closed_by_peer()


async def test_several_clients_at_once(gateway: PaperGateway, connect: Any) -> None:
    clients = await asyncio.gather(*(connect(gateway) for _ in range(4)))
    assert all(ib.managedAccounts() == ["DU1234567"] for ib in clients)
    ids = {connection.client_id for connection in gateway.connections}
    assert len(ids) == 4
    times = await asyncio.gather(*(asyncio.wait_for(ib.reqCurrentTimeAsync(), 3) for ib in clients))
    assert all(moment.tzinfo is not None for moment in times)


async def test_client_id_is_free_again_after_disconnect(
    gateway: PaperGateway, connect: Any, wait_for: Any
) -> None:
    first = await connect(gateway, client_id=9)
    first.disconnect()
    await wait_for(lambda: not gateway.connections, what="the gateway to see the close")
    again = await connect(gateway, client_id=9)
    assert again.isConnected()


async def test_handshake_reply_is_exactly_version_and_time(gateway: PaperGateway, raw: Any) -> None:
    client = await raw()
    client.send_raw(client.hello(b"v157..176"))
    reply = await client.receive()
    assert len(reply) == 2
    assert reply[0] == "176"
    moment = datetime.strptime(reply[1], "%Y%m%d %H:%M:%S UTC").replace(tzinfo=UTC)
    assert abs(moment - gateway.clock.now()) < timedelta(seconds=5)


async def test_handshake_announces_the_highest_common_version(
    gateway: PaperGateway, raw: Any
) -> None:
    client = await raw()
    client.send_raw(client.hello(b"v157..170 +PACEAPI"))
    reply = await client.receive()
    assert reply[0] == "170"
    client.send(71, 2, 3, "")
    accounts = await client.receive()
    order_id = await client.receive()
    assert accounts == ["15", "1", "DU1234567"]
    assert order_id[:2] == ["9", "1"]
    farm = await client.receive()
    assert farm[:4] == ["4", "2", "-1", "2104"]
    assert len(farm) == 6  # advanced reject JSON field present from version 166


async def test_gateway_capped_below_the_client_range_still_serves_ib_insync(
    make_gateway: Any, connect: Any, record_errors: Any
) -> None:
    gateway = await make_gateway(server_version=165)
    ib = IB()
    errors = record_errors(ib)
    await connect(gateway, ib=ib)
    assert ib.client.serverVersion() == 165
    assert errors.codes == [2104, 2106, 2158]
    details = await asyncio.wait_for(ib.reqContractDetailsAsync(_es()), 3)
    assert details
    assert details[0].contract.conId > 0


@pytest.mark.expect_log_warnings
async def test_client_older_than_157_is_refused(gateway: PaperGateway, raw: Any) -> None:
    client = await raw()
    client.send_raw(client.hello(b"v100..151"))
    assert await client.closed_by_peer()


async def test_server_version_below_client_minimum_fails_the_connect(
    make_gateway: Any, connect: Any
) -> None:
    gateway = await make_gateway(server_version=150)
    ib = IB()
    with pytest.raises((TimeoutError, ConnectionError)):
        await connect(gateway, ib=ib, timeout=1)
    assert not ib.isConnected()


async def test_req_ids_and_managed_accounts_are_answered(gateway: PaperGateway, raw: Any) -> None:
    client = await raw()
    await client.start(4)
    client.send(8, 1, 1)
    next_id = await client.receive_until("9")
    assert int(next_id[2]) == gateway.desk.next_order_id()
    client.send(17, 1)
    assert await client.receive_until("15") == ["15", "1", "DU1234567"]


async def test_frames_split_into_single_bytes_and_coalesced_are_understood(
    gateway: PaperGateway, raw: Any
) -> None:
    client = await raw()
    data = client.hello() + encode_fields([71, 2, 12, ""]) + encode_fields([49, 1])
    for byte in data:
        client.send_raw(bytes([byte]))
        await client.writer.drain()
    reply = await client.receive_until("49")
    assert abs(int(reply[2]) - gateway.clock.epoch()) < 5
    client.send_raw(encode_fields([49, 1]) + encode_fields([17, 1]) + encode_fields([49, 1]))
    ids = [(await client.receive())[0] for _ in range(3)]
    assert ids == ["49", "15", "49"]


async def test_unknown_message_ids_are_answered_with_an_error(
    gateway: PaperGateway, raw: Any
) -> None:
    client = await raw()
    await client.start(13)
    client.send(999, 1, "whatever")
    client.send(49, 1)
    error = await client.receive_until("4")
    while error[3] != "321":  # after the farm-status notices of the connect
        error = await client.receive_until("4")
    assert error[2] == "-1"
    assert "Unknown message id 999" in error[4]
    reply = await client.receive_until("49")
    assert reply[:2] == ["49", "1"]


@pytest.mark.expect_log_warnings
async def test_malformed_messages_never_kill_the_server_or_other_clients(
    gateway: PaperGateway, raw: Any, ib: IB
) -> None:
    client = await raw()
    await client.start(14)
    client.send("not-a-number", 1)
    client.send(9, 8)  # contract details without its fields
    client.send(1, 11, "x")  # market data with a broken request id
    client.send(20)  # historical data, truncated
    client.send(49, 1)
    reply = await client.receive_until("49")
    assert reply[:2] == ["49", "1"]
    assert (await asyncio.wait_for(ib.reqCurrentTimeAsync(), 3)).tzinfo is not None


@pytest.mark.expect_log_warnings
async def test_garbage_length_prefix_closes_only_that_connection(
    gateway: PaperGateway, raw: Any, ib: IB
) -> None:
    client = await raw()
    client.send_raw(b"API\0" + b"\xff\xff\xff\xff" + b"junk")
    assert await client.closed_by_peer()
    stranger = await raw()
    stranger.send_raw(b"GET / HTTP/1.1\r\n\r\n")
    assert await stranger.closed_by_peer()
    assert ib.isConnected()
    assert (await asyncio.wait_for(ib.reqCurrentTimeAsync(), 3)).tzinfo is not None


async def test_stop_disconnects_clients_once_and_closes_the_port(
    make_gateway: Any, connect: Any, wait_for: Any
) -> None:
    gateway = await make_gateway()
    ib = await connect(gateway)
    disconnects: list[None] = []
    ib.disconnectedEvent += lambda: disconnects.append(None)
    port = gateway.port
    await gateway.stop()
    await wait_for(lambda: disconnects, what="disconnectedEvent")
    assert not ib.isConnected()
    with pytest.raises(ConnectionRefusedError):
        await IB().connectAsync("127.0.0.1", port, clientId=1, timeout=1)
    assert disconnects == [None]


async def test_gateway_as_async_context_manager(as_of: datetime) -> None:
    async with PaperGateway(seed=1, as_of=as_of) as gateway:
        ib = IB()
        await ib.connectAsync("127.0.0.1", gateway.port, clientId=1, timeout=3)
        assert ib.managedAccounts() == ["DU1234567"]
        ib.disconnect()
    with pytest.raises(RuntimeError, match="not started"):
        _ = gateway.port


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"accounts": []}, "at least one account"),
        ({"accounts": "DU1"}, "not one string"),
        ({"accounts": ["DU1,DU2"]}, "letters and digits"),
        ({"accounts": ["DU1", "DU1"]}, "unique"),
        ({"server_version": 200}, "server_version"),
        ({"tick_rate": 0}, "tick_rate"),
        ({"as_of": datetime(2025, 1, 2)}, "timezone-aware"),
    ],
)
def test_bad_gateway_arguments_are_named(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        PaperGateway(**kwargs)


def _es() -> Any:
    from ibconsole.broker.ib_client import Future

    return Future("ES", "202503", "CME")
