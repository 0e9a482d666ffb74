"""Exchange calendars are read in a process of their own: the same readings as the domain's,
never exchange_calendars (or pandas) in the console's process, a dead reading process replaced,
a cancelled caller does not cancel a reading others wait for, and a killed console leaves no
reading process behind."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import select
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest

from ibconsole.broker.calendars import ExchangeCalendars
from ibconsole.domain.sessions import business_calendar, calendar_around


@pytest.fixture(scope="module")
def calendars() -> Iterator[ExchangeCalendars]:
    """One reading process for the tests that need no fresh one (each takes a second to start)."""
    shared = ExchangeCalendars()
    yield shared
    shared.close()


async def test_readings_are_the_domain_s_own(calendars: ExchangeCalendars) -> None:
    days = await calendars.business_calendar("XNYS", date(2026, 1, 1), date(2026, 12, 31))
    week = await calendars.sessions_around("CMES", date(2026, 12, 24))
    assert days == business_calendar("XNYS", date(2026, 1, 1), date(2026, 12, 31))
    assert date(2026, 12, 25) in days.holidays
    assert week == calendar_around("CMES", date(2026, 12, 24))


async def test_an_unknown_calendar_is_a_clear_error_and_known_once(
    calendars: ExchangeCalendars,
) -> None:
    with pytest.raises(ValueError, match="no calendar named 'GLOBEX'"):
        await calendars.sessions_around("GLOBEX", date(2026, 12, 4))
    assert calendars.sessions_if_read("GLOBEX", date(2026, 12, 4)) is None


async def test_sessions_if_read_starts_the_reading_and_answers_once_it_is_done(
    calendars: ExchangeCalendars,
) -> None:
    assert calendars.sessions_if_read("CMES", date(2026, 7, 1)) is None
    week = await calendars.sessions_around("CMES", date(2026, 7, 1))  # the same reading
    assert calendars.sessions_if_read("CMES", date(2026, 7, 1)) is week


@pytest.mark.expect_log_warnings  # the dead process is logged
async def test_a_killed_reading_process_is_replaced() -> None:
    others = set(multiprocessing.active_children())  # other tests' reading processes
    calendars = ExchangeCalendars()
    try:
        await calendars.sessions_around("CMES", date(2026, 3, 2))
        (mine,) = set(multiprocessing.active_children()) - others
        assert mine.pid is not None
        os.kill(mine.pid, signal.SIGKILL)
        days = await calendars.business_calendar("XNYS", date(2027, 1, 1), date(2027, 12, 31))
        assert date(2027, 12, 24) in days.holidays  # Christmas on a Saturday, observed Friday
        (replacement,) = set(multiprocessing.active_children()) - others
        assert replacement.pid != mine.pid
    finally:
        calendars.close()


async def test_a_cancelled_caller_leaves_the_reading_to_the_others(
    calendars: ExchangeCalendars,
) -> None:
    first = asyncio.ensure_future(calendars.sessions_around("CMES", date(2026, 5, 4)))
    second = asyncio.ensure_future(calendars.sessions_around("CMES", date(2026, 5, 4)))
    await asyncio.sleep(0)
    first.cancel()
    week = await second
    assert week.covers_from.date() <= date(2026, 5, 1)
    assert first.cancelled()


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


async def test_a_reading_ahead_serves_every_range_it_covers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calendars = ExchangeCalendars()
    submitted: list[tuple[object, ...]] = []
    submit = calendars._submit

    def counted(read: Callable[..., object], *args: object) -> object:
        submitted.append((read.__name__, *args))
        return submit(read, *args)

    monkeypatch.setattr(calendars, "_submit", counted)
    try:
        calendars.read_ahead(["CMES"], ["XNYS"], date(2026, 12, 4))
        es = await calendars.business_calendar("XNYS", date(2026, 1, 1), date(2027, 12, 31))
        cl = await calendars.business_calendar("XNYS", date(2026, 1, 1), date(2028, 12, 31))
        later = await calendars.business_calendar("XNYS", date(2026, 1, 1), date(2034, 12, 31))
        assert calendars.sessions_if_read("CMES", date(2026, 12, 4)) is not None
    finally:
        calendars.close()
    assert es is cl
    assert (es.first, es.last) == (date(2025, 1, 1), date(2028, 12, 31))
    assert (later.first, later.last) == (date(2026, 1, 1), date(2034, 12, 31))
    assert submitted == [
        ("calendar_around", "CMES", date(2026, 12, 4)),
        ("business_calendar", "XNYS", date(2025, 1, 1), date(2028, 12, 31)),
        ("business_calendar", "XNYS", date(2026, 1, 1), date(2034, 12, 31)),
    ]


def test_a_multiprocessing_child_with_a_reading_process_still_exits(tmp_path: Path) -> None:
    # A benchmark runs its console in such a child; its exit joined the reading process forever.
    script = tmp_path / "child.py"
    script.write_text(
        textwrap.dedent(
            """
            import asyncio
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor
            from datetime import date

            from ibconsole.broker.calendars import ExchangeCalendars


            def read_in_a_child():
                calendars = ExchangeCalendars()
                first, last = date(2026, 1, 1), date(2026, 12, 31)
                days = asyncio.run(calendars.business_calendar("XNYS", first, last))
                return len(days.holidays)


            if __name__ == "__main__":
                context = multiprocessing.get_context("spawn")
                with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
                    print(pool.submit(read_in_a_child).result())
            """
        )
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "10"  # the NYSE's holidays of 2026


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="waits on the process with a pidfd")
def test_a_killed_console_leaves_no_reading_process_behind(tmp_path: Path) -> None:
    script = tmp_path / "console.py"
    script.write_text(
        textwrap.dedent(
            """
            import asyncio
            import multiprocessing
            import sys
            from datetime import date

            from ibconsole.broker.calendars import ExchangeCalendars

            if __name__ == "__main__":
                calendars = ExchangeCalendars()
                asyncio.run(calendars.sessions_around("CMES", date(2026, 3, 2)))
                (reader,) = multiprocessing.active_children()
                print(reader.pid, flush=True)
                sys.stdin.read()  # held until the test kills it
            """
        )
    )
    with subprocess.Popen(
        [sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as console:
        assert console.stdout is not None
        reader = int(console.stdout.readline())
        watch = os.pidfd_open(reader)
        try:
            console.kill()  # no exit handler of the console runs
            console.wait(timeout=30)
            ready, _, _ = select.select([watch], [], [], 30)
            assert ready == [watch], "the reading process outlived its console"
        finally:
            os.close(watch)
