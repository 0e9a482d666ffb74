"""Fixtures for the paper gateway tests: unmodified ib_insync clients connected to the gateway,
and a recorded placeOrder frame for the tests that speak the wire protocol without a socket.

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


# placeOrder for MarketOrder('BUY', 1, orderRef='ref-1', account='DU1234567') on MESH5 as
# ib_insync 0.9.86's Client.placeOrder writes it at server version 176 (115 fields).
_GOLDEN_MARKET_ORDER = (
    "3",
    "5",
    "711002503",
    "MES",
    "FUT",
    "20250321",
    "0.0",
    "",
    "5",
    "CME",
    "",
    "USD",
    "MESH5",
    "MES",
    "",
    "",
    "BUY",
    "1",
    "MKT",
    "",
    "",
    "",
    "",
    "DU1234567",
    "O",
    "0",
    "ref-1",
    "1",
    "0",
    "0",
    "0",
    "0",
    "0",
    "0",
    "0",
    "",
    "0.0",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "0",
    "",
    "-1",
    "0",
    "",
    "",
    "0",
    "",
    "",
    "0",
    "0",
    "",
    "0",
    "",
    "",
    "",
    "",
    "",
    "0",
    "",
    "",
    "",
    "",
    "0",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "0",
    "",
    "",
    "0",
    "0",
    "",
    "",
    "0",
    "",
    "0",
    "0",
    "0",
    "0",
    "",
    "",
    "",
    "",
    "",
    "",
    "0",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "0",
    "0",
    "0",
    "0",
    "",
    "",
    "0",
    "",
    "",
)


@pytest.fixture
def golden_market_order() -> list[str]:
    """placeOrder 5 for MarketOrder('BUY', 1) on MESH5 exactly as ib_insync writes it at v176
    (see ``_GOLDEN_MARKET_ORDER``); a fresh list per test, free to edit."""
    return list(_GOLDEN_MARKET_ORDER)
