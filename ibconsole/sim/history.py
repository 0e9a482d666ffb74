"""Historical bars (reqHistoricalData 20 -> 17, keepUpToDate updates 90, cancel 25) and
reqHeadTimeStamp (87 -> 88), consistent with the live walk.

Bars from the moment an instrument's walk was first used come from the :class:`Tape`; before
that they are generated backwards from the tape's first price, one step per bar the instrument's
sessions traded, so the last bar of the last open session closes at that price: the history ends
exactly where the live stream continues, on a Saturday as on a Tuesday. Daily bars are dated by
trade date and end with the current (or, while closed, the last) session's bar built from the
live quote; the bar before it closes at the quote's ``close``.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ibconsole.sim.clock import SimClock
from ibconsole.sim.connection import Connection
from ibconsole.sim.contract_details import RequestError, resolve_contract
from ibconsole.sim.instruments import Catalogue, Instrument
from ibconsole.sim.market import SESSION_SECONDS, Market, Quote
from ibconsole.sim.sessions import SessionRule
from ibconsole.sim.tape import Tape, average_price

__all__ = ["BAR_SIZES", "Bar", "HistoryService"]


Handler = Callable[[Connection, list[str]], None]

_DAY, _WEEK, _MONTH = "day", "week", "month"
BAR_SIZES: dict[str, int | str] = {
    "1 secs": 1,
    "5 secs": 5,
    "10 secs": 10,
    "15 secs": 15,
    "30 secs": 30,
    "1 min": 60,
    "2 mins": 120,
    "3 mins": 180,
    "5 mins": 300,
    "10 mins": 600,
    "15 mins": 900,
    "20 mins": 1200,
    "30 mins": 1800,
    "1 hour": 3600,
    "2 hours": 7200,
    "3 hours": 10800,
    "4 hours": 14400,
    "8 hours": 28800,
    "1 day": _DAY,
    "1 week": _WEEK,
    "1 month": _MONTH,
}
_DURATION = re.compile(r"^(\d+)\s*([SDWMY])$")
_DURATION_SECONDS = {"S": 1, "D": 86400, "W": 7 * 86400, "M": 30 * 86400, "Y": 365 * 86400}
_WHAT_TO_SHOW = {"TRADES", "MIDPOINT", "BID", "ASK", "BID_ASK", "ADJUSTED_LAST"}
# TWS refuses requests for more bars than this in one go; so does the simulator.
_MAX_BARS = 100_000
_HMDS = "Historical Market Data Service error message:"
# Header dates asked in epoch seconds (formatDate=2) come in the UTC form from TWS at v176
# (IB Gateway 2024 capture, ghill2/pyfutures) and with two spaces at v173 (TWS 2023, as
# rust-ibapi's strict parser reads them); formatDate=1 always gets two spaces.
_UTC_HEADER_VERSION = 176
PACING_MESSAGES = {
    162: _HMDS + "Historical data request pacing violation",
    100: "Max rate of messages per second has been exceeded:max=50 rec=120 (1)",
}


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar: ``when`` is the epoch second it starts (intraday) or its trade date."""

    when: int | date
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: int
    wap: Decimal
    count: int


@dataclass(frozen=True, slots=True)
class _Link:
    """Generated steps back in time from an anchor: closes in ticks, with bar extremes."""

    close: int
    above: int
    below: int


class _Chain:
    """A seeded walk backwards from a fixed anchor, one entry per bar, extended on demand."""

    def __init__(self, rng: random.Random, anchor_ticks: int, step: float) -> None:
        self._rng = rng
        self._step = step
        self._links = [self._link(anchor_ticks)]

    def _link(self, close: int) -> _Link:
        rng = self._rng
        spread = max(1, round(self._step))
        return _Link(
            close=max(1, close), above=rng.randint(0, spread), below=rng.randint(0, spread)
        )

    def at(self, index: int) -> _Link:
        links = self._links
        while len(links) <= index:
            links.append(self._link(links[-1].close - round(self._rng.gauss(0.0, self._step))))
        return links[index]


@dataclass(slots=True, eq=False)
class _Live:
    """A keepUpToDate request: the bar being built and what was last sent."""

    link: Connection
    req_id: int
    instrument: Instrument
    size: int | str
    format_date: int
    use_rth: bool
    bar: Bar
    volume: int
    sent: Bar | None = None


class HistoryService:
    def __init__(
        self, catalogue: Catalogue, market: Market, tape: Tape, clock: SimClock, *, seed: int
    ) -> None:
        self._catalogue = catalogue
        self._market = market
        self._tape = tape
        self._clock = clock
        self._seed = seed
        self._volumes = market.volumes
        self._chains: dict[tuple[int, int | str], _Chain] = {}
        self._daily_anchor: dict[int, date] = {}
        self._live: dict[Connection, dict[int, _Live]] = {}
        self._by_con_id: dict[int, list[_Live]] = {}
        self.pacing_code: int | None = None
        self.paused = False
        market.add_listener(self._on_quote)

    def handlers(self) -> Mapping[int, Handler]:
        return {20: self._on_request, 25: self._on_cancel, 87: self._on_head_timestamp}

    def subscription_count(self) -> int:
        """Bar series kept up to date (``keepUpToDate``) for every client."""
        return sum(len(series) for series in self._live.values())

    def detach(self, link: Connection) -> None:
        for live in self._live.pop(link, {}).values():
            self._forget(live)

    def drop_all(self) -> None:
        for link in list(self._live):
            self.detach(link)

    # ---- requests ---------------------------------------------------------------------------

    def _on_request(self, link: Connection, fields: list[str]) -> None:
        # 20, reqId, contract(12), includeExpired, endDateTime, barSize, duration, useRTH,
        # whatToShow, formatDate, keepUpToDate, chartOptions
        req_id = int(fields[1])
        try:
            if self.pacing_code is not None:
                code, self.pacing_code = self.pacing_code, None
                raise RequestError(code, PACING_MESSAGES[code])
            instrument = resolve_contract(self._catalogue, fields[2:14], fields[14] == "1")
            end_text, bar_size, duration, use_rth, what = fields[15:20]
            format_date = int(fields[20] or 1)
            keep_up = fields[21] == "1"
            size = _bar_size(bar_size)
            if what.upper() not in _WHAT_TO_SHOW:
                raise RequestError(162, _HMDS + f"No data of type {what} is available")
            if keep_up and end_text.strip():
                raise RequestError(
                    321,
                    "Error validating request.-'bX' : cause - End date not supported with live "
                    "updates",
                )
            now = self._clock.now()
            end = min(_parse_end(end_text), now) if end_text.strip() else now
            span = _trading_days_span(instrument, end, duration, size)
            bars = self.bars(instrument, end, span, size, use_rth == "1")
        except RequestError as exc:
            link.send_error(req_id, exc.code, exc.message)
            return
        # the header spans the duration as asked (5 D ending Friday 16:30 starts Sunday 16:30)
        start = end - timedelta(seconds=_duration_seconds(duration))
        flat: list[object] = []
        for bar in bars:
            flat += _bar_fields(bar, instrument, format_date)
        utc_form = format_date == 2 and link.server_version >= _UTC_HEADER_VERSION
        header = (_header_time(start, utc_form), _header_time(end, utc_form))
        link.send(17, req_id, *header, len(bars), *flat)
        if not keep_up:
            return
        current = bars[-1] if bars else self._empty_bar(instrument, size)
        live = _Live(
            link=link,
            req_id=req_id,
            instrument=instrument,
            size=size,
            format_date=format_date,
            use_rth=use_rth == "1",
            bar=current,
            volume=self._market.quote(instrument.con_id).volume,
            sent=current,
        )
        previous = self._live.setdefault(link, {}).pop(req_id, None)
        if previous is not None:
            self._forget(previous)
        self._live[link][req_id] = live
        self._by_con_id.setdefault(instrument.con_id, []).append(live)
        self._market.hold(instrument.con_id)

    def _on_cancel(self, link: Connection, fields: list[str]) -> None:
        live = self._live.get(link, {}).pop(int(fields[2]), None)
        if live is not None:
            self._forget(live)

    def _on_head_timestamp(self, link: Connection, fields: list[str]) -> None:
        # 87, reqId, contract(12), includeExpired, useRTH, whatToShow, formatDate
        req_id = int(fields[1])
        try:
            resolve_contract(self._catalogue, fields[2:14], fields[14] == "1")
        except RequestError as exc:
            link.send_error(req_id, exc.code, exc.message)
            return
        head = self._clock.now() - timedelta(days=730)
        text = str(int(head.timestamp())) if fields[17:18] == ["2"] else f"{head:%Y%m%d-%H:%M:%S}"
        link.send(88, req_id, text)

    def _forget(self, live: _Live) -> None:
        con_id = live.instrument.con_id
        watchers = self._by_con_id[con_id]
        watchers.remove(live)
        if not watchers:
            del self._by_con_id[con_id]
        self._market.release(con_id)

    # ---- bars -------------------------------------------------------------------------------

    def bars(
        self, instrument: Instrument, end: datetime, span: int, size: int | str, use_rth: bool
    ) -> list[Bar]:
        """Bars covering ``span`` seconds up to ``end``, the current partial bar included."""
        if isinstance(size, int):
            return self._intraday(instrument, end, span, size, use_rth)
        zone = instrument.zone
        last_day = instrument.session.trade_date(end.astimezone(zone))
        start = (end - timedelta(seconds=span)).astimezone(zone)
        first_day = instrument.session.trade_date(start)
        if instrument.session.bounds(first_day)[0] < start.replace(tzinfo=None):
            first_day += timedelta(days=1)  # that session had opened before the span began
        daily = self._daily(instrument, first_day, last_day)
        if size == _DAY:
            return daily
        return _group(daily, week=size == _WEEK)

    def _intraday(
        self, instrument: Instrument, end: datetime, span: int, size: int, use_rth: bool
    ) -> list[Bar]:
        con_id = instrument.con_id
        end_second = math.ceil(end.timestamp())
        first = (end_second - span) // size * size
        last = (end_second - 1) // size * size
        if (last - first) // size + 1 > _MAX_BARS:
            raise RequestError(
                162, _HMDS + f"Time length exceed max: {span} s of {size} s bars is too many"
            )
        anchor_time, anchor_price = self._tape.anchor(con_id)
        boundary = anchor_time // size * size
        tick = instrument.min_tick
        zone = instrument.zone
        session = instrument.session
        chain: _Chain | None = None
        bars: list[Bar] = []
        # the chain steps back one link per bar of a session (RTH or not), never across a
        # closed stretch: counted from the anchor, newest first
        index = _session_bars(session, zone, last + size, boundary, size)
        for start in range(last, first - 1, -size):
            local = datetime.fromtimestamp(start, zone)
            is_open = session.is_open(local)
            begins = _regular_start(session, zone, start, size) if use_rth else start
            in_session = begins is not None if use_rth else is_open
            if start + size <= boundary:
                if not is_open:
                    continue
                index += 1
                if begins is None or not in_session:
                    continue
                if chain is None:
                    chain = self._chain(instrument, size, round(anchor_price / tick))
                volume = self._volumes.between(instrument, begins, start + size)
                count = self._volumes.trades(instrument, volume)
                link, before = chain.at(index - 1), chain.at(index)
                bars.append(_chain_bar(begins, link, before, tick, volume, count))
                continue
            if begins is None or begins >= end_second:
                continue  # outside regular hours, or the open is still to come
            traded = self._tape.span(con_id, begins, start + size, tick)
            if traded.count == 0 and not in_session:
                continue
            bars.append(
                Bar(
                    begins,
                    traded.open,
                    traded.high,
                    traded.low,
                    traded.close,
                    traded.volume,
                    traded.wap,
                    traded.count,
                )
            )
        bars.reverse()
        return bars

    def _daily(self, instrument: Instrument, first_day: date, last_day: date) -> list[Bar]:
        con_id = instrument.con_id
        tick = instrument.min_tick
        today = self._daily_anchor.setdefault(
            con_id, instrument.session.trade_date(self._clock.now().astimezone(instrument.zone))
        )
        quote = self._market.quote(con_id)
        chain = self._chain(instrument, _DAY, round(quote.close / tick))
        bars: list[Bar] = []
        day = today - timedelta(days=1)
        index = 0
        while day >= first_day:
            if instrument.session.is_trade_date(day):
                if day <= last_day:
                    volume = self._volumes.daily(instrument, day)
                    count = self._volumes.trades(instrument, volume)
                    link, before = chain.at(index), chain.at(index + 1)
                    bars.append(_chain_bar(day, link, before, tick, volume, count))
                index += 1
            day -= timedelta(days=1)
        bars.reverse()
        if first_day <= today <= last_day:
            bars.append(_today_bar(today, quote, tick))
        return bars

    def _chain(self, instrument: Instrument, size: int | str, anchor_ticks: int) -> _Chain:
        key = (instrument.con_id, size)
        chain = self._chains.get(key)
        if chain is None:
            seconds = size if isinstance(size, int) else SESSION_SECONDS
            step = self._market.tick_volatility(instrument.con_id) * math.sqrt(seconds)
            rng = random.Random(f"{self._seed}:{instrument.con_id}:{size}")
            chain = _Chain(rng, anchor_ticks, step)
            self._chains[key] = chain
        return chain

    def _empty_bar(self, instrument: Instrument, size: int | str) -> Bar:
        quote = self._market.quote(instrument.con_id)
        now = self._clock.now()
        when: int | date = (
            math.floor(now.timestamp()) // size * size
            if isinstance(size, int)
            else instrument.session.trade_date(now.astimezone(instrument.zone))
        )
        return Bar(when, quote.last, quote.last, quote.last, quote.last, 0, quote.last, 0)

    # ---- keepUpToDate -----------------------------------------------------------------------

    def _on_quote(self, con_id: int, quote: Quote) -> None:
        if self.paused:
            return
        for live in self._by_con_id.get(con_id, ()):
            self._update(live, quote)

    def _update(self, live: _Live, quote: Quote) -> None:
        instrument = live.instrument
        tick = instrument.min_tick
        traded = quote.volume - live.volume
        live.volume = quote.volume
        if not isinstance(live.size, int):
            today = instrument.session.trade_date(quote.time.astimezone(instrument.zone))
            if live.size == _DAY:
                live.bar = _today_bar(today, quote, tick)
            else:
                live.bar = _extend(live.bar, quote, traded, tick)
        else:
            epoch = quote.time.timestamp()
            if live.use_rth and not instrument.session.is_liquid(
                datetime.fromtimestamp(epoch, instrument.zone)
            ):
                return
            start = math.floor(epoch) // live.size * live.size
            if live.use_rth:  # the day's first regular-hours bar begins at the open
                zone = instrument.zone
                start = _regular_start(instrument.session, zone, start, live.size) or start
            bar = live.bar
            if isinstance(bar.when, int) and start > bar.when:
                bar = Bar(start, bar.close, bar.close, bar.close, bar.close, 0, bar.close, 0)
            live.bar = _extend(bar, quote, traded, tick)
        if live.bar != live.sent:
            live.sent = live.bar
            bar = live.bar
            live.link.send(
                90,
                live.req_id,
                bar.count,
                _bar_date(bar.when, instrument, live.format_date),
                bar.open,
                bar.close,
                bar.high,
                bar.low,
                bar.wap,
                bar.volume,
            )


def _regular_start(session: SessionRule, zone: ZoneInfo, start: int, size: int) -> int | None:
    """Where a bar of ``[start, start + size)`` begins in regular trading hours: at ``start``
    if the market is liquid then, at the liquid open if that falls inside the bar (TWS's
    regular-hours hourly stock bars run 09:30-10:00, 10:00-11:00, ...), else ``None``."""
    local = datetime.fromtimestamp(start, zone)
    if session.is_liquid(local):
        return start
    if session.liquid_open > session.liquid_close or not session.is_trade_date(local.date()):
        return None
    liquid_open = int(datetime.combine(local.date(), session.liquid_open, zone).timestamp())
    return liquid_open if start < liquid_open < start + size else None


def _session_bars(session: SessionRule, zone: ZoneInfo, start: int, end: int, size: int) -> int:
    """How many bars of ``size`` seconds (aligned to the epoch) start in ``[start, end)`` while
    ``session`` is open."""
    if start >= end:
        return 0
    count = 0
    day = datetime.fromtimestamp(start, zone).date()
    # a session overlapping [start, end) has its trade date up to the day after end's date
    last_day = datetime.fromtimestamp(end, zone).date() + timedelta(days=1)
    while day <= last_day:
        if session.is_trade_date(day):
            opens, closes = (
                int(edge.replace(tzinfo=zone).timestamp()) for edge in session.bounds(day)
            )
            low, high = max(opens, start), min(closes, end)
            if low < high:
                count += -(-high // size) - -(-low // size)
        day += timedelta(days=1)
    return count


def _extend(bar: Bar, quote: Quote, traded: int, tick: Decimal) -> Bar:
    """``bar`` with the latest trade (or, without trades, midpoint) folded in."""
    if quote.volume == 0:
        price = (quote.bid + quote.ask) / 2
        size = 0
    elif traded > 0:
        price, size = quote.last, traded
    else:
        return bar
    volume = bar.volume + size
    notional = bar.wap * bar.volume + price * size
    return Bar(
        when=bar.when,
        open=bar.open if bar.volume or bar.count else price,
        high=max(bar.high, price) if bar.count else price,
        low=min(bar.low, price) if bar.count else price,
        close=price,
        volume=volume,
        wap=average_price(notional, volume, price, tick),
        count=bar.count + 1,
    )


def _today_bar(today: date, quote: Quote, tick: Decimal) -> Bar:
    last = quote.last if quote.volume else (quote.bid + quote.ask) / 2
    wap = average_price((quote.high + quote.low + last) / 3, 1, last, tick)
    return Bar(
        today,
        quote.open,
        max(quote.high, quote.open, last),
        min(quote.low, quote.open, last),
        last,
        quote.volume,
        wap,
        quote.volume // 3,
    )


def _chain_bar(
    when: int | date, link: _Link, before: _Link, tick: Decimal, volume: int, count: int
) -> Bar:
    high = max(link.close, before.close) + link.above
    low = max(1, min(link.close, before.close) - link.below)
    wap = average_price(Decimal(high + low + link.close) * tick / 3, 1, link.close * tick, tick)
    return Bar(
        when=when,
        open=before.close * tick,
        high=high * tick,
        low=low * tick,
        close=link.close * tick,
        volume=volume,
        wap=wap,
        count=count,
    )


def _group(daily: list[Bar], *, week: bool) -> list[Bar]:
    groups: dict[tuple[int, int], list[Bar]] = {}
    for bar in daily:
        assert isinstance(bar.when, date)
        key = bar.when.isocalendar()[:2] if week else (bar.when.year, bar.when.month)
        groups.setdefault(key, []).append(bar)
    grouped = []
    for bars in groups.values():
        volume = sum(bar.volume for bar in bars)
        grouped.append(
            Bar(
                when=bars[0].when,
                open=bars[0].open,
                high=max(bar.high for bar in bars),
                low=min(bar.low for bar in bars),
                close=bars[-1].close,
                volume=volume,
                wap=bars[-1].wap,
                count=sum(bar.count for bar in bars),
            )
        )
    return grouped


def _bar_fields(bar: Bar, instrument: Instrument, format_date: int) -> tuple[object, ...]:
    return (
        _bar_date(bar.when, instrument, format_date),
        bar.open,
        bar.high,
        bar.low,
        bar.close,
        bar.volume,
        bar.wap,
        bar.count,
    )


def _bar_date(when: int | date, instrument: Instrument, format_date: int) -> str:
    if isinstance(when, date):
        return f"{when:%Y%m%d}"
    if format_date == 2:
        return str(when)
    local = datetime.fromtimestamp(when, instrument.zone)
    return f"{local:%Y%m%d %H:%M:%S} {instrument.time_zone}"


def _header_time(moment: datetime, utc_form: bool) -> str:
    """A header date as TWS writes it (the gateway's zone is UTC): ``20240317-16:30:00`` in the
    UTC form, else ``20230413  16:31:22`` (two spaces, no zone)."""
    utc = moment.astimezone(UTC)
    return f"{utc:%Y%m%d-%H:%M:%S}" if utc_form else f"{utc:%Y%m%d  %H:%M:%S}"


def _bar_size(text: str) -> int | str:
    size = BAR_SIZES.get(" ".join(text.split()))
    if size is None:
        raise RequestError(
            321, f"Error validating request.-'bP' : cause - Invalid bar size {text!r}"
        )
    return size


def _trading_days_span(
    instrument: Instrument, end: datetime, duration: str, size: int | str
) -> int:
    """Seconds of history for ``duration``. Like TWS, "N D" means the last N trade dates'
    sessions up to ``end``, not N × 24 hours: on a Saturday "1 D" is Friday's session, on a
    Tuesday morning the session that opened Monday evening; "5 D" of daily bars is 5 bars."""
    span = _duration_seconds(duration)
    if not duration.rstrip().endswith("D"):
        return span
    days = span // _DURATION_SECONDS["D"]
    zone = instrument.zone
    session = instrument.session
    day = session.trade_date(end.astimezone(zone))
    for _ in range(days - 1):
        day = session.trade_date(
            (session.bounds(day)[0] - timedelta(minutes=1)).replace(tzinfo=zone)
        )
    opened = session.bounds(day)[0].replace(tzinfo=zone)
    return math.ceil((end - opened).total_seconds())


def _duration_seconds(text: str) -> int:
    match = _DURATION.match(text.strip())
    if match is None or int(match.group(1)) <= 0:
        raise RequestError(
            321, f"Error validating request.-'bQ' : cause - Invalid duration {text!r}"
        )
    return int(match.group(1)) * _DURATION_SECONDS[match.group(2)]


def _parse_end(text: str) -> datetime:
    """endDateTime as TWS reads it; a time without a zone is taken as UTC (the simulated
    gateway's own zone)."""
    text = text.strip()
    try:
        if len(text) == 8:
            return datetime.strptime(text, "%Y%m%d").replace(tzinfo=UTC) + timedelta(
                hours=23, minutes=59, seconds=59
            )
        if "-" in text[:9]:
            return datetime.strptime(text, "%Y%m%d-%H:%M:%S").replace(tzinfo=UTC)
        parts = text.split()
        moment = datetime.strptime(" ".join(parts[:2]), "%Y%m%d %H:%M:%S")
        zone = ZoneInfo(parts[2]) if len(parts) > 2 else UTC
        return moment.replace(tzinfo=zone)
    except (ValueError, ZoneInfoNotFoundError):
        raise RequestError(
            10314, "End Date/Time: The date, time, or time-zone entered is invalid."
        ) from None
