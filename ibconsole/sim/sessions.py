"""Trading and liquid (regular) hours of an instrument, written the way TWS reports them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from ibconsole.sim.holidays import is_holiday

__all__ = ["CME_GLOBEX", "IDEALPRO_FX", "US_STOCKS", "SessionRule", "globex"]

_ONE_DAY = timedelta(days=1)
# Weekends and holiday clusters never close a market for longer than this.
_SEARCH_DAYS = 14


@dataclass(frozen=True, slots=True)
class SessionRule:
    """One session per trade date, in the instrument's own time zone.

    A session whose ``open`` is later in the day than its ``close`` opens on the calendar day
    before its trade date (CME Globex: 17:00 the evening before, close 16:00, so the hour
    between is the daily break).
    Weekends are closed; so are exchange holidays when ``observes_holidays``.
    """

    open: time
    close: time
    liquid_open: time
    liquid_close: time
    observes_holidays: bool = True

    def is_trade_date(self, day: date) -> bool:
        return day.weekday() < 5 and not (self.observes_holidays and is_holiday(day))

    def trading_hours(self, first_day: date, days: int) -> str:
        """``tradingHours``: ``YYYYMMDD:HHMM-YYYYMMDD:HHMM`` per trade date, ``YYYYMMDD:CLOSED``
        for the other days on which no session opens (TWS leaves out ``CLOSED`` for a Sunday
        whose evening opens Monday's session), ``;``-separated."""
        return self._hours(first_day, days, liquid=False)

    def liquid_hours(self, first_day: date, days: int) -> str:
        """``liquidHours``: the regular trading hours of each trade date, same format."""
        return self._hours(first_day, days, liquid=True)

    def bounds(self, day: date) -> tuple[datetime, datetime]:
        """Naive local (open, close) of the session whose trade date is ``day``."""
        opens_on = day - _ONE_DAY if self.open > self.close else day
        return datetime.combine(opens_on, self.open), datetime.combine(day, self.close)

    def trade_date(self, local: datetime) -> date:
        """The trade date of the session open at ``local``, or of the last one before it."""
        naive = local.replace(tzinfo=None)
        # an overnight session that opened this evening already trades for tomorrow
        day = naive.date() + _ONE_DAY
        for _ in range(_SEARCH_DAYS):
            if self.is_trade_date(day) and self.bounds(day)[0] <= naive:
                return day
            day -= _ONE_DAY
        raise ValueError(f"no trade date within {_SEARCH_DAYS} days before {naive:%Y-%m-%d}")

    def next_trade_date(self, day: date) -> date:
        """The first trade date after ``day``."""
        for _ in range(_SEARCH_DAYS):
            day += _ONE_DAY
            if self.is_trade_date(day):
                return day
        raise ValueError(f"no trade date within {_SEARCH_DAYS} days after {day:%Y-%m-%d}")

    def _current_or_next(self, local: datetime) -> tuple[datetime, datetime]:
        """Naive local (open, close) of the session open at ``local``, or of the next one if
        closed (its open is then after ``local``)."""
        day = self.trade_date(local)
        bounds = self.bounds(day)
        if local.replace(tzinfo=None) < bounds[1]:
            return bounds
        return self.bounds(self.next_trade_date(day))

    def next_close(self, local: datetime) -> datetime:
        """Naive local close of the session open at ``local``, or of the next one if closed."""
        return self._current_or_next(local)[1]

    def next_change(self, local: datetime) -> datetime:
        """Naive local instant after ``local`` when the market next closes (if open now) or
        opens (if closed now)."""
        opens, closes = self._current_or_next(local)
        return closes if opens <= local.replace(tzinfo=None) else opens

    def is_open(self, local: datetime) -> bool:
        """Whether ``local`` (in the instrument's zone, naive or aware) is inside a session."""
        return self._inside(local, self.open, self.close)

    def is_liquid(self, local: datetime) -> bool:
        """Whether ``local`` is inside the regular trading hours of a trade date."""
        return self._inside(local, self.liquid_open, self.liquid_close)

    def _inside(self, local: datetime, start: time, end: time) -> bool:
        clock_time = local.time().replace(tzinfo=None)
        day = local.date()
        if start > end:
            if clock_time >= start:
                return self.is_trade_date(day + _ONE_DAY)
            return clock_time < end and self.is_trade_date(day)
        return start <= clock_time < end and self.is_trade_date(day)

    def _hours(self, first_day: date, days: int, *, liquid: bool) -> str:
        if days < 1:
            raise ValueError(f"session listing needs at least one day, got {days}")
        entries: list[str] = []
        start, end = (self.liquid_open, self.liquid_close) if liquid else (self.open, self.close)
        overnight = start > end
        for offset in range(days):
            day = first_day + offset * _ONE_DAY
            if not self.is_trade_date(day):
                if not (overnight and self.is_trade_date(day + _ONE_DAY)):
                    entries.append(f"{day:%Y%m%d}:CLOSED")
            else:
                # a window whose start is later in the day than its end opened the evening before
                opens = day - _ONE_DAY if overnight else day
                entries.append(f"{opens:%Y%m%d}:{start:%H%M}-{day:%Y%m%d}:{end:%H%M}")
        return ";".join(entries)


def globex(liquid_open: str, liquid_close: str) -> SessionRule:
    """A CME Globex session (17:00 the evening before to 16:00 Central) with the given RTH."""
    return SessionRule(
        open=time(17, 0),
        close=time(16, 0),
        liquid_open=time.fromisoformat(liquid_open),
        liquid_close=time.fromisoformat(liquid_close),
    )


# Equity index futures: regular hours 08:30-16:00 Chicago, as TWS reports ES and MES
# (liquidHours "20240327:0830-20240327:1600" in captured contract details).
CME_GLOBEX = globex("08:30", "16:00")
US_STOCKS = SessionRule(
    open=time(4, 0),
    close=time(20, 0),
    liquid_open=time(9, 30),
    liquid_close=time(16, 0),
)
# IDEALPRO: Sunday 17:15 to Friday 17:00 New York time with a daily 15-minute break; currencies
# trade through US exchange holidays.
IDEALPRO_FX = SessionRule(
    open=time(17, 15),
    close=time(17, 0),
    liquid_open=time(17, 15),
    liquid_close=time(17, 0),
    observes_holidays=False,
)
