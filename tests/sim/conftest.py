"""Fixtures for the paper gateway tests: a started gateway, a connected ib_insync client and a
condition waiter (no sleeps)."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Protocol

import pytest
from ib_insync import IB

from ibconsole.sim import PaperGateway

# A Tuesday, 09:00 in Chicago: CME Globex and regular hours open, no holiday nearby.
AS_OF = datetime(2025, 3, 4, 15, 0, tzinfo=UTC)
CONNECT_TIMEOUT = 3.0

_client_ids = itertools.count(11)


class WaitFor(Protocol):
    def __call__(
        self, predicate: Callable[[], object], timeout: float = ..., what: str = ...
    ) -> Awaitable[None]: ...


class GatewayFactory(Protocol):
    def __call__(self, **kwargs: Any) -> Awaitable[PaperGateway]: ...


class ClientFactory(Protocol):
    def __call__(
        self,
        gateway: PaperGateway,
        client_id: int | None = ...,
        ib: IB | None = ...,
        **kwargs: Any,
    ) -> Awaitable[IB]: ...


@pytest.fixture
def as_of() -> datetime:
    """The simulated instant every gateway of a test starts at (override to move it)."""
    return AS_OF


@pytest.fixture
async def make_gateway(as_of: datetime) -> AsyncIterator[GatewayFactory]:
    """Start more gateways (``await make_gateway(seed=3, accounts=[...])``); all are stopped
    after the test."""
    started: list[PaperGateway] = []

    async def make(**kwargs: Any) -> PaperGateway:
        kwargs.setdefault("seed", 7)
        kwargs.setdefault("as_of", as_of)
        gateway = PaperGateway(**kwargs)
        await gateway.start("127.0.0.1", 0)
        started.append(gateway)
        return gateway

    yield make
    for gateway in reversed(started):
        await gateway.stop()


@pytest.fixture
async def gateway(make_gateway: GatewayFactory) -> PaperGateway:
    """A started paper gateway on a free loopback port (seed 7, clock at ``as_of``)."""
    return await make_gateway()


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


@pytest.fixture
def wait_for() -> WaitFor:
    """``await wait_for(lambda: condition, timeout=5, what="...")``: yields to the event loop
    until the condition holds, fails the test with ``what`` if it does not in time."""

    async def poll(predicate: Callable[[], object], deadline: float, failure: str) -> None:
        while not predicate():
            if time.monotonic() > deadline:
                pytest.fail(failure)
            await asyncio.sleep(0.005)

    def wait(
        predicate: Callable[[], object], timeout: float = 5.0, what: str = "condition"
    ) -> Awaitable[None]:
        failure = f"timed out after {timeout} s waiting for {what}"
        return poll(predicate, time.monotonic() + timeout, failure)

    return wait
