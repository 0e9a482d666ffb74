"""Fuzzed client bytes against the paper gateway: broken handshakes, garbage, empty, truncated and
oversized frames, invalid UTF-8, and real requests (recorded from ib_insync) with fields replaced,
dropped or added. The gateway survives every one: no exception escapes to the loop or into its
error log, the fuzzing connection ends cleanly, and another ib_insync client keeps getting
answers throughout.

``IBCONSOLE_FUZZ_EXAMPLES=N`` runs N examples instead of the quick default.
"""

from __future__ import annotations

import asyncio
import logging
import os
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ibconsole.broker.ib_client import IB, Future, LimitOrder, StopLimitOrder
from ibconsole.sim import PaperGateway
from ibconsole.sim.connection import Connection

WaitFor = Any  # the suite's wait_for fixture: await wait_for(predicate, timeout=..., what=...)


def _examples(default: int) -> int:
    return int(os.environ.get("IBCONSOLE_FUZZ_EXAMPLES") or default)


BYSTANDER_ID = 90
ANSWER_TIMEOUT = 3.0
_LENGTH = struct.Struct(">I")
# Far above the gateway's 1 MiB frame limit, and b"API\0" read as a length.
_OVERSIZED = (1 << 20) + 1, 0xFFFFFFFF, 0x41504900


def frame(payload: bytes) -> bytes:
    return _LENGTH.pack(len(payload)) + payload


def fields_frame(fields: list[str]) -> bytes:
    return frame("".join(f"{value}\0" for value in fields).encode())


# --- what the fuzzing client sends ------------------------------------------------------------


@dataclass(frozen=True)
class Mutated:
    """A request ib_insync really sends (or a bare id), with some fields changed."""

    msg_id: int
    edits: tuple[tuple[str, int, str], ...]

    def fields(self, templates: dict[int, list[str]]) -> list[str]:
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
        return fields


@dataclass(frozen=True)
class Raw:
    """Bytes sent as they are: ``framed`` puts a correct length prefix before them."""

    data: bytes
    framed: bool


@dataclass(frozen=True)
class Truncated:
    """A length prefix promising more bytes than follow (everything after joins this frame)."""

    data: bytes
    missing: int


@dataclass(frozen=True)
class Oversized:
    length: int
    data: bytes


Chunk = Mutated | Raw | Truncated | Oversized


@dataclass(frozen=True)
class Plan:
    magic: bytes
    version: bytes | None  # the version range payload, None to skip it
    start: list[str] | None  # the startApi fields, None to skip it
    chunks: list[Chunk]
    split: int  # bytes per write

    def encode(self, templates: dict[int, list[str]]) -> bytes:
        data = self.magic
        if self.version is not None:
            data += frame(self.version)
        if self.start is not None:
            data += fields_frame(self.start)
        for chunk in self.chunks:
            if isinstance(chunk, Mutated):
                data += fields_frame(chunk.fields(templates))
            elif isinstance(chunk, Raw):
                data += frame(chunk.data) if chunk.framed else chunk.data
            elif isinstance(chunk, Truncated):
                data += _LENGTH.pack(len(chunk.data) + chunk.missing) + chunk.data
            else:
                data += _LENGTH.pack(chunk.length) + chunk.data
        return data


_NASTY_FIELDS = (
    "",
    "0",
    "-1",
    "1",
    "2147483647",
    "2147483648",
    "-2147483649",
    "9223372036854775808",
    "9" * 5000,
    "1e999999",
    "-1e999999",
    "1e-999999",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "Infinity",
    "1.7976931348623157E308",
    "1.7976931348623157E309",
    "0.1",
    "-0.0",
    "0x10",
    "1_000",
    "١٢",
    "５",
    "\u00a0",
    "é",
    "\ufffd",
    "\\x00",
    "BUY",
    "SELL",
    "SSHORT",
    "LMT",
    "MKT",
    "STP",
    "STP LMT",
    "TRAIL",
    "GTC",
    "IOC",
    "DAY",
    "ES",
    "EUR",
    "AAPL",
    "FUT",
    "STK",
    "CASH",
    "BAG",
    "CME",
    "SMART",
    "USD",
    "20250321",
    "202503",
    "20991231",
    "DU1234567",
    "U1",
    "0.25",
    "1 min",
    "1 D",
    "30 S",
    "TRADES",
    "MIDPOINT",
    "1;2;3",
    ",",
    "1,2",
    "x" * 3000,
)
field_values = st.one_of(
    st.sampled_from(_NASTY_FIELDS),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats().map(repr),
    st.text(max_size=12),
)
# Every request id the gateway handles, a few it does not, and nonsense.
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
    15,
    16,
    17,
    20,
    25,
    49,
    50,
    51,
    58,
    59,
    61,
    62,
    63,
    64,
    71,
    76,
    77,
    87,
    91,
    92,
    93,
    94,
    95,
    99,
    0,
    10,
    100,
    2**31,
    -3,
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
        st.sampled_from(
            [b"", b"\0", b"\0\0\0", b"3\0\xff\xfe\0", b"\xc3\x28\0", b"49\0\xed\xa0\x80"]
        ),
        st.just(True),
    ),
)
# These break the framing, so nothing after them is read as a frame: at most one, last.
breaking_chunks: st.SearchStrategy[Chunk] = st.one_of(
    st.builds(Raw, st.binary(min_size=1, max_size=40), st.just(False)),
    st.builds(Truncated, st.binary(max_size=20), st.integers(min_value=1, max_value=5000)),
    st.builds(Oversized, st.sampled_from(_OVERSIZED), st.binary(max_size=8)),
)


def chunk_lists(min_size: int, max_size: int) -> st.SearchStrategy[list[Chunk]]:
    return st.tuples(
        st.lists(framed_chunks, min_size=min_size, max_size=max_size),
        st.lists(breaking_chunks, max_size=1),
    ).map(lambda parts: parts[0] + parts[1])


_VERSION_RANGES = (
    b"v100..176",
    b"v157..178",
    b"v176",
    b"v1..2",
    b"v",
    b"vabc..176",
    b"v176..100",
    b"v" + b"9" * 5000,
    b"v\xff..176",
    b"v157..176 +PACEAPI",
    b"",
    b"\0",
    b"v157..176\0v1..2",
)
_HANDSHAKEN = ("1", "2", "3")  # clientIds of fuzzing sessions that get past the handshake
fuzzed_plans = st.builds(
    Plan,
    magic=st.one_of(
        st.just(b"API\0"),
        st.sampled_from([b"", b"API", b"API\0API\0", b"XYZ\0", b"GET / HTTP/1.1\r\n"]),
    ),
    version=st.one_of(st.none(), st.sampled_from(_VERSION_RANGES), st.binary(max_size=12)),
    start=st.one_of(
        st.none(),
        st.builds(
            lambda client_id: ["71", "2", client_id, ""],
            st.sampled_from(["0", str(BYSTANDER_ID), "-1", "", "x", "9" * 5000, "٣", "1e3"]),
        ),
        st.lists(field_values, max_size=4),
    ),
    chunks=chunk_lists(0, 6),
    split=st.sampled_from([1, 3, 7, 64, 1 << 20]),
)
# Most sessions open properly, so that the fuzzed requests reach the gateway's handlers.
handshaken_plans = st.builds(
    Plan,
    magic=st.just(b"API\0"),
    version=st.sampled_from([b"v100..176", b"v157..178", b"v176"]),
    start=st.sampled_from(_HANDSHAKEN).map(lambda client_id: ["71", "2", client_id, ""]),
    chunks=chunk_lists(1, 10),
    split=st.sampled_from([3, 64, 1 << 20, 1 << 20]),
)
plans = st.one_of(handshaken_plans, handshaken_plans, handshaken_plans, fuzzed_plans)


# --- watching the gateway ---------------------------------------------------------------------


@dataclass
class Troubles:
    """Exceptions that reached the loop, and the gateway's ERROR records (a handler crashed)."""

    loop_errors: list[str] = field(default_factory=list)
    records: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return "\n".join(self.loop_errors + self.records)


class _Errors(logging.Handler):
    def __init__(self, troubles: Troubles) -> None:
        super().__init__(level=logging.ERROR)
        self.troubles = troubles

    def emit(self, record: logging.LogRecord) -> None:
        self.troubles.records.append(f"{record.name}: {record.getMessage()}")


@pytest.fixture
async def troubles() -> AsyncIterator[Troubles]:
    found = Troubles()
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()

    def on_loop_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        found.loop_errors.append(f"loop: {context.get('message')} {context.get('exception')!r}")

    loop.set_exception_handler(on_loop_error)
    handler = _Errors(found)
    watched = [logging.getLogger("ibconsole.sim"), logging.getLogger("asyncio")]
    for logger in watched:
        logger.addHandler(handler)
    yield found
    for logger in watched:
        logger.removeHandler(handler)
    loop.set_exception_handler(previous)


@pytest.fixture
async def bystander(gateway: PaperGateway) -> AsyncIterator[IB]:
    """An ib_insync client that stays connected; the requests it makes become fuzz templates."""
    ib = IB()
    await ib.connectAsync("127.0.0.1", gateway.port, clientId=BYSTANDER_ID, timeout=ANSWER_TIMEOUT)
    yield ib
    ib.disconnect()


@pytest.fixture
async def templates(
    gateway: PaperGateway, bystander: IB, monkeypatch: pytest.MonkeyPatch, wait_for: WaitFor
) -> dict[int, list[str]]:
    """One real request of each kind the gateway handles, as ib_insync encoded it."""
    recorded: dict[int, list[str]] = {}
    dispatch = gateway.dispatch

    def record(connection: Connection, fields: list[str]) -> None:
        if fields and fields[0].isdigit():
            recorded.setdefault(int(fields[0]), list(fields))
        dispatch(connection, fields)

    monkeypatch.setattr(gateway, "dispatch", record)
    ib = bystander
    (details, *_) = await asyncio.wait_for(
        ib.reqContractDetailsAsync(Future("ES", exchange="CME")), ANSWER_TIMEOUT
    )
    contract = details.contract
    assert contract is not None
    ticker = ib.reqMktData(contract)
    await wait_for(lambda: ticker.bid == ticker.bid and ticker.bid > 0, what="an ES quote")
    far = round(ticker.bid * 0.8 / 0.25) * 0.25
    for order in (LimitOrder("BUY", 1, far), StopLimitOrder("SELL", 1, far, far)):
        order.orderRef = "fuzz-template"
        trade = ib.placeOrder(contract, order)
        await wait_for(lambda trade=trade: trade.orderStatus.status == "Submitted", what="working")
        ib.cancelOrder(order)
    ib.cancelMktData(contract)
    await asyncio.wait_for(
        ib.reqHistoricalDataAsync(contract, "", "1 D", "1 hour", "TRADES", True), ANSWER_TIMEOUT
    )
    bars = ib.reqRealTimeBars(contract, 5, "TRADES", False)
    ib.cancelRealTimeBars(bars)
    await asyncio.wait_for(ib.reqHeadTimeStampAsync(contract, "TRADES", True, 1), ANSWER_TIMEOUT)
    await asyncio.wait_for(ib.reqPositionsAsync(), ANSWER_TIMEOUT)
    await asyncio.wait_for(ib.reqExecutionsAsync(), ANSWER_TIMEOUT)
    await asyncio.wait_for(ib.reqAllOpenOrdersAsync(), ANSWER_TIMEOUT)
    await asyncio.wait_for(ib.reqCompletedOrdersAsync(False), ANSWER_TIMEOUT)
    await asyncio.wait_for(ib.reqAccountSummaryAsync(), ANSWER_TIMEOUT)
    rule = int(details.marketRuleIds.split(",")[0])
    await asyncio.wait_for(ib.reqMarketRuleAsync(rule), ANSWER_TIMEOUT)
    pnl = ib.reqPnL("DU1234567")
    ib.cancelPnL("DU1234567")
    assert pnl is not None
    ib.reqMarketDataType(3)
    ib.reqMarketDataType(1)
    await wait_for(lambda: {3, 4, 9, 20, 50, 59, 87, 99} <= set(recorded), what="the templates")
    monkeypatch.setattr(gateway, "dispatch", dispatch)
    return recorded


async def _send(gateway: PaperGateway, data: bytes, split: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    try:
        for start in range(0, len(data), split):
            writer.write(data[start : start + split])
            await writer.drain()
        writer.write_eof()
        # Whatever the gateway answers is read (and ignored) until it closes its side, so it
        # has handled every byte before the next example starts.
        await asyncio.wait_for(_drain(reader), ANSWER_TIMEOUT)
    except ConnectionError:
        pass  # the gateway may refuse (reset) a client that does not speak the API
    except TimeoutError:
        # Neither closed nor reset after the client's last byte and its EOF: a client left
        # hanging, which is what this test is here to catch.
        pytest.fail(
            f"the gateway kept a finished client open for {ANSWER_TIMEOUT} s after "
            f"{len(data)} bytes (sent {split} at a time), starting {data[:60]!r}"
        )
    finally:
        writer.close()


async def _drain(reader: asyncio.StreamReader) -> None:
    while await reader.read(1 << 16):
        pass


@pytest.mark.expect_log_warnings
@settings(
    max_examples=_examples(120),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=plans)
async def test_the_gateway_survives_any_client_bytes_and_others_keep_working(
    gateway: PaperGateway,
    bystander: IB,
    templates: dict[int, list[str]],
    troubles: Troubles,
    wait_for: WaitFor,
    plan: Plan,
) -> None:
    await _send(gateway, plan.encode(templates), plan.split)

    await wait_for(
        lambda: len(gateway.connections) == 1, what="the fuzzing connection to be closed"
    )
    assert bystander.isConnected()
    answer = await asyncio.wait_for(bystander.reqCurrentTimeAsync(), ANSWER_TIMEOUT)
    assert answer.tzinfo is not None
    assert not troubles.loop_errors, troubles.describe()
    assert not troubles.records, troubles.describe()


@pytest.mark.expect_log_warnings
async def test_after_the_fuzzing_fresh_clients_connect_with_any_client_id(
    gateway: PaperGateway, bystander: IB, templates: dict[int, list[str]], troubles: Troubles
) -> None:
    for data in (
        b"API\0" + frame(b"v100..176") + fields_frame(["71", "2", "1", ""]) + frame(b""),
        b"API\0" + frame(b"v100..176") + frame(b""),
        b"API\0" + frame(b"v" + b"9" * 5000),
        b"API\0" + frame(b"v100..176") + fields_frame(["71", "2", "2", ""]) + fields_frame(["3"]),
    ):
        await _send(gateway, data, 1 << 20)
    for client_id in (1, 2):
        ib = IB()
        await ib.connectAsync("127.0.0.1", gateway.port, clientId=client_id, timeout=3)
        try:
            (details, *_) = await asyncio.wait_for(
                ib.reqContractDetailsAsync(Future("ES", exchange="CME")), ANSWER_TIMEOUT
            )
            assert details.contract is not None
        finally:
            ib.disconnect()
    assert not troubles.loop_errors, troubles.describe()
    assert not troubles.records, troubles.describe()
