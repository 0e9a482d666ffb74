"""Fixtures for the broker tests: brokers wired to the paper gateway over real TCP with fast health
settings, recorders for their events, a log of what the gateway received, and the checks every
broker test gets for free (no handler crashed, nothing left running after a broker stopped).

The order tests (orders, reconciliation, roll) share ``make_rig``/``rig``: a quiet gateway, a
journal and a synced Broker with a quote on the ES front month, and a ``Rig`` that checks the
journal, the session's orders and the simulator's orders agree with nothing sent twice."""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pytest

from ibconsole.broker.broker import Broker
from ibconsole.broker.ib_client import Event
from ibconsole.broker.order_values import OrderRow, Reconciliation, RollFailure
from ibconsole.broker.session import Endpoint
from ibconsole.domain.clock import Clock, OffsetClock
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.health import BackoffPolicy, BreakerPolicy, HealthSettings, HealthState
from ibconsole.domain.orders import OrderIntent, build_intent
from ibconsole.domain.quotes import MarketDataType
from ibconsole.domain.risk import RiskLimits
from ibconsole.journal import Journal, OrderState
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
        line_budget: int = ...,
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
        line_budget: int = 100,
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
            line_budget=line_budget,
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


# ------------------------------------------------------------------ order rigs

# Heartbeats every 0.2 s, two of 0.3 s unanswered mean reconnect; reconnects wait 0.05-0.2 s.
RIG_HEALTH = HealthSettings(
    heartbeat_interval=timedelta(seconds=0.2),
    heartbeat_timeout=timedelta(seconds=0.3),
    heartbeat_failures_before_reconnect=2,
    backoff=BackoffPolicy(min_delay=timedelta(seconds=0.05), max_delay=timedelta(seconds=0.2)),
)
RIG_CLIENT_ID = 7
QUIET = 0.01  # simulated quote updates per second: none during a test unless it steps the market
WAIT = 5.0

# Journal state <-> where the simulator must have the order (None: it never received it).
_SIM_STATUS = {
    OrderState.SUBMITTED: {"Submitted", "PreSubmitted"},
    OrderState.WORKING: {"Submitted", "PreSubmitted"},
    OrderState.PARTIALLY_FILLED: {"Submitted"},
    OrderState.FILLED: {"Filled"},
    OrderState.CANCELLED: {"Cancelled"},
    OrderState.REJECTED: {None},
    OrderState.UNKNOWN: {None},
    OrderState.BLOCKED: {None},
    OrderState.DECLINED: {None},
}

_T = TypeVar("_T")


class WaitFor(Protocol):
    """The suite's ``wait_for`` fixture (tests/conftest.py)."""

    def __call__(
        self, predicate: Callable[[], object], timeout: float = ..., what: str = ...
    ) -> Awaitable[None]: ...


@dataclass
class Rig:
    """A synced broker on a quiet gateway, with the ES front and next month and what the order
    service reported (reconciliations, alerts, failed rolls)."""

    gw: PaperGateway
    broker: Broker
    journal: Journal
    es: ListedContract
    next_month: ListedContract
    reconciled: list[Reconciliation] = field(default_factory=list)
    alerts: list[tuple[str, bool]] = field(default_factory=list)
    failures: list[RollFailure] = field(default_factory=list)

    @property
    def client_id(self) -> int:
        return self.broker.session.endpoint.client_id

    def intent(
        self, side: str = "BUY", quantity: int = 1, order_type: str = "MKT", **fields: Any
    ) -> OrderIntent:
        return build_intent(
            contract=self.es,
            side=side,
            quantity=quantity,
            order_type=order_type,
            clock=self.broker.clock,
            account=self.broker.account.account,
            **fields,
        )

    def bid(self, ticks: int = 0) -> Decimal:
        """The simulator's bid now, moved by ``ticks`` ticks."""
        return self.gw.market.quote(self.es.con_id).bid + ticks * self.es.min_tick

    def sent(self, key: str) -> int:
        """How many new orders (modifications aside) with this orderRef reached the simulator."""
        return sum(1 for o in self.gw.orders if o.request.order_ref == key and not o.is_modify)

    def state(self, key: str) -> OrderState:
        order = self.journal.order(key)
        assert order is not None, f"{key} is not journalled"
        return order.state

    def sim_status(self, key: str) -> str | None:
        desk = self.gw.desk
        for snapshot in (*desk.open_orders(), *desk.completed_orders()):
            if snapshot.request.order_ref == key:
                return snapshot.status
        return None

    def row(self, key: str) -> OrderRow:
        return next(r for r in self.broker.orders.rows() if r.key == key)

    def held(self, contract: ListedContract | None = None) -> Decimal | None:
        """The console's position in ``contract`` (the ES front month by default); None when
        unknown."""
        position = self.broker.account.position((contract or self.es).con_id)
        return None if position is None else position.quantity

    async def within(self, awaitable: Awaitable[_T]) -> _T:
        """``awaitable``'s result, failing the test after WAIT seconds."""
        return await asyncio.wait_for(awaitable, WAIT)

    async def final(self, key: str) -> OrderState:
        """The final state of ``key`` once the journal holds one (within WAIT seconds)."""
        return await self.within(self.broker.orders.wait_final(key))

    def assert_agree(self) -> None:
        """Journal, session and simulator tell the same story; nothing was sent twice."""
        counts = Counter(o.request.order_ref for o in self.gw.orders if not o.is_modify)
        assert all(n == 1 for n in counts.values()), f"sent more than once: {counts}"
        session = {t.order.orderRef: t.orderStatus.status for t in self.broker.session.ib.trades()}
        for order in self.journal.orders(limit=None):
            key, state = order.key, order.state
            assert self.sim_status(key) in _SIM_STATUS[state], (key, state, self.sim_status(key))
            if state in (OrderState.SUBMITTED, OrderState.WORKING):
                assert session.get(key) in ("PendingSubmit", "PreSubmitted", "Submitted"), key
            elif state is OrderState.FILLED and key in session:
                assert session[key] == "Filled", key
            elif state is OrderState.CANCELLED and key in session:
                assert session[key] == "Cancelled", key
            if state in (OrderState.BLOCKED, OrderState.DECLINED):
                assert counts[key] == 0, key

    async def long_with_exits(self, wait_for: WaitFor) -> tuple[Decimal, tuple[str, str]]:
        """Two ES long from a bracket bought four ticks over the bid (its entry fills at once),
        its take-profit and stop-loss 40 points away working: the entry price and the exits'
        keys."""
        entry = self.bid(4)
        bracket = self.intent(
            quantity=2,
            order_type="LMT",
            limit_price=entry,
            take_profit=entry + 40,
            stop_loss=entry - 40,
        )
        self.broker.orders.submit(bracket, confirmed=True)
        assert await self.final(bracket.key) is OrderState.FILLED
        exits = (bracket.take_profit_key, bracket.stop_loss_key)
        await wait_for(
            lambda: all(self.state(k) is OrderState.WORKING for k in exits), what="exits"
        )
        await wait_for(lambda: self.held(self.es) == 2, what="the long position")
        return entry, exits

    async def critical_alerts_at_restart(
        self, wait_for: WaitFor, while_up: Callable[[Broker], None] | None = None
    ) -> list[str]:
        """Start a console on this rig's journal and gateway (as the app would after a crash,
        once this rig's broker stopped), let it reconcile, hand it to ``while_up``, stop it; the
        critical alerts it raised."""
        await wait_for(
            lambda: not any(c.client_id == self.client_id for c in self.gw.connections),
            what="the gateway to free the clientId",
        )
        journal = Journal(self.journal.path, self.broker.clock)
        broker = Broker(
            self.broker.session.endpoint,
            journal,
            self.broker.clock,
            health=HealthSettings(),
            limits=RiskLimits(),
        )
        alerts: list[tuple[str, bool]] = []
        broker.orders.alert += lambda message, critical: alerts.append((message, critical))
        try:
            await broker.start()  # reconciled when it returns
            if while_up is not None:
                while_up(broker)
        finally:
            await broker.stop()
            journal.close()
        return [message for message, critical in alerts if critical]


class RigFactory(Protocol):
    def __call__(
        self,
        *,
        limits: RiskLimits | None = ...,
        read_only: bool = ...,
        health: HealthSettings = ...,
        request_timeout: float = ...,
        quote_next_month: bool = ...,
    ) -> Awaitable[Rig]: ...


@pytest.fixture
async def make_rig(
    make_gateway: Callable[..., Awaitable[PaperGateway]],
    tmp_path: Path,
    wait_for: WaitFor,
) -> AsyncIterator[RigFactory]:
    """``await make_rig(...)``: a quiet gateway, a journal and a synced Broker (clientId 7) with
    a quote on the ES front month (and on the next month with ``quote_next_month``)."""
    brokers: list[tuple[Broker, Journal]] = []

    async def make(
        *,
        limits: RiskLimits | None = None,
        read_only: bool = False,
        health: HealthSettings = RIG_HEALTH,
        request_timeout: float = 1.5,
        quote_next_month: bool = False,
    ) -> Rig:
        gw = await make_gateway(tick_rate=QUIET)
        clock = OffsetClock(gw.clock.now())
        journal = Journal(tmp_path / f"journal-{len(brokers)}.sqlite", clock)
        endpoint = Endpoint("127.0.0.1", gw.port, RIG_CLIENT_ID, read_only=read_only)
        broker = Broker(
            endpoint,
            journal,
            clock,
            health=health,
            limits=limits or RiskLimits(),
            request_timeout=request_timeout,
        )
        brokers.append((broker, journal))
        await broker.start()
        es, next_month = (await broker.contracts.chain("ES")).contracts[:2]
        for month in (es, next_month) if quote_next_month else (es,):
            broker.market.subscribe(month)
            await wait_for(lambda m=month: broker.market.quote(m.con_id), what="a quote")
        rig = Rig(gw, broker, journal, es, next_month)
        broker.orders.reconciled += rig.reconciled.append
        broker.orders.alert += lambda message, critical: rig.alerts.append((message, critical))
        broker.orders.roll_failed += rig.failures.append
        return rig

    yield make
    for broker, journal in reversed(brokers):
        await broker.stop()
        journal.close()


@pytest.fixture
async def rig(make_rig: RigFactory) -> Rig:
    """A rig with default limits and a quote on the ES front month only."""
    return await make_rig()
