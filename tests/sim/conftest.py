"""Fixtures for the paper gateway tests: unmodified ib_insync clients connected to the gateway,
the errors a client receives, the small vocabulary the order tests share (front month, prices
off the bid, status history), qualified futures, and a recorded placeOrder frame for the tests
that speak the wire protocol without a socket.

The gateway itself (``make_gateway``, ``gateway``, ``as_of``) and ``wait_for`` come from the
suite's tests/conftest.py.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

import pytest

from ibconsole.broker.ib_client import IB, LIBRARY, Contract, Future, Trade
from ibconsole.sim import PaperGateway
from ibconsole.sim.instruments import Instrument
from tests.sim.ibapi_peer import IbapiPeer

CONNECT_TIMEOUT = 3.0
REPLY_TIMEOUT = 3.0

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
async def ibapi_connect() -> AsyncIterator[Callable[[PaperGateway], Awaitable[IbapiPeer]]]:
    """``peer = await ibapi_connect(gateway)``: IB's own ``ibapi`` client connected to the
    gateway with a unique clientId, every callback recorded; disconnected after the test."""
    peers: list[IbapiPeer] = []

    async def connect_peer(gateway: PaperGateway) -> IbapiPeer:
        peer = IbapiPeer()
        peers.append(peer)
        await peer.connect(gateway.port)
        return peer

    yield connect_peer
    for peer in peers:
        peer.disconnect()


@pytest.fixture
async def ib(gateway: PaperGateway, connect: ClientFactory) -> IB:
    """An ib_insync client connected to ``gateway`` with a unique clientId."""
    return await connect(gateway)


class ErrorLog(list[tuple[int, int, str]]):
    """Every errorEvent of one client as ``(reqId, code, message)``, in arrival order."""

    def __init__(self, ib: IB) -> None:
        super().__init__()
        ib.errorEvent += lambda req_id, code, message, _contract: self.append(
            (req_id, code, message)
        )

    @property
    def codes(self) -> list[int]:
        return [code for _, code, _ in self]


@pytest.fixture
def refused_status() -> str:
    """How the client marks an order TWS refused with error 321: ib_insync cancels it, ib_async
    reads 321 as a warning and keeps the order, marked "ValidationError"."""
    return "ValidationError" if LIBRARY == "ib_async" else "Cancelled"


@pytest.fixture
def record_errors() -> Callable[[IB], ErrorLog]:
    """``errors = record_errors(ib)``: from now on every error ``ib`` receives, in order
    (``errors.codes`` for the codes alone)."""
    return ErrorLog


# --- the order tests' vocabulary --------------------------------------------------------------


class FrontMonth(Protocol):
    def __call__(self, gateway: PaperGateway, symbol: str = ...) -> Instrument: ...


def _front(gateway: PaperGateway, symbol: str = "MES") -> Instrument:
    return next(i for i in gateway.catalogue.listed() if i.symbol == symbol)


def _away(gateway: PaperGateway, instrument: Instrument, ticks: int) -> float:
    quote = gateway.market.quote(instrument.con_id)
    return float(quote.bid + ticks * instrument.min_tick)


def _statuses(trade: Trade) -> list[str]:
    return [entry.status for entry in trade.log]


@pytest.fixture
def front() -> FrontMonth:
    """``front(gateway, symbol="MES")``: the first listed (front month) instrument of a symbol."""
    return _front


@pytest.fixture
def away() -> Callable[[PaperGateway, Instrument, int], float]:
    """``away(gateway, instrument, ticks)``: a price ``ticks`` ticks above (below if negative)
    the instrument's current bid."""
    return _away


@pytest.fixture
def statuses() -> Callable[[Trade], list[str]]:
    """``statuses(trade)``: every status the trade's log went through, in order."""
    return _statuses


# --- market data and history tests -----------------------------------------------------------


class FutureQualifier(Protocol):
    def __call__(self, ib: IB, symbol: str = ..., month: str = ...) -> Awaitable[Contract]: ...


async def _qualified_future(ib: IB, symbol: str = "ES", month: str = "202503") -> Contract:
    (contract,) = await asyncio.wait_for(
        ib.qualifyContractsAsync(Future(symbol, month, "CME")), REPLY_TIMEOUT
    )
    return contract


async def _round_trip(ib: IB) -> None:
    await asyncio.wait_for(ib.reqCurrentTimeAsync(), REPLY_TIMEOUT)


@pytest.fixture
def qualified_future() -> FutureQualifier:
    """``await qualified_future(ib, symbol="ES", month="202503")``: the CME future as the gateway
    qualifies it (202503 is the front month at the suite's ``as_of``)."""
    return _qualified_future


@pytest.fixture
def round_trip() -> Callable[[IB], Awaitable[None]]:
    """``await round_trip(ib)``: everything the gateway sent before this has been handled by the
    client."""
    return _round_trip


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
