"""Exchange calendars are read in a process of their own: the same readings as the domain's,
never exchange_calendars (or pandas) in the console's process, a dead reading process replaced,
and a cancelled caller does not cancel a reading others wait for."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
from datetime import date

import pytest

from ibconsole.broker.calendars import ExchangeCalendars
from ibconsole.domain.sessions import business_calendar, calendar_around


async def test_readings_are_the_domain_s_own() -> None:
    calendars = ExchangeCalendars()
    try:
        days = await calendars.business_calendar("XNYS", date(2026, 1, 1), date(2026, 12, 31))
        week = await calendars.sessions_around("CMES", date(2026, 12, 24))
    finally:
        calendars.close()
    assert days == business_calendar("XNYS", date(2026, 1, 1), date(2026, 12, 31))
    assert date(2026, 12, 25) in days.holidays
    assert week == calendar_around("CMES", date(2026, 12, 24))


async def test_an_unknown_calendar_is_a_clear_error_and_known_once() -> None:
    calendars = ExchangeCalendars()
    try:
        with pytest.raises(ValueError, match="no calendar named 'GLOBEX'"):
            await calendars.sessions_around("GLOBEX", date(2026, 12, 4))
        assert calendars.sessions_if_read("GLOBEX", date(2026, 12, 4)) is None
    finally:
        calendars.close()


async def test_sessions_if_read_starts_the_reading_and_answers_once_it_is_done() -> None:
    calendars = ExchangeCalendars()
    try:
        assert calendars.sessions_if_read("CMES", date(2026, 7, 1)) is None
        week = await calendars.sessions_around("CMES", date(2026, 7, 1))  # the same reading
        assert calendars.sessions_if_read("CMES", date(2026, 7, 1)) is week
    finally:
        calendars.close()


@pytest.mark.expect_log_warnings  # the dead process is logged
async def test_a_killed_reading_process_is_replaced() -> None:
    calendars = ExchangeCalendars()
    try:
        await calendars.sessions_around("CMES", date(2026, 3, 2))
        before = set(multiprocessing.active_children())
        assert before, "the reading process runs beside the console"
        for child in before:
            assert child.pid is not None
            os.kill(child.pid, signal.SIGKILL)
        days = await calendars.business_calendar("XNYS", date(2027, 1, 1), date(2027, 12, 31))
        assert date(2027, 12, 24) in days.holidays  # Christmas on a Saturday, observed Friday
        assert set(multiprocessing.active_children()).isdisjoint(before)
    finally:
        calendars.close()


async def test_a_cancelled_caller_leaves_the_reading_to_the_others() -> None:
    calendars = ExchangeCalendars()
    try:
        first = asyncio.ensure_future(calendars.sessions_around("CMES", date(2026, 5, 4)))
        second = asyncio.ensure_future(calendars.sessions_around("CMES", date(2026, 5, 4)))
        await asyncio.sleep(0)
        first.cancel()
        week = await second
        assert week.covers_from.date() <= date(2026, 5, 1)
        assert first.cancelled()
    finally:
        calendars.close()


def test_the_console_process_never_imports_exchange_calendars() -> None:
    script = textwrap.dedent(
        """
        import asyncio, sys
        from datetime import date
        import ibconsole.app
        from ibconsole.broker.calendars import ExchangeCalendars

        async def read():
            calendars = ExchangeCalendars()
            days = await calendars.business_calendar("XNYS", date(2026, 1, 1), date(2026, 12, 31))
            calendars.close()
            return days

        assert date(2026, 7, 3) in asyncio.run(read()).holidays
        loaded = sorted(m for m in ("exchange_calendars", "pandas") if m in sys.modules)
        print(",".join(loaded) or "none")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=90, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "none"
