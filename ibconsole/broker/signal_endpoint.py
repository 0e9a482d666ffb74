"""The signal inbox's HTTP endpoint: ``POST /signals`` on loopback, served by aiohttp on the
console's own event loop.

It answers at once and never waits for the market or the trader (TradingView gives up after
3 s): 202 once the signal is journalled and queued in the inbox, 401 when the secret is missing
or wrong (compared in constant time), 400 with the reason for anything unusable (a body it
cannot decode among it), 408 for a body that does not arrive in full within ``idle_timeout``,
409 for a key already journalled (also from before a restart, and whatever the rate), 413 for a
body over ``max_body_bytes`` and 429 beyond ``max_per_minute`` accepted signals. Nothing it
receives sends an order.

A connection carries one request, and one that sends no complete request within
``idle_timeout`` is closed: a client that trickles, stalls or never finishes holds a socket of
the console for seconds, not for the hour aiohttp's own runner would give it.

Refusals are counted, and logged at most once per ``_REFUSAL_LOG_SECONDS``: a flood of bad
requests costs the loop a JSON decode and a compare each, never a log line each.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any, Final

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

from ibconsole.domain.clock import Clock
from ibconsole.domain.signals import (
    SECRET_FIELD,
    RateWindow,
    Signal,
    SignalInvalid,
    SignalSettings,
    parse_signal,
    parse_symbol,
)
from ibconsole.journal.errors import JournalError
from ibconsole.journal.signal_log import SignalLog

log = logging.getLogger(__name__)

HOST: Final = "127.0.0.1"  # loopback only: a reverse proxy in front carries TLS (README)
PATH: Final = "/signals"
_REFUSAL_LOG_SECONDS = 10.0
# TradingView gives up on an answer after 3 s: a request not in within this is not coming.
IDLE_TIMEOUT: Final = 5.0


class SignalEndpoint:
    """``POST /signals`` → the journal → ``accept(signal)``; start with ``await start()``."""

    def __init__(
        self,
        settings: SignalSettings,
        secret: str | None,
        signal_log: SignalLog,
        accept: Callable[[Signal], None],
        clock: Clock,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        idle_timeout: float = IDLE_TIMEOUT,
    ) -> None:
        self._settings = settings
        self._idle_timeout = idle_timeout
        self._secret = secret.encode("utf-8") if secret else None
        self._log = signal_log
        self._accept = accept
        self._clock = clock
        self._monotonic = monotonic
        self._accepted = RateWindow(settings.max_per_minute)
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._refusals: Counter[int] = Counter()
        self._refusals_logged_at = 0.0
        # aiohttp answers bytes that are not HTTP with 400 itself and logs each at ERROR with a
        # traceback; those are counted with the other refusals instead (a flood of garbage must
        # not flood the log). Anything else it logs, an error of ours among it, passes.
        self._server_log = _ServerLog(log.getChild("http"), self._count)

    @property
    def url(self) -> str | None:
        """``http://127.0.0.1:PORT/signals`` while listening, else None."""
        return f"http://{HOST}:{self._port}{PATH}" if self._port is not None else None

    def set_secret(self, secret: str | None) -> None:
        """Use ``secret`` from the next request on (read once from the keyring, not per request:
        a keyring lookup can take the loop milliseconds)."""
        self._secret = secret.encode("utf-8") if secret else None

    @property
    def refusals(self) -> Counter[int]:
        """Refused requests so far, by answer code."""
        return self._refusals

    async def start(self, port: int) -> None:
        """Listen on loopback at ``port`` (0: a free port, see ``url``)."""
        if self._runner is not None:
            return
        app = web.Application(
            client_max_size=self._settings.max_body_bytes, middlewares=[_one_request_per_connection]
        )
        app.router.add_post(PATH, self._handle)
        # No access log: a request line is the sender's to fill, and a flood would fill the log.
        runner = web.AppRunner(
            app,
            access_log=None,
            handle_signals=False,
            shutdown_timeout=1.0,
            keepalive_timeout=self._idle_timeout,
            # what is left of a refused body is read and dropped for as long, not 10 s
            lingering_time=self._idle_timeout,
            logger=self._server_log,
        )
        await runner.setup()
        site = web.TCPSite(runner, HOST, port)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        address = runner.addresses[0]
        self._port = int(address[1])
        log.info("signal endpoint listening on %s", self.url)

    async def stop(self) -> None:
        runner, self._runner, self._port = self._runner, None, None
        if runner is not None:
            await runner.cleanup()
            log.info("signal endpoint stopped")

    async def _handle(self, request: web.Request) -> web.Response:
        length = request.content_length
        if length is not None and length > self._settings.max_body_bytes:
            return self._refuse(413, f"the body is over {self._settings.max_body_bytes} bytes")
        if request.content_type != "application/json":
            return self._refuse(400, "Content-Type must be application/json")
        try:
            async with asyncio.timeout(self._idle_timeout):
                raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return self._refuse(413, f"the body is over {self._settings.max_body_bytes} bytes")
        except TimeoutError:
            return self._refuse(408, f"the body did not arrive within {self._idle_timeout:g} s")
        except RequestPayloadError as error:  # a Content-Encoding that does not decode, say
            return self._refuse(400, f"the body cannot be read: {_first_line(error)}")
        except ConnectionError:
            # The sender left before its body arrived: nobody to answer, nothing to log each time.
            return self._refuse(400, "the sender closed the connection before its body arrived")
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):
            return self._refuse(400, "the body is not valid JSON")
        if not isinstance(body, dict):
            return self._refuse(400, "the body must be a JSON object")
        if not self._secret_matches(body.get(SECRET_FIELD)):
            return self._refuse(401, "the secret is missing or wrong")
        now = self._clock.now()
        try:
            signal = parse_signal(body, now)
            parse_symbol(signal.symbol, self._settings.symbols)
        except SignalInvalid as invalid:
            return self._refuse(400, str(invalid))
        # Only accepted signals count against the rate: a repeat of one already received is
        # answered 409 however many came this minute, and uses up none of the allowance.
        moment = self._monotonic()
        try:
            if not self._accepted.has_room(moment):
                if self._log.known(signal.key):
                    return self._refuse(409, f"{signal.key} was already received")
                return self._refuse(
                    429, f"more than {self._settings.max_per_minute} signals in a minute"
                )
            new = self._log.record(signal)
        except JournalError as error:
            log.error("signal %s not journalled, so not accepted: %s", signal.key, error)
            return _answer(503, "refused", "the console could not journal the signal; retry")
        if not new:
            return self._refuse(409, f"{signal.key} was already received")
        self._accepted.admit(moment)
        log.info("signal %s accepted: %s", signal.key, signal.summary)
        self._accept(signal)
        return _answer(202, "queued", "waiting in the inbox for a trader", key=signal.key)

    def _secret_matches(self, given: object) -> bool:
        expected = self._secret
        if expected is None or not isinstance(given, str):
            return False
        # Constant time: how much of a guess matches must not show in how long the answer takes.
        return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected)

    def _refuse(self, status: int, reason: str) -> web.Response:
        self._count(status, reason)
        return _answer(status, "refused", reason)

    def _count(self, status: int, reason: str) -> None:
        self._refusals[status] += 1
        now = self._monotonic()
        if now - self._refusals_logged_at >= _REFUSAL_LOG_SECONDS:
            self._refusals_logged_at = now
            counts = ", ".join(f"{code}: {n}" for code, n in sorted(self._refusals.items()))
            log.info(
                "signal endpoint refused a request (%s: %s); refusals so far %s",
                status,
                reason,
                counts,
            )


@web.middleware
async def _one_request_per_connection(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Every answer closes its connection (``Connection: close``). A kept-alive connection can
    be closed by the idle timeout just as its client reuses it for the next signal (a reset,
    the signal lost to a sender that does not retry), and an answer given before the body was
    read (404, 405, 413, a body that does not decode) would leave the rest of that body in the
    way of the next request. Signals come seconds apart: a connection each costs nothing."""
    try:
        response = await handler(request)
    except web.HTTPException as refused:
        refused.force_close()
        raise
    response.force_close()
    return response


def _first_line(error: BaseException) -> str:
    """aiohttp's error text without its status prefix and continuation lines."""
    cause = error.__cause__
    text = getattr(cause, "message", "") or str(error)
    return text.strip().splitlines()[0] if text.strip() else type(error).__name__


def _answer(status: int, word: str, reason: str, **extra: str) -> web.Response:
    return web.json_response({"status": word, "reason": reason, **extra}, status=status)


class _ServerLog(logging.LoggerAdapter[logging.Logger]):
    """aiohttp's server log for one endpoint: malformed requests counted, the rest logged."""

    def __init__(self, logger: logging.Logger, count: Callable[[int, str], None]) -> None:
        super().__init__(logger, {})
        self._count_refusal = count

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        error = kwargs.get("exc_info")
        if isinstance(error, HttpProcessingError):
            self._count_refusal(error.code or 400, f"not HTTP: {error.message}")
            return
        if isinstance(error, RequestPayloadError):
            # The rest of a body that does not decode, met again as aiohttp drains it after the
            # handler answered 400: counted there already.
            return
        super().log(level, msg, *args, **kwargs)
