"""A misbehaving gateway's market depth and option computations: on the console's live
connection to the paper gateway, real updateMktDepth / updateMktDepthL2 rows and
tickOptionComputation messages (recorded from the gateway) go out with fields replaced, dropped
or added: operations and sides IB does not have, rows far outside the book, NaN and infinite
prices, sizes and greeks, IB's "not computed" markers, text where numbers belong.

What must hold for every example: no exception reaches the loop or escapes a handler of the
console; nothing is sent (no order reaches the gateway); nothing is lost (a good depth row and a
good option computation sent after the garbage both reach the console's events); an unusable
row or computation is dropped with a clear log line, and never shown as a made-up number.

``IBCONSOLE_FUZZ_EXAMPLES=N`` runs N examples instead of the quick default.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import example as case
from hypothesis import strategies as st

from ibconsole.broker import market_data, market_depth
from ibconsole.broker.broker import Broker
from ibconsole.broker.market_depth import DepthUpdate
from ibconsole.broker.session import Endpoint
from ibconsole.domain.clock import OffsetClock
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.depth import DepthChange, DepthOperation, DepthSide
from ibconsole.domain.health import HealthSettings
from ibconsole.domain.option_chain import Greeks, strike_window
from ibconsole.domain.risk import RiskLimits
from ibconsole.journal import Journal
from ibconsole.sim import PaperGateway
from ibconsole.sim.connection import Connection

AS_OF = datetime(2025, 3, 4, 15, 0, tzinfo=UTC)  # a Tuesday, CME open
QUIET = 0.01  # quote updates per second: the gateway's own stream stays out of the way
STEP_TIMEOUT = 10.0
DEPTH, DEPTH_L2, OPTION_COMPUTATION = 12, 13, 21
MODEL = "13"  # IB's tick type of the model's option computation


def _examples(default: int) -> int:
    return int(os.environ.get("IBCONSOLE_FUZZ_EXAMPLES") or default)


# --- what the misbehaving gateway sends ----------------------------------------------------------


@dataclass(frozen=True)
class Mutated:
    """A message the gateway really sent this console, with some fields changed."""

    msg_id: int
    edits: tuple[tuple[str, int, str], ...]

    def fields(self, templates: dict[int, list[str]]) -> list[str]:
        fields = list(templates[self.msg_id])
        for kind, position, value in self.edits:
            at = position % (len(fields) + 1)
            if kind == "replace" and at < len(fields):
                fields[at] = value
            elif kind == "delete" and at < len(fields):
                del fields[at]
            elif kind == "insert":
                fields.insert(at, value)
            elif kind == "truncate":
                del fields[at:]
        return fields


_NASTY = (
    "",
    "-1",
    "-2",
    "0",
    "1",
    "2",
    "3",
    "7",
    "-7",
    "99",
    "2147483647",
    "-2147483648",
    "9223372036854775807",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "1e308",
    "1.7976931348623157E309",
    "-0.0",
    "0.5",
    "-0.5",
    "5.5",
    "abc",
    "9" * 400,
    "MM",
)
_VALUES = st.sampled_from(_NASTY) | st.floats().map(repr) | st.integers().map(str)
_EDITS = st.tuples(
    st.sampled_from(["replace"] * 6 + ["delete", "insert", "truncate"]),
    st.integers(min_value=1, max_value=12),  # the message id stays
    _VALUES,
)
_MESSAGES = st.builds(
    Mutated,
    st.sampled_from([DEPTH, DEPTH, DEPTH_L2, OPTION_COMPUTATION, OPTION_COMPUTATION]),
    st.lists(_EDITS, min_size=1, max_size=3).map(tuple),
)


def _set(msg_id: int, *replacements: tuple[int, str]) -> Mutated:
    return Mutated(msg_id, tuple(("replace", at, value) for at, value in replacements))


# --- the rig: gateway, broker with a depth line and an option's quote ----------------------------


class Crashes(logging.Handler):
    """Logged exceptions whose traceback passes through the console's code."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.found: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info is None or record.exc_info[2] is None:
            return
        frames = traceback.extract_tb(record.exc_info[2])
        if any("/ibconsole/" in f.filename for f in frames):
            text = "".join(traceback.format_exception(*record.exc_info))
            self.found.append(f"{record.name}: {record.getMessage()}\n{text}")


class Warnings(logging.Handler):
    """The console's own WARNING lines."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("ibconsole") and record.levelno == logging.WARNING:
            self.lines.append(record.getMessage())


@dataclass
class Rig:
    gateway: PaperGateway
    broker: Broker
    journal: Journal
    front: ListedContract
    option: ListedContract
    templates: dict[int, list[str]]
    depth: list[DepthChange] = field(default_factory=list)
    greeks: list[Greeks] = field(default_factory=list)
    news: asyncio.Event = field(default_factory=asyncio.Event)  # depth or greeks arrived

    async def until(self, done: Callable[[], bool], what: str) -> None:
        """Wait (on the console's events, up to ``STEP_TIMEOUT``) until ``done()``."""
        try:
            async with asyncio.timeout(STEP_TIMEOUT):
                while not done():
                    self.news.clear()
                    await self.news.wait()
        except TimeoutError:
            raise AssertionError(f"no {what} within {STEP_TIMEOUT} s") from None

    @classmethod
    async def start(cls, folder: Path, monkeypatch: pytest.MonkeyPatch) -> Rig:
        gateway = PaperGateway(seed=7, as_of=AS_OF, tick_rate=QUIET)
        await gateway.start("127.0.0.1", 0)
        clock = OffsetClock(AS_OF)
        journal = Journal(folder / "journal.sqlite3", clock)
        broker = Broker(
            Endpoint("127.0.0.1", gateway.port, 1),
            journal,
            clock,
            health=HealthSettings(),
            limits=RiskLimits(),
        )
        recorded: dict[int, list[str]] = {}
        send = Connection.send

        def record(connection: Connection, *fields: object) -> None:
            send(connection, *fields)
            if fields and int(str(fields[0])) in (DEPTH, OPTION_COMPUTATION):
                recorded.setdefault(int(str(fields[0])), [str(f) for f in fields])

        monkeypatch.setattr(Connection, "send", record)
        await broker.start()
        front = (await broker.contracts.chain("ES")).months[0].contract
        expiry = (await broker.options.expiries([front]))[0]
        [atm] = strike_window(expiry.strikes, gateway.market.quote(front.con_id).last, 0)
        option, _put = await broker.options.options(expiry, front, [atm])
        rig = cls(gateway, broker, journal, front, option, recorded)
        broker.depth.depth_updated += rig._on_depth
        broker.market.greeks_updated += rig._on_greeks
        broker.depth.subscribe(front)
        broker.market.subscribe(option)
        await rig.until(
            lambda: bool(rig.depth and rig.greeks and len(recorded) == 2),
            "depth and an option computation from the gateway",
        )
        monkeypatch.setattr(Connection, "send", send)
        # The model's computation of the option, and its L2 form of a depth row.
        computation = recorded[OPTION_COMPUTATION]
        computation[2] = MODEL
        _, version, req_id, position, operation, side, price, size = recorded[DEPTH]
        recorded[DEPTH_L2] = [
            str(DEPTH_L2),
            version,
            req_id,
            position,
            "MM",
            operation,
            side,
            price,
            size,
            "0",
        ]
        return rig

    async def stop(self) -> None:
        await self.broker.stop()
        self.journal.close()
        await self.gateway.stop()

    @property
    def connection(self) -> Connection:
        (connection,) = (c for c in self.gateway.connections if c.client_id == 1)
        return connection

    def inject(self, fields: list[str]) -> None:
        self.connection.send(*fields)

    async def still_served(self, mark: int) -> None:
        """A good depth row and a good computation, sent after whatever came before, both
        reach the console (``mark`` makes them this example's own)."""
        price = Decimal(4000) + Decimal(mark) / 4
        depth = list(self.templates[DEPTH])
        depth[3:8] = ["0", "0", "1", f"{price}", "77"]  # insert the best bid
        self.inject(depth)
        delta = round(0.1 + (mark % 800) / 1000, 3)
        computation = list(self.templates[OPTION_COMPUTATION])
        computation[5] = repr(delta)
        self.inject(computation)
        wanted = DepthChange(DepthOperation.INSERT, DepthSide.BID, 0, price, Decimal(77))
        await self.until(lambda: wanted in self.depth, "good depth row after the garbage")
        await self.until(
            lambda: any(g.delta == delta for g in self.greeks),
            "good option computation after the garbage",
        )

    def _on_depth(self, update: DepthUpdate) -> None:
        if update.con_id == self.front.con_id:
            self.depth.extend(update.changes)
            self.news.set()

    def _on_greeks(self, computed: tuple[tuple[int, Greeks], ...]) -> None:
        self.greeks.extend(g for con_id, g in computed if con_id == self.option.con_id)
        self.news.set()


def _plausible(greeks: Greeks) -> bool:
    """What the console passes on is a number an option can have, or None."""
    checks: list[tuple[float | None, Callable[[float], bool]]] = [
        (greeks.implied_vol, lambda v: v >= 0),
        (greeks.delta, lambda v: -1 <= v <= 1),
        (greeks.gamma, lambda v: v >= 0),
        (greeks.vega, lambda v: v >= 0),
        (greeks.theta, lambda v: True),
        (greeks.underlying, lambda v: True),
    ]
    return all(v is None or (math.isfinite(v) and ok(v)) for v, ok in checks)


def _usable(change: DepthChange) -> bool:
    return (
        change.position >= 0
        and change.price.is_finite()
        and change.size.is_finite()
        and change.size >= 0
    )


@pytest.mark.expect_log_warnings  # each dropped row or computation is logged
def test_bad_depth_rows_and_option_computations_crash_nothing_send_nothing_lose_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    crashes, warnings = Crashes(), Warnings()
    root = logging.getLogger()
    root.addHandler(crashes)
    root.addHandler(warnings)
    marks = iter(range(1, 10**6))
    with asyncio.Runner() as runner:
        loop = runner.get_loop()
        loop.set_exception_handler(
            lambda _, context: crashes.found.append(f"reached the loop: {context!r}")
        )
        rig = runner.run(Rig.start(tmp_path, monkeypatch))
        try:

            @settings(
                max_examples=_examples(40),
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow],
            )
            @given(batch=st.lists(_MESSAGES, min_size=1, max_size=5))
            # operations and sides IB does not have; a row far outside the book
            @case(batch=[_set(DEPTH, (4, "3")), _set(DEPTH, (5, "2")), _set(DEPTH, (4, "-1"))])
            @case(batch=[_set(DEPTH, (3, "-5")), _set(DEPTH_L2, (3, "2147483647"))])
            # a price beyond any tick grid: its row had stayed in the ticker, failing every batch
            @case(batch=[_set(DEPTH, (6, "-1.6880690758736528e+152"))])
            # NaN and infinite prices and sizes, a negative size
            @case(batch=[_set(DEPTH, (6, "nan")), _set(DEPTH, (7, "inf")), _set(DEPTH, (7, "-3"))])
            # IB's "not computed" (-2) in vega and theta, which ib_async passes on as -2
            @case(batch=[_set(OPTION_COMPUTATION, (9, "-2"), (10, "-2"))])
            # a delta beyond 1, a negative volatility and gamma, infinities
            @case(batch=[_set(OPTION_COMPUTATION, (4, "-0.5"), (5, "5.5"), (8, "-1"), (11, "inf"))])
            def example(batch: list[Mutated]) -> None:
                for message in batch:
                    rig.inject(message.fields(rig.templates))
                runner.run(rig.still_served(next(marks)))
                assert rig.gateway.orders == [], "the console sent an order"
                assert not crashes.found, "\n".join(crashes.found)
                bad = [c for c in rig.depth if not _usable(c)]
                assert not bad, f"unusable depth rows passed on: {bad}"
                implausible = [g for g in rig.greeks if not _plausible(g)]
                assert not implausible, f"implausible greeks passed on: {implausible}"

            example()
        finally:
            runner.run(rig.stop())
            root.removeHandler(crashes)
            root.removeHandler(warnings)


# (fields of updateMktDepth to replace, what the log line says)
_BAD_ROWS = [
    ({4: "3"}, "its operation 3 is none of insert, update, delete"),
    ({4: "-1"}, "its operation -1 is none of insert, update, delete"),
    ({5: "2"}, "its side 2 is neither ask nor bid"),
    ({3: "-5"}, "its row -5 is outside any book"),
    ({3: "2147483647"}, "its row 2147483647 is outside any book"),
    ({6: "nan"}, "its price nan is no number"),
    ({6: "1.7976931348623157E308"}, "its price 1.7976931348623157e+308 is no number"),
    ({6: "-1.6880690758736528e+152"}, "its price -1.6880690758736528e+152 is on no tick grid"),
    ({7: "inf"}, "its size inf is no quantity"),
    ({7: "-3"}, "its size -3.0 is no quantity"),
]
# (fields of tickOptionComputation to replace, the greeks passed on, what the log line names)
_BAD_COMPUTATIONS = [
    ({9: "-2", 10: "-2"}, {"vega": None, "theta": None}, ""),  # IB's "not computed"
    ({5: "5.5"}, {"delta": None}, "delta 5.5"),
    ({4: "-0.5", 8: "-1.0"}, {"implied_vol": None, "gamma": None}, "implied_vol -0.5, gamma -1.0"),
    ({9: "-7.0"}, {"vega": None}, "vega -7.0"),
]


@pytest.mark.expect_log_warnings
def test_each_unusable_row_or_computation_is_dropped_with_a_line_that_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warnings = Warnings()
    logging.getLogger().addHandler(warnings)
    with asyncio.Runner() as runner:
        rig = runner.run(Rig.start(tmp_path, monkeypatch))
        try:
            runner.run(_drops(rig, warnings, monkeypatch))
        finally:
            runner.run(rig.stop())
            logging.getLogger().removeHandler(warnings)


async def _drops(rig: Rig, warnings: Warnings, monkeypatch: pytest.MonkeyPatch) -> None:
    symbol = rig.front.local_symbol
    # A flood of bad rows is one line per interval, with the count dropped meanwhile.
    (first_edits, first_sentence), *_ = _BAD_ROWS
    flood = _row(rig, first_edits)
    for _ in range(3):
        rig.inject(flood)
    await rig.still_served(1)
    lines = [line for line in warnings.lines if line.startswith(f"depth of {symbol}")]
    assert lines == [
        f"depth of {symbol}: a row IB sent is ignored, {first_sentence} "
        "(1 ignored since the last such line)"
    ], warnings.lines
    # Each kind of bad row and computation, each logged (no interval between them here).
    monkeypatch.setattr(market_depth, "_BAD_ROW_LOG_SECONDS", 0.0)
    monkeypatch.setattr(market_data, "_DOUBT_LOG_SECONDS", 0.0)
    for mark, (edits, sentence) in enumerate(_BAD_ROWS, start=2):
        rig.depth.clear()
        warnings.lines.clear()
        rig.inject(_row(rig, edits))
        await rig.still_served(mark)
        assert [c for c in rig.depth if not _usable(c)] == [], edits
        said = f"depth of {symbol}: a row IB sent is ignored, {sentence}"
        assert any(line.startswith(said) for line in warnings.lines), (edits, warnings.lines)
    option = rig.option.local_symbol
    for mark, (edits, expected, named) in enumerate(_BAD_COMPUTATIONS, start=1):
        computation = list(rig.templates[OPTION_COMPUTATION])
        underlying = 5000 + mark / 8  # this computation's own mark
        computation[11] = repr(underlying)
        for at, value in edits.items():
            computation[at] = value
        warnings.lines.clear()
        rig.inject(computation)
        await rig.until(
            lambda mark=underlying: any(g.underlying == mark for g in rig.greeks),
            f"computation {mark}",
        )
        (greeks,) = [g for g in rig.greeks if g.underlying == underlying]
        assert {name: getattr(greeks, name) for name in expected} == expected, edits
        assert _plausible(greeks), greeks
        doubts = [line for line in warnings.lines if line.startswith("option computation")]
        said = f"option computation for {option} ignored in part, no option has {named}"
        assert doubts == ([said] if named else []), (edits, warnings.lines)


def _row(rig: Rig, edits: dict[int, str]) -> list[str]:
    row = list(rig.templates[DEPTH])
    for at, value in edits.items():
        row[at] = value
    return row
