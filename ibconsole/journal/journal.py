"""The order journal: typed, transactional appends to the event log and the queries the blotter
and the reconciler run against its projection.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

from ibconsole.domain.clock import Clock
from ibconsole.domain.orders import OrderIntent, OrderValidationError, Side, validate_key
from ibconsole.journal.checkpoints import CHECKPOINT_PAUSE, Checkpointer
from ibconsole.journal.codec import (
    decode_intent,
    decode_lifecycle,
    decode_payload,
    encode_intent,
    encode_lifecycle,
    encode_new_order,
    encode_payload,
    parse_utc,
    utc_text,
)
from ibconsole.journal.errors import ExecutionConflict, JournalError
from ibconsole.journal.events import (
    BrokerStatus,
    CancelRequested,
    CommissionRecorded,
    Decision,
    DecisionRecorded,
    EventPayload,
    ExecutionConflictRecorded,
    FillRecorded,
    IntentRecorded,
    JournalEvent,
    ModificationRecorded,
    ReconciliationOutcome,
    ReconciliationRecorded,
    RejectionRecorded,
    StatusRecorded,
    SubmissionRecorded,
)
from ibconsole.journal.lifecycle import OrderLifecycle, OrderState, apply, exec_base, start
from ibconsole.journal.read_cache import Missing, ReadCache
from ibconsole.journal.schema import open_database
from ibconsole.journal.settings_changes import KIND as SETTINGS_KIND
from ibconsole.journal.settings_changes import SETTINGS_KEY, SettingsChanged
from ibconsole.journal.settings_changes import decode as decode_settings_change
from ibconsole.journal.settings_changes import encode as encode_settings_change
from ibconsole.journal.snapshots import JournalFill, JournalOrder
from ibconsole.journal.transactions import write_transaction

logger = logging.getLogger(__name__)

# Constant statement texts: sqlite3 keeps each one prepared in its per-connection cache, and
# every write-path statement is a primary-key or index lookup (tests check the query plans).
_INSERT_EVENT = "INSERT INTO events (time, key, kind, exec_id, payload) VALUES (?, ?, ?, ?, ?)"
_SELECT_ORDER = "SELECT intent, lifecycle FROM orders WHERE key = ?"
_INSERT_ORDER = (
    "INSERT INTO orders (key, created_at, parent_key, state, final, lifecycle, intent,"
    " last_event_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_UPDATE_ORDER = (
    "UPDATE orders SET parent_key = ?, state = ?, final = ?, lifecycle = ?, last_event_id = ?"
    " WHERE key = ?"
)
_DATA_VERSION = "PRAGMA data_version"  # moves with each commit of another connection
_SELECT_CHILDREN = "SELECT key FROM orders WHERE parent_key = ? ORDER BY key"
_SELECT_FILL_KEY = "SELECT key FROM fills WHERE exec_id = ?"
_SELECT_COMMISSION_EVENT = "SELECT 1 FROM events WHERE kind = 'commission' AND exec_id = ?"
_SELECT_CONFLICTS = (
    "SELECT id, time, key, kind, payload FROM events WHERE key = ? AND kind = 'execution_conflict'"
)
_SUPERSEDE_FILLS = "UPDATE fills SET superseded = 1 WHERE exec_base = ? AND exec_id != ?"
_INSERT_FILL = (
    "INSERT INTO fills (exec_id, exec_base, key, time, con_id, side, quantity, price, event_id)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_UPDATE_FILL_COMMISSION = (
    "UPDATE fills SET commission = ?, currency = ?, realized_pnl = ? WHERE exec_id = ?"
)

WRITE_PATH_STATEMENTS = (
    _INSERT_EVENT,
    _SELECT_ORDER,
    _INSERT_ORDER,
    _UPDATE_ORDER,
    _SELECT_CHILDREN,
    _SELECT_FILL_KEY,
    _SELECT_COMMISSION_EVENT,
    _SELECT_CONFLICTS,
    _SUPERSEDE_FILLS,
    _INSERT_FILL,
    _UPDATE_FILL_COMMISSION,
)

_FILL_COLUMNS = (
    "exec_id, key, con_id, side, quantity, price, time, commission, currency, realized_pnl"
)
_NO_LIMIT = -1

_Row = tuple[Any, ...]


def _positive(what: str, value: Decimal) -> Decimal:
    if not value.is_finite() or value <= 0:
        raise JournalError(f"{what} must be a positive number, got {value}")
    return value


def _not_negative(what: str, value: Decimal) -> Decimal:
    if not value.is_finite() or value < 0:
        raise JournalError(f"{what} must be zero or more, got {value}")
    return value


def _finite(what: str, value: Decimal) -> Decimal:
    if not value.is_finite():
        raise JournalError(f"{what} must be a finite number, got {value}")
    return value


def _text(what: str, value: str) -> str:
    if not value.strip():
        raise JournalError(f"{what} is empty")
    return value


_E = TypeVar("_E", Decision, BrokerStatus, ReconciliationOutcome, Side)


def _check_intent(intent: OrderIntent) -> None:
    _positive(f"order {intent.key}: the quantity", intent.quantity)
    utc_text(intent.created_at)


def _check_entry(
    intent: OrderIntent,
    children: Sequence[OrderIntent],
    decided: bool = False,
    order_ids: Sequence[int] = (),
) -> None:
    """A new order and its bracket children: each child keyed as one of the parent's exits and,
    if ``order_ids`` are given, a decision and a positive IB order id for each order."""
    if order_ids and (not decided or len(order_ids) != 1 + len(children)):
        raise JournalError(
            f"order {intent.key}: a submission needs a decision and an IB order id for the "
            f"order and each of its {len(children)} children, got {list(order_ids)}"
        )
    if any(order_id <= 0 for order_id in order_ids):
        raise JournalError(
            f"order {intent.key}: the IB order id must be positive, got {list(order_ids)}"
        )
    try:
        validate_key(intent.key)
    except OrderValidationError as exc:
        raise JournalError(f"order {intent.key!r}: {exc.message}") from None
    _check_intent(intent)
    allowed = {intent.take_profit_key, intent.stop_loss_key}
    seen: set[str] = set()
    for child in children:
        if child.key not in allowed or child.key in seen:
            raise JournalError(
                f"bracket child {child.key!r} of order {intent.key} must be keyed "
                f"{intent.take_profit_key!r} or {intent.stop_loss_key!r}, once each"
            )
        seen.add(child.key)
        _check_intent(child)


def _decision(key: str, decision: Decision | str, findings: Sequence[str]) -> DecisionRecorded:
    if isinstance(findings, str):
        raise JournalError(f"order {key}: findings must be a list of messages, not one string")
    return DecisionRecorded(
        _enum_value(Decision, "decision", decision), tuple(str(f) for f in findings)
    )


def _enum_value(enum: type[_E], what: str, value: _E | str) -> _E:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise JournalError(f"{what} {value!r} is not one of {allowed}") from None


class Journal:
    """Append-only SQLite journal of every order intent, decision, submission, status and fill.

    Every ``record_*`` call is one transaction: it appends one event (or, for a bracket, one per
    order) and updates the projection the queries read, or raises ``JournalError`` and writes
    nothing. The journal never decides on its own that an order is final: decisions, broker
    reports and reconciliation outcomes do.

    The broker journals the intent before anything is sent and ``record_submission`` before
    handing the order to IB; an order that was declined, blocked or already submitted is
    refused there, so nothing is sent twice.

    Brackets: ``record_intent(parent, children)`` journals the parent and its take-profit and
    stop-loss children (keys ``parent.take_profit_key`` / ``parent.stop_loss_key``) together,
    and a decision on the parent is journalled for each child too.

    Orders adopted at reconciliation (at the broker with our key, missing here) are journalled
    with ``record_intent`` rebuilt from the broker's order, then
    ``record_reconciliation(key, ADOPTED, ...)``.

    Use it from one thread (the event loop's). Its checkpoints run on a thread of their own
    (``checkpoints.Checkpointer``), ``checkpoint_pause`` seconds after a write.

    ``order`` and ``fill`` answer from the orders and fills read or written last
    (``read_cache``) when they can: an order's every listener asks for it on each report IB
    sends, and each write reads the order it changes.
    """

    def __init__(
        self, path: Path, clock: Clock, checkpoint_pause: float = CHECKPOINT_PAUSE
    ) -> None:
        self._path = Path(path)
        self._clock = clock
        self._conn: sqlite3.Connection | None = open_database(self._path)
        self._conn.execute("PRAGMA wal_autocheckpoint = 0")  # the checkpointer's work
        self._checkpoints = Checkpointer(self._path, checkpoint_pause)
        self._cache = ReadCache()
        logger.info("journal open at %s", self._path)

    @property
    def path(self) -> Path:
        return self._path

    def close(self) -> None:
        if self._conn is not None:
            self._checkpoints.close()
            self._conn.close()
            self._conn = None
            self._cache.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- writes -------------------------------------------------------------------------------

    def record_intent(
        self, intent: OrderIntent, children: Sequence[OrderIntent] = ()
    ) -> JournalOrder:
        """Journal an order (and its bracket children) before anything is sent."""
        return self.record_entry(intent, children)

    def record_entry(
        self,
        intent: OrderIntent,
        children: Sequence[OrderIntent] = (),
        decision: Decision | None = None,
        findings: Sequence[str] = (),
        order_ids: Sequence[int] = (),
        client_id: int = 0,
    ) -> JournalOrder:
        """Journal a new order and its bracket children, the ``decision`` if given and, with
        ``order_ids`` (the entry's, then each child's), their handing to IB: the events of
        ``record_intent``, ``record_decision`` and ``record_submission`` in one transaction."""
        _check_entry(intent, children, decision is not None, order_ids)
        orders = (intent, *children)
        steps: list[list[EventPayload]] = [
            [IntentRecorded(order, None if order is intent else intent.key) for order in orders]
        ]
        if decision is not None:
            steps.append([_decision(intent.key, decision, findings)] * len(orders))
        if order_ids:
            steps.append(
                [
                    SubmissionRecorded(number, client_id, None if order is intent else intent.key)
                    for number, order in zip(order_ids, orders, strict=True)
                ]
            )
        time = self._now()
        with self._write() as conn:
            lifecycle = self._append_new(conn, time, steps)
        return JournalOrder(intent, lifecycle)

    def record_decision(
        self, key: str, decision: Decision | str, findings: Sequence[str]
    ) -> JournalOrder:
        """Journal the confirmation decision for an order and its bracket children."""
        payload = _decision(key, decision, findings)
        time = self._now()
        with self._write() as conn:
            order = self._append(conn, time, key, payload)
            for (child_key,) in conn.execute(_SELECT_CHILDREN, (key,)).fetchall():
                self._append(conn, time, child_key, payload)
        return order

    def record_submission(
        self, key: str, order_id: int, client_id: int, parent_key: str | None = None
    ) -> JournalOrder:
        """Journal that the order is handed to IB as ``order_id`` on connection ``client_id``."""
        if order_id <= 0:
            raise JournalError(f"order {key}: the IB order id must be positive, got {order_id}")
        if parent_key == key:
            raise JournalError(f"order {key} cannot be its own parent")
        time = self._now()
        with self._write() as conn:
            if parent_key is not None and self._journalled(conn, parent_key) is None:
                raise JournalError(f"order {key}: its parent {parent_key!r} is not journalled")
            return self._append(
                conn, time, key, SubmissionRecorded(order_id, client_id, parent_key)
            )

    def record_status(
        self,
        key: str,
        status: BrokerStatus | str,
        filled: Decimal,
        remaining: Decimal,
        avg_fill_price: Decimal | None,
        perm_id: int,
    ) -> JournalOrder:
        """Journal one IB ``orderStatus`` report (cumulative ``filled``/``remaining``)."""
        if perm_id < 0:
            raise JournalError(f"order {key}: the permId must not be negative, got {perm_id}")
        payload = StatusRecorded(
            status=_enum_value(BrokerStatus, f"order {key}: the status", status),
            filled=_not_negative(f"order {key}: the filled quantity", filled),
            remaining=_not_negative(f"order {key}: the remaining quantity", remaining),
            avg_fill_price=(
                None
                if avg_fill_price is None
                else _finite(f"order {key}: the average fill price", avg_fill_price)
            ),
            perm_id=perm_id,
        )
        time = self._now()
        with self._write() as conn:
            return self._append(conn, time, key, payload)

    def record_fill(
        self,
        key: str,
        exec_id: str,
        con_id: int,
        side: Side,
        quantity: Decimal,
        price: Decimal,
        time: datetime,
    ) -> bool:
        """Journal one execution; ``False`` if ``exec_id`` was journalled before (a repeat).

        An id journalled for another order is journalled beside ``key`` as a conflict, then
        ``ExecutionConflict`` is raised (once per id and order) for the trader to hear of it.
        """
        payload = FillRecorded(
            exec_id=_text(f"order {key}: the execution id", exec_id),
            con_id=con_id,
            side=_enum_value(Side, f"execution {exec_id}: the side", side),
            quantity=_positive(f"execution {exec_id}: the quantity", quantity),
            price=_finite(f"execution {exec_id}: the price", price),
            time=parse_utc(utc_text(time)),
        )
        now = self._now()
        with self._write() as conn:
            row = conn.execute(_SELECT_FILL_KEY, (exec_id,)).fetchone()
            if row is None:
                order = self._append(conn, now, key, payload)
                self._cache.stage_fill(key, payload)
            elif row[0] == key or not self._record_conflict(conn, now, key, payload, row[0]):
                return False  # a repeat: IB reports executions again after every reconnect
            else:
                order = None
                journalled_for = row[0]
        if order is None:
            # Raised once the execution is written: a fill is never lost, the trader is told.
            conflict = ExecutionConflict(exec_id, journalled_for, key)
            logger.critical("%s", conflict)
            raise conflict
        if order.lifecycle.executed > order.lifecycle.quantity:
            logger.warning(
                "order %s: executions total %s, more than the %s ordered",
                key,
                order.lifecycle.executed,
                order.lifecycle.quantity,
            )
        return True

    def _record_conflict(
        self,
        conn: sqlite3.Connection,
        time: datetime,
        key: str,
        fill: FillRecorded,
        journalled_for: str,
    ) -> bool:
        """Journal an execution whose id belongs to another order beside ``key``; False when
        this very report (the id, for this order) is journalled already."""
        for event in map(_event, conn.execute(_SELECT_CONFLICTS, (key,)).fetchall()):
            if (
                isinstance(event.payload, ExecutionConflictRecorded)
                and event.payload.fill.exec_id == fill.exec_id
            ):
                return False
        self._append(conn, time, key, ExecutionConflictRecorded(fill, journalled_for))
        return True

    def execution_conflicts(self, key: str) -> list[ExecutionConflictRecorded]:
        """Executions reported for ``key`` whose ids are journalled for other orders."""
        return [
            event.payload
            for event in map(_event, self._read(_SELECT_CONFLICTS, (key,)))
            if isinstance(event.payload, ExecutionConflictRecorded)
        ]

    def record_commission(
        self, exec_id: str, commission: Decimal, currency: str, realized_pnl: Decimal | None
    ) -> bool:
        """Journal IB's commission report for an execution; ``False`` if it is a repeat."""
        payload = CommissionRecorded(
            exec_id=exec_id,
            commission=_finite(f"execution {exec_id}: the commission", commission),
            currency=currency,
            realized_pnl=(
                None
                if realized_pnl is None
                else _finite(f"execution {exec_id}: the realized P&L", realized_pnl)
            ),
        )
        time = self._now()
        with self._write() as conn:
            row = conn.execute(_SELECT_FILL_KEY, (exec_id,)).fetchone()
            if row is None:
                raise JournalError(
                    f"no journalled execution has the id {exec_id!r}; "
                    "its commission report must follow it"
                )
            if conn.execute(_SELECT_COMMISSION_EVENT, (exec_id,)).fetchone() is not None:
                return False
            self._append(conn, time, row[0], payload)
            self._cache.stage_commission(payload)
        return True

    def record_cancel_request(self, key: str, reason: str) -> JournalOrder:
        """Journal that a cancel was asked for; the broker's report makes the order final."""
        time = self._now()
        with self._write() as conn:
            return self._append(conn, time, key, CancelRequested(reason))

    def record_modification(
        self,
        key: str,
        quantity: Decimal,
        limit_price: Decimal | None,
        stop_price: Decimal | None,
    ) -> JournalOrder:
        """Journal a change of a working order (same order id) before it is sent."""
        payload = ModificationRecorded(
            _positive(f"order {key}: the new quantity", quantity),
            None if limit_price is None else _finite(f"order {key}: the limit price", limit_price),
            None if stop_price is None else _finite(f"order {key}: the stop price", stop_price),
        )
        time = self._now()
        with self._write() as conn:
            return self._append(conn, time, key, payload)

    def record_rejection(self, key: str, code: int, message: str) -> JournalOrder:
        """Journal that IB rejected the order (error ``code``); the order becomes final."""
        time = self._now()
        with self._write() as conn:
            return self._append(conn, time, key, RejectionRecorded(code, message))

    def record_reconciliation(
        self, key: str, outcome: ReconciliationOutcome | str, detail: str
    ) -> JournalOrder:
        """Journal what reconciling the order against the broker found."""
        payload = ReconciliationRecorded(
            _enum_value(ReconciliationOutcome, f"order {key}: the outcome", outcome), detail
        )
        time = self._now()
        with self._write() as conn:
            return self._append(conn, time, key, payload)

    def record_settings_change(self, event: SettingsChanged) -> None:
        """Journal a trader's change of settings (it decides which orders may go from now on)."""
        if not event.changes:
            raise JournalError("a settings change needs at least one changed key")
        with self._write() as conn:
            conn.execute(
                _INSERT_EVENT,
                (
                    utc_text(self._now()),
                    SETTINGS_KEY,
                    SETTINGS_KIND,
                    None,
                    encode_settings_change(event),
                ),
            )

    def settings_changes(self) -> list[SettingsChanged]:
        """Every journalled change of settings, oldest first."""
        rows = self._read(
            "SELECT time, payload FROM events WHERE kind = ? ORDER BY id", (SETTINGS_KIND,)
        )
        return [decode_settings_change(payload, parse_utc(time)) for time, payload in rows]

    def rebuild_projection(self) -> None:
        """Recompute the orders and fills tables by replaying every event, in one transaction."""
        with self._write() as conn:
            orders = _replay(conn)
        self._cache.clear()
        logger.info("journal projection rebuilt from %d orders' events", orders)

    # -- queries ------------------------------------------------------------------------------

    def order(self, key: str) -> JournalOrder | None:
        self._follow_others()
        cached = self._cache.orders.get(key)
        if not isinstance(cached, Missing):
            return cached
        rows = self._read(_SELECT_ORDER, (key,))
        found = _order(rows[0]) if rows else None
        self._cache.orders.put(key, found)
        return found

    def orders(self, since: datetime | None = None, limit: int | None = 1000) -> list[JournalOrder]:
        """Orders created at or after ``since``, newest first, at most ``limit`` of them."""
        if limit is not None and limit < 1:
            raise JournalError(f"the order limit must be at least 1, got {limit}")
        rows = self._read(
            "SELECT intent, lifecycle FROM orders WHERE created_at >= ?"
            " ORDER BY created_at DESC, key DESC LIMIT ?",
            (_since(since), _NO_LIMIT if limit is None else limit),
        )
        return [_order(row) for row in rows]

    def open_orders(self) -> list[JournalOrder]:
        """Orders intended or submitted and not yet final, oldest first."""
        rows = self._read(
            "SELECT intent, lifecycle FROM orders WHERE final = 0 ORDER BY created_at, key", ()
        )
        return [_order(row) for row in rows]

    def unsubmitted_intents(self) -> list[JournalOrder]:
        """Open orders the journal has no submission for (intended or confirmed only)."""
        rows = self._read(
            "SELECT intent, lifecycle FROM orders WHERE final = 0 AND state IN (?, ?)"
            " ORDER BY created_at, key",
            (OrderState.INTENDED.value, OrderState.CONFIRMED.value),
        )
        return [_order(row) for row in rows]

    def fills(self, since: datetime | None = None) -> list[JournalFill]:
        """Executions at or after ``since``, oldest first; corrected executions are left out."""
        rows = self._read(
            f"SELECT {_FILL_COLUMNS} FROM fills WHERE superseded = 0 AND time >= ?"
            " ORDER BY time, exec_id",
            (_since(since),),
        )
        return [_fill(row) for row in rows]

    def fill(self, exec_id: str) -> JournalFill | None:
        """One execution by its id (None if unknown or replaced by a correction)."""
        self._follow_others()
        cached = self._cache.fills.get(exec_id)
        if not isinstance(cached, Missing):
            return cached
        rows = self._read(
            f"SELECT {_FILL_COLUMNS} FROM fills WHERE exec_id = ? AND superseded = 0", (exec_id,)
        )
        found = _fill(rows[0]) if rows else None
        self._cache.fills.put(exec_id, found)
        return found

    def has_execution(self, exec_id: str) -> bool:
        """True once ``exec_id`` is journalled (corrections included), without a scan."""
        self._follow_others()
        if isinstance(self._cache.fills.get(exec_id), JournalFill):
            return True
        return bool(self._read(_SELECT_FILL_KEY, (exec_id,)))

    def events(self, key: str) -> list[JournalEvent]:
        """Every event journalled for ``key``, oldest first."""
        rows = self._read(
            "SELECT id, time, key, kind, payload FROM events WHERE key = ? ORDER BY id", (key,)
        )
        return [_event(row) for row in rows]

    def known_exec_ids(self) -> frozenset[str]:
        return frozenset(row[0] for row in self._read("SELECT exec_id FROM fills", ()))

    def trace(self, statement: Callable[[str], object] | None) -> None:
        """Hand each SQL statement this journal runs to ``statement`` (None: stop), for the
        benchmarks and tests that count what an order costs the journal."""
        self._connection().set_trace_callback(statement)

    # -- internals ----------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise JournalError(f"the journal {self._path} is closed")
        return self._conn

    def _now(self) -> datetime:
        return parse_utc(utc_text(self._clock.now()))

    def _read(self, sql: str, params: tuple[object, ...]) -> list[_Row]:
        try:
            rows: list[_Row] = self._connection().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise JournalError(f"cannot read the journal {self._path}: {exc}") from exc
        return rows

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One transaction; the cache takes in what it wrote once it is committed (a write that
        fails leaves the cache as it leaves the file)."""
        self._cache.discard()
        try:
            with write_transaction(self._connection(), self._path) as conn:
                self._follow_others()  # under the write lock: nobody else commits from here on
                yield conn
        except BaseException:
            self._cache.discard()
            raise
        self._cache.commit()
        self._checkpoints.written()

    def _follow_others(self) -> None:
        """Empty the cache if another connection changed the file since it was last current."""
        ((version,),) = self._read(_DATA_VERSION, ())
        self._cache.follow(version)

    def _journalled(self, conn: sqlite3.Connection, key: str) -> JournalOrder | None:
        """The order ``key`` as the write under way sees it: from the cache, else read inside the
        transaction (so an intent this write journalled counts)."""
        known = self._cache.written_order(key)
        if isinstance(known, JournalOrder):
            return known
        if known is None:  # not journalled when the write began
            return None
        row = conn.execute(_SELECT_ORDER, (key,)).fetchone()
        return None if row is None else _order(row)

    def _append_new(
        self, conn: sqlite3.Connection, time: datetime, steps: Sequence[Sequence[EventPayload]]
    ) -> OrderLifecycle:
        """Journal new orders: ``steps[0]`` their intents, each later step one event for each
        order, in that order; each order's row is written once, as its last event leaves it.
        Returns the first order's lifecycle."""
        intents = [payload for payload in steps[0] if isinstance(payload, IntentRecorded)]
        last: dict[str, tuple[int, OrderLifecycle]] = {}
        encoded: dict[str, str] = {}  # each intent's text, for its event and its row
        for payload in intents:
            key = payload.intent.key
            if self._journalled(conn, key) is not None or key in last:
                raise JournalError(
                    f"order {key} is already journalled; an order key is never reused"
                )
            event_text, encoded[key] = encode_new_order(payload)
            last[key] = (_insert_event(conn, time, key, payload, event_text), start(payload, time))
        for step in steps[1:]:
            for payload, event in zip(intents, step, strict=True):
                key = payload.intent.key
                lifecycle = apply(last[key][1], event, time)
                last[key] = (_insert_event(conn, time, key, event), lifecycle)
        for payload in intents:
            key = payload.intent.key
            event_id, lifecycle = last[key]
            _project(conn, event_id, key, payload, lifecycle, encoded[key])
            self._cache.stage_order(key, None)  # read again as the file has it (its intent decoded)
        return last[intents[0].intent.key][1]

    def _append(
        self, conn: sqlite3.Connection, time: datetime, key: str, payload: EventPayload
    ) -> JournalOrder:
        before = self._journalled(conn, key)
        if before is None:
            raise JournalError(f"no journalled order has the key {key!r}")
        lifecycle = apply(before.lifecycle, payload, time)
        _project(conn, _insert_event(conn, time, key, payload), key, payload, lifecycle)
        after = JournalOrder(before.intent, lifecycle)
        self._cache.stage_order(key, after)
        return after


def _insert_event(
    conn: sqlite3.Connection,
    time: datetime,
    key: str,
    payload: EventPayload,
    text: str | None = None,
) -> int:
    """Append one event; ``text`` is its payload encoded already, if it is."""
    exec_id = payload.exec_id if isinstance(payload, FillRecorded | CommissionRecorded) else None
    if text is None:
        text = encode_payload(payload)
    cursor = conn.execute(_INSERT_EVENT, (utc_text(time), key, payload.KIND.value, exec_id, text))
    event_id = cursor.lastrowid
    if event_id is None:
        raise JournalError(f"order {key}: SQLite did not assign the event an id")
    return event_id


def _project(
    conn: sqlite3.Connection,
    event_id: int,
    key: str,
    payload: EventPayload,
    lifecycle: OrderLifecycle,
    intent_text: str | None = None,
) -> None:
    """Bring the projection rows of ``key`` up to ``lifecycle`` after event ``event_id``
    (``intent_text``: a new order's intent encoded already, if it is)."""
    state = (lifecycle.state.value, int(lifecycle.is_final), encode_lifecycle(lifecycle))
    if isinstance(payload, IntentRecorded):
        intent = payload.intent
        conn.execute(
            _INSERT_ORDER,
            (
                key,
                utc_text(intent.created_at),
                lifecycle.parent_key,
                *state,
                encode_intent(intent) if intent_text is None else intent_text,
                event_id,
            ),
        )
        return
    conn.execute(_UPDATE_ORDER, (lifecycle.parent_key, *state, event_id, key))
    if isinstance(payload, FillRecorded):
        base = exec_base(payload.exec_id)
        conn.execute(_SUPERSEDE_FILLS, (base, payload.exec_id))
        conn.execute(
            _INSERT_FILL,
            (
                payload.exec_id,
                base,
                key,
                utc_text(payload.time),
                payload.con_id,
                payload.side.value,
                str(payload.quantity),
                str(payload.price),
                event_id,
            ),
        )
    elif isinstance(payload, CommissionRecorded):
        conn.execute(
            _UPDATE_FILL_COMMISSION,
            (
                str(payload.commission),
                payload.currency,
                None if payload.realized_pnl is None else str(payload.realized_pnl),
                payload.exec_id,
            ),
        )


def _replay(conn: sqlite3.Connection) -> int:
    """Write the orders and fills tables again from every event; returns how many orders."""
    conn.execute("DELETE FROM fills")
    conn.execute("DELETE FROM orders")
    lifecycles: dict[str, OrderLifecycle] = {}
    rows = conn.execute(
        "SELECT id, time, key, kind, payload FROM events WHERE kind != ? ORDER BY id",
        (SETTINGS_KIND,),
    )
    for event in map(_event, rows.fetchall()):
        before = lifecycles.get(event.key)
        payload = event.payload
        if isinstance(payload, IntentRecorded):
            after = start(payload, event.time)
        elif before is None:
            raise JournalError(f"event {event.id} comes before the intent of {event.key}")
        else:
            after = apply(before, payload, event.time)
        _project(conn, event.id, event.key, payload, after)
        lifecycles[event.key] = after
    return len(lifecycles)


def _since(since: datetime | None) -> str:
    return "" if since is None else utc_text(since)


def _order(row: _Row) -> JournalOrder:
    return JournalOrder(decode_intent(row[0]), decode_lifecycle(row[1]))


def _fill(row: _Row) -> JournalFill:
    exec_id, key, con_id, side, quantity, price, time, commission, currency, pnl = row
    return JournalFill(
        exec_id=exec_id,
        key=key,
        con_id=int(con_id),
        side=Side(side),
        quantity=Decimal(quantity),
        price=Decimal(price),
        time=parse_utc(time),
        commission=None if commission is None else Decimal(commission),
        commission_currency=currency,
        realized_pnl=None if pnl is None else Decimal(pnl),
    )


def _event(row: _Row) -> JournalEvent:
    event_id, time, key, kind, payload = row
    return JournalEvent(
        id=int(event_id), time=parse_utc(time), key=key, payload=decode_payload(kind, payload)
    )
