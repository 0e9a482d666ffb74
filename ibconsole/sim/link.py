"""One connected API client as the simulator's services see it: a place to send messages to."""

from __future__ import annotations

from typing import Protocol

__all__ = ["ClientLink"]


class ClientLink(Protocol):
    """A connected, started API client.

    ``send`` encodes one outbound message by the rules of :mod:`ibconsole.sim.wire` and queues
    it; queued messages are flushed together once per event-loop iteration, so ``send`` never
    blocks and may be called many times in a row.
    """

    client_id: int
    server_version: int

    def send(self, *fields: object) -> None: ...

    def send_error(self, req_id: int, code: int, message: str, advanced_json: str = "") -> None: ...
