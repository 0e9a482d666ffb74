"""The session with TWS/Gateway: connect and sync, heartbeat, reconnect, IB status messages.

``domain.health.HealthMachine`` decides; this module performs what it decides (connect, schedule
or cancel a reconnect, close the socket, resync, resubscribe) and reports back what happened. A
reconnect is a full resync: every service listens to ``synced`` and re-requests what it needs.

Events (eventkit, emitted on the loop thread; handlers must return quickly):
    health_changed(HealthSnapshot)   any change of state, reason, heartbeat round trip, farms or
                                     breaker (the age of the last message alone is not a change)
    synced(SyncInfo)                 orders, positions, executions and account are loaded
    ended(str)                       the session ended: socket lost, heartbeat gave up or disconnect;
                                     every subscription of it is dead
    data_lost(datetime)              IB dropped market data (1101, farm flap) on a live socket:
                                     resubscribe; the time is when the data stopped
    alert(str, bool)                 a sentence the trader must see now; True when critical
                                     (also a live account behind a paper port, and the reverse)
    ib_message(int, IbMessage)       every IB error or warning, classified, with its reqId
    throttled(bool)                  ib_insync started (True) or stopped (False) pacing requests
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Coroutine
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from ibconsole.broker.depth_rows import drop_stray_depth_rows
from ibconsole.broker.handler_errors import hear_client
from ibconsole.broker.handshake import HandshakeError, open_api
from ibconsole.broker.ib_client import IB, Contract, Event, RequestError
from ibconsole.broker.record_text import format_records_when_kept
from ibconsole.broker.socket_reads import slice_reads
from ibconsole.domain.clock import Clock
from ibconsole.domain.health import (
    Alert,
    AllowOrderEntry,
    BlockOrderEntry,
    BreakerReset,
    CancelReconnect,
    CloseSocket,
    Connected,
    ConnectFailed,
    ConnectRequested,
    HealthAction,
    HealthEvent,
    HealthMachine,
    HealthSettings,
    HealthSnapshot,
    HealthState,
    HeartbeatFailed,
    HeartbeatOk,
    ReconnectDue,
    Resubscribe,
    Resync,
    ScheduleReconnect,
    SocketLost,
    StartConnect,
    Synced,
    UserDisconnect,
    event_for,
)
from ibconsole.domain.ib_codes import IbCategory, classify
from ibconsole.domain.trading_mode import ModeVerdict, PortPreset, decide_mode, mask_account

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str
    port: int
    client_id: int
    account: str = ""  # "" = the only managed account, if there is exactly one
    read_only: bool = False
    # What the port is known to be beyond IB's defaults (the demo's own simulator); None: the
    # mode the port promises is IB's default for it, if any.
    preset: PortPreset | None = None


@dataclass(frozen=True, slots=True)
class SyncInfo:
    accounts: tuple[str, ...]
    account: str
    server_version: int
    mode: ModeVerdict
    resumed: bool  # True after a reconnect or 1101/1102, False for the first sync of connect()
    lost_at: datetime | None  # when the session (or IB connectivity) was lost, for gap marks
    synced_at: datetime
    sync_ms: float


class SyncError(ConnectionError):
    """Part of the initial sync did not arrive; the session is not trusted without it."""


# What the network and the client library raise when TWS/Gateway does not answer as it should:
# a reason to try again later. Anything else during a sync is a defect of the console.
NETWORK_ERRORS: tuple[type[Exception], ...] = (OSError, TimeoutError, RequestError)


class Session:
    def __init__(
        self,
        endpoint: Endpoint,
        settings: HealthSettings,
        clock: Clock,
        request_timeout: float,
        rng: random.Random | None = None,
    ) -> None:
        self.ib = IB()
        hear_client(self.ib)
        slice_reads(self.ib.client)
        drop_stray_depth_rows(self.ib)
        format_records_when_kept()
        self.clock = clock
        self.endpoint = endpoint
        self._settings = settings
        self._timeout = request_timeout
        self._machine = HealthMachine(settings, clock, rng or random.Random())
        self._events: deque[HealthEvent] = deque()
        self._handling = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._reconnect: asyncio.TimerHandle | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._closing = False  # we asked the socket to close: its disconnect is not a loss
        self._last_api_error = ""
        self._lost_at: datetime | None = None
        self._outage_since: datetime | None = None  # market data stopped (1100, a farm down)
        self._synced_once = False
        self._emitted: HealthSnapshot | None = None
        self._attempt_no = 0  # the attempt whose socket is open, for the resyncs it needs
        self._sync: SyncInfo | None = None
        self._throttled = False
        self._resyncing: asyncio.Task[None] | None = None
        self._resyncs = 0  # resyncs asked for so far; only the newest one reports
        self._unanswered: int | None = None  # the attempt whose socket has a load in arrears
        self._defect: Exception | None = None  # what stopped the session that was not the network

        self.health_changed = Event("health_changed")
        self.synced = Event("synced")
        self.ended = Event("ended")
        self.data_lost = Event("data_lost")
        self.alert = Event("alert")
        self.ib_message = Event("ib_message")
        self.throttled = Event("throttled")

        # ib_insync answers IB's 1102 by subscribing to the account summary on its own: a
        # subscription nobody here reads or cancels (IB allows two) whose future nobody awaits.
        # The resync after 1102 is this session's to do.
        self.ib.errorEvent -= self.ib._onError
        self.ib.errorEvent += self._on_ib_error
        self.ib.disconnectedEvent += self._on_disconnected
        self.ib.client.apiError += self._on_api_error
        self.ib.client.throttleStart += self._on_throttle_start
        self.ib.client.throttleEnd += self._on_throttle_end
        self.ib.updateEvent += self._on_network_data

    # ------------------------------------------------------------------ queries
    @property
    def health(self) -> HealthSnapshot:
        return self._machine.snapshot()

    @property
    def state(self) -> HealthState:
        return self._machine.state

    @property
    def sync_info(self) -> SyncInfo | None:
        """What the last successful sync found; None before the first one or after a loss."""
        return self._sync

    @property
    def lost_at(self) -> datetime | None:
        """When the session or IB's connectivity (1100) was lost; None once synced again."""
        return self._lost_at

    @property
    def is_throttled(self) -> bool:
        return self._throttled

    def order_entry_block(self) -> str:
        """Why orders cannot be sent now, or "" when they can."""
        if self._machine.order_entry_allowed and self._sync is not None:
            return ""
        snapshot = self._machine.snapshot()
        if snapshot.connectivity_lost:
            return "TWS/Gateway has lost its connection to IB (1100); orders are blocked until it returns."
        return (
            f"Orders are blocked while the connection is {snapshot.state.value}: {snapshot.reason}"
        )

    # ----------------------------------------------------------------- commands
    def set_endpoint(self, endpoint: Endpoint) -> None:
        """Point the next connect elsewhere; only while disconnected."""
        if self._machine.state is not HealthState.DISCONNECTED:
            raise RuntimeError(
                f"Disconnect before changing the connection (now {self._machine.state.value})."
            )
        self.endpoint = endpoint

    async def connect(self) -> SyncInfo:
        """Connect and sync; returns when synced, raises ConnectionError when the try fails.

        Reconnects after a failure go on in the background until ``disconnect``. While they do,
        this waits for the next one to end; with the circuit breaker open it tries at once (the
        trader asking to connect is the user action that resets the breaker).
        """
        waiter: asyncio.Future[SyncInfo] = asyncio.get_running_loop().create_future()

        def settle_synced(info: SyncInfo) -> None:
            if not waiter.done():
                waiter.set_result(info)

        def settle_failed(snapshot: HealthSnapshot) -> None:
            # A failed attempt schedules the next one; a disconnect ends the wait too.
            failed = snapshot.state is HealthState.DISCONNECTED or (
                snapshot.state in (HealthState.RECONNECTING, HealthState.CIRCUIT_OPEN)
                and snapshot.reconnect_at is not None
            )
            if failed and not waiter.done():
                defect = self._defect if snapshot.state is HealthState.DISCONNECTED else None
                waiter.set_exception(defect or ConnectionError(snapshot.reason))

        self.synced += settle_synced
        self.health_changed += settle_failed
        try:
            if self._sync is not None:
                return self._sync
            self._defect = None
            if self._machine.state is HealthState.CIRCUIT_OPEN:
                self._feed(BreakerReset())
            else:
                self._feed(ConnectRequested())
            self._ensure_heartbeat()
            return await waiter
        finally:
            self.synced -= settle_synced
            self.health_changed -= settle_failed

    async def disconnect(self) -> None:
        """Stop everything this session runs and close the socket; wins over any reconnect."""
        self._feed(UserDisconnect())
        self._synced_once = False
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            # Whatever ended the heartbeat earlier was logged then; it must not stop a disconnect.
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._heartbeat
            self._heartbeat = None
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._close_socket()

    @property
    def health_settings(self) -> HealthSettings:
        return self._settings

    def apply_health(self, settings: HealthSettings) -> None:
        """Heartbeat, reconnect backoff and breaker by ``settings`` from now on, connected or not."""
        self._settings = settings
        self._machine.apply(settings)

    def reset_breaker(self) -> None:
        self._feed(BreakerReset())

    def spawn(self, work: Coroutine[Any, Any, object], name: str) -> asyncio.Task[Any]:
        """Run background work tied to this session: cancelled on disconnect, failures logged."""
        task = asyncio.ensure_future(work)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s failed", task.get_name(), exc_info=task.exception())

    # ------------------------------------------------------- machine plumbing
    def _feed(self, event: HealthEvent) -> None:
        """Hand an event to the machine; events raised while acting are queued, never nested."""
        self._events.append(event)
        if self._handling:
            return
        self._handling = True
        try:
            while self._events:
                transition = self._machine.handle(self._events.popleft())
                for action in transition.actions:
                    self._perform(action)
                self._emit_health()
        finally:
            self._handling = False

    def _emit_health(self) -> None:
        """Emit the snapshot when anything in it changed but the ever-growing message age."""
        snapshot = self._machine.snapshot()
        comparable = replace(snapshot, heartbeat=replace(snapshot.heartbeat, last_message_age=None))
        if comparable != self._emitted:
            self._emitted = comparable
            self.health_changed.emit(snapshot)

    def _perform(self, action: HealthAction) -> None:
        match action:
            case StartConnect(attempt):
                self.spawn(self._attempt(attempt), f"connect attempt {attempt}")
            case ScheduleReconnect(at, attempt):
                self._cancel_reconnect()
                delay = max((at - self.clock.now()).total_seconds(), 0.0)
                loop = asyncio.get_running_loop()
                self._reconnect = loop.call_later(delay, self._feed, ReconnectDue(attempt))
            case CancelReconnect():
                self._cancel_reconnect()
            case CloseSocket():
                self._session_ended("closed by the console")
                self._close_socket()
            case Resync():
                self._resyncs += 1
                previous = self._resyncing
                self._resyncing = self.spawn(self._resync(previous, self._resyncs), "resync")
            case Resubscribe():
                self._data_lost()
            case BlockOrderEntry() | AllowOrderEntry():
                pass  # order_entry_block() reads the machine; health_changed tells the views
            case Alert(message, critical):
                self._alert(message, critical)

    def _alert(self, message: str, critical: bool) -> None:
        (log.error if critical else log.warning)("%s", message)
        self.alert.emit(message, critical)

    def _data_lost(self) -> None:
        since = self._outage_since or self.clock.now()
        health = self._machine.snapshot()
        if not health.broken_farms and not health.connectivity_lost:
            self._outage_since = None
        self.data_lost.emit(since)

    def _cancel_reconnect(self) -> None:
        if self._reconnect is not None:
            self._reconnect.cancel()
            self._reconnect = None

    def _close_socket(self) -> None:
        self._closing = True
        try:
            if self.ib.isConnected():
                self.ib.disconnect()
            else:
                # A handshake under way: ib_insync's IB.disconnect refuses a session whose API
                # has not started yet, the client closes it anyway.
                self.ib.client.disconnect()
        finally:
            self._closing = False

    def _session_ended(self, reason: str) -> None:
        if self._sync is not None:
            self._sync = None
            self._lost_at = self.clock.now()
            self.ended.emit(reason)

    # ---------------------------------------------------------- connect, sync
    async def _attempt(self, attempt: int) -> None:
        ep = self.endpoint
        # A new session starts from nothing: objects of the old one are dead (DESIGN.md §3).
        self.ib.wrapper.reset()
        self.ib.wrapper.clientId = ep.client_id
        self._last_api_error = ""
        try:
            await open_api(self.ib, ep.host, ep.port, ep.client_id, self._timeout)
        except HandshakeError as exc:
            self._feed(ConnectFailed(attempt, str(exc)))
            return
        self._attempt_no = attempt
        self._outage_since = None
        self._feed(Connected(attempt))

    async def _resync(self, previous: asyncio.Task[None] | None, number: int) -> None:
        """Load everything again; one load at a time, and only the newest one asked for reports
        (1102 twice while IB answers slowly asks for two)."""
        if previous is not None:
            # ib_insync files some answers by request name, not id: a second load of open or
            # completed orders on the same socket would take the first one's answers.
            await asyncio.wait([previous])
        if number != self._resyncs:
            return  # a newer resync was asked for: it loads
        attempt = self._attempt_no
        if self._unanswered == attempt:
            # A load on this socket gave up waiting and IB may answer it still, into this one.
            self._feed(ConnectFailed(attempt, "an earlier reload was not answered in time"))
            return
        started = time.perf_counter()
        try:
            info = await self._load(started)
        except NETWORK_ERRORS as exc:
            self._unanswered = attempt
            if number == self._resyncs:
                self._feed(ConnectFailed(attempt, self._describe(exc)))
            return
        except Exception as exc:
            self._stop_on_defect(exc)
            raise
        if self._machine.state is not HealthState.SYNCING or number != self._resyncs:
            return  # a disconnect, a loss or a newer resync overtook this one
        self._sync = info
        self._synced_once = True
        self._lost_at = None
        log.info(
            "synced with %s (server %s, %s) in %.0f ms",
            ", ".join(mask_account(a) for a in info.accounts),
            info.server_version,
            info.mode.mode.value,
            info.sync_ms,
        )
        self._feed(Synced(attempt))
        self.synced.emit(info)
        if info.mode.mismatch and not info.resumed:
            self._alert(info.mode.mismatch, critical=True)

    async def _load(self, started: float) -> SyncInfo:
        ib, ep = self.ib, self.endpoint
        accounts = tuple(ib.client.getAccounts())
        account = ep.account or (accounts[0] if len(accounts) == 1 else "")
        if ep.account and ep.account not in accounts:
            raise SyncError(
                f"account {mask_account(ep.account)} is not managed by this login "
                f"({', '.join(mask_account(a) for a in accounts)})"
            )
        requests: dict[str, Awaitable[object]] = {"positions": ib.reqPositionsAsync()}
        if not ep.read_only:
            # All clients' orders: working orders placed in TWS count against position limits too.
            requests["open orders"] = ib.reqAllOpenOrdersAsync()
            requests["completed orders"] = ib.reqCompletedOrdersAsync(False)
        if account:
            requests["account updates"] = ib.reqAccountUpdatesAsync(account)
        results = await asyncio.gather(
            *(asyncio.wait_for(r, self._timeout) for r in requests.values()),
            return_exceptions=True,
        )
        missing = [
            name for name, r in zip(requests, results, strict=True) if isinstance(r, BaseException)
        ]
        if missing:
            raise SyncError(f"no answer for {', '.join(missing)} within {self._timeout:g} s")
        # Executions last: fills refer to orders, which must be known by now.
        await asyncio.wait_for(ib.reqExecutionsAsync(), self._timeout)
        if not ib.client.isReady():
            raise SyncError("the socket closed during the sync")
        return SyncInfo(
            accounts=accounts,
            account=account,
            server_version=int(ib.client.serverVersion()),
            mode=decide_mode(ep.port, accounts, ep.preset),
            resumed=self._synced_once,
            lost_at=self._lost_at,
            synced_at=self.clock.now(),
            sync_ms=(time.perf_counter() - started) * 1000,
        )

    def _stop_on_defect(self, exc: Exception) -> None:
        """A defect is no flaky connection: retrying with backoff would only hide it and trip the
        breaker. The session closes, says so, and the error goes on with its traceback (to the
        caller of ``connect``, and to the log from the task)."""
        self._defect = exc
        sentence = (
            f"The connection was closed after an internal error ({type(exc).__name__}: {exc}); "
            "it is not retried. The log has the details."
        )
        self._alert(sentence, critical=True)
        self._feed(UserDisconnect(sentence))

    def _describe(self, exc: BaseException) -> str:
        if isinstance(exc, TimeoutError):
            return f"no answer within {self._timeout:g} s"
        return str(exc) or self._last_api_error or type(exc).__name__

    # -------------------------------------------------------------- heartbeat
    def _ensure_heartbeat(self) -> None:
        if self._heartbeat is None or self._heartbeat.done():
            self._heartbeat = asyncio.ensure_future(self._beat())
            self._heartbeat.set_name("heartbeat")

    async def _beat(self) -> None:
        """Runs while the console wants to be connected, whatever it believes its state is."""
        task = asyncio.current_task()
        while True:
            # Read at every beat: settings applied from the Settings dialog count from the next.
            interval = self._settings.heartbeat_interval.total_seconds()
            timeout = self._settings.heartbeat_timeout.total_seconds()
            await asyncio.sleep(interval)
            if task is not None and task.cancelling():
                # A cancel that raced an answer can be swallowed on Python 3.11; it still counts.
                raise asyncio.CancelledError
            if self._machine.state not in (HealthState.CONNECTED, HealthState.DEGRADED):
                continue
            if self._throttled:
                # ib_insync is pacing a burst of requests: a heartbeat would wait in that queue
                # and its lateness would say nothing about TWS, only about the burst.
                continue
            if not self.ib.isConnected():
                self._feed(HeartbeatFailed("the socket is not connected"))
                continue
            sent = time.perf_counter()
            try:
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow the cancel
                # of this task when the answer arrives at the same moment, and a disconnect
                # waiting for the heartbeat to stop would then wait forever.
                async with asyncio.timeout(timeout):
                    await self.ib.reqCurrentTimeAsync()
            except TimeoutError:
                self._feed(HeartbeatFailed(f"no answer within {timeout:g} s"))
            except ConnectionError as exc:
                self._feed(HeartbeatFailed(str(exc) or "connection error"))
            else:
                self._feed(HeartbeatOk(timedelta(seconds=time.perf_counter() - sent)))

    # ----------------------------------------------------------- ib_insync in
    def _on_ib_error(self, req_id: int, code: int, message: str, contract: Contract | None) -> None:
        classified = classify(code, message)
        self.ib_message.emit(req_id, classified)
        event = event_for(classified)
        if event is not None:
            if classified.category is IbCategory.CONNECTIVITY_LOST:
                self._lost_at = self.clock.now()
            if classified.category in (IbCategory.CONNECTIVITY_LOST, IbCategory.FARM_BROKEN):
                self._outage_since = self._outage_since or self.clock.now()
            self._feed(event)

    def _on_api_error(self, message: str) -> None:
        self._last_api_error = message

    def _on_disconnected(self) -> None:
        # ib_insync drops its queue of paced requests with the socket, without saying so: the
        # pacing is over, and the heartbeat must not keep waiting for it to end.
        if self._throttled:
            self._on_throttle_end()
        if self._closing:
            return
        reason = (self._last_api_error or "the connection closed").rstrip(".")
        self._session_ended(reason)
        self._feed(SocketLost(reason))

    def _on_throttle_start(self) -> None:
        self._throttled = True
        self.throttled.emit(True)

    def _on_throttle_end(self) -> None:
        self._throttled = False
        self.throttled.emit(False)

    def _on_network_data(self) -> None:
        self._machine.heartbeat.record_message(self.clock.now())
