"""Fixtures for the paper gateway tests: unmodified ib_insync clients connected to the gateway.

The gateway itself (``make_gateway``, ``gateway``, ``as_of``) and ``wait_for`` come from the
suite's tests/conftest.py.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable
from typing import Any, Protocol

import pytest
from ib_insync import IB

from ibconsole.sim import PaperGateway

CONNECT_TIMEOUT = 3.0

_client_ids = itertools.count(11)


class ClientFactory(Protocol):
    def __call__(
        self,
        gateway: PaperGateway,
        client_id: int | None = ...,
        ib: IB | None = ...,
        **kwargs: Any,
    ) -> Awaitable[IB]: ...


@pytest.fixture
async def connect() -> AsyncIterator[ClientFactory]:
    """Connect more unmodified ib_insync clients (unique clientIds unless given; pass ``ib`` to
    connect an IB whose events are already hooked up); all are disconnected after the test."""
    clients: list[IB] = []

    async def connect_client(
        gateway: PaperGateway, client_id: int | None = None, ib: IB | None = None, **kwargs: Any
    ) -> IB:
        ib = IB() if ib is None else ib
        clients.append(ib)
        kwargs.setdefault("timeout", CONNECT_TIMEOUT)
        await ib.connectAsync(
            "127.0.0.1",
            gateway.port,
            clientId=next(_client_ids) if client_id is None else client_id,
            **kwargs,
        )
        return ib

    yield connect_client
    for ib in clients:
        if ib.isConnected():
            ib.disconnect()


@pytest.fixture
async def ib(gateway: PaperGateway, connect: ClientFactory) -> IB:
    """An ib_insync client connected to ``gateway`` with a unique clientId."""
    return await connect(gateway)
