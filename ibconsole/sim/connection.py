"""One API client's TCP connection: handshake, framing, batched writes, orderly or abrupt close."""

from __future__ import annotations

import asyncio
import enum
import logging
import re
import socket
import struct
from collections import deque
from typing import Protocol

from ibconsole.sim.wire import FrameError, FrameReader, encode_fields

__all__ = ["MIN_CLIENT_VERSION", "Connection", "ConnectionOwner"]

log = logging.getLogger(__name__)

MIN_CLIENT_VERSION = 157
# The advanced order reject JSON field of msg 4 exists from this server version on.
_ADVANCED_REJECT_VERSION = 166
_MAGIC = b"API\0"
# Versions are three digits today; a few more are allowed, never thousands (int() refuses those).
_VERSION_RANGE = re.compile(r"v(\d{1,9})(?:\.\.(\d{1,9}))?(?:\s+(.*))?$")
# A client that stops reading gets this much queued before it is dropped (TWS drops it too).
_MAX_UNSENT_BYTES = 64 << 20
_START_API = 71


class _State(enum.Enum):
    MAGIC = "awaiting API prefix"
    VERSION = "awaiting version range"
    START = "awaiting startApi"
    READY = "ready"
    CLOSED = "closed"


class ConnectionOwner(Protocol):
    """What a connection asks of the gateway that accepted it."""

    def connection_made(self, connection: Connection) -> None: ...

    def handshake(self, connection: Connection, client_max: int) -> tuple[int, str] | None:
        """The (server version, connection time text) to announce, or ``None`` to stay silent."""
        ...

    def start_api(self, connection: Connection, client_id: int) -> None: ...

    def dispatch(self, connection: Connection, fields: list[str]) -> None: ...

    def inbound_delay(self) -> float:
        """Seconds to hold every inbound message before handling it (0 = at once)."""
        ...

    def swallowing(self) -> bool:
        """Whether inbound messages are being ignored (a gateway that stopped answering)."""
        ...

    def connection_closed(self, connection: Connection) -> None: ...


class Connection(asyncio.Protocol):
    """A client connection; once ``started`` it is a :class:`~ibconsole.sim.link.ClientLink`.

    Outbound messages are encoded at once and written together once per event-loop iteration.
    """

    def __init__(self, owner: ConnectionOwner) -> None:
        self._owner = owner
        self._state = _State.MAGIC
        self._prefix = b""
        self._reader = FrameReader()
        self._transport: asyncio.Transport | None = None
        self._writable = False
        self._loop = asyncio.get_running_loop()
        self._out: list[bytes] = []
        self._flush_pending = False
        self._held: deque[tuple[float, list[str]]] = deque()
        self._held_timer: asyncio.TimerHandle | None = None
        self.client_id = -1
        self.server_version = 0
        self.market_data_type = 1
        self.peer = "?"
        self.closed = asyncio.Event()

    @property
    def started(self) -> bool:
        return self._state is _State.READY

    @property
    def held_messages(self) -> int:
        """Inbound messages received but held back by a reply delay."""
        return len(self._held)

    def __repr__(self) -> str:
        return f"<Connection {self.peer} clientId={self.client_id} {self._state.value}>"

    # ---- outbound -------------------------------------------------------------------------

    def send(self, *fields: object) -> None:
        if not self._writable:
            return
        self._out.append(encode_fields(fields))
        if not self._flush_pending:
            self._flush_pending = True
            self._loop.call_soon(self._flush)

    def send_error(self, req_id: int, code: int, message: str, advanced_json: str = "") -> None:
        if self.server_version >= _ADVANCED_REJECT_VERSION:
            self.send(4, 2, req_id, code, message, advanced_json)
        else:
            self.send(4, 2, req_id, code, message)

    def _flush(self) -> None:
        self._flush_pending = False
        transport = self._transport
        if transport is None or not self._writable or not self._out:
            self._out.clear()
            return
        data = b"".join(self._out)
        self._out.clear()
        transport.write(data)
        if transport.get_write_buffer_size() > _MAX_UNSENT_BYTES:
            log.warning(
                "%r is not reading (%d bytes unsent); dropping it",
                self,
                transport.get_write_buffer_size(),
            )
            self.abort()

    def close(self) -> None:
        """Orderly close (FIN) after everything queued has been written; sends after this are
        dropped."""
        if self._transport is None or not self._writable:
            return
        self._flush()
        self._writable = False
        if self._transport is not None:
            self._transport.close()

    def reset(self) -> None:
        """Abortive close: a TCP reset (SO_LINGER 0), queued data discarded."""
        transport = self._transport
        if transport is None:
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.abort()

    def abort(self) -> None:
        """Close at once, discarding whatever is queued."""
        self._writable = False
        self._out.clear()
        if self._transport is not None:
            self._transport.abort()

    # ---- inbound --------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._writable = True
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self.peer = f"{peer[0]}:{peer[1]}"
        log.debug("accepted %s", self.peer)
        self._owner.connection_made(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._writable = False
        self._out.clear()
        if self._held_timer is not None:
            self._held_timer.cancel()
            self._held_timer = None
        self._held.clear()
        self._state = _State.CLOSED
        log.info("%r closed%s", self, f" ({exc})" if exc else "")
        self._owner.connection_closed(self)
        self.closed.set()

    def data_received(self, data: bytes) -> None:
        if self._state is _State.MAGIC:
            self._prefix += data
            if len(self._prefix) < len(_MAGIC):
                if not _MAGIC.startswith(self._prefix):
                    self._refuse(f"does not speak the TWS API (first bytes {self._prefix!r})")
                return
            data = self._prefix[len(_MAGIC) :]
            if self._prefix[: len(_MAGIC)] != _MAGIC:
                self._refuse(f"does not speak the TWS API (first bytes {self._prefix[:4]!r})")
                return
            self._prefix = b""
            self._state = _State.VERSION
        if self._state is _State.CLOSED or not data:
            return
        try:
            messages = self._reader.feed(data)
        except FrameError as exc:
            self._refuse(f"sent a corrupt frame: {exc}")
            return
        for fields in messages:
            self._receive(fields)

    def _receive(self, fields: list[str]) -> None:
        if self._owner.swallowing():
            log.debug("%r: swallowed %s", self, fields[:3])
            return
        delay = self._owner.inbound_delay()
        if delay > 0 or self._held:
            self._held.append((self._loop.time() + delay, fields))
            if self._held_timer is None:
                self._schedule_held()
            return
        self._handle(fields)

    def _schedule_held(self) -> None:
        due = self._held[0][0]
        self._held_timer = self._loop.call_at(due, self._release_held)

    def _release_held(self) -> None:
        self._held_timer = None
        now = self._loop.time()
        while self._held and self._held[0][0] <= now and self._state is not _State.CLOSED:
            self._handle(self._held.popleft()[1])
        if self._held:
            self._schedule_held()

    def _handle(self, fields: list[str]) -> None:
        if self._state is _State.VERSION:
            self._on_version(fields)
        elif self._state is _State.START:
            self._on_start(fields)
        elif self._state is _State.READY:
            self._owner.dispatch(self, fields)

    def _on_version(self, fields: list[str]) -> None:
        match = _VERSION_RANGE.match(fields[0].strip()) if len(fields) == 1 else None
        if match is None:
            self._refuse(f"sent a malformed version range {fields!r}")
            return
        client_max = int(match.group(2) or match.group(1))
        if client_max < MIN_CLIENT_VERSION:
            self._refuse(
                f"supports API versions up to {client_max} only (need {MIN_CLIENT_VERSION})"
            )
            return
        answer = self._owner.handshake(self, client_max)
        if answer is None:
            return
        self.server_version, connection_time = answer
        self._state = _State.START
        self.send(self.server_version, connection_time)
        log.debug("%s: version %d (client range %s)", self.peer, self.server_version, fields[0])

    def _on_start(self, fields: list[str]) -> None:
        if fields[:1] != [str(_START_API)]:
            log.info("%r: message %s before startApi ignored", self, fields[:1])
            return
        try:
            client_id = int(fields[2])
        except (IndexError, ValueError):
            self._refuse(f"sent a malformed startApi {fields!r}")
            return
        self.client_id = client_id
        self._state = _State.READY
        self._owner.start_api(self, client_id)

    def _refuse(self, why: str) -> None:
        log.warning("client %s %s; closing the connection", self.peer, why)
        self._state = _State.CLOSED
        self.close()
