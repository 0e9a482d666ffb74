"""Fixtures for the whole suite, and its strictness.

- An unexpected WARNING (or worse) from ibconsole's own loggers fails a test; tests that provoke
  such records on purpose (fault injection, bad input) say so with
  ``@pytest.mark.expect_log_warnings``.
- ``make_gateway``/``gateway``: the paper gateway simulator on a free loopback port, the broker
  peer of every broker, UI and end-to-end test.
- ``wait_for``: wait on a condition with a deadline, never a fixed sleep.
- ``memory_keyring``: the process keyring replaced by an in-memory backend for one test, so
  credential code runs against a real backend and never touches the OS keyring.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Any, Protocol

import keyring
import keyring.backend
import keyring.errors
import pytest

from ibconsole.sim import PaperGateway

# A Tuesday, 09:00 in Chicago: CME Globex and regular hours open, no holiday nearby.
AS_OF = datetime(2025, 3, 4, 15, 0, tzinfo=UTC)


class WaitFor(Protocol):
    def __call__(
        self, predicate: Callable[[], object], timeout: float = ..., what: str = ...
    ) -> Awaitable[None]: ...


class GatewayFactory(Protocol):
    def __call__(self, **kwargs: Any) -> Awaitable[PaperGateway]: ...


@pytest.fixture
def as_of() -> datetime:
    """The simulated instant every gateway of a test starts at (override to move it)."""
    return AS_OF


@pytest.fixture
async def make_gateway(as_of: datetime) -> AsyncIterator[GatewayFactory]:
    """Start gateways (``await make_gateway(seed=3, accounts=[...])``); all stop after the test."""
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
def wait_for() -> WaitFor:
    """``await wait_for(lambda: condition, timeout=5, what="...")``: yields to the event loop
    until the condition holds; fails the test naming ``what`` if it does not in time."""

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


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A complete keyring backend that keeps its items in a dict, keyed by (service, username)."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.items.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError(f"no item {username!r} in {service!r}")


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    """An empty ``MemoryKeyring`` installed as the process keyring; the previous one comes back
    after the test. ``memory_keyring.items`` shows what was stored."""
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(autouse=True)
def _fail_on_unexpected_warning_logs(request: pytest.FixtureRequest) -> Iterator[None]:
    collector = _Collector()
    logger = logging.getLogger("ibconsole")
    logger.addHandler(collector)
    try:
        yield
    finally:
        logger.removeHandler(collector)
    if request.node.get_closest_marker("expect_log_warnings") is None and collector.records:
        lines = "\n".join(f"{r.name} {r.levelname}: {r.getMessage()}" for r in collector.records)
        pytest.fail(f"unexpected WARNING-or-worse log records:\n{lines}")
