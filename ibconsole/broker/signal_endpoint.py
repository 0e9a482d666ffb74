"""The signal inbox's HTTP endpoint: ``POST /signals`` on loopback, served by aiohttp on a thread of
its own with its own event loop. The console runs it in a process of its own (``signal_child``,
started and supervised by ``signal_process``), where ``accept`` sends each signal to the console.

It answers at once and never waits for the market, the window or the trader (TradingView gives
up after 3 s): 202 once the signal is journalled (on the endpoint's own connection to the
journal), 401 when the secret is missing or wrong (compared in constant time), 400 with the
reason for anything unusable (a body it cannot decode among it), 408 for a body that does not
arrive in full within ``idle_timeout``, 409 for a key already journalled (also from before a
restart, and whatever the rate), 413 for a body over ``max_body_bytes`` and 429 beyond
``max_per_minute`` accepted signals. Nothing it receives sends an order.

Why a thread: on the console's loop a 202 waited for whatever the loop was busy with (a paint, a
slice of market data: p99 197 ms at 5,000 ticks/s), and every refused request cost that loop a
JSON decode and a compare. Here authentication, parsing, the rate, duplicates and the journal all
happen on the endpoint's thread; an accepted signal, an immutable ``Signal``, is handed to
``accept`` on the loop that started the endpoint (``call_soon_threadsafe``, queued before the 202
leaves), and a refused request never reaches that loop at all. The thread keeps the answers off
the loop of the process it runs in, the process keeps its CPU off the console's.

A connection carries one request, and one that sends no complete request within
``idle_timeout`` is closed: a client that trickles, stalls or never finishes holds a socket of
the console for seconds, not for the hour aiohttp's own runner would give it.

Refusals are counted, and logged at most once per ``_REFUSAL_LOG_SECONDS``: a flood of bad
requests costs a JSON decode and a compare each, never a log line each.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hmac
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any, Final

from aiohttp import hdrs, web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

from ibconsole.broker.content_encoding import BodyTooLarge, BodyUnreadable, decoded_body
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
THREAD_NAME: Final = "signal endpoint"


class SignalEndpoint:
    """``POST /signals`` → the journal → ``accept(signal)``; ``await start()``, ``await stop()``.

    ``accept`` runs on the loop that called ``start``; everything else on the endpoint's thread,
    which ``stop`` ends and joins."""

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
        self._home: asyncio.AbstractEventLoop | None = None  # where ``accept`` runs
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # the endpoint thread's
        self._stopping: asyncio.Event | None = None  # set on the endpoint thread's loop
        self._finished: concurrent.futures.Future[None] | None = None
        self._port: int | None = None
        self._counting = threading.Lock()  # the counts are read from other threads
        self._refusals: Counter[int] = Counter()
        self._refusals_logged_at = 0.0
        # aiohttp answers bytes that are not HTTP with 400 itself and logs each at ERROR with a
        # traceback; those are counted with the other refusals instead (a flood of garbage must
        # not flood the log). Anything else it logs, an error of ours among it, passes.
        self._server_log = _ServerLog(log.getChild("http"), self._count)

    @property
    def port(self) -> int | None:
        """The port it listens on, else None."""
        return self._port

    @property
    def url(self) -> str | None:
        """``http://127.0.0.1:PORT/signals`` while listening, else None."""
        return f"http://{HOST}:{self._port}{PATH}" if self._port is not None else None

    def set_secret(self, secret: str | None) -> None:
        """Use ``secret`` from the next request on (read once from the keyring, not per request:
        a keyring lookup can take the loop milliseconds). One reference is replaced at once, so
        a request on the endpoint's thread sees the old secret or the new one."""
        self._secret = secret.encode("utf-8") if secret else None

    def apply(self, settings: SignalSettings) -> None:
        """Use ``settings`` from the next request on: the rate (the signals accepted within the
        last minute still count), the symbols and the body's limit (up to the one the endpoint
        started with: a larger one needs a new start). Applied on the endpoint's thread while
        it runs, so a request in hand sees the old settings or the new ones, never a mix."""
        loop = self._loop
        if self._thread is not None and loop is not None:
            loop.call_soon_threadsafe(self._use, settings)
        else:
            self._use(settings)

    def _use(self, settings: SignalSettings) -> None:
        if settings.max_per_minute != self._settings.max_per_minute:
            self._accepted = self._accepted.resized(settings.max_per_minute)
        self._settings = settings

    @property
    def refusals(self) -> Counter[int]:
        """Refused requests so far, by answer code (a copy)."""
        with self._counting:
            return Counter(self._refusals)

    async def start(self, port: int) -> None:
        """Listen on loopback at ``port`` (0: a free port, see ``url``) on the endpoint's own
        thread; returns once it listens, raises ``OSError`` when it cannot."""
        if self._thread is not None:
            return
        self._home = asyncio.get_running_loop()
        started: concurrent.futures.Future[int] = concurrent.futures.Future()
        finished: concurrent.futures.Future[None] = concurrent.futures.Future()
        thread = threading.Thread(
            target=self._serve, args=(port, started, finished), name=THREAD_NAME, daemon=True
        )
        thread.start()
        try:
            self._port = await asyncio.wrap_future(started)
        except BaseException:
            await asyncio.wrap_future(finished)
            thread.join()
            raise
        self._thread, self._finished = thread, finished
        log.info("signal endpoint listening on %s", self.url)

    async def stop(self) -> None:
        """Close the port, let the requests in hand finish (for at most a second), end the
        endpoint's thread and join it."""
        thread, finished, loop, stopping = self._thread, self._finished, self._loop, self._stopping
        self._thread = self._finished = None
        self._port = None
        if thread is None or finished is None or loop is None or stopping is None:
            return
        loop.call_soon_threadsafe(stopping.set)
        await asyncio.wrap_future(finished)
        thread.join()  # it has returned from its work: this waits for nothing more
        log.info("signal endpoint stopped")

    # ------------------------------------------------------------------ the endpoint's thread
    def _serve(
        self,
        port: int,
        started: concurrent.futures.Future[int],
        finished: concurrent.futures.Future[None],
    ) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._log.attach_thread()
            loop.run_until_complete(self._listen_until_stopped(port, started))
        except BaseException as error:
            if started.done():
                log.exception("the signal endpoint failed")
            else:
                started.set_exception(error)
        finally:
            self._log.detach_thread()
            loop.close()
            finished.set_result(None)

    async def _listen_until_stopped(
        self, port: int, started: concurrent.futures.Future[int]
    ) -> None:
        self._stopping = asyncio.Event()
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
            # The whole body first, decoded after (content_encoding.py): a body that does not
            # decode is answered once the sender has finished writing it.
            auto_decompress=False,
            # what is left of a refused body is read and dropped for as long, not 10 s
            lingering_time=self._idle_timeout,
            logger=self._server_log,
        )
        await runner.setup()
        try:
            await web.TCPSite(runner, HOST, port).start()
            started.set_result(int(runner.addresses[0][1]))
            await self._stopping.wait()
        finally:
            await runner.cleanup()

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
        except RequestPayloadError as error:  # chunks that are not HTTP's, say
            return self._refuse(400, f"the body cannot be read: {_first_line(error)}")
        except ConnectionError:
            # The sender left before its body arrived: nobody to answer, nothing to log each time.
            return self._refuse(400, "the sender closed the connection before its body arrived")
        try:
            encoding = request.headers.get(hdrs.CONTENT_ENCODING)
            raw = decoded_body(raw, encoding, self._settings.max_body_bytes)
        except BodyTooLarge:
            return self._refuse(413, f"the body is over {self._settings.max_body_bytes} bytes")
        except BodyUnreadable as unreadable:
            return self._refuse(400, f"the body cannot be read: {unreadable}")
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
        self._hand_over(signal)
        return _answer(202, "queued", "waiting in the inbox for a trader", key=signal.key)

    def _hand_over(self, signal: Signal) -> None:
        """Queue ``accept(signal)`` on the console's loop; the journal has it whatever happens."""
        home = self._home
        if home is not None:
            try:
                home.call_soon_threadsafe(self._accept, signal)
                return
            except RuntimeError:  # the console's loop is closed: it is shutting down
                pass
        log.warning("signal %s is journalled; the inbox shows it at the next start", signal.key)

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
        with self._counting:
            self._refusals[status] += 1
        now = self._monotonic()
        if now - self._refusals_logged_at >= _REFUSAL_LOG_SECONDS:
            self._refusals_logged_at = now
            counts = ", ".join(f"{code}: {n}" for code, n in sorted(self.refusals.items()))
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
