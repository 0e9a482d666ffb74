"""IB's own Python client (``ibapi``, 10.x) as a second, independent peer of the paper gateway.

ib_insync and ib_async share one decoder; ``ibapi`` is the reference implementation TWS is
written against, so a wire format both accept is far more likely to be what TWS sends.
``IbapiPeer`` runs the unmodified ``EClient`` message loop on its own thread (it blocks on
the socket by design) and records every ``EWrapper`` callback, in arrival order, as
``Callback(name, args)``; tests wait on those records with the suite's ``wait_for``.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ibapi.client import EClient
from ibapi.wrapper import EWrapper

__all__ = ["Callback", "IbapiPeer"]

_client_ids = itertools.count(901)
_CONNECT_TIMEOUT = 3.0


@dataclass(frozen=True, slots=True)
class Callback:
    """One ``EWrapper`` call as ibapi made it: the method's name and its arguments by name."""

    name: str
    args: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.args[key]


def _callback_names() -> list[str]:
    return [
        name
        for name, member in inspect.getmembers(EWrapper, inspect.isfunction)
        if not name.startswith("_") and name not in {"logAnswer"}
    ]


class IbapiPeer:
    """An ``ibapi`` ``EClient`` connected to a gateway, with every callback recorded.

    ``await peer.connect(port)`` performs ibapi's handshake and startApi on a worker thread and
    waits for ``nextValidId``; ``peer.client`` is the ``EClient`` (requests are sent from the
    test's thread, as ibapi allows); ``peer.calls("tickPrice")`` lists the recorded callbacks of
    one name; ``peer.errors`` the ``(reqId, code, message)`` of every ``error``;
    ``peer.disconnect()`` closes the socket and joins the message loop.
    """

    def __init__(self) -> None:
        self.wrapper = EWrapper()
        self.client = EClient(self.wrapper)
        self._lock = threading.Lock()
        self._records: list[Callback] = []
        self._thread: threading.Thread | None = None
        self._started = asyncio.Event()
        for name in _callback_names():
            setattr(self.wrapper, name, self._recorder(name))

    def _recorder(self, name: str, then: Callable[[], object] | None = None) -> Callable[..., None]:
        parameters = list(inspect.signature(getattr(EWrapper, name)).parameters)[1:]

        def record(*args: Any, **kwargs: Any) -> None:
            named = dict(zip(parameters, args, strict=False)) | kwargs
            with self._lock:
                self._records.append(Callback(name, named))
            if then is not None:
                then()

        return record

    async def connect(self, port: int, client_id: int | None = None) -> None:
        client_id = next(_client_ids) if client_id is None else client_id
        loop = asyncio.get_running_loop()
        self.wrapper.nextValidId = self._recorder(
            "nextValidId", then=lambda: loop.call_soon_threadsafe(self._started.set)
        )
        async with asyncio.timeout(_CONNECT_TIMEOUT):
            await asyncio.to_thread(self.client.connect, "127.0.0.1", port, client_id)
            if not self.client.isConnected():
                raise ConnectionError(f"ibapi could not connect to port {port}: {self.errors}")
            self._thread = threading.Thread(target=self.client.run, name="ibapi-run", daemon=True)
            self._thread.start()
            await self._started.wait()

    def disconnect(self) -> None:
        # EClient.disconnect resets the client, its server version too, while the message loop
        # may still be decoding what the socket delivered (a TypeError on that thread). Closing
        # the socket alone ends the loop once it has drained, and the loop resets the client.
        if self.client.conn is not None:
            self.client.conn.disconnect()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None

    @property
    def records(self) -> list[Callback]:
        """A copy of every callback so far, in arrival order."""
        with self._lock:
            return list(self._records)

    def calls(self, name: str) -> list[Callback]:
        return [record for record in self.records if record.name == name]

    def by_request(self, name: str, req_id: int) -> Iterator[Callback]:
        """The callbacks of one name whose ``reqId`` (or ``tickerId``/``orderId``) is ``req_id``."""
        for record in self.calls(name):
            key = next((k for k in ("reqId", "tickerId", "orderId") if k in record.args), None)
            if key is not None and record.args[key] == req_id:
                yield record

    @property
    def errors(self) -> list[tuple[int, int, str]]:
        return [
            (record["reqId"], record["errorCode"], record["errorString"])
            for record in self.calls("error")
        ]

    @property
    def next_order_id(self) -> int:
        return int(self.calls("nextValidId")[-1]["orderId"])
