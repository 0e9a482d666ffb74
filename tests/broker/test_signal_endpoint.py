"""The signal endpoint over real HTTP on loopback: every answer code with its reason, the secret
compared in constant time, a key answered 409 also after a restart, and nothing it refuses
reaching the inbox or the journal."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ibconsole.broker.signal_endpoint import SignalEndpoint
from ibconsole.domain.clock import OffsetClock
from ibconsole.domain.signals import Signal, SignalSettings
from ibconsole.journal.signal_log import SignalLog

SECRET = "correct-horse-battery-9Kq"
SETTINGS = SignalSettings(enabled=True, port=0, max_per_minute=5, max_body_bytes=512)


@dataclass
class Rig:
    endpoint: SignalEndpoint
    log: SignalLog
    accepted: list[Signal]
    session: aiohttp.ClientSession
    clock: list[float] = field(default_factory=lambda: [1000.0])

    @property
    def url(self) -> str:
        url = self.endpoint.url
        assert url is not None
        return url

    async def post(
        self, body: object, *, content_type: str = "application/json", raw: bytes | None = None
    ) -> tuple[int, dict[str, Any]]:
        data = raw if raw is not None else json.dumps(body).encode()
        async with self.session.post(
            self.url, data=data, headers={"Content-Type": content_type}
        ) as answer:
            return answer.status, await answer.json()

    def journalled(self, since: datetime) -> list[str]:
        return [item.signal.key for item in self.log.since(since)]


RigFactory = Callable[..., Awaitable[Rig]]


@pytest.fixture
async def make_rig(tmp_path: Path, as_of: datetime) -> AsyncIterator[RigFactory]:
    """``await make_rig(secret=…, settings=…)``: an endpoint on a free port with its journal in
    ``tmp_path`` (the same file for every rig of a test, as after a restart)."""
    built: list[Rig] = []
    # A fresh connection per request: a restarted endpoint may get the port of the one before,
    # and a kept-alive connection to the stopped one would fail the next request.
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True))
    # One wall clock for every rig: time goes on across a restart (a clock per rig started again
    # at as_of, so a signal after the restart could be stamped before one received earlier).
    wall = OffsetClock(as_of)

    async def make(secret: str | None = SECRET, settings: SignalSettings = SETTINGS) -> Rig:
        log = SignalLog(tmp_path / "journal.sqlite3")
        accepted: list[Signal] = []
        clock: list[float] = [1000.0]
        endpoint = SignalEndpoint(
            settings, secret, log, accepted.append, wall, monotonic=lambda: clock[0]
        )
        await endpoint.start(0)
        rig = Rig(endpoint, log, accepted, session, clock)
        built.append(rig)
        return rig

    yield make
    for rig in built:
        await rig.endpoint.stop()
        rig.log.close()
    await session.close()


@pytest.fixture
async def rig(make_rig: RigFactory) -> Rig:
    return await make_rig()


def body(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "secret": SECRET,
        "id": "tv-1",
        "symbol": "MES1!",
        "action": "buy",
        "quantity": 1,
    }
    return {k: v for k, v in {**base, **changes}.items() if v is not ...}


async def test_a_good_signal_is_journalled_then_queued_and_answered_202(
    rig: Rig, as_of: datetime
) -> None:
    assert rig.url.startswith("http://127.0.0.1:")
    assert rig.url.endswith("/signals")
    status, answer = await rig.post(body())
    assert status == 202
    assert answer == {
        "status": "queued",
        "reason": "waiting in the inbox for a trader",
        "key": "id:tv-1",
    }
    assert [s.key for s in rig.accepted] == ["id:tv-1"]
    assert rig.journalled(as_of) == ["id:tv-1"]


async def test_a_body_without_an_id_is_keyed_by_its_hash(rig: Rig) -> None:
    status, answer = await rig.post(body(id=...))
    assert status == 202
    assert answer["key"].startswith("body:")
    assert (await rig.post(body(id=...)))[0] == 409


@pytest.mark.parametrize(
    "secret",
    [
        ...,  # missing
        None,
        12345,
        "",
        "x" + SECRET[1:],  # same length, first character wrong
        SECRET[:-1] + "x",  # same length, last character wrong
        SECRET.upper(),
        SECRET + " ",
        "\ud800" * len(SECRET),  # a lone surrogate, as JSON can spell it
    ],
)
async def test_a_missing_or_wrong_secret_is_401(rig: Rig, as_of: datetime, secret: object) -> None:
    status, answer = await rig.post(body(secret=secret))
    assert status == 401
    assert answer == {"status": "refused", "reason": "the secret is missing or wrong"}
    assert rig.accepted == []
    assert rig.journalled(as_of) == []


async def test_the_secret_is_compared_in_constant_time(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Spying on the comparison is the one way to see *how* it compares: timing a test would be
    # a wall-clock threshold. compare_digest itself is CPython's constant-time comparison.
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    wrong = SECRET[:-1] + "!"
    assert (await rig.post(body(secret=wrong)))[0] == 401
    assert (await rig.post(body()))[0] == 202
    assert compared == [(wrong.encode(), SECRET.encode()), (SECRET.encode(), SECRET.encode())]


async def test_no_secret_on_the_console_refuses_everything(make_rig: RigFactory) -> None:
    rig = await make_rig(secret=None)
    assert (await rig.post(body()))[0] == 401
    assert (await rig.post(body(secret="")))[0] == 401
    rig.endpoint.set_secret(SECRET)
    assert (await rig.post(body()))[0] == 202


@pytest.mark.parametrize(
    ("payload", "content_type", "reason"),
    [
        (body(), "text/plain", "Content-Type must be application/json"),
        (body(), "application/x-www-form-urlencoded", "Content-Type must be application/json"),
        (b"{not json", "application/json", "the body is not valid JSON"),
        (b"\xff\xfe\x00", "application/json", "the body is not valid JSON"),
        (b"", "application/json", "the body is not valid JSON"),
        ([1, 2], "application/json", "the body must be a JSON object"),
        (body(symbol="XX1!"), "application/json", "XX is not a futures product"),
        (body(quantity=...), "application/json", "quantity is required to buy or sell"),
        (body(qty=1), "application/json", "unknown field(s) qty"),
        (body(order_type="limit"), "application/json", "a limit order needs a price"),
    ],
)
async def test_unusable_bodies_are_400_with_the_reason(
    rig: Rig, as_of: datetime, payload: object, content_type: str, reason: str
) -> None:
    raw = payload if isinstance(payload, bytes) else None
    status, answer = await rig.post(payload, content_type=content_type, raw=raw)
    assert status == 400
    assert answer["status"] == "refused"
    assert reason in answer["reason"]
    assert rig.accepted == []
    assert rig.journalled(as_of) == []


async def test_json_nested_past_the_interpreters_recursion_limit_is_400(
    make_rig: RigFactory,
) -> None:
    rig = await make_rig(settings=SignalSettings(max_body_bytes=8192))
    status, answer = await rig.post(None, raw=b"[" * 4000 + b"]" * 4000)
    assert (status, answer["reason"]) == (400, "the body is not valid JSON")
    assert (await rig.post(body()))[0] == 202


async def test_a_key_seen_before_is_409_also_after_a_restart(
    make_rig: RigFactory, as_of: datetime
) -> None:
    first = await make_rig()
    assert (await first.post(body()))[0] == 202
    status, answer = await first.post(body(quantity=2))
    assert (status, answer["reason"]) == (409, "id:tv-1 was already received")
    await first.endpoint.stop()
    first.log.close()

    again = await make_rig()
    assert (await again.post(body()))[0] == 409
    assert (await again.post(body(id="tv-2")))[0] == 202
    assert [s.key for s in again.accepted] == ["id:tv-2"]
    assert again.journalled(as_of) == ["id:tv-1", "id:tv-2"]


async def test_a_body_over_the_limit_is_413_with_or_without_a_length(
    rig: Rig, as_of: datetime
) -> None:
    big = body(source="x" * 600)
    status, answer = await rig.post(big)
    assert (status, answer["reason"]) == (413, "the body is over 512 bytes")

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(8):
            yield b" " * 100

    async with rig.session.post(
        rig.url, data=chunks(), headers={"Content-Type": "application/json"}
    ) as answer:
        assert answer.status == 413
    assert rig.accepted == []
    assert rig.journalled(as_of) == []


async def test_more_signals_than_the_rate_allows_are_429_until_the_minute_passes(
    rig: Rig,
) -> None:
    for number in range(SETTINGS.max_per_minute):
        assert (await rig.post(body(id=f"s{number}")))[0] == 202
    status, answer = await rig.post(body(id="one-too-many"))
    assert (status, answer["reason"]) == (429, "more than 5 signals in a minute")
    # Refused requests do not use up the allowance of real signals.
    assert (await rig.post(body(secret="wrong-but-long-enough-xx")))[0] == 401
    rig.clock[0] += 60.0
    assert (await rig.post(body(id="one-too-many")))[0] == 202
    assert len(rig.accepted) == SETTINGS.max_per_minute + 1
    assert rig.endpoint.refusals == {429: 1, 401: 1}


async def test_repeats_of_a_received_signal_are_409_and_use_up_none_of_the_rate(
    rig: Rig, as_of: datetime
) -> None:
    assert (await rig.post(body(id="first")))[0] == 202
    # A sender retrying one delivery: every repeat is 409, also once the minute is full.
    repeats = [(await rig.post(body(id="first")))[0] for _ in range(SETTINGS.max_per_minute + 2)]
    assert repeats == [409] * (SETTINGS.max_per_minute + 2)
    # The allowance is the accepted signals' only: four new ones still fit in this minute.
    answers = [(await rig.post(body(id=f"new-{n}")))[0] for n in range(SETTINGS.max_per_minute)]
    assert answers == [202] * (SETTINGS.max_per_minute - 1) + [429]
    # With the minute full, a repeat is still told it was received, not to slow down.
    assert (await rig.post(body(id="first")))[0] == 409
    assert [s.key for s in rig.accepted] == ["id:first"] + [
        f"id:new-{n}" for n in range(SETTINGS.max_per_minute - 1)
    ]
    assert rig.journalled(as_of) == [s.key for s in rig.accepted]


async def test_only_post_is_served(rig: Rig) -> None:
    async with rig.session.get(rig.url) as answer:
        assert answer.status == 405
    async with rig.session.post(rig.url.replace("/signals", "/other"), json=body()) as answer:
        assert answer.status == 404
    assert rig.accepted == []


async def test_a_signal_older_than_max_age_is_accepted_to_be_shown_expired(
    rig: Rig, as_of: datetime
) -> None:
    stamp = (as_of - timedelta(minutes=5)).isoformat()
    assert (await rig.post(body(time=stamp)))[0] == 202
    (signal,) = rig.accepted
    assert signal.expired(as_of, SETTINGS.max_age)


async def test_the_secret_reaches_no_log_record(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await rig.post(body())
    await rig.post(body(secret=SECRET + "x"))
    await rig.post(body(secret=SECRET, symbol="XX1!"))
    assert caplog.records
    assert all(SECRET not in record.getMessage() for record in caplog.records)


async def test_stop_closes_the_port(make_rig: RigFactory) -> None:
    rig = await make_rig()
    url = rig.url
    await rig.endpoint.stop()
    assert rig.endpoint.url is None
    with pytest.raises(aiohttp.ClientConnectionError):
        async with rig.session.post(url, json=body()):
            pass
