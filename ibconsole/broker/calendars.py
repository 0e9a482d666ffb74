"""Exchange calendars, read in a process of their own.

Building an exchange_calendars calendar costs tens of milliseconds to a second (pandas evaluates
every holiday rule over the range), and importing the library half a second more; a held loop
misses heartbeats and delays clicks. A worker thread is no way out: pandas imports modules
lazily inside its functions, and PySide6's import hook crashed the process when entered from a
second thread. So one child process, started on first use with nothing of Qt running in it,
reads every calendar (``domain.sessions`` does the reading); the readings, plain frozen
dataclasses, are kept here for the life of the process, shared by every broker. A child that
dies is replaced on the next reading; a child whose console dies, however it dies, ends too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import multiprocessing.util
import os
import sys
import threading
import types
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import date
from typing import Any, TypeVar

from ibconsole.domain.sessions import (
    BusinessCalendar,
    TradingSessions,
    business_calendar,
    calendar_around,
)

log = logging.getLogger(__name__)

_T = TypeVar("_T")


class ExchangeCalendars:
    """Business calendars and session schedules, each read once, never on the caller's thread."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self._readings: dict[tuple[object, ...], Future[Any]] = {}
        self._told: set[tuple[object, ...]] = set()  # failed readings already logged

    async def business_calendar(self, name: str, first: date, last: date) -> BusinessCalendar:
        """The business days of calendar ``name`` over at least ``first``..``last``: a reading
        that covers the range is used whole (ValueError for a calendar exchange_calendars does
        not know)."""
        first, last = self._covering(name, first, last)
        return await self._read(business_calendar, name, first, last)

    def read_ahead(self, sessions: Iterable[str], business: Iterable[str], today: date) -> None:
        """Start reading what the console will ask for first: the sessions of ``sessions``
        around ``today``, and the business days of ``business`` from the start of last year to
        the end of the year after next (every quarterly family's listed months fit in it)."""
        for name in sessions:
            self._reading(calendar_around, name, today)
        first, last = date(today.year - 1, 1, 1), date(today.year + 2, 12, 31)
        for name in business:
            self._reading(business_calendar, name, first, last)

    async def sessions_around(self, name: str, today: date) -> TradingSessions:
        """The sessions of calendar ``name`` from three days before ``today`` to a week after."""
        return await self._read(calendar_around, name, today)

    def sessions_if_read(self, name: str, today: date) -> TradingSessions | None:
        """The sessions around ``today`` if already read; otherwise None, and the reading starts
        so a later ask finds them. None too when the calendar cannot be read (logged once)."""
        key = (calendar_around, name, today)
        future = self._reading(calendar_around, name, today)
        if not future.done():
            return None
        error = future.exception()
        if error is None:
            sessions: TradingSessions = future.result()
            return sessions
        if key not in self._told:
            self._told.add(key)
            log.info("no %s calendar sessions around %s: %s", name, today, error)
        return None

    def _covering(self, name: str, first: date, last: date) -> tuple[date, date]:
        """The range of a business-day reading of ``name``, done or under way and not failed,
        that covers ``first``..``last``; else that range itself."""
        for key, future in self._readings.items():
            match key:
                case (read, str(), date() as start, date() as end) if (
                    read is business_calendar and key[1] == name and start <= first <= last <= end
                ):
                    if not (future.done() and future.exception() is not None):
                        return start, end
        return first, last

    def close(self) -> None:
        """Stop the reading process without waiting for it (at the console's exit)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    async def _read(self, read: Callable[..., _T], *args: object) -> _T:
        try:
            # Shielded: a caller cancelled must not cancel a reading others wait for.
            return await asyncio.shield(asyncio.wrap_future(self._reading(read, *args)))
        except BrokenProcessPool:
            # The process died under this reading (killed, out of memory): once more, anew.
            return await asyncio.shield(asyncio.wrap_future(self._reading(read, *args)))

    def _reading(self, read: Callable[..., _T], *args: object) -> Future[_T]:
        key = (read, *args)
        future = self._readings.get(key)
        lost = future is not None and future.done() and _lost(future)
        if future is None or lost:
            future = self._submit(read, *args)
            self._readings[key] = future
        return future

    def _submit(self, read: Callable[..., _T], *args: object) -> Future[_T]:
        for _ in range(2):
            if self._pool is None:
                # spawn, never fork: a forked copy of a process running Qt threads can deadlock.
                context = multiprocessing.get_context("spawn")
                self._pool = ProcessPoolExecutor(
                    max_workers=1, mp_context=context, initializer=_end_with_parent
                )
                # Stopped, and waited for, before multiprocessing joins this process's children
                # at its exit: where this process is itself a multiprocessing child (a
                # benchmark's console) no atexit handler would tell the reading process to end,
                # and the join would wait for it forever. Before the queues' own finalizers
                # (priority 10), which would stop the pool's feeder before its last message.
                multiprocessing.util.Finalize(
                    None,
                    self._pool.shutdown,
                    kwargs={"wait": True, "cancel_futures": True},
                    exitpriority=100,
                )
            try:
                with _main_module_hidden():
                    return self._pool.submit(read, *args)
            except BrokenProcessPool:
                log.warning("the calendar reading process died: starting another")
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None
        raise BrokenProcessPool("the calendar reading process could not be started twice")


@contextlib.contextmanager
def _main_module_hidden() -> Iterator[None]:
    """Start the reading process without the console's main module.

    A spawned child re-runs the parent's main script (``bin/ibconsole``, a benchmark) first, to
    find functions pickled from it; here that would import all of Qt and the window before the
    first calendar. The readings live in ``domain.sessions``, so the child is given an empty
    main module instead. The process starts inside ``submit``, on this thread.
    """
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


def _end_with_parent() -> None:
    """First thing in the reading process: end it when the console's process ends.

    A console killed (SIGKILL, a crash) runs none of its exit handlers, and the reading process
    waits on a queue whose write end it holds itself, so it would never see its parent go; it
    and multiprocessing's resource tracker would outlive the console. The parent's sentinel is
    ready once the parent has gone, however it went."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch(sentinel: int) -> None:
        multiprocessing.connection.wait([sentinel])
        os._exit(0)  # nothing left to answer: the futures died with the console

    threading.Thread(
        target=watch, args=(parent.sentinel,), name="console-watch", daemon=True
    ).start()


def _lost(future: Future[Any]) -> bool:
    """Did this reading fail because its process died (so reading again may work)?"""
    return future.cancelled() or isinstance(future.exception(), BrokenProcessPool)


# One reading process for the whole console: calendars do not depend on the connection.
EXCHANGE_CALENDARS = ExchangeCalendars()
