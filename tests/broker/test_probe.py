"""Test connection: what a reachable gateway reports, and a diagnosis a trader can act on for each
way it can fail (nothing listening, clientId in use, early close, silence, no round trip, a host
that is not this machine). Peers are the paper gateway or a few lines of TWS-like socket."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from ibconsole.broker.broker import Broker
from ibconsole.broker.handshake import HandshakeError, HandshakeFailure, open_api
from ibconsole.broker.ib_client import IB
from ibconsole.broker.probe import Diagnosis, probe
from ibconsole.domain.health import HealthState
from ibconsole.domain.trading_mode import AccountMode
from ibconsole.sim import PaperGateway
from ibconsole.sim.wire import FrameReader, encode_fields

BrokerFactory = Callable[..., Broker]
GatewayFactory = Callable[..., Any]
WaitFor = Callable[..., Any]
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
PeerFactory = Callable[[Handler], Awaitable[int]]

STAGE = 0.3


@pytest.fixture
async def peer() -> AsyncIterator[PeerFactory]:
    """``port = await peer(handler)``: a loopback server running ``handler`` per connection."""
    servers: list[asyncio.Server] = []
    handlers: set[asyncio.Task[None]] = set()

    async def start(handler: Handler) -> int:
        async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            handlers.add(task)
            try:
                await handler(reader, writer)
            finally:
                writer.close()

        server = await asyncio.start_server(tracked, "127.0.0.1", 0)
        servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()
    if handlers:
        await asyncio.wait(handlers, timeout=2)


async def close_at_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """TWS refusing a host it does not trust: the socket closes before any answer."""
    await reader.read(4)


async def handshake_only(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A gateway that opens the API session and then answers nothing."""
    try:
        if await reader.readexactly(4) != b"API\0":
            return
    except asyncio.IncompleteReadError:
        return  # the probe's plain TCP reach test
    frames = FrameReader()
    while data := await reader.read(4096):
        for fields in frames.feed(data):
            if fields[0].startswith("v"):
                writer.write(encode_fields([176, "20250304 15:00:00 UTC"]))
            elif fields[0] == "71":
                writer.write(encode_fields([15, 1, "DU1234567"]))
                writer.write(encode_fields([9, 1, 1]))


async def test_a_reachable_gateway_reports_version_accounts_and_round_trip(
    gateway: PaperGateway, make_broker: BrokerFactory, wait_for: WaitFor
) -> None:
    report = await probe("127.0.0.1", gateway.port, 4, STAGE)

    assert report.ok
    assert report.diagnosis is Diagnosis.OK
    assert report.server_version == 176
    assert report.accounts == ("DU1234567",)
    assert report.tcp_ms is not None
    assert report.round_trip_ms is not None
    assert 0 < report.round_trip_ms < STAGE * 1000
    assert report.mode is not None
    assert report.mode.mode is AccountMode.PAPER
    assert "answered" in report.advice
    assert report.warnings == (
        f"Port {gateway.port} is not an IB default: the mode is confirmed after connecting.",
    )
    await wait_for(lambda: not gateway.connections, what="the probe to close its session")
    broker = make_broker(gateway, client_id=4)
    await broker.start()
    assert broker.session.state is HealthState.CONNECTED, "the probe kept no clientId"


async def test_nothing_listening_means_api_off_or_wrong_port(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway()
    port = gateway.port
    await gateway.stop()

    report = await probe("127.0.0.1", port, 1, STAGE)

    assert report.diagnosis is Diagnosis.NOT_LISTENING
    assert not report.ok
    assert f"Nothing is listening on 127.0.0.1:{port}" in report.advice
    assert "Enable ActiveX and Socket Clients" in report.advice
    assert "7497" in report.advice
    assert report.server_version is None
    assert report.mode is None


async def test_a_client_id_in_use_is_named_without_waiting_for_a_timeout(
    gateway: PaperGateway, make_broker: BrokerFactory
) -> None:
    broker = make_broker(gateway, client_id=3)
    await broker.start()
    started = time.monotonic()

    report = await probe("127.0.0.1", gateway.port, 3, 2.0)

    assert time.monotonic() - started < 1.0
    assert report.diagnosis is Diagnosis.CLIENT_ID_IN_USE
    assert "clientId 3" in report.advice
    assert "stale session" in report.advice
    assert broker.session.state is HealthState.CONNECTED, "the session holding it is untouched"


async def test_an_early_close_suggests_a_stale_client_id_or_an_untrusted_host(
    peer: PeerFactory,
) -> None:
    port = await peer(close_at_once)
    started = time.monotonic()

    report = await probe("127.0.0.1", port, 8, 2.0)

    assert time.monotonic() - started < 1.0
    assert report.diagnosis is Diagnosis.CLOSED_DURING_HANDSHAKE
    assert "clientId 8 may still be held by a stale session" in report.advice
    assert "trusted IPs" in report.advice
    assert report.tcp_ms is not None


async def test_a_gateway_that_never_answers_the_handshake_times_out(
    gateway: PaperGateway,
) -> None:
    gateway.faults.stop_answering()

    report = await probe("127.0.0.1", gateway.port, 1, STAGE)

    assert report.diagnosis is Diagnosis.HANDSHAKE_TIMEOUT
    assert f"within {STAGE:g} s" in report.advice
    assert "dialog" in report.advice
    assert report.tcp_ms is not None


async def test_a_session_that_does_not_answer_a_time_request_has_no_round_trip(
    peer: PeerFactory,
) -> None:
    port = await peer(handshake_only)

    report = await probe("127.0.0.1", port, 1, STAGE)

    assert report.diagnosis is Diagnosis.NO_ROUND_TRIP
    assert report.server_version == 176
    assert report.accounts == ("DU1234567",)
    assert report.round_trip_ms is None
    assert "overloaded or stuck" in report.advice


async def test_a_host_that_is_not_this_machine_is_warned_about() -> None:
    # 192.0.2.0/24 is reserved for documentation: nothing answers there (how it fails depends
    # on the network: a timeout, no route, or a firewall's refusal).
    report = await probe("192.0.2.1", 7496, 1, STAGE)

    assert not report.ok
    assert any("192.0.2.1 is not this machine" in w for w in report.warnings)
    assert any("Trusted IPs" in w for w in report.warnings)
    assert "Port 7496 is the TWS live default." in report.warnings


async def test_a_live_account_is_flagged_by_the_probe(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway(accounts=("U1234567",))

    report = await probe("127.0.0.1", gateway.port, 1, STAGE)

    assert report.ok
    assert report.mode is not None
    assert report.mode.is_live
    assert report.mode.mismatch == ""


async def test_a_live_account_behind_the_paper_gateway_port_is_a_mismatch(
    preset_gateway: GatewayFactory,
) -> None:
    gateway = await preset_gateway(4002, accounts=("U1234567",))

    report = await probe(gateway.host, 4002, 1, STAGE)

    assert report.ok
    assert report.mode is not None
    assert report.mode.is_live
    assert "4002" in report.mode.mismatch
    assert "LIVE" in report.mode.mismatch
    assert "Port 4002 is the IB Gateway paper default." in report.warnings
    assert not any("not this machine" in w for w in report.warnings)


async def test_a_handshake_right_after_a_close_waits_for_the_old_socket(
    gateway: PaperGateway,
) -> None:
    ib = IB()
    await open_api(ib, "127.0.0.1", gateway.port, 12, STAGE)
    ib.client.disconnect()
    assert ib.client.conn.transport is not None, "the old socket is still closing"

    await open_api(ib, "127.0.0.1", gateway.port, 12, STAGE)

    assert ib.isConnected()
    ib.disconnect()


async def test_a_refused_handshake_names_the_client_id(
    gateway: PaperGateway, make_broker: BrokerFactory
) -> None:
    broker = make_broker(gateway, client_id=6)
    await broker.start()

    with pytest.raises(HandshakeError, match="clientId 6 is already in use") as refused:
        await open_api(IB(), "127.0.0.1", gateway.port, 6, 2.0)

    assert refused.value.failure is HandshakeFailure.CLIENT_ID_IN_USE
