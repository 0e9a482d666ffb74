"""The TWS API handshake, failing as soon as TWS/Gateway closes the socket, and saying why.

ib_insync's own handshake notices a closed socket only once the API is ready: when TWS refuses a
session (326, clientId in use; a host it does not trust) it waits out its whole timeout instead.
"""

from __future__ import annotations

import asyncio
import contextlib
from enum import StrEnum

from ibconsole.broker.ib_client import IB, Contract

# TWS refuses a second API session with a clientId that is still in use, then closes the socket.
CLIENT_ID_IN_USE = 326


class HandshakeFailure(StrEnum):
    NOT_LISTENING = "not_listening"
    UNREACHABLE = "unreachable"
    TIMEOUT = "timeout"
    CLIENT_ID_IN_USE = "client_id_in_use"
    CLOSED = "closed"


class HandshakeError(ConnectionError):
    """The API session did not open; ``failure`` says at which point, the message in words."""

    def __init__(self, failure: HandshakeFailure, message: str) -> None:
        super().__init__(message)
        self.failure = failure


async def open_api(ib: IB, host: str, port: int, client_id: int, within: float) -> None:
    """Connect ``ib``'s client and complete the API handshake within ``within`` seconds.

    Raises HandshakeError; cancelling it closes whatever it opened.
    """
    conn = ib.client.conn
    loop = asyncio.get_running_loop()
    closed: asyncio.Future[str] = loop.create_future()

    def on_closed(message: str) -> None:
        if not closed.done():
            closed.set_result(message)

    if conn.transport is not None:
        # The previous socket is still closing: let it finish first, so that its close is not
        # taken for a refusal of this one.
        conn.disconnected += on_closed
        try:
            conn.disconnect()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(closed), within)
        finally:
            conn.disconnected -= on_closed
        closed = loop.create_future()
    refused = False

    def on_error(req_id: int, code: int, message: str, contract: Contract | None) -> None:
        nonlocal refused
        refused = refused or code == CLIENT_ID_IN_USE

    ib.errorEvent += on_error
    conn.disconnected += on_closed
    handshake = asyncio.ensure_future(ib.client.connectAsync(host, port, client_id, within))
    try:
        await asyncio.wait({handshake, closed}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        ib.errorEvent -= on_error
        conn.disconnected -= on_closed
        if not closed.done():
            closed.cancel()
        if not handshake.done():
            # Cancelled, or the socket closed first: ib_insync closes what it opened.
            handshake.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError, TimeoutError):
                await handshake
    failure = None if handshake.cancelled() else handshake.exception()
    if failure is None and not handshake.cancelled():
        return
    where = f"{host}:{port}"
    if refused:
        raise HandshakeError(
            HandshakeFailure.CLIENT_ID_IN_USE, f"clientId {client_id} is already in use"
        )
    if isinstance(failure, ConnectionRefusedError):
        raise HandshakeError(HandshakeFailure.NOT_LISTENING, f"nothing is listening on {where}")
    if isinstance(failure, TimeoutError):
        raise HandshakeError(
            HandshakeFailure.TIMEOUT, f"no API handshake from {where} within {within:g} s"
        )
    if isinstance(failure, OSError):
        raise HandshakeError(
            HandshakeFailure.UNREACHABLE,
            f"{where} cannot be reached: {failure.strerror or failure}",
        )
    raise HandshakeError(
        HandshakeFailure.CLOSED, f"{where} closed the connection during the API handshake"
    )
