"""Trading sessions and exchange business days.

When a market is open comes from IB's ``tradingHours``/``liquidHours`` strings first and from an
exchange_calendars calendar as the fallback; the two can be cross-checked. The business days that
expiry rules count come from an exchange calendar too.

Reading an exchange_calendars calendar costs tens of milliseconds to a second, and importing
the library (and pandas) half a second more: the console reads calendars in a process of its own
(``broker.calendars``), never on the loop's thread. Each schedule and business calendar is built
once per calendar and range, and the ranges asked for follow the day.
"""

from __future__ import annotations

import re
import threading
import warnings
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache, wraps
from itertools import pairwise
from typing import ParamSpec, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ibconsole.domain.clock import as_utc


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"Unknown time zone {name!r}: expected an IANA name such as "
            "'America/Chicago' or 'US/Central'"
        ) from None


@dataclass(frozen=True, slots=True)
class SessionWindow:
    """One continuous stretch during which the market trades: ``open <= t < close``.

    Both ends are UTC: arithmetic on datetimes sharing a zone ignores DST changes.
    """

    open: datetime
    close: datetime

    def contains(self, instant: datetime) -> bool:
        return self.open <= instant < self.close


@dataclass(frozen=True, slots=True)
class TradingSessions:
    """A market's schedule over the period it covers: disjoint windows in time order.

    Outside ``covers_from``..``covers_until`` the schedule knows nothing: ask ``covers`` first;
    ``next_open``/``next_close`` answer None past the last window.
    """

    source: str  # where the schedule came from: "IB tradingHours", "exchange_calendars CMES"
    time_zone: str
    windows: tuple[SessionWindow, ...]
    covers_from: datetime
    covers_until: datetime
    closed_days: tuple[date, ...]  # IB's "CLOSED" days, or a calendar's days without a session

    def covers(self, instant: datetime) -> bool:
        as_utc(instant, "A session question's time")
        return self.covers_from <= instant < self.covers_until

    def _before_or_at(self, instant: datetime) -> int:
        """Index of the last window opening at or before the instant (-1 if none)."""
        as_utc(instant, "A session question's time")
        return bisect_right(self.windows, instant, key=lambda w: w.open) - 1

    def window_at(self, instant: datetime) -> SessionWindow | None:
        """The window trading at this instant, or None when the market is closed."""
        index = self._before_or_at(instant)
        if index >= 0 and self.windows[index].contains(instant):
            return self.windows[index]
        return None

    def is_open(self, instant: datetime) -> bool:
        return self.window_at(instant) is not None

    def next_open(self, instant: datetime) -> datetime | None:
        """The first session open strictly after this instant."""
        index = self._before_or_at(instant) + 1
        return self.windows[index].open if index < len(self.windows) else None

    def next_close(self, instant: datetime) -> datetime | None:
        """When the current session closes, or when the next one will if closed now."""
        index = self._before_or_at(instant)
        if index >= 0 and self.windows[index].contains(instant):
            return self.windows[index].close
        index += 1
        return self.windows[index].close if index < len(self.windows) else None

    def holidays(self) -> tuple[date, ...]:
        """Weekdays inside the covered period on which no session ends: no trade date.

        A session belongs to the day it closes (CME's 17:00-16:00 session is the trade date of
        its second day), so Christmas counts as a holiday although Globex reopens that evening.
        """
        zone = _zone(self.time_zone)
        closes = {w.close.astimezone(zone) - timedelta(microseconds=1) for w in self.windows}
        trade_dates = {at.date() for at in closes}
        day = self.covers_from.astimezone(zone).date()
        found: list[date] = []
        while _midnight(day + timedelta(days=1), zone) <= self.covers_until:
            starts_inside = _midnight(day, zone) >= self.covers_from
            if starts_inside and day.weekday() < 5 and day not in trade_dates:
                found.append(day)
            day += timedelta(days=1)
        return tuple(found)

    def early_closes(self) -> tuple[SessionWindow, ...]:
        """Windows that close before the schedule's usual time of day (holiday half days)."""
        if not self.windows:
            return ()
        zone = _zone(self.time_zone)
        closes = [w.close.astimezone(zone).time() for w in self.windows]
        usual = max(Counter(closes).most_common(), key=lambda item: (item[1], item[0]))[0]
        return tuple(w for w, at in zip(self.windows, closes, strict=True) if at < usual)


def schedule_at(
    instant: datetime,
    ib_hours: TradingSessions | None,
    calendar: Callable[[], TradingSessions | None],
) -> TradingSessions | None:
    """The schedule that says whether a market is open at ``instant``: IB's trading hours first,
    the exchange calendar as the fallback, None when neither covers ``instant``.

    ``calendar`` is only called when IB's hours do not cover ``instant``.
    """
    if ib_hours is not None and ib_hours.covers(instant):
        return ib_hours
    sessions = calendar()
    return sessions if sessions is not None and sessions.covers(instant) else None


def _normalise(windows: Iterable[SessionWindow]) -> tuple[SessionWindow, ...]:
    """Sort and merge windows that overlap or touch, so lookups see one window per stretch."""
    merged: list[SessionWindow] = []
    for window in sorted(windows, key=lambda w: w.open):
        if merged and window.open <= merged[-1].close:
            if window.close > merged[-1].close:
                merged[-1] = SessionWindow(merged[-1].open, window.close)
        else:
            merged.append(window)
    return tuple(merged)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), zone).astimezone(UTC)


# One window of an IB hours segment. Current TWS versions write both ends with their day
# ("20250102:1700-20250103:1600"); older ones wrote only times after the segment's day
# ("0930-1600", and an end at or before the start meant the next day).
_IB_WINDOW = re.compile(r"^(?:(\d{8}):)?(\d{4})-(?:(\d{8}):)?(\d{4})$")


def _ib_day(text: str, segment: str) -> date:
    try:
        return datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        raise ValueError(
            f"Bad day {text!r} in trading hours segment {segment!r}: expected YYYYMMDD"
        ) from None


def _ib_clock(day: date, text: str, zone: ZoneInfo, segment: str) -> datetime:
    hours, minutes = int(text[:2]), int(text[2:])
    if (hours, minutes) == (24, 0):
        return _midnight(day + timedelta(days=1), zone)
    if hours > 23 or minutes > 59:
        raise ValueError(f"Bad time {text!r} in trading hours segment {segment!r}: expected HHMM")
    # A local time skipped by a DST change resolves with the offset before the change (fold=0).
    return datetime.combine(day, time(hours, minutes), zone).astimezone(UTC)


def _ib_window(day: date, text: str, zone: ZoneInfo, segment: str) -> SessionWindow:
    match = _IB_WINDOW.match(text.strip())
    if match is None:
        raise ValueError(
            f"Cannot read trading hours segment {segment!r}: expected "
            "YYYYMMDD:HHMM-YYYYMMDD:HHMM, YYYYMMDD:HHMM-HHMM or YYYYMMDD:CLOSED"
        )
    start_day_text, start_text, end_day_text, end_text = match.groups()
    start_day = _ib_day(start_day_text, segment) if start_day_text else day
    opens = _ib_clock(start_day, start_text, zone, segment)
    if end_day_text:
        closes = _ib_clock(_ib_day(end_day_text, segment), end_text, zone, segment)
    else:
        closes = _ib_clock(start_day, end_text, zone, segment)
        if closes <= opens:
            closes = _ib_clock(start_day + timedelta(days=1), end_text, zone, segment)
    if closes <= opens:
        raise ValueError(f"Trading hours segment {segment!r} closes before it opens")
    return SessionWindow(opens, closes)


def parse_ib_hours(text: str, time_zone: str, source: str = "IB tradingHours") -> TradingSessions:
    """Read IB's ``tradingHours``/``liquidHours`` string, given in the contract's ``timeZoneId``.

    Example: ``"20250102:1700-20250103:1600;20250104:CLOSED"``. Raises ValueError naming the
    segment it cannot read.
    """
    zone = _zone(time_zone)
    windows: list[SessionWindow] = []
    closed: list[date] = []
    for raw in text.split(";"):
        segment = raw.strip()
        if not segment:
            continue
        day_text, separator, rest = segment.partition(":")
        if not separator or not rest:
            raise ValueError(
                f"Cannot read trading hours segment {segment!r}: expected YYYYMMDD:... "
            )
        day = _ib_day(day_text, segment)
        if rest.strip().upper() == "CLOSED":
            closed.append(day)
            continue
        windows.extend(_ib_window(day, part, zone, segment) for part in rest.split(","))
    if not windows and not closed:
        raise ValueError("IB gave no trading hours (the hours string is empty)")
    # IB keys each window by the day it opens, so the first day's earlier hours (a session
    # opened the evening before) are not described: knowledge starts at the first segment.
    spans = [(w.open, w.close) for w in windows]
    spans += [(_midnight(d, zone), _midnight(d + timedelta(days=1), zone)) for d in closed]
    return TradingSessions(
        source=source,
        time_zone=time_zone,
        windows=_normalise(windows),
        covers_from=min(start for start, _ in spans),
        covers_until=max(end for _, end in spans),
        closed_days=tuple(sorted(set(closed))),
    )


# exchange_calendars' CMES calendar runs each session 17:00-17:00 Chicago with no gap, but CME
# Globex halts every day from 16:00 to 17:00 CT (CME Group Globex trading hours); the
# fallback applies that halt.
_DAILY_HALT_START = {"CMES": time(16, 0)}


def _present(value: object) -> bool:
    # NaT, pandas' missing timestamp in a calendar schedule, is the one value unequal to itself.
    return bool(value == value)


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _read_once(read: Callable[_P, _R]) -> Callable[_P, _R]:
    """Cache a calendar reading, and let one thread read it while any other waits for it
    (with a cache alone, two threads asking at once would each build the same calendar)."""
    cached = lru_cache(maxsize=64)(read)
    lock = threading.Lock()

    @wraps(read)
    def once(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with lock:
            return cached(*args, **kwargs)  # type: ignore[arg-type]

    return once


@dataclass(frozen=True, slots=True)
class _CalendarSession:
    day: date
    open: datetime
    close: datetime
    pause: datetime | None  # a midday break, for calendars that have one
    resume: datetime | None


def _read_calendar(name: str, first: date, last: date) -> tuple[str, str, list[_CalendarSession]]:
    """The calendar's own name, its time zone and its sessions between two dates."""
    # Imported here, so only the process that reads calendars pays for pandas.
    import exchange_calendars as xcals

    with warnings.catch_warnings():
        # exchange_calendars 4.13 reads Series.values, which pandas 3 deprecates; the values
        # it reads are UTC timestamps either way.
        warnings.filterwarnings("ignore", message=r"Series\.values returning an ndarray")
        try:
            calendar = xcals.get_calendar(name, start=first.isoformat(), end=last.isoformat())
        except xcals.errors.InvalidCalendarName:
            raise ValueError(f"exchange_calendars has no calendar named {name!r}") from None
        sessions = [
            _CalendarSession(
                day=day.date(),
                open=row["open"].to_pydatetime(),
                close=row["close"].to_pydatetime(),
                pause=row["break_start"].to_pydatetime() if _present(row["break_start"]) else None,
                resume=row["break_end"].to_pydatetime() if _present(row["break_end"]) else None,
            )
            for day, row in calendar.schedule.iterrows()
        ]
        return str(calendar.name), str(calendar.tz), sessions


@_read_once
def calendar_sessions(name: str, first_day: date, last_day: date) -> TradingSessions:
    """The schedule of an exchange_calendars calendar over the days ``first_day``..``last_day``.

    For CME Group products use "CMES" (4.13.2 also knows it as CME, CBOT, NYMEX and COMEX):
    its holidays and noon closes, with Globex's daily 16:00-17:00 CT halt applied.
    """
    if last_day < first_day:
        raise ValueError(f"The session range ends ({last_day}) before it starts ({first_day})")
    # A session can open days before its date (CME's opens the evening before, after a
    # weekend or holiday even earlier): pad the range so every window touching it is included.
    pad = timedelta(days=7)
    calendar_name, zone_name, sessions = _read_calendar(name, first_day - pad, last_day + pad)
    zone = _zone(zone_name)
    halt = _DAILY_HALT_START.get(calendar_name)
    windows: list[SessionWindow] = []
    for session in sessions:
        opens, closes = session.open.astimezone(UTC), session.close.astimezone(UTC)
        if halt is not None:
            closes = min(closes, datetime.combine(session.day, halt, zone).astimezone(UTC))
        if session.pause is not None and session.resume is not None:
            windows.append(SessionWindow(opens, session.pause.astimezone(UTC)))
            windows.append(SessionWindow(session.resume.astimezone(UTC), closes))
        else:
            windows.append(SessionWindow(opens, closes))
    covers_from = _midnight(first_day, zone)
    covers_until = _midnight(last_day + timedelta(days=1), zone)
    trade_dates = {session.day for session in sessions}
    days = (first_day + timedelta(days=n) for n in range((last_day - first_day).days + 1))
    return TradingSessions(
        source=f"exchange_calendars {calendar_name}",
        time_zone=zone_name,
        windows=tuple(
            w for w in _normalise(windows) if w.open < covers_until and w.close > covers_from
        ),
        covers_from=covers_from,
        covers_until=covers_until,
        closed_days=tuple(day for day in days if day not in trade_dates),
    )


def calendar_around(name: str, today: date) -> TradingSessions:
    """The calendar's sessions from three days before ``today`` to a week after: the one range
    the console reads, so each calendar is built once a day."""
    return calendar_sessions(name, today - timedelta(days=3), today + timedelta(days=7))


@dataclass(frozen=True, slots=True)
class SessionDisagreement:
    """A stretch of time one schedule calls open and the other closed."""

    start: datetime
    end: datetime
    open_in: str  # source of the schedule that says open
    closed_in: str


def cross_check(
    primary: TradingSessions,
    reference: TradingSessions,
    tolerance: timedelta = timedelta(0),
) -> tuple[SessionDisagreement, ...]:
    """Where the two schedules disagree over the period both cover.

    Stretches no longer than ``tolerance`` are left out (a minute's difference in a close time
    need not alarm anyone).
    """
    start = max(primary.covers_from, reference.covers_from)
    end = min(primary.covers_until, reference.covers_until)
    if start >= end:
        raise ValueError(
            f"{primary.source} ({primary.covers_from:%Y-%m-%d}..{primary.covers_until:%Y-%m-%d})"
            f" and {reference.source} ({reference.covers_from:%Y-%m-%d}.."
            f"{reference.covers_until:%Y-%m-%d}) cover no common period to compare"
        )
    edges = {start, end}
    for window in (*primary.windows, *reference.windows):
        edges.update(t for t in (window.open, window.close) if start < t < end)
    points = sorted(edges)
    found: list[SessionDisagreement] = []
    for left, right in pairwise(points):
        primary_open = primary.is_open(left)
        if primary_open == reference.is_open(left):
            continue
        opened, shut = (primary, reference) if primary_open else (reference, primary)
        last = found[-1] if found else None
        if last is not None and last.end == left and last.open_in == opened.source:
            found[-1] = SessionDisagreement(last.start, right, last.open_in, last.closed_in)
        else:
            found.append(SessionDisagreement(left, right, opened.source, shut.source))
    return tuple(d for d in found if d.end - d.start > tolerance)


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """Exchange business days (weekdays that are not exchange holidays) over a known range."""

    name: str
    first: date
    last: date
    holidays: frozenset[date]

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError(f"The {self.name} calendar ends ({self.last}) before it starts")

    def _check(self, day: date) -> None:
        if not self.first <= day <= self.last:
            raise ValueError(
                f"The {self.name} business calendar covers {self.first} to {self.last}; "
                f"{day} is outside it"
            )

    def is_business_day(self, day: date) -> bool:
        self._check(day)
        return day.weekday() < 5 and day not in self.holidays

    def shift(self, day: date, count: int) -> date:
        """The business day ``count`` business days after ``day`` (before it when negative).

        ``day`` itself is not counted, whether or not it is a business day.
        """
        step = timedelta(days=1 if count > 0 else -1)
        remaining = abs(count)
        current = day
        while remaining:
            current += step
            if self.is_business_day(current):
                remaining -= 1
        return current

    def on_or_before(self, day: date) -> date:
        """``day`` if it is a business day, else the business day before it."""
        return day if self.is_business_day(day) else self.shift(day, -1)


@_read_once
def business_calendar(name: str, first: date, last: date) -> BusinessCalendar:
    """The business days of an exchange_calendars calendar between two dates.

    The console counts expiry rules on "XNYS": CME Group's business days (its trade dates)
    skip the same US holidays as the NYSE (New Year, MLK, Presidents, Good Friday, Memorial,
    Juneteenth, Independence, Labor, Thanksgiving, Christmas), and equity index expiries need
    the NYSE open for their opening quotation.
    """
    if last < first:
        raise ValueError(f"The business calendar range ends ({last}) before it starts ({first})")
    sessions = {session.day for session in _read_calendar(name, first, last)[2]}
    span = (last - first).days + 1
    weekdays = (first + timedelta(days=n) for n in range(span))
    holidays = frozenset(d for d in weekdays if d.weekday() < 5 and d not in sessions)
    return BusinessCalendar(name=name, first=first, last=last, holidays=holidays)
