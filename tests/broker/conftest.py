"""Fixtures for the broker tests: brokers wired to the paper gateway over real TCP with fast health
settings, recorders for their events, a log of what the gateway received, and the checks every
broker test gets for free (no handler crashed, nothing left running after a broker stopped)."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import pytest
from eventkit import Event

from ibconsole.broker.broker import Broker
from ibconsole.broker.session import Endpoint
from ibconsole.domain.clock import Clock, OffsetClock
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.health import BackoffPolicy, BreakerPolicy, HealthSettings, HealthState
from ibconsole.domain.quotes import MarketDataType
from ibconsole.domain.risk import RiskLimits
from ibconsole.journal import Journal
from ibconsole.sim import PaperGateway
from ibconsole.sim.connection import Connection

# IB's outbound message ids, as the gateway sees them.
REQ_MKT_DATA = 1
CANCEL_MKT_DATA = 2
REQ_CONTRACT_DETAILS = 9
REQ_HISTORICAL_DATA = 20
CANCEL_HISTORICAL_DATA = 25
REQ_CURRENT_TIME = 49
REQ_PNL = 92
CANCEL_PNL = 93

# Handshakes and syncs fail after this long, so a silent gateway is noticed quickly.
REQUEST_TIMEOUT = 0.5

# Heartbeats every 0.1 s; two unanswered ones (1 s each, so a busy machine does not fail a
# test) mean reconnect. Reconnects wait 0.05-0.2 s. The breaker needs more failures than a test
# provokes unless it is the subject.
FAST_HEALTH = HealthSettings(
    heartbeat_interval=timedelta(seconds=0.1),
    heartbeat_timeout=timedelta(seconds=1),
    heartbeat_failures_before_reconnect=2,
    backoff=BackoffPolicy(min_delay=timedelta(seconds=0.05), max_delay=timedelta(seconds=0.2)),
    breaker=BreakerPolicy(
        failure_threshold=20, window=timedelta(minutes=1), cooldown=timedelta(seconds=30)
    ),
)


class BrokerFactory(Protocol):
    def __call__(
        self,
        gateway: PaperGateway | None = ...,
        *,
        port: int | None = ...,
        host: str = ...,
        client_id: int = ...,
        account: str = ...,
        clock: Clock | None = ...,
        health: HealthSettings = ...,
        data_type: MarketDataType = ...,
        history_retry: float = ...,
    ) -> Broker: ...


@pytest.fixture
async def make_broker(tmp_path: Path, as_of: datetime) -> AsyncIterator[BrokerFactory]:
    """Build brokers (not started) against a gateway; after the test each is stopped, and no task
    of any of them may be left running."""
    before = asyncio.all_tasks()
    brokers: list[Broker] = []
    journals: list[Journal] = []

    def make(
        gateway: PaperGateway | None = None,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        client_id: int = 1,
        account: str = "",
        clock: Clock | None = None,
        health: HealthSettings = FAST_HEALTH,
        data_type: MarketDataType = MarketDataType.LIVE,
        history_retry: float = 0.1,
    ) -> Broker:
        if port is None:
            assert gateway is not None, "a broker needs a gateway or a port"
            port = gateway.port
        clock = clock or OffsetClock(as_of)
        journal = Journal(tmp_path / f"journal-{len(journals)}.sqlite", clock)
        journals.append(journal)
        broker = Broker(
            Endpoint(host, port, client_id, account),
            journal,
            clock,
            health=health,
            limits=RiskLimits(),
            request_timeout=REQUEST_TIMEOUT,
            data_type=data_type,
            history_retry=history_retry,
            rng=random.Random(7),
        )
        brokers.append(broker)
        return broker

    yield make
    for broker in brokers:
        await broker.stop()
        assert broker.session.state is HealthState.DISCONNECTED
        assert broker.session.health.reconnect_at is None
    for journal in journals:
        journal.close()
    leaked = asyncio.all_tasks() - before - {asyncio.current_task()}
    assert not leaked, f"tasks still running after the brokers stopped: {leaked}"


@pytest.fixture
async def broker(gateway: PaperGateway, make_broker: BrokerFactory) -> Broker:
    """A broker connected and synced to ``gateway`` with clientId 1."""
    started = make_broker(gateway)
    await started.start()
    return started


@dataclass
class Recorder:
    """Everything an eventkit event emitted, in order (one value, or a tuple of several)."""

    values: list[Any] = field(default_factory=list)

    def __call__(self, *args: Any) -> None:
        self.values.append(args[0] if len(args) == 1 else args)

    def __len__(self) -> int:
        return len(self.values)


@pytest.fixture
def record() -> Callable[[Event], Recorder]:
    """``seen = record(broker.session.synced)``: a list that fills as the event fires."""

    def attach(event: Event) -> Recorder:
        recorder = Recorder()
        event += recorder
        return recorder

    return attach


@dataclass
class Inbound:
    """The message ids a gateway handled, per clientId, in arrival order."""

    messages: list[tuple[int, int]] = field(default_factory=list)

    def count(self, msg_id: int, client_id: int | None = None) -> int:
        return sum(
            1
            for who, what in self.messages
            if what == msg_id and (client_id is None or who == client_id)
        )


@pytest.fixture
def inbound(monkeypatch: pytest.MonkeyPatch) -> Callable[[PaperGateway], Inbound]:
    """``seen = inbound(gateway)``: from now on, log every request the gateway handles."""

    def spy(gateway: PaperGateway) -> Inbound:
        log = Inbound()
        dispatch = gateway.dispatch

        def logged(connection: Connection, fields: list[str]) -> None:
            if fields and fields[0].isdigit():
                log.messages.append((connection.client_id, int(fields[0])))
            dispatch(connection, fields)

        monkeypatch.setattr(gateway, "dispatch", logged)
        return log

    return spy


class _Crashes(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(autouse=True)
def _fail_on_handler_crashes() -> Iterator[None]:
    """An exception in an event handler (eventkit logs it) or a task nobody awaited (asyncio logs
    it) is a bug even when nothing else notices."""
    crashes = _Crashes()
    loggers = [logging.getLogger("eventkit"), logging.getLogger("asyncio")]
    for logger in loggers:
        logger.addHandler(crashes)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeHandler(crashes)
    if crashes.records:
        text = logging.Formatter("%(name)s: %(message)s")
        lines = "\n".join(text.format(r) for r in crashes.records)
        pytest.fail(f"an event handler or a task failed:\n{lines}")


class PresetGatewayFactory(Protocol):
    def __call__(self, port: int, **kwargs: Any) -> Awaitable[PaperGateway]: ...


@pytest.fixture
async def preset_gateway(as_of: datetime) -> AsyncIterator[PresetGatewayFactory]:
    """A gateway on one of IB's default ports (7497, 4001, ...), on a loopback address of its own
    (127.0.0.2 and up) so it cannot collide with a TWS or another test on 127.0.0.1."""
    started: list[PaperGateway] = []

    async def make(port: int, **kwargs: Any) -> PaperGateway:
        kwargs.setdefault("seed", 7)
        kwargs.setdefault("as_of", as_of)
        hosts = [f"127.0.0.{n}" for n in range(2, 255)]
        random.Random().shuffle(hosts)
        for host in hosts[:20]:
            gateway = PaperGateway(**kwargs)
            try:
                await gateway.start(host, port)
            except OSError:
                continue
            started.append(gateway)
            return gateway
        pytest.fail(f"no loopback address had port {port} free")

    yield make
    for gateway in reversed(started):
        await gateway.stop()


@pytest.fixture
def fast_health() -> HealthSettings:
    """The health settings brokers get by default here (see FAST_HEALTH)."""
    return FAST_HEALTH


@pytest.fixture
def request_timeout() -> float:
    """How long a broker here waits for a handshake, a sync or a request."""
    return REQUEST_TIMEOUT


@pytest.fixture
async def es_front(broker: Broker) -> ListedContract:
    """The ES front month, from the connected broker's chain."""
    chain = await broker.contracts.chain("ES")
    return chain.months[0].contract
