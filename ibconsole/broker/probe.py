"""Test connection: reach, handshake, accounts and round trip, without keeping a session.

Each failure stage maps to a diagnosis a trader can act on (API not enabled, wrong port, clientId
still held by a stale session, a dialog waiting in TWS, a host TWS will not trust).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from enum import StrEnum

from ibconsole.broker.handshake import HandshakeError, HandshakeFailure, open_api
from ibconsole.broker.ib_client import IB
from ibconsole.domain.trading_mode import ModeVerdict, decide_mode, is_loopback, port_preset

log = logging.getLogger(__name__)


class Diagnosis(StrEnum):
    OK = "ok"
    NOT_LISTENING = "not_listening"
    UNREACHABLE = "unreachable"
    TCP_TIMEOUT = "tcp_timeout"
    CLIENT_ID_IN_USE = "client_id_in_use"
    CLOSED_DURING_HANDSHAKE = "closed_during_handshake"
    HANDSHAKE_TIMEOUT = "handshake_timeout"
    NO_ROUND_TRIP = "no_round_trip"


_HANDSHAKE_DIAGNOSIS = {
    HandshakeFailure.NOT_LISTENING: Diagnosis.NOT_LISTENING,
    HandshakeFailure.UNREACHABLE: Diagnosis.UNREACHABLE,
    HandshakeFailure.TIMEOUT: Diagnosis.HANDSHAKE_TIMEOUT,
    HandshakeFailure.CLIENT_ID_IN_USE: Diagnosis.CLIENT_ID_IN_USE,
    HandshakeFailure.CLOSED: Diagnosis.CLOSED_DURING_HANDSHAKE,
}


@dataclass(frozen=True, slots=True)
class ProbeReport:
    host: str
    port: int
    client_id: int
    diagnosis: Diagnosis
    advice: str
    warnings: tuple[str, ...]
    tcp_ms: float | None = None
    server_version: int | None = None
    accounts: tuple[str, ...] = ()
    round_trip_ms: float | None = None
    mode: ModeVerdict | None = None

    @property
    def ok(self) -> bool:
        return self.diagnosis is Diagnosis.OK


def _advice(diagnosis: Diagnosis, host: str, port: int, client_id: int, timeout: float) -> str:
    where = f"{host}:{port}"
    match diagnosis:
        case Diagnosis.OK:
            return f"TWS/Gateway at {where} answered the API handshake and a round trip."
        case Diagnosis.NOT_LISTENING:
            return (
                f"Nothing is listening on {where}. Either the API is not enabled (TWS: Global "
                "Configuration → API → Settings → Enable ActiveX and Socket Clients) or TWS/Gateway "
                "uses another port (7496/7497 for TWS, 4001/4002 for Gateway)."
            )
        case Diagnosis.UNREACHABLE:
            return (
                f"{host} cannot be reached from this machine: check the host name and the network."
            )
        case Diagnosis.TCP_TIMEOUT:
            return f"No answer from {where} within {timeout:g} s: a firewall may be dropping the connection."
        case Diagnosis.CLIENT_ID_IN_USE:
            return (
                f"TWS/Gateway refused clientId {client_id} because it is already in use, possibly "
                "by a stale session it has not released yet. Pick another clientId or wait a minute."
            )
        case Diagnosis.CLOSED_DURING_HANDSHAKE:
            return (
                f"TWS/Gateway at {where} closed the connection during the handshake. clientId "
                f"{client_id} may still be held by a stale session, or this host is not among the "
                "trusted IPs in the API settings."
            )
        case Diagnosis.HANDSHAKE_TIMEOUT:
            return (
                f"{where} accepted the connection but did not complete the API handshake within "
                f"{timeout:g} s. TWS may be showing a login or 'accept incoming connection' dialog, "
                "or it is still starting up."
            )
        case Diagnosis.NO_ROUND_TRIP:
            return (
                f"The API session at {where} opened but did not answer a time request within "
                f"{timeout:g} s: TWS/Gateway is overloaded or stuck."
            )


async def probe(host: str, port: int, client_id: int, stage_timeout: float = 4.0) -> ProbeReport:
    """Open a throwaway session with ``client_id``, measure it, and close it again."""
    warnings: list[str] = []
    if not is_loopback(host):
        warnings.append(
            f"{host} is not this machine: TWS accepts it only if it is listed under Trusted IPs, "
            "and the API traffic travels unencrypted over the network."
        )
    preset = port_preset(port)
    warnings.append(preset.label)

    def report(
        diagnosis: Diagnosis,
        tcp_ms: float | None = None,
        session: tuple[int, tuple[str, ...]] | None = None,
        round_trip_ms: float | None = None,
    ) -> ProbeReport:
        log.info("test connection %s:%s clientId %s: %s", host, port, client_id, diagnosis.value)
        server_version, accounts = session if session else (None, ())
        return ProbeReport(
            host,
            port,
            client_id,
            diagnosis,
            _advice(diagnosis, host, port, client_id, stage_timeout),
            tuple(warnings),
            tcp_ms=tcp_ms,
            server_version=server_version,
            accounts=accounts,
            round_trip_ms=round_trip_ms,
            mode=decide_mode(port, accounts) if session else None,
        )

    started = time.perf_counter()
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), stage_timeout)
    except ConnectionRefusedError:
        return report(Diagnosis.NOT_LISTENING)
    except TimeoutError:
        return report(Diagnosis.TCP_TIMEOUT)
    except OSError:
        return report(Diagnosis.UNREACHABLE)
    tcp_ms = (time.perf_counter() - started) * 1000
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()

    ib = IB()
    try:
        await open_api(ib, host, port, client_id, stage_timeout)
    except HandshakeError as exc:
        return report(_HANDSHAKE_DIAGNOSIS[exc.failure], tcp_ms)
    try:
        session = (int(ib.client.serverVersion()), tuple(ib.client.getAccounts()))
        sent = time.perf_counter()
        try:
            await asyncio.wait_for(ib.reqCurrentTimeAsync(), stage_timeout)
        except (TimeoutError, ConnectionError):
            return report(Diagnosis.NO_ROUND_TRIP, tcp_ms, session)
        rtt = (time.perf_counter() - sent) * 1000
        return report(Diagnosis.OK, tcp_ms, session, rtt)
    finally:
        ib.disconnect()
