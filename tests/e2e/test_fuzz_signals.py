"""Fuzzed signal endpoint: hypothesis sends bodies (good signals bent in every field, arbitrary
JSON, arbitrary bytes, in other character encodings), headers (content types, odd extra
headers), content encodings (gzip and deflate, broken ones, ones the endpoint cannot decode),
chunked bodies, methods, secrets and raw bytes that are not HTTP at all to the real endpoint on
loopback, whose inbox sits on a broker connected to the paper gateway over TCP. Slow clients
(stalled before or inside their headers or body, trickling) and many connections at once are
played against it too.

What must hold for every example: the endpoint answers each request with one of its codes (or,
for bytes that are not HTTP, aiohttp's own refusal) and keeps serving; no handler error is
logged; every request answered 202 is journalled and waits in the inbox (nothing lost), and no
other request is; nothing reaches the gateway (nothing is sent without a click).
``IBCONSOLE_FUZZ_EXAMPLES=N`` runs N examples instead of the quick default.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import os
import uuid
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from hypothesis import HealthCheck, given, settings
from hypothesis import example as case
from hypothesis import strategies as st

from ibconsole.broker.broker import Broker
from ibconsole.broker.session import Endpoint
from ibconsole.broker.signal_endpoint import IDLE_TIMEOUT, SignalEndpoint
from ibconsole.broker.signal_inbox import SignalInbox
from ibconsole.domain.clock import OffsetClock
from ibconsole.domain.health import HealthSettings
from ibconsole.domain.risk import RiskLimits
from ibconsole.domain.rollover import RolloverSettings
from ibconsole.domain.signals import SignalSettings
from ibconsole.journal import Journal
from ibconsole.journal.signal_log import SignalLog
from ibconsole.sim import PaperGateway

AS_OF = datetime(2026, 12, 10, 15, 30, tzinfo=UTC)
SECRET = "fuzz-secret-Xq83-not-a-real-one"
SETTINGS = SignalSettings(enabled=True, port=0, max_per_minute=100_000, max_body_bytes=2048)
ANSWERS = {202, 400, 401, 404, 405, 409, 413, 429}
STEP_TIMEOUT = 10.0


def _examples(default: int) -> int:
    return int(os.environ.get("IBCONSOLE_FUZZ_EXAMPLES") or default)


# --- what is sent --------------------------------------------------------------------------------

_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
_FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "symbol": st.sampled_from(
        [
            "MES1!",
            "ES1!",
            "ES2!",
            "CL1!",
            "MESZ2026",
            "ESZ2026",
            "ESM2026",
            "CME_MINI:MES1!",
            "XX1!",
            "",
            "MES",
            "6E1!",
            "M2K1!",
            "ES9!",
        ]
    )
    | st.text(max_size=70),
    "action": st.sampled_from(["buy", "sell", "exit", "reverse", "BUY", "hold", ""]) | _JSON,
    "quantity": st.sampled_from([1, 2, "3", 0, -1, 1.5, "1e3", 10**7, True]) | _JSON,
    "order_type": st.sampled_from(["market", "limit", "LIMIT", "stop"]) | _JSON,
    "price": st.sampled_from(["5931.75", 5931.75, 0, -1, "NaN", "abc"]) | _JSON,
    "time": st.sampled_from(
        ["2026-12-10T15:29:50Z", "2026-12-10T15:00:00Z", "2030-01-01T00:00:00Z", "yesterday"]
    )
    | st.integers(),
    "source": st.text(max_size=70) | _JSON,
    "id": st.text(max_size=140) | _JSON,
    "secret": st.sampled_from([SECRET, SECRET[:-1] + "?", "", SECRET.upper()]) | _JSON,
}


@st.composite
def signal_bodies(draw: st.DrawFn) -> bytes:
    body: dict[str, Any] = {
        "secret": SECRET,
        "id": f"fz-{uuid.uuid4().hex}",
        "symbol": "MES1!",
        "action": "buy",
        "quantity": 1,
    }
    for name in draw(st.sets(st.sampled_from(sorted(_FIELD_VALUES)), max_size=4)):
        body[name] = draw(_FIELD_VALUES[name])
    for name in draw(st.sets(st.sampled_from(sorted(body)), max_size=2)):
        del body[name]
    if draw(st.booleans()):
        body[draw(st.text(min_size=1, max_size=8))] = draw(_JSON)
    text = json.dumps(body, allow_nan=True, ensure_ascii=draw(st.booleans()))
    return text.encode(draw(_CHARSETS), "surrogatepass")


# JSON may come in UTF-8, -16 or -32 (json.loads tells them apart); latin-1 is not JSON.
_CHARSETS = st.sampled_from(["utf-8"] * 6 + ["utf-16", "utf-32", "utf-16-be", "utf-8-sig"])
_BODIES = (
    signal_bodies()
    | _JSON.map(lambda value: json.dumps(value).encode("utf-8", "surrogatepass"))
    | st.binary(max_size=300)
    | st.just(b"{" * 3000)
    | st.binary(min_size=2049, max_size=3000)
)
_CONTENT_TYPES = st.sampled_from(
    ["application/json", "application/json; charset=utf-8", "text/plain", "", "application/xml"]
) | st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=30)
_HEADER_NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12)
_HEADER_VALUES = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60
)


# How the body is content-encoded: as it says, or a header that lies about it.
_ENCODINGS = st.sampled_from(
    ["identity"] * 6 + ["gzip", "deflate", "gzip-broken", "deflate-broken", "br", "zstd", "bogus"]
)


def content_encoded(body: bytes, encoding: str) -> tuple[bytes, str | None]:
    """The body as sent and its Content-Encoding header (None: no header)."""
    match encoding:
        case "identity":
            return body, None
        case "gzip":
            return gzip.compress(body), "gzip"
        case "deflate":
            return zlib.compress(body), "deflate"
        case "gzip-broken" | "deflate-broken":
            return body, encoding.split("-")[0]
        case _:
            return body, encoding


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    content_type: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    raw: bytes | None  # bytes written straight to the socket instead of an HTTP request
    encoding: str = "identity"
    chunk: int = 0  # sent chunked in pieces of this size (0: with a Content-Length)


@st.composite
def requests(draw: st.DrawFn) -> Request:
    if draw(st.integers(0, 9)) == 0:
        raw = draw(
            st.binary(max_size=200)
            | st.just(b"POST /signals HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n{")
            | st.just(b"POST /signals HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
        )
        return Request("POST", "/signals", "", (), b"", raw)
    return Request(
        method=draw(st.sampled_from(["POST"] * 8 + ["GET", "PUT"])),
        path=draw(st.sampled_from(["/signals"] * 9 + ["/", "/signals/x"])),
        content_type=draw(_CONTENT_TYPES),
        headers=tuple(draw(st.lists(st.tuples(_HEADER_NAMES, _HEADER_VALUES), max_size=3))),
        body=draw(_BODIES),
        raw=None,
        encoding=draw(_ENCODINGS),
        chunk=draw(st.sampled_from([0, 0, 0, 1, 7, 512])),
    )


_GOOD = json.dumps(
    {"secret": SECRET, "id": "fz-good", "symbol": "MES1!", "action": "buy", "quantity": 1}
).encode()


def _post(
    body: bytes, path: str = "/signals", encoding: str = "identity", chunk: int = 0
) -> Request:
    return Request("POST", path, "application/json", (), body, None, encoding, chunk)


# --- the rig: gateway, broker, inbox and endpoint on one loop ------------------------------------


class Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(f"{record.name}: {record.getMessage()}")


@dataclass
class Rig:
    gateway: PaperGateway
    broker: Broker
    inbox: SignalInbox
    endpoint: SignalEndpoint
    session: aiohttp.ClientSession
    accepted: set[str] = field(default_factory=set)

    @classmethod
    async def start(cls, folder: Path, idle_timeout: float = IDLE_TIMEOUT) -> Rig:
        gateway = PaperGateway(seed=7, as_of=AS_OF)
        await gateway.start("127.0.0.1", 0)
        clock = OffsetClock(AS_OF)
        journal = Journal(folder / "journal.sqlite3", clock)
        broker = Broker(
            Endpoint("127.0.0.1", gateway.port, 1),
            journal,
            clock,
            health=HealthSettings(),
            limits=RiskLimits(),
        )
        await broker.start()
        log = SignalLog(journal.path)
        inbox = SignalInbox(
            broker.entry,
            broker.contracts,
            broker.calendars,
            broker.market,
            journal,
            log,
            clock,
            SETTINGS,
            RolloverSettings(),
        )
        endpoint = SignalEndpoint(
            SETTINGS, SECRET, log, inbox.accept, clock, idle_timeout=idle_timeout
        )
        await endpoint.start(0)
        return cls(gateway, broker, inbox, endpoint, aiohttp.ClientSession())

    async def stop(self) -> None:
        await self.session.close()
        await self.endpoint.stop()
        await self.inbox.close()
        await self.broker.stop()
        self.broker.journal.close()
        await self.gateway.stop()

    @property
    def port(self) -> int:
        url = self.endpoint.url
        assert url is not None
        return int(url.split(":")[2].split("/")[0])

    async def send(self, request: Request) -> int | None:
        url = self.endpoint.url
        assert url is not None
        if request.raw is not None:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            writer.write(request.raw)
            await writer.drain()
            writer.write_eof()
            try:
                head = await asyncio.wait_for(reader.read(64), STEP_TIMEOUT)
            finally:
                writer.close()
            return int(head.split()[1]) if head.startswith(b"HTTP/1.1 ") else None
        headers = dict(request.headers)
        headers["Content-Type"] = request.content_type
        body, encoding = content_encoded(request.body, request.encoding)
        if encoding is not None:
            headers["Content-Encoding"] = encoding
        async with self.session.request(
            request.method,
            url.replace("/signals", request.path),
            data=_pieces(body, request.chunk) if request.chunk else body,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=STEP_TIMEOUT),
        ) as answer:
            if answer.status == 202:
                self.accepted.add((await answer.json())["key"])
            return answer.status

    async def play(self, batch: list[Request]) -> list[int | None]:
        return [await self.send(request) for request in batch]


async def _pieces(body: bytes, size: int) -> AsyncIterator[bytes]:
    """The body in pieces: aiohttp sends an async iterator chunked."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


def test_no_body_or_header_crashes_loses_or_sends_anything(tmp_path: Path) -> None:
    errors = Errors()
    logging.getLogger().addHandler(errors)
    with asyncio.Runner() as runner:
        rig = runner.run(Rig.start(tmp_path))
        try:

            @settings(
                max_examples=_examples(60),
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
            )
            @given(batch=st.lists(requests(), min_size=1, max_size=6))
            # A body that does not decode, then another request on the kept-alive connection: it
            # was 500 with a logged traceback, then a broken pipe.
            @case(batch=[_post(_GOOD, encoding="gzip-broken"), _post(b"\0", chunk=1)])
            # A 404 before a chunked body that does not decode was read: the next request on the
            # kept-alive connection waited for an answer that never came.
            @case(batch=[_post(b"{" * 3000, path="/", encoding="deflate-broken", chunk=7)] * 2)
            def example(batch: list[Request]) -> None:
                answers = runner.run(rig.play(batch))
                for request, status in zip(batch, answers, strict=True):
                    if request.raw is None:
                        assert status in ANSWERS, (status, request)
                        if request.method == "POST" and request.path == "/signals":
                            assert status not in (404, 405), request
                    else:
                        assert status is None or 400 <= status < 600, (status, request)
                good = json.dumps(
                    {
                        "secret": SECRET,
                        "id": f"ok-{uuid.uuid4().hex}",
                        "symbol": "ES1!",
                        "action": "sell",
                        "quantity": 1,
                    }
                ).encode()
                assert (
                    runner.run(
                        rig.send(Request("POST", "/signals", "application/json", (), good, None))
                    )
                    == 202
                ), "the endpoint stopped serving"
                in_inbox = {entry.key for entry in rig.inbox.entries}
                journalled = {
                    item.signal.key for item in rig.inbox.signal_log.since(AS_OF.replace(year=2020))
                }
                assert rig.accepted == in_inbox, "a signal answered 202 is missing from the inbox"
                assert rig.accepted == journalled, "a 202 was not journalled, or a refusal was"
                assert rig.gateway.orders == [], "a signal was sent without a click"
                assert errors.records == [], errors.records

            example()
            # The inbox resolved its signals on the broker meanwhile; still nothing was sent.
            runner.run(asyncio.sleep(0))
            assert rig.gateway.orders == []
            assert rig.accepted
        finally:
            runner.run(rig.stop())
            logging.getLogger().removeHandler(errors)


# --- slow clients and many at once --------------------------------------------------------------

SLOW_IDLE = 1.0  # the endpoint's idle timeout here: stalled clients are let go after a second
STALLED = 20  # connections of each stalled kind
MANY = 150  # requests in flight at once


def _request_bytes(body: bytes, declared: int | None = None) -> bytes:
    length = len(body) if declared is None else declared
    return (
        b"POST /signals HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {length}\r\n\r\n".encode()
        + body
    )


def _signal(key: str) -> bytes:
    return json.dumps(
        {"secret": SECRET, "id": key, "symbol": "ES1!", "action": "sell", "quantity": 1}
    ).encode()


async def _until_closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the endpoint sends before it closes the connection."""
    return await asyncio.wait_for(reader.read(), STEP_TIMEOUT)


async def _stalled(rig: Rig, kind: str) -> bytes:
    """A client that stops for good: before any byte, inside its headers, or inside its body.
    What the endpoint answered before it closed the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", rig.port)
    try:
        if kind == "head":
            writer.write(b"POST /signals HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        elif kind == "body":
            writer.write(_request_bytes(b'{"secret": "', declared=200))
        await writer.drain()
        return await _until_closed(reader)
    finally:
        writer.close()


async def _trickle(rig: Rig, data: bytes) -> bytes:
    """A client that sends its request a byte at a time."""
    reader, writer = await asyncio.open_connection("127.0.0.1", rig.port)
    try:
        for at in range(len(data)):
            writer.write(data[at : at + 1])
            await writer.drain()
        return await asyncio.wait_for(reader.readuntil(b"\r\n"), STEP_TIMEOUT)
    finally:
        writer.close()


def test_slow_stalled_and_many_clients_neither_hold_the_endpoint_nor_lose_a_signal(
    tmp_path: Path,
) -> None:
    errors = Errors()
    logging.getLogger().addHandler(errors)
    with asyncio.Runner() as runner:
        rig = runner.run(Rig.start(tmp_path, idle_timeout=SLOW_IDLE))
        try:
            runner.run(_slow_and_many(rig))
        finally:
            runner.run(rig.stop())
            logging.getLogger().removeHandler(errors)
    assert errors.records == [], errors.records


async def _slow_and_many(rig: Rig) -> None:
    # A crowd of requests at once, each id three times: each answered, each signal taken once.
    keys = [f"many-{n % (MANY // 3)}" for n in range(MANY)]
    good = Request("POST", "/signals", "application/json", (), b"", None)
    answers = await asyncio.gather(*(rig.send(replace(good, body=_signal(key))) for key in keys))
    assert sorted(set(answers)) == [202, 409], answers
    assert answers.count(202) == MANY // 3
    # Clients that stop for good, and one that trickles its signal while they hang on.
    stalled = [
        asyncio.ensure_future(_stalled(rig, kind))
        for kind in ("silent", "head", "body")
        for _ in range(STALLED)
    ]
    trickled = await _trickle(rig, _request_bytes(_signal("slow-1")))
    assert trickled.startswith(b"HTTP/1.1 202"), trickled
    rig.accepted.add("id:slow-1")
    # Every stalled client is let go: a body that never came is answered 408, the others are
    # closed without a word.
    let_go = await asyncio.gather(*stalled)
    silent, head, body = (let_go[i : i + STALLED] for i in range(0, 3 * STALLED, STALLED))
    assert set(silent) == set(head) == {b""}, (silent, head)
    assert all(answer.startswith(b"HTTP/1.1 408") for answer in body), body
    assert rig.endpoint.refusals[408] == STALLED
    in_inbox = {entry.key for entry in rig.inbox.entries}
    journalled = {item.signal.key for item in rig.inbox.signal_log.since(AS_OF.replace(year=2020))}
    assert rig.accepted == in_inbox == journalled
    assert len(in_inbox) == 1 + MANY // 3
    assert rig.gateway.orders == [], "a signal was sent without a click"
