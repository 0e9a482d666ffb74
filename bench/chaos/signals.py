"""Webhook signals: POSTs over HTTP on loopback to the console's endpoint (valid, duplicates,
expired, bad secrets, malformed bodies, floods), replays of every acknowledged signal after the
endpoint (a process of its own, as in the console) and inbox restart on the same journal, and the
trader's click that sends a waiting signal from the inbox through the order-entry model (the
inbox never sends on its own).

Every answer is kept, and the end accounts for each signal exactly once (``SignalLedger``)."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from datetime import timedelta
from typing import Any

import aiohttp

from bench.chaos.scene import Scene
from ibconsole.broker.signal_inbox import SignalInbox
from ibconsole.broker.signal_process import SignalProcess
from ibconsole.domain.order_entry import NeedsConfirmation, Sent
from ibconsole.domain.rollover import RolloverSettings
from ibconsole.domain.signals import SignalSettings, SignalState
from ibconsole.journal.signal_log import SignalLog

log = logging.getLogger("bench.chaos")

SETTINGS = SignalSettings(
    enabled=True, port=0, max_age=timedelta(seconds=60), max_per_minute=40, max_body_bytes=2048
)
_TIMEOUT = aiohttp.ClientTimeout(total=5)
_JSON = {"Content-Type": "application/json"}
# malformed bodies, each answered 400 (or 413, over the size limit), in turn
_MALFORMED: tuple[tuple[bytes | str, dict[str, str]], ...] = (
    (b"{not json", _JSON),
    (b"[1, 2, 3]", _JSON),
    ('{"secret": "%s", "symbol": "ES1!", "action": "buy", "quantity": 1, "colour": 1}', _JSON),
    ('{"secret": "%s", "action": "buy", "quantity": 1}', _JSON),
    ('{"secret": "%s", "symbol": "ES1!", "action": "buy", "quantity": -2}', _JSON),
    ('{"secret": "%s", "symbol": "ZZ1!", "action": "buy", "quantity": 1}', _JSON),
    (
        '{"secret": "%s", "symbol": "ES1!", "action": "buy", "quantity": 1}',
        {"Content-Type": "text/plain"},
    ),
    (b'{"pad": "' + b"x" * 4096 + b'"}', _JSON),
    (b"\xff\xfe\x00garbage", _JSON),
)


class SignalSteps:
    VERBS = ("signal_open", "signal", "signal_flood", "signal_restart", "signal_send")

    def __init__(self, scene: Scene) -> None:
        self.scene = scene
        self.secret = secrets.token_urlsafe(18)
        self.inbox: SignalInbox | None = None
        self.endpoint: SignalProcess | None = None
        self._http: aiohttp.ClientSession | None = None
        self._numbered = 0
        self._malformed = 0
        self.answers: dict[str, list[int]] = {}  # key -> every answer it got
        self.accepted: dict[str, bytes] = {}  # key -> the body acknowledged (202)
        self.expired: set[str] = set()  # keys stamped too old to be sent
        self.sent: dict[str, str] = {}  # signal key -> the order key its send journalled
        self.unsendable_orders: list[str] = []  # orders born of a send that had to be refused

    # ------------------------------------------------------------- the console's side
    async def signal_open(self) -> None:
        self._http = aiohttp.ClientSession(timeout=_TIMEOUT)
        await self._start()

    async def _start(self) -> None:
        broker = self.scene.broker
        inbox = SignalInbox(
            broker.entry,
            broker.contracts,
            broker.calendars,
            broker.market,
            broker.journal,
            SignalLog(broker.journal.path),
            broker.clock,
            SETTINGS,
            RolloverSettings(),
        )
        broker.orders.fill_recorded += inbox.on_fill
        inbox.restore()
        endpoint = SignalProcess(
            SETTINGS, self.secret, broker.journal.path, inbox.accept, broker.clock
        )
        self.inbox = inbox
        await endpoint.start(0)
        self.endpoint = endpoint

    async def _stop(self) -> None:
        endpoint, inbox = self.endpoint, self.inbox
        self.endpoint = self.inbox = None
        if endpoint is not None:
            await endpoint.stop()
        if inbox is not None:
            self.scene.broker.orders.fill_recorded -= inbox.on_fill
            await inbox.close()

    async def close(self) -> None:
        await self._stop()
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def signal_restart(self) -> None:
        """The console restarts its endpoint and inbox on the same journal; every signal it
        acknowledged before is sent again, as a sender retrying would: each must be refused."""
        if self.endpoint is None:
            return
        await self._stop()
        await self._start()
        for key, body in list(self.accepted.items()):
            await self._post(key, body, _JSON)

    # ------------------------------------------------------------- the sender's side
    def _body(
        self, side: str, quantity: int, how: str, *, stale: bool = False
    ) -> tuple[str, bytes]:
        self._numbered += 1
        key = f"chaos-{self.scene.outcome.seed}-{self._numbered}"
        body: dict[str, Any] = {
            "secret": self.secret,
            "id": key,
            "symbol": "ES1!" if self._numbered % 3 else "CME_MINI:ES1!",
            "action": side.lower(),
            "quantity": quantity,
        }
        if how == "limit":
            bid, ask = self.scene.quote(self.scene.rig.front)
            tick = self.scene.rig.front.min_tick
            body["order_type"] = "limit"
            body["price"] = str(bid - 4 * tick if side == "BUY" else ask + 4 * tick)
        now = self.scene.broker.clock.now()
        stamp = now - (SETTINGS.max_age + timedelta(seconds=30)) if stale else now
        body["time"] = stamp.isoformat().replace("+00:00", "Z")
        if stale:
            self.expired.add(f"id:{key}")
        return f"id:{key}", json.dumps(body).encode()

    async def _post(self, key: str | None, body: bytes, headers: dict[str, str]) -> int:
        endpoint, http = self.endpoint, self._http
        if endpoint is None or http is None or endpoint.url is None:
            return 0
        try:
            async with http.post(endpoint.url, data=body, headers=headers) as answer:
                status = answer.status
                await answer.read()
        except (aiohttp.ClientError, TimeoutError) as error:
            self.scene.outcome.crashes.append(f"the signal endpoint did not answer: {error!r}")
            return 0
        if key is not None:
            self.answers.setdefault(key, []).append(status)
            if status == 202:
                self.accepted.setdefault(key, body)
        return status

    async def signal(self, what: str, side: str, quantity: int, how: str) -> None:
        if self.endpoint is None:
            return
        if what == "duplicate" and self.accepted:
            key, body = next(iter(self.accepted.items()))
            await self._post(key, body, _JSON)
            return
        if what == "bad_secret":
            key, body = self._body(side, quantity, how)
            wrong = body.replace(self.secret.encode(), secrets.token_urlsafe(18).encode())
            await self._post(key, wrong, _JSON)
            return
        if what == "malformed":
            raw, headers = _MALFORMED[self._malformed % len(_MALFORMED)]
            self._malformed += 1
            body = raw.encode() if isinstance(raw, str) else raw
            body = body.replace(b"%s", self.secret.encode())
            await self._post(None, body, headers)
            return
        key, body = self._body(side, quantity, how, stale=what == "expired")
        await self._post(key, body, _JSON)

    async def signal_flood(self, count: int, seconds: float) -> None:
        """``count`` POSTs over ``seconds``: bad secrets, repeats of acknowledged signals, new
        ones (beyond the rate limit refused with 429) and malformed bodies, answered in whatever
        order they land."""
        if self.endpoint is None:
            return
        posts = []
        for number in range(count):
            kind = ("bad_secret", "duplicate", "valid", "malformed", "duplicate")[number % 5]
            posts.append(self._late(number * seconds / count, kind))
        await asyncio.gather(*posts)

    async def _late(self, after: float, kind: str) -> None:
        await asyncio.sleep(after)
        await self.signal(kind, "BUY", 1, "market")

    # ------------------------------------------------------------- the trader's click
    async def signal_send(self, pick: float, how: str) -> None:
        """The trader clicks Send on one of the inbox's signals (whatever its state)."""
        inbox = self.inbox
        if inbox is None or not inbox.entries:
            return
        entries = inbox.entries
        entry = entries[int(pick * len(entries))]
        outcome = inbox.send(entry.key)
        if isinstance(outcome, NeedsConfirmation):
            if how == "decline":
                inbox.decline(entry.key, outcome)
                return
            outcome = inbox.confirm(entry.key, outcome)
            if isinstance(outcome, NeedsConfirmation):  # asked again: the market moved
                outcome = inbox.confirm(entry.key, outcome)
        log.info("signal %s send: %s", entry.key, Scene.said(outcome))
        if isinstance(outcome, Sent) and outcome.intent is not None:
            if entry.key in self.sent or entry.key in self.expired:
                self.unsendable_orders.append(f"{entry.key} ({entry.state.value}) was sent again")
            self.sent[entry.key] = outcome.intent.key
            self.scene.traded[outcome.intent.contract.con_id] = outcome.intent.contract

    # ------------------------------------------------------------- accounting
    def states(self) -> dict[str, SignalState]:
        return {} if self.inbox is None else {e.key: e.state for e in self.inbox.entries}

    def journalled(self) -> list[str]:
        """The keys of the signal log, one per signal journalled, oldest first."""
        if self.inbox is None:
            return []
        since = self.scene.broker.clock.now() - timedelta(days=1)
        return [item.signal.key for item in self.inbox.signal_log.since(since)]
