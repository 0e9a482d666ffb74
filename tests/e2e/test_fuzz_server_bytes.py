"""A misbehaving TWS: a fake server on loopback completes the handshake and the console's sync,
then sends truncated frames, oversized length prefixes, real messages (recorded from the paper
gateway) with fields replaced, dropped or added, garbage, NULs and invalid UTF-8. The console's
Broker (real Session and services over ib_insync) reports and survives: no exception reaches the
loop or escapes one of its handlers, it never sends an order or a cancel, it is healthy again
(the stream carries heartbeats again, or it reconnected and resynced), its journal stays intact,
and it then reconnects cleanly to a real paper gateway.

``IBCONSOLE_FUZZ_EXAMPLES=N`` runs N examples instead of the quick default.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import random
import sqlite3
import struct
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ibconsole.broker.broker import Broker
from ibconsole.broker.ib_client import IB, Future, MarketOrder
from ibconsole.broker.session import Endpoint
from ibconsole.domain.clock import OffsetClock
from ibconsole.domain.health import BackoffPolicy, BreakerPolicy, HealthSettings, HealthState
from ibconsole.domain.risk import RiskLimits
from ibconsole.journal import Journal
from ibconsole.sim import PaperGateway
from ibconsole.sim.connection import Connection


def _examples(default: int) -> int:
    return int(os.environ.get("IBCONSOLE_FUZZ_EXAMPLES") or default)


WaitFor = Callable[..., Awaitable[None]]  # the suite's wait_for fixture

ACCOUNT = "DU1234567"
REQUEST_TIMEOUT = 0.5
# A heartbeat every 50 ms, one unanswered within 0.4 s means reconnect: a stream the garbage
# knocked out of its framing is given up quickly. The breaker stays out of the way.
HEALTH = HealthSettings(
    heartbeat_interval=timedelta(seconds=0.05),
    heartbeat_timeout=timedelta(seconds=0.4),
    heartbeat_failures_before_reconnect=1,
    backoff=BackoffPolicy(min_delay=timedelta(seconds=0.05), max_delay=timedelta(seconds=0.1)),
    breaker=BreakerPolicy(failure_threshold=50, window=timedelta(minutes=1)),
)
RECOVERY_TIMEOUT = 8.0
# Requests a console must never make on its own: placeOrder, cancelOrder, reqGlobalCancel.
ORDER_REQUESTS = {"3", "4", "58"}

_LENGTH = struct.Struct(">I")


def frame(payload: bytes) -> bytes:
    return _LENGTH.pack(len(payload)) + payload


def fields_frame(fields: list[str]) -> bytes:
    return frame("".join(f"{value}\0" for value in fields).encode())


# --- what the misbehaving server sends ----------------------------------------------------------


@dataclass(frozen=True)
class Mutated:
    """A message the paper gateway really sends (or a bare id), with some fields changed."""

    msg_id: int
    edits: tuple[tuple[str, int, str], ...]

    def encode(self, templates: dict[int, list[str]]) -> bytes:
        fields = list(templates.get(self.msg_id, [str(self.msg_id)]))
        for kind, position, value in self.edits:
            at = position % (len(fields) + 1)
            if kind == "replace" and at < len(fields):
                fields[at] = value
            elif kind == "delete" and at < len(fields):
                del fields[at]
            elif kind == "insert":
                fields.insert(at, value)
            elif kind == "truncate":
                del fields[at:]
        return fields_frame(fields)


@dataclass(frozen=True)
class Raw:
    data: bytes
    framed: bool

    def encode(self, templates: dict[int, list[str]]) -> bytes:
        return frame(self.data) if self.framed else self.data


@dataclass(frozen=True)
class Truncated:
    """A length prefix promising more than follows: the rest of the stream joins this frame."""

    data: bytes
    missing: int

    def encode(self, templates: dict[int, list[str]]) -> bytes:
        return _LENGTH.pack(len(self.data) + self.missing) + self.data


@dataclass(frozen=True)
class Oversized:
    length: int
    data: bytes

    def encode(self, templates: dict[int, list[str]]) -> bytes:
        return _LENGTH.pack(self.length) + self.data


Chunk = Mutated | Raw | Truncated | Oversized


@dataclass(frozen=True)
class Plan:
    """When the garbage comes (instead of the handshake reply, before the API is ready, or once
    the console has synced) and what it is."""

    when: str
    chunks: list[Chunk]

    def encode(self, templates: dict[int, list[str]]) -> bytes:
        return b"".join(chunk.encode(templates) for chunk in self.chunks)


_NASTY_FIELDS = (
    "",
    "0",
    "-1",
    "1",
    "2147483647",
    "2147483648",
    "9223372036854775808",
    "9" * 5000,
    "1e999999",
    "-1e999999",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "Infinity",
    "1.7976931348623157E308",
    "1.7976931348623157E309",
    "-0.0",
    "0x10",
    "1_000",
    "١٢",
    "\u00a0",
    "é",
    "\ufffd",
    "BUY",
    "SELL",
    "LMT",
    "MKT",
    "Filled",
    "Cancelled",
    "Inactive",
    "PreSubmitted",
    "ApiCancelled",
    "ES",
    "FUT",
    "CME",
    "USD",
    "20250321",
    "20250321 08:30:00 US/Central",
    "DU1234567",
    "U9999999",
    "ibc-0000000000AAAAAAAAAAAAAAAA",
    "ibc-x.tp",
    "1100",
    "1101",
    "1102",
    "2103",
    "2105",
    "326",
    "202",
    "201",
    "x" * 3000,
)
field_values = st.one_of(
    st.sampled_from(_NASTY_FIELDS),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats().map(repr),
    st.text(max_size=12),
)
# The messages the paper gateway sent in the recorded session, a few others, and nonsense.
_MSG_IDS = (
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    10,
    11,
    15,
    17,
    46,
    49,
    52,
    53,
    54,
    55,
    58,
    59,
    61,
    62,
    81,
    94,
    95,
    101,
    102,
    0,
    12,
    200,
    2**31,
    -4,
)
edits = st.tuples(
    st.sampled_from(["replace", "replace", "delete", "insert", "truncate"]),
    st.integers(min_value=0, max_value=200),
    field_values,
)
mutated = st.builds(Mutated, st.sampled_from(_MSG_IDS), st.lists(edits, max_size=4).map(tuple))
framed_chunks: st.SearchStrategy[Chunk] = st.one_of(
    mutated,
    mutated,
    mutated,
    st.builds(Mutated, st.sampled_from(_MSG_IDS), st.just(())),
    st.builds(Raw, st.binary(max_size=40), st.just(True)),
    st.builds(
        Raw,
        st.sampled_from([b"", b"\0", b"\0\0", b"4\0\xff\xfe\0", b"\xc3\x28\0", b"1\0\xed\xa0\x80"]),
        st.just(True),
    ),
)
# These break the framing for the rest of the stream: at most one, last.
breaking_chunks: st.SearchStrategy[Chunk] = st.one_of(
    st.builds(Raw, st.binary(min_size=1, max_size=40), st.just(False)),
    st.builds(Truncated, st.binary(max_size=20), st.integers(min_value=1, max_value=5000)),
    st.builds(
        Oversized, st.sampled_from([(1 << 20) + 1, 0x7FFFFFFF, 0xFFFFFFFF]), st.binary(max_size=8)
    ),
)
plans = st.builds(
    Plan,
    when=st.sampled_from(["synced", "synced", "synced", "synced", "ready", "handshake"]),
    chunks=st.tuples(
        st.lists(framed_chunks, min_size=1, max_size=8), st.lists(breaking_chunks, max_size=1)
    ).map(lambda parts: parts[0] + parts[1]),
)


def _set(*replacements: tuple[int, str]) -> tuple[tuple[str, int, str], ...]:
    return tuple(("replace", position, value) for position, value in replacements)


def _synced(*chunks: Chunk) -> Plan:
    return Plan("synced", list(chunks))


_KEY = "ibc-0000000000AAAAAAAAAAAAAAAA"


# --- the fake TWS -------------------------------------------------------------------------------


async def _read_fields(reader: asyncio.StreamReader) -> list[str]:
    (size,) = _LENGTH.unpack(await reader.readexactly(4))
    fields = (await reader.readexactly(size)).decode(errors="backslashreplace").split("\0")
    return fields[:-1] if fields and fields[-1] == "" else fields


class FakeTws:
    """Answers the handshake and the console's sync like TWS, sends ``garbage`` once at the moment
    the plan says (on the first connection only), and records every message it receives."""

    def __init__(self, plan: Plan, garbage: bytes) -> None:
        self._plan = plan
        self._garbage = garbage
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self.received: list[list[str]] = []
        self.connections = 0
        self.injected = asyncio.Event()
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in self._writers:
            writer.close()
        if self._server is not None:
            await self._server.wait_closed()

    def inject(self) -> None:
        """Send the garbage now on the first connection (the plan's "synced" moment)."""
        self._writers[0].write(self._garbage)
        self.injected.set()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        first = self.connections == 1
        self._writers.append(writer)
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            await reader.readexactly(4)  # b"API\0"
            await _read_fields(reader)  # the client's version range
            if first and self._plan.when == "handshake":
                writer.write(self._garbage)
                self.injected.set()
            else:
                writer.write(fields_frame(["176", "20250304 15:00:00 UTC"]))
            self.received.append(await _read_fields(reader))  # startApi
            if first and self._plan.when == "ready":
                writer.write(self._garbage)
                self.injected.set()
            writer.write(fields_frame(["15", "1", ACCOUNT]))
            writer.write(fields_frame(["9", "1", "1000"]))
            while True:
                fields = await _read_fields(reader)
                self.received.append(fields)
                for answer in self._answers(fields):
                    writer.write(fields_frame(answer))

    @staticmethod
    def _answers(fields: list[str]) -> list[list[str]]:
        match fields:
            case ["49", *_]:
                return [["49", "1", "1741100400"]]
            case ["61", *_]:
                return [["62", "1"]]
            case ["5" | "15" | "16", *_]:
                return [["53", "1"]]
            case ["99", *_]:
                return [["102"]]
            case ["6", _, "1", account, *_]:
                return [["54", "1", account]]
            case ["7", _, req_id, *_]:
                return [["55", "1", req_id]]
            case ["8", *_]:
                return [["9", "1", "1000"]]
        return []

    def order_requests(self) -> list[list[str]]:
        return [fields for fields in self.received if fields[:1] and fields[0] in ORDER_REQUESTS]


# --- watching the console -----------------------------------------------------------------------


@dataclass
class Crashes:
    """Exceptions that reached the loop, and logged ones that went through the console's code."""

    found: list[str] = field(default_factory=list)

    def clear(self) -> None:
        self.found.clear()


class _ConsoleTracebacks(logging.Handler):
    def __init__(self, crashes: Crashes) -> None:
        super().__init__(level=logging.ERROR)
        self.crashes = crashes

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info is None or record.exc_info[2] is None:
            return
        frames = traceback.extract_tb(record.exc_info[2])
        if any("/ibconsole/" in f.filename for f in frames):
            text = "".join(traceback.format_exception(*record.exc_info))
            self.crashes.found.append(f"{record.name}: {record.getMessage()}\n{text}")


@pytest.fixture
async def crashes() -> AsyncIterator[Crashes]:
    found = Crashes()
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()

    def on_loop_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        found.found.append(f"reached the loop: {context.get('message')} {context!r}")

    loop.set_exception_handler(on_loop_error)
    handler = _ConsoleTracebacks(found)
    root = logging.getLogger()
    root.addHandler(handler)
    yield found
    root.removeHandler(handler)
    loop.set_exception_handler(previous)


@pytest.fixture
async def templates(gateway: PaperGateway, monkeypatch: pytest.MonkeyPatch) -> dict[int, list[str]]:
    """The first message of each kind the paper gateway sent during a full ib_insync session:
    quotes, an order filled, executions, commissions, positions, account values, history."""
    recorded: dict[int, list[str]] = {}
    send = Connection.send

    def record(connection: Connection, *fields: object) -> None:
        send(connection, *fields)
        if connection.started and fields:
            recorded.setdefault(int(str(fields[0])), [str(f) for f in fields])

    monkeypatch.setattr(Connection, "send", record)
    ib = IB()
    await ib.connectAsync("127.0.0.1", gateway.port, clientId=77, timeout=3)
    try:
        await asyncio.wait_for(ib.reqAccountUpdatesAsync(ACCOUNT), 3)
        (details, *_) = await asyncio.wait_for(
            ib.reqContractDetailsAsync(Future("ES", exchange="CME")), 3
        )
        contract = details.contract
        assert contract is not None
        ticker = ib.reqMktData(contract)
        trade = ib.placeOrder(contract, MarketOrder("BUY", 1, orderRef="fuzz-template"))
        while not trade.isDone() or not trade.fills or ticker.bid != ticker.bid:
            await asyncio.wait_for(ib.updateEvent, 3)
        ib.cancelMktData(contract)
        await asyncio.wait_for(ib.reqPositionsAsync(), 3)
        await asyncio.wait_for(ib.reqExecutionsAsync(), 3)
        await asyncio.wait_for(ib.reqCompletedOrdersAsync(False), 3)
        await asyncio.wait_for(
            ib.reqHistoricalDataAsync(contract, "", "1 D", "1 hour", "TRADES", True), 3
        )
        await asyncio.wait_for(ib.reqCurrentTimeAsync(), 3)
        # The position is closed again, so the console later syncs with a flat paper account.
        close = ib.placeOrder(contract, MarketOrder("SELL", 1, orderRef="fuzz-template-close"))
        while not close.isDone():
            await asyncio.wait_for(ib.updateEvent, 3)
    finally:
        ib.disconnect()
    monkeypatch.setattr(Connection, "send", send)
    assert {1, 2, 3, 5, 6, 7, 10, 11, 59, 61} <= set(recorded), sorted(recorded)
    return recorded


_journals = itertools.count()


async def _healthy_after(broker: Broker, fake: FakeTws, wait_for: WaitFor) -> None:
    """Wait until the stream carried a heartbeat round trip begun after the garbage, or the
    console reconnected and synced again."""
    synced: list[object] = []
    broker.session.synced += synced.append
    try:
        await wait_for(lambda: fake.injected.is_set(), what="the garbage to go out")
        samples = broker.session.health.heartbeat.samples
        # One round trip may have been under way when the garbage went out; a second one began
        # after it.
        await wait_for(
            lambda: synced or broker.session.health.heartbeat.samples >= samples + 2,
            timeout=RECOVERY_TIMEOUT,
            what=(
                "a heartbeat through the stream or a resync after the garbage "
                f"(health: {broker.session.health.state.value}, "
                f"{broker.session.health.reason})"
            ),
        )
    finally:
        broker.session.synced -= synced.append


@pytest.mark.expect_log_warnings
@settings(
    max_examples=_examples(15),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=plans)
# Field positions as the paper gateway sends them at server version 176: numbers IB would never
# send where the console reads executions, order status, positions, portfolio and commissions.
@example(plan=_synced(Mutated(11, _set((19, "nan"), (20, "inf"), (24, "-1e999999"), (25, "nan")))))
@example(plan=_synced(Mutated(11, _set((15, "not a time"), (18, "XYZ"), (26, "ibc-x.tp")))))
@example(plan=_synced(Mutated(3, _set((2, "Filled"), (3, "nan"), (4, "-inf"), (5, "1e999999")))))
@example(plan=_synced(Mutated(61, _set((14, "nan"), (15, "inf")))))
@example(plan=_synced(Mutated(7, _set((13, "1e999999"), (14, "nan"), (17, "inf")))))
@example(plan=_synced(Mutated(59, _set((3, "nan"), (5, "-inf")))))
@example(plan=_synced(Mutated(5, _set((14, "nan"), (16, "inf"), (23, _KEY)))))
@example(plan=_synced(Mutated(4, _set((3, "1100"))), Mutated(4, _set((3, "2103")))))
@example(plan=_synced(Mutated(9, _set((2, "-1"))), Mutated(15, _set((2, "U9999999,,DU1")))))
@example(plan=_synced(Raw(b"", framed=True), Oversized(0xFFFFFFFF, b"")))
async def test_the_console_survives_any_server_bytes_and_sends_no_order(
    gateway: PaperGateway,
    templates: dict[int, list[str]],
    crashes: Crashes,
    tmp_path: Path,
    as_of: datetime,
    wait_for: WaitFor,
    plan: Plan,
) -> None:
    crashes.clear()
    fake = FakeTws(plan, plan.encode(templates))
    await fake.start()
    clock = OffsetClock(as_of)
    journal_path = tmp_path / f"journal-{next(_journals)}.sqlite3"
    journal = Journal(journal_path, clock)
    broker = Broker(
        Endpoint("127.0.0.1", fake.port, 1),
        journal,
        clock,
        health=HEALTH,
        limits=RiskLimits(),
        request_timeout=REQUEST_TIMEOUT,
        rng=random.Random(3),
    )
    try:
        with contextlib.suppress(ConnectionError):
            # Garbage in the handshake fails the first attempt; the session retries by itself.
            await broker.start()
        if plan.when == "synced":
            fake.inject()
        await _healthy_after(broker, fake, wait_for)
        assert not fake.order_requests(), f"the console sent {fake.order_requests()}"

        await broker.session.disconnect()
        broker.session.set_endpoint(Endpoint("127.0.0.1", gateway.port, 1))
        info = await broker.session.connect()
        assert info.accounts == (ACCOUNT,)
        assert broker.session.state is HealthState.CONNECTED
        assert broker.account.positions_known
    finally:
        await broker.stop()
        journal.close()
        await fake.stop()
    assert not fake.order_requests(), f"the console sent {fake.order_requests()}"
    assert not crashes.found, "\n".join(crashes.found)
    with contextlib.closing(sqlite3.connect(journal_path)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    reopened = Journal(journal_path, clock)
    try:
        assert isinstance(reopened.orders(), list)
        assert isinstance(reopened.fills(), list)
    finally:
        reopened.close()
