"""Trading sessions from IB hours strings and exchange calendars, their cross-check, business days
and the injected clocks the session questions are asked with."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ibconsole.domain.clock import ManualClock, OffsetClock, SystemClock
from ibconsole.domain.sessions import (
    BusinessCalendar,
    SessionDisagreement,
    TradingSessions,
    business_calendar,
    calendar_sessions,
    cross_check,
    parse_ib_hours,
)

CT = ZoneInfo("America/Chicago")


def ct(day: str, clock: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), time.fromisoformat(clock), CT)


def utc(day: str, clock: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), time.fromisoformat(clock), UTC)


# An ES contract's tradingHours as TWS sends them (September 2021): each window is keyed by the
# day it opens, Saturday is CLOSED, Friday has no key of its own.
ES_WEEK = (
    "20210908:1700-20210909:1600;20210909:1700-20210910:1600;20210911:CLOSED;"
    "20210912:1700-20210913:1600;20210913:1700-20210914:1600;20210914:1700-20210915:1600"
)


@pytest.fixture(scope="module")
def es_week() -> TradingSessions:
    return parse_ib_hours(ES_WEEK, "US/Central")


# --- IB hours strings ------------------------------------------------------------------------


def test_current_format_windows_and_closed_days(es_week: TradingSessions) -> None:
    assert len(es_week.windows) == 5
    first = es_week.windows[0]
    assert first.open == utc("2021-09-08", "22:00")
    assert first.close == utc("2021-09-09", "21:00")
    assert es_week.closed_days == (date(2021, 9, 11),)
    assert es_week.covers_from == ct("2021-09-08", "17:00")
    assert es_week.covers_until == ct("2021-09-15", "16:00")
    assert es_week.source == "IB tradingHours"


@pytest.mark.parametrize(
    ("instant", "is_open", "next_open", "next_close"),
    [
        # Friday morning: open until 16:00, next open Sunday 17:00.
        (ct("2021-09-10", "10:00"), True, ct("2021-09-12", "17:00"), ct("2021-09-10", "16:00")),
        # Friday after the close and all Saturday: closed until Sunday evening.
        (ct("2021-09-10", "16:00"), False, ct("2021-09-12", "17:00"), ct("2021-09-13", "16:00")),
        (ct("2021-09-11", "12:00"), False, ct("2021-09-12", "17:00"), ct("2021-09-13", "16:00")),
        # Sunday open, and the daily 16:00-17:00 halt.
        (ct("2021-09-12", "17:00"), True, ct("2021-09-13", "17:00"), ct("2021-09-13", "16:00")),
        (ct("2021-09-13", "16:30"), False, ct("2021-09-13", "17:00"), ct("2021-09-14", "16:00")),
        # After the last window: nothing more is known.
        (ct("2021-09-15", "16:00"), False, None, None),
    ],
)
def test_open_and_close_questions(
    es_week: TradingSessions,
    instant: datetime,
    is_open: bool,
    next_open: datetime | None,
    next_close: datetime | None,
) -> None:
    assert es_week.is_open(instant) is is_open
    assert es_week.next_open(instant) == next_open
    assert es_week.next_close(instant) == next_close


def test_questions_in_any_time_zone_agree(es_week: TradingSessions) -> None:
    assert es_week.is_open(utc("2021-09-10", "15:00"))
    assert not es_week.is_open(utc("2021-09-10", "21:30"))


def test_older_format_with_times_only() -> None:
    sessions = parse_ib_hours("20090507:0930-1600;20090508:0930-1600;20090509:CLOSED", "US/Eastern")
    eastern = ZoneInfo("US/Eastern")
    local = [(w.open.astimezone(eastern), w.close.astimezone(eastern)) for w in sessions.windows]
    assert [(start.hour, end.hour) for start, end in local] == [(9, 16), (9, 16)]
    assert sessions.windows[1].open == datetime(2009, 5, 8, 13, 30, tzinfo=UTC)
    assert sessions.closed_days == (date(2009, 5, 9),)


def test_older_format_session_crossing_midnight_ends_next_day() -> None:
    sessions = parse_ib_hours("20130115:1700-1515", "US/Central")
    assert sessions.windows[0].open == ct("2013-01-15", "17:00")
    assert sessions.windows[0].close == ct("2013-01-16", "15:15")


def test_several_windows_in_one_day() -> None:
    sessions = parse_ib_hours("20260914:0900-1130,1230-1530", "Japan")
    tokyo = ZoneInfo("Japan")
    assert [(w.open, w.close) for w in sessions.windows] == [
        (datetime(2026, 9, 14, 9, 0, tzinfo=tokyo), datetime(2026, 9, 14, 11, 30, tzinfo=tokyo)),
        (datetime(2026, 9, 14, 12, 30, tzinfo=tokyo), datetime(2026, 9, 14, 15, 30, tzinfo=tokyo)),
    ]
    assert not sessions.is_open(datetime(2026, 9, 14, 12, 0, tzinfo=tokyo))


def test_touching_windows_merge_into_one() -> None:
    sessions = parse_ib_hours(
        "20260914:0930-20260914:1200,20260914:1200-20260914:1600;20260915:0930-20260915:1600",
        "US/Eastern",
    )
    assert len(sessions.windows) == 2
    assert sessions.next_close(datetime(2026, 9, 14, 10, 0, tzinfo=ZoneInfo("US/Eastern"))) == (
        datetime(2026, 9, 14, 16, 0, tzinfo=ZoneInfo("US/Eastern"))
    )


def test_liquid_hours_with_closed_weekend() -> None:
    liquid = parse_ib_hours(
        "20240720:CLOSED;20240721:CLOSED;20240722:0830-20240722:1500",
        "US/Central",
        source="IB liquidHours",
    )
    assert liquid.source == "IB liquidHours"
    assert liquid.covers_from == ct("2024-07-20", "00:00")
    assert not liquid.is_open(ct("2024-07-21", "18:00"))
    assert liquid.next_open(ct("2024-07-21", "18:00")) == ct("2024-07-22", "08:30")
    assert liquid.holidays() == ()


def test_early_closes_around_thanksgiving() -> None:
    sessions = parse_ib_hours(
        "20251125:1700-20251126:1600;20251126:1700-20251127:1200;20251127:1700-20251128:1215;"
        "20251129:CLOSED;20251130:1700-20251201:1600",
        "US/Central",
    )
    assert [w.close for w in sessions.early_closes()] == [
        ct("2025-11-27", "12:00"),
        ct("2025-11-28", "12:15"),
    ]
    assert sessions.holidays() == ()


def test_a_closed_weekday_without_a_session_is_a_holiday() -> None:
    # Good Friday 2026: no session closes on Friday 3 April; Thursday's ends at 16:00.
    sessions = parse_ib_hours(
        "20260401:1700-20260402:1600;20260402:CLOSED;20260403:CLOSED;20260404:CLOSED;"
        "20260405:1700-20260406:1600",
        "US/Central",
    )
    assert sessions.holidays() == (date(2026, 4, 3),)
    assert sessions.next_open(ct("2026-04-02", "16:00")) == ct("2026-04-05", "17:00")


def test_window_across_the_spring_forward_change_is_an_hour_shorter() -> None:
    # US clocks went from 02:00 CST to 03:00 CDT on Sunday 8 March 2026.
    sessions = parse_ib_hours("20260307:2200-20260308:0400", "US/Central")
    window = sessions.windows[0]
    assert window.open == utc("2026-03-08", "04:00")
    assert window.close == utc("2026-03-08", "09:00")
    assert window.close - window.open == timedelta(hours=5)


def test_window_across_the_fall_back_change_is_an_hour_longer() -> None:
    # US clocks went from 02:00 CDT back to 01:00 CST on Sunday 1 November 2026.
    sessions = parse_ib_hours("20261031:2200-0400", "US/Central")
    window = sessions.windows[0]
    assert window.open == utc("2026-11-01", "03:00")
    assert window.close == utc("2026-11-01", "10:00")
    assert window.close - window.open == timedelta(hours=7)


def test_the_sunday_open_after_the_clock_change_uses_summer_time() -> None:
    sessions = parse_ib_hours("20260306:CLOSED;20260308:1700-20260309:1600", "US/Central")
    assert sessions.windows[0].open == utc("2026-03-08", "22:00")
    assert sessions.windows[0].close == utc("2026-03-09", "21:00")
    assert not sessions.is_open(utc("2026-03-08", "21:30"))  # 16:30 CDT, before the open


def test_a_time_skipped_by_the_clock_change_still_parses() -> None:
    sessions = parse_ib_hours("20260308:0230-20260308:0400", "US/Central")
    window = sessions.windows[0]
    assert window.open < window.close


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2025010:1700-20250103:1600", "Bad day '2025010' in trading hours segment"),
        ("20251302:CLOSED", "Bad day '20251302'"),
        ("20250102:1700-1600x", "Cannot read trading hours segment '20250102:1700-1600x'"),
        ("20250102:OPEN", "Cannot read trading hours segment '20250102:OPEN'"),
        ("20250102", "Cannot read trading hours segment '20250102'"),
        ("20250102:2500-20250103:1600", "Bad time '2500' in trading hours segment"),
        ("20250102:1761-20250103:1600", "Bad time '1761'"),
        ("20250102:1700-20250102:1600", "'20250102:1700-20250102:1600' closes before it opens"),
        ("20250102:CLOSED;20250103:09300-1600", "segment '20250103:09300-1600'"),
        ("", "IB gave no trading hours"),
        (";;", "IB gave no trading hours"),
    ],
)
def test_malformed_hours_name_the_bad_segment(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_ib_hours(text, "US/Central")


def test_unknown_time_zone_is_named() -> None:
    with pytest.raises(ValueError, match="Unknown time zone 'Mars/Olympus'"):
        parse_ib_hours("20250102:CLOSED", "Mars/Olympus")


def test_naive_instants_are_refused(es_week: TradingSessions) -> None:
    for question in (es_week.is_open, es_week.next_open, es_week.next_close, es_week.covers):
        with pytest.raises(ValueError, match="naive time"):
            question(datetime(2021, 9, 10, 10, 0))


def test_midnight_written_as_2400_ends_the_day() -> None:
    sessions = parse_ib_hours("20250102:0000-2400", "UTC")
    assert sessions.windows[0].close == utc("2025-01-03", "00:00")


# --- exchange calendar fallback ------------------------------------------------------------


@pytest.fixture(scope="module")
def cme_2026() -> TradingSessions:
    return calendar_sessions("CMES", date(2026, 1, 1), date(2026, 12, 31))


def test_calendar_applies_the_globex_daily_halt(cme_2026: TradingSessions) -> None:
    assert cme_2026.source == "exchange_calendars CMES"
    assert cme_2026.is_open(ct("2026-04-01", "15:59"))
    assert not cme_2026.is_open(ct("2026-04-01", "16:30"))
    assert cme_2026.next_open(ct("2026-04-01", "16:30")) == ct("2026-04-01", "17:00")


def test_calendar_holidays_and_early_closes(cme_2026: TradingSessions) -> None:
    holidays = cme_2026.holidays()
    assert date(2026, 4, 3) in holidays  # Good Friday
    assert date(2026, 12, 25) in holidays
    assert date(2026, 1, 1) in holidays
    early = {w.close.date() for w in cme_2026.early_closes()}
    assert {date(2026, 11, 26), date(2026, 11, 27), date(2026, 12, 24)} <= early
    assert cme_2026.next_open(ct("2026-04-02", "16:00")) == ct("2026-04-05", "17:00")


def test_cme_exchange_names_are_aliases_of_cmes() -> None:
    nymex = calendar_sessions("NYMEX", date(2026, 4, 1), date(2026, 4, 10))
    cmes = calendar_sessions("CMES", date(2026, 4, 1), date(2026, 4, 10))
    assert nymex == cmes


def test_unknown_calendar_and_reversed_range_are_refused() -> None:
    with pytest.raises(ValueError, match="no calendar named 'GLOBEX'"):
        calendar_sessions("GLOBEX", date(2026, 1, 1), date(2026, 1, 31))
    with pytest.raises(ValueError, match="ends \\(2026-01-01\\) before it starts"):
        calendar_sessions("CMES", date(2026, 1, 31), date(2026, 1, 1))


# --- cross-check -------------------------------------------------------------------------------

# Juneteenth 2026 falls on a Friday: CME equity products halt at 12:00 CT. exchange_calendars
# 4.13.2's CMES calendar does not know the holiday and keeps the market open until 16:00.
JUNETEENTH_2026 = (
    "20260617:1700-20260618:1600;20260618:1700-20260619:1200;20260620:CLOSED;"
    "20260621:1700-20260622:1600"
)


def test_cross_check_reports_where_the_sources_disagree() -> None:
    ib = parse_ib_hours(JUNETEENTH_2026, "US/Central")
    fallback = calendar_sessions("CMES", date(2026, 6, 15), date(2026, 6, 23))
    assert cross_check(ib, fallback) == (
        SessionDisagreement(
            start=ct("2026-06-19", "12:00"),
            end=ct("2026-06-19", "16:00"),
            open_in="exchange_calendars CMES",
            closed_in="IB tradingHours",
        ),
    )


def test_cross_check_of_agreeing_sources_is_empty(es_week: TradingSessions) -> None:
    fallback = calendar_sessions("CMES", date(2021, 9, 6), date(2021, 9, 17))
    assert cross_check(es_week, fallback) == ()


def test_cross_check_tolerance_hides_small_differences() -> None:
    ib = parse_ib_hours("20260616:1700-20260617:1559;20260617:1700-20260618:1600", "US/Central")
    fallback = calendar_sessions("CMES", date(2026, 6, 15), date(2026, 6, 23))
    found = cross_check(ib, fallback)
    assert found == (
        SessionDisagreement(
            ct("2026-06-17", "15:59"), ct("2026-06-17", "16:00"), fallback.source, ib.source
        ),
    )
    assert cross_check(ib, fallback, tolerance=timedelta(minutes=1)) == ()


def test_cross_check_needs_a_common_period(es_week: TradingSessions) -> None:
    later = calendar_sessions("CMES", date(2026, 1, 5), date(2026, 1, 9))
    with pytest.raises(ValueError, match="cover no common period"):
        cross_check(es_week, later)


# --- business days -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def june_2026() -> BusinessCalendar:
    return business_calendar("XNYS", date(2026, 6, 1), date(2026, 7, 31))


def test_business_days_skip_weekends_and_holidays(june_2026: BusinessCalendar) -> None:
    assert june_2026.holidays == frozenset({date(2026, 6, 19), date(2026, 7, 3)})
    assert not june_2026.is_business_day(date(2026, 6, 19))
    assert june_2026.shift(date(2026, 6, 18), 1) == date(2026, 6, 22)
    assert june_2026.shift(date(2026, 6, 22), -1) == date(2026, 6, 18)
    assert june_2026.shift(date(2026, 6, 20), -1) == date(2026, 6, 18)  # from a Saturday
    assert june_2026.shift(date(2026, 6, 18), 0) == date(2026, 6, 18)
    assert june_2026.on_or_before(date(2026, 6, 21)) == date(2026, 6, 18)
    assert june_2026.on_or_before(date(2026, 6, 22)) == date(2026, 6, 22)


def test_business_days_outside_the_range_are_refused(june_2026: BusinessCalendar) -> None:
    with pytest.raises(ValueError, match="covers 2026-06-01 to 2026-07-31; 2026-08-01 is outside"):
        june_2026.shift(date(2026, 7, 31), 1)


def test_business_calendar_ranges_must_run_forwards() -> None:
    with pytest.raises(ValueError, match="before it starts"):
        BusinessCalendar("XNYS", date(2026, 2, 1), date(2026, 1, 1), frozenset())
    with pytest.raises(ValueError, match="before it starts"):
        business_calendar("XNYS", date(2026, 2, 1), date(2026, 1, 1))


# --- properties --------------------------------------------------------------------------------


def _consistent(sessions: TradingSessions, now: datetime) -> None:
    window = sessions.window_at(now)
    upcoming, closing = sessions.next_open(now), sessions.next_close(now)
    assert sessions.is_open(now) == any(w.contains(now) for w in sessions.windows)
    if upcoming is not None:
        assert upcoming > now
        assert not sessions.is_open(upcoming - timedelta(microseconds=1))
        assert sessions.is_open(upcoming)
    if window is not None:
        assert closing == window.close
        assert closing > now
        assert upcoming is None or upcoming > closing
    elif upcoming is not None:
        assert closing is not None
        assert closing > upcoming
    else:
        assert closing is None


@given(now=st.datetimes(datetime(2025, 12, 25), datetime(2027, 1, 5), timezones=st.just(UTC)))
@settings(max_examples=300, deadline=None)
def test_calendar_answers_are_consistent(cme_2026: TradingSessions, now: datetime) -> None:
    _consistent(cme_2026, now)


@given(now=st.datetimes(datetime(2021, 9, 7), datetime(2021, 9, 16), timezones=st.just(UTC)))
@settings(max_examples=300, deadline=None)
def test_ib_answers_are_consistent(es_week: TradingSessions, now: datetime) -> None:
    _consistent(es_week, now)


windows = st.lists(
    st.tuples(
        st.datetimes(datetime(2026, 1, 1), datetime(2026, 12, 31)),
        st.timedeltas(timedelta(minutes=1), timedelta(hours=30)),
    ),
    min_size=1,
    max_size=12,
)


@given(spec=windows, probe=st.datetimes(datetime(2025, 12, 30), datetime(2027, 1, 3)))
@settings(max_examples=200, deadline=None)
def test_any_hours_string_answers_consistently(
    spec: list[tuple[datetime, timedelta]], probe: datetime
) -> None:
    text = ";".join(
        f"{start:%Y%m%d}:{start:%H%M}-{start + length:%Y%m%d}:{start + length:%H%M}"
        for start, length in spec
        if (start + length).replace(second=0, microsecond=0)
        > start.replace(second=0, microsecond=0)
    )
    if not text:
        text = "20260601:CLOSED"
    sessions = parse_ib_hours(text, "UTC")
    assert all(
        a.close < b.open for a, b in zip(sessions.windows, sessions.windows[1:], strict=False)
    )
    _consistent(sessions, probe.replace(tzinfo=UTC))


# --- clocks ----------------------------------------------------------------------------------------


def test_manual_clock_moves_only_when_told() -> None:
    clock = ManualClock(ct("2026-06-10", "08:00"))
    assert clock.now() == utc("2026-06-10", "13:00")
    assert clock.now().tzinfo is UTC
    clock.advance(timedelta(minutes=5))
    assert clock.now() == utc("2026-06-10", "13:05")
    clock.set(utc("2026-01-01", "00:00"))
    assert clock.now() == utc("2026-01-01", "00:00")


def test_manual_clock_refuses_naive_times_and_going_backwards() -> None:
    with pytest.raises(ValueError, match="naive time"):
        ManualClock(datetime(2026, 6, 10))
    clock = ManualClock(utc("2026-06-10", "00:00"))
    with pytest.raises(ValueError, match="naive time"):
        clock.set(datetime(2026, 6, 10))
    with pytest.raises(ValueError, match="cannot move backwards"):
        clock.advance(timedelta(seconds=-1))


def test_offset_clock_runs_at_wall_speed_from_its_start() -> None:
    wall = ManualClock(utc("2030-01-01", "00:00"))
    as_of = OffsetClock(ct("2026-06-10", "07:00"), wall=wall)
    assert as_of.now() == utc("2026-06-10", "12:00")
    wall.advance(timedelta(seconds=90))
    assert as_of.now() == utc("2026-06-10", "12:01") + timedelta(seconds=30)
    with pytest.raises(ValueError, match="naive time"):
        OffsetClock(datetime(2026, 6, 10), wall=wall)


def test_system_clock_is_utc_and_an_offset_clock_follows_it() -> None:
    before = datetime.now(UTC)
    now = SystemClock().now()
    assert now.tzinfo is UTC
    assert now >= before
    start = utc("2026-06-10", "12:00")
    assert OffsetClock(start).now() >= start


def test_schedules_and_business_calendars_are_built_once_per_calendar_and_range(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import exchange_calendars as xcals

    readings: list[str] = []
    real = xcals.get_calendar

    def counted(name: str, *args: object, **kwargs: object) -> object:
        readings.append(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(xcals, "get_calendar", counted)
    week = calendar_sessions("CMES", date(2031, 3, 3), date(2031, 3, 9))
    days = business_calendar("CMES", date(2031, 1, 1), date(2031, 12, 31))
    read = len(readings)

    for _ in range(3):  # asked again, as the ticket and the watch list ask on every change
        assert calendar_sessions("CMES", date(2031, 3, 3), date(2031, 3, 9)) is week
        assert business_calendar("CMES", date(2031, 1, 1), date(2031, 12, 31)) is days
    assert len(readings) == read, "no calendar is read again for a range already built"
    assert date(2031, 12, 25) in days.holidays
