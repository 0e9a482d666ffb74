"""Connection health for the trader: a model fed by the broker's health events, the status-bar
indicator (colour and words) and the health dock with history, round trip, farms, reconnects,
throttling and the circuit breaker.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QMouseEvent, QPaintEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ibconsole.domain.health import BreakerState, HealthSnapshot, HealthState
from ibconsole.domain.ib_codes import IbCategory, IbMessage, IbSeverity
from ibconsole.ui.coalescing import CoalescingTimer
from ibconsole.ui.context import UiContext
from ibconsole.ui.steady_label import SteadyLabel
from ibconsole.ui.theme import Tone, restyle, set_toned_text, tone_color, tone_style

log = logging.getLogger(__name__)

HISTORY_LIMIT = 500
_REPAINT_MS = 150  # views repaint at most this often, however fast events arrive
_TICK_MS = 1000  # ages and countdowns move once a second

# The words of every state; the colour only repeats them.
STATE_WORDS: dict[HealthState, tuple[str, Tone]] = {
    HealthState.DISCONNECTED: ("Disconnected", Tone.NEUTRAL),
    HealthState.CONNECTING: ("Connecting…", Tone.WARN),
    HealthState.SYNCING: ("Syncing…", Tone.WARN),
    HealthState.CONNECTED: ("Connected", Tone.GOOD),
    HealthState.DEGRADED: ("Degraded", Tone.WARN),
    HealthState.RECONNECTING: ("Reconnecting", Tone.BAD),
    HealthState.CIRCUIT_OPEN: ("Circuit open", Tone.BAD),
}

_BREAKER_WORDS: dict[BreakerState, tuple[str, Tone]] = {
    BreakerState.CLOSED: ("Closed: connect attempts allowed", Tone.GOOD),
    BreakerState.HALF_OPEN: ("Half open: one trial attempt allowed", Tone.WARN),
    BreakerState.OPEN: ("Open: connect attempts paused", Tone.BAD),
}

_FARM_CATEGORIES = (IbCategory.FARM_OK, IbCategory.FARM_BROKEN, IbCategory.FARM_INACTIVE)
_CONNECTIVITY = (
    IbCategory.CONNECTIVITY_LOST,
    IbCategory.CONNECTIVITY_RESTORED_DATA_KEPT,
    IbCategory.CONNECTIVITY_RESTORED_DATA_LOST,
)


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    at: datetime
    state: HealthState
    text: str
    tone: Tone


@dataclass(frozen=True, slots=True)
class FarmStatus:
    farm: str
    words: str  # "OK", "broken", "idle"
    tone: Tone
    at: datetime


def duration_words(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.0f} min"


def _ms(delta: timedelta | None) -> str:
    return "—" if delta is None else f"{delta.total_seconds() * 1000:.1f} ms"


def local_time(at: datetime) -> str:
    return at.astimezone().strftime("%H:%M:%S")


class HistoryColumn(IntEnum):
    TIME = 0
    STATE = 1
    EVENT = 2


class HealthHistoryModel(QAbstractTableModel):
    """What happened to the connection, newest first; rows are frozen entries."""

    _HEADERS = ("Time", "State", "What happened")

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[HistoryEntry] = []

    @property
    def entries(self) -> tuple[HistoryEntry, ...]:
        return tuple(self._rows)

    def add(self, entries: list[HistoryEntry]) -> None:
        if not entries:
            return
        newest_first = list(reversed(entries))
        self.beginInsertRows(QModelIndex(), 0, len(newest_first) - 1)
        self._rows[:0] = newest_first
        self.endInsertRows()
        excess = len(self._rows) - HISTORY_LIMIT
        if excess > 0:
            self.beginRemoveRows(QModelIndex(), HISTORY_LIMIT, len(self._rows) - 1)
            del self._rows[HISTORY_LIMIT:]
            self.endRemoveRows()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        if orientation is Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self._HEADERS[section]
        return None

    def data(
        self,
        index: QModelIndex | QPersistentModelIndex,
        role: int = Qt.ItemDataRole.DisplayRole,
    ) -> object:
        if not index.isValid():
            return None
        entry = self._rows[index.row()]
        column = HistoryColumn(index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            if column is HistoryColumn.TIME:
                return local_time(entry.at)
            if column is HistoryColumn.STATE:
                return STATE_WORDS[entry.state][0]
            return entry.text
        if role == Qt.ItemDataRole.ToolTipRole and column is HistoryColumn.EVENT:
            return entry.text
        if role == Qt.ItemDataRole.ForegroundRole and column is HistoryColumn.STATE:
            return tone_color(STATE_WORDS[entry.state][1])
        if role == Qt.ItemDataRole.ForegroundRole and column is HistoryColumn.EVENT:
            return tone_color(entry.tone) if entry.tone is not Tone.NEUTRAL else None
        return None


class HealthModel(QObject):
    """The connection's health as the views show it, fed by the bridge.

    Signals:
        sig_updated()   something changed; views repaint from their own coalescing timers
    """

    sig_updated = Signal()

    def __init__(self, ctx: UiContext, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._ctx = ctx
        self._snapshot = ctx.broker.session.health
        self._throttled = ctx.broker.session.is_throttled
        self._farms: dict[str, FarmStatus] = {}
        self._pending: list[HistoryEntry] = []
        self.history = HealthHistoryModel(self)
        self._flush_timer = CoalescingTimer(self, _REPAINT_MS, self._flush)
        self._record(self._snapshot.reason, Tone.NEUTRAL)
        bridge = ctx.bridge
        bridge.sig_health_changed.connect(self._on_bridge_health_changed)
        bridge.sig_throttled.connect(self._on_bridge_throttled)
        bridge.sig_ib_message.connect(self._on_bridge_ib_message)
        bridge.sig_alert.connect(self._on_bridge_alert)

    # ------------------------------------------------------------------ queries
    @property
    def snapshot(self) -> HealthSnapshot:
        return self._snapshot

    @property
    def throttled(self) -> bool:
        return self._throttled

    @property
    def reconnect_attempts(self) -> int:
        """Connect attempts since the last sync: those that failed, and the one under way."""
        snapshot = self._snapshot
        under_way = (
            snapshot.state in (HealthState.CONNECTING, HealthState.RECONNECTING)
            and snapshot.reconnect_at is None
        )
        return snapshot.failed_attempts + under_way

    @property
    def farms(self) -> tuple[FarmStatus, ...]:
        return tuple(self._farms[name] for name in sorted(self._farms))

    def live_snapshot(self) -> HealthSnapshot:
        """A fresh snapshot from the session, for ages that move without an event."""
        return self._ctx.broker.session.health

    def headline(self) -> tuple[str, Tone]:
        """The indicator's words and tone: the state, plus throttling and lost connectivity."""
        snapshot = self._snapshot
        words, tone = STATE_WORDS[snapshot.state]
        extras = []
        if snapshot.connectivity_lost:
            extras.append("IB connectivity lost")
        elif snapshot.broken_farms:
            extras.append(f"{len(snapshot.broken_farms)} data farm(s) down")
        if snapshot.state is HealthState.RECONNECTING and self.reconnect_attempts:
            extras.append(f"attempt {self.reconnect_attempts}")
        if self._throttled:
            extras.append("throttled")
            tone = Tone.WARN if tone is Tone.GOOD else tone
        return " · ".join([words, *extras]), tone

    def reset_breaker(self) -> None:
        log.info("circuit breaker reset by the trader")
        self._ctx.broker.session.reset_breaker()

    # ------------------------------------------------------------------- bridge
    def _on_bridge_health_changed(self, snapshot: HealthSnapshot) -> None:
        previous = self._snapshot
        self._snapshot = snapshot
        if snapshot.state is not previous.state or snapshot.reason != previous.reason:
            self._record(snapshot.reason, STATE_WORDS[snapshot.state][1])
        else:
            self._changed()

    def _on_bridge_throttled(self, throttled: bool) -> None:
        self._throttled = throttled
        self._record(
            "IB is pacing requests: ib_insync holds new ones back until the rate is allowed."
            if throttled
            else "Request pacing ended.",
            Tone.WARN if throttled else Tone.NEUTRAL,
        )

    def _on_bridge_ib_message(self, req_id: int, message: IbMessage) -> None:
        if message.category in _FARM_CATEGORIES and message.farm:
            words, tone = {
                IbCategory.FARM_OK: ("OK", Tone.GOOD),
                IbCategory.FARM_BROKEN: ("broken", Tone.BAD),
                IbCategory.FARM_INACTIVE: ("idle (wakes on demand)", Tone.NEUTRAL),
            }[message.category]
            self._farms[message.farm] = FarmStatus(message.farm, words, tone, self.now())
            self._record(f"{message.code}: {message.sentence}", tone)
        elif message.category in _CONNECTIVITY or message.category is IbCategory.PACING:
            tone = Tone.BAD if message.severity is IbSeverity.ERROR else Tone.WARN
            self._record(f"{message.code}: {message.sentence}", tone)

    def _on_bridge_alert(self, sentence: str, critical: bool) -> None:
        self._record(sentence, Tone.BAD if critical else Tone.WARN)

    def now(self) -> datetime:
        return self._ctx.clock.now()

    # ------------------------------------------------------------------ private
    def _record(self, text: str, tone: Tone) -> None:
        self._pending.append(HistoryEntry(self.now(), self._snapshot.state, text, tone))
        self._changed()

    def _changed(self) -> None:
        self._flush_timer.request()
        self.sig_updated.emit()

    def _flush(self) -> None:
        entries, self._pending = self._pending, []
        self.history.add(entries)


def _repaint_from(view: QWidget, model: HealthModel, repaint: Callable[[], None]) -> None:
    """Paint ``view`` now, after each burst of model updates, and once a second: heartbeats
    change no state, so round trips, ages and countdowns are re-read on the tick."""
    updates = CoalescingTimer(view, _REPAINT_MS, repaint)
    model.sig_updated.connect(updates.request)
    tick = QTimer(view)
    tick.setInterval(_TICK_MS)
    tick.timeout.connect(repaint)
    tick.start()
    repaint()


class HealthIndicator(QFrame):
    """The status-bar health: a coloured dot and the state in words ("Connected · 12 ms").

    Signals:
        sig_clicked()   the trader clicked it (the window shows the health dock)
    """

    sig_clicked = Signal()

    def __init__(
        self, ctx: UiContext, parent: QWidget | None = None, *, model: HealthModel | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("healthIndicator")
        self.model = model or HealthModel(ctx, self)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self._dot = QLabel("●", self)
        self._dot.setObjectName("healthDot")
        self._words = SteadyLabel("healthWords", self)  # it ends in the round trip's time
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 0, 6, 0)
        layout.setSpacing(5)
        layout.addWidget(self._dot)
        layout.addWidget(self._words)
        _repaint_from(self, self.model, self._repaint)

    def text(self) -> str:
        """The words shown (tests and screen readers read these, not the colour)."""
        return self._words.text()

    @property
    def tone(self) -> Tone:
        return self.model.headline()[1]

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() is Qt.MouseButton.LeftButton:
            self.sig_clicked.emit()
        super().mousePressEvent(event)

    def _repaint(self) -> None:
        words, tone = self.model.headline()
        snapshot = self.model.snapshot
        rtt = self.model.live_snapshot().heartbeat.last_rtt
        if rtt is not None and snapshot.state in (HealthState.CONNECTED, HealthState.DEGRADED):
            words = f"{words} · {duration_words(rtt)}"
        self._words.setText(words)
        restyle(self._dot, tone_style(tone))
        restyle(self._words.label, tone_style(tone))
        self.setToolTip(f"{snapshot.reason}\nClick for the connection health details.")
        self.setAccessibleName(f"Connection health: {words}")


class HealthDock(QWidget):
    """The connection's health in detail, with the circuit breaker reset and the history.

    Signals: none of its own; it repaints from ``HealthModel.sig_updated`` and a one-second tick,
    while it is in sight.
    """

    def __init__(
        self, ctx: UiContext, parent: QWidget | None = None, *, model: HealthModel | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("healthDock")
        self.model = model or HealthModel(ctx, self)
        self._behind = False

        self._state = QLabel(self)
        self._state.setObjectName("healthState")
        self._reason = QLabel(self)
        self._reason.setObjectName("healthReason")
        self._reason.setWordWrap(True)
        self._reason.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        # These two change every heartbeat: their changes repaint them without a layout pass.
        self.round_trip = self._steady_value("healthRoundTrip")
        self.last_message = self._steady_value("healthLastMessage")
        self.connectivity = self._value("healthConnectivity")
        self.farms = self._value("healthFarms")
        self.reconnect = self._value("healthReconnect")
        self.throttling = self._value("healthThrottling")
        self.order_entry = self._value("healthOrderEntry")
        self.breaker = self._value("healthBreaker")
        self.reset_button = QPushButton("Reset breaker", self)
        self.reset_button.setObjectName("resetBreakerButton")
        self.reset_button.setToolTip(
            "Forget the recent failures and try to connect now instead of waiting for the cooldown"
        )
        self.reset_button.clicked.connect(self._on_reset_clicked)

        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setHorizontalSpacing(10)
        form.setVerticalSpacing(3)
        form.addRow("Round trip:", self.round_trip)
        form.addRow("Last message:", self.last_message)
        form.addRow("IB connectivity:", self.connectivity)
        form.addRow("Data farms:", self.farms)
        form.addRow("Reconnects:", self.reconnect)
        form.addRow("Pacing:", self.throttling)
        form.addRow("Order entry:", self.order_entry)
        breaker_row = QHBoxLayout()
        breaker_row.setSpacing(8)
        breaker_row.addWidget(self.breaker, 1)
        breaker_row.addWidget(self.reset_button)
        form.addRow("Circuit breaker:", breaker_row)

        self.history = QTableView(self)
        self.history.setObjectName("healthHistory")
        self.history.setModel(self.model.history)
        self.history.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.history.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.history.setAlternatingRowColors(True)
        self.history.setWordWrap(False)
        self.history.verticalHeader().setVisible(False)
        self.history.verticalHeader().setDefaultSectionSize(22)
        # A few rows of history always show; on a short screen the dock scrolls instead.
        self.history.setMinimumHeight(150)
        header = self.history.horizontalHeader()
        header.setSectionResizeMode(HistoryColumn.TIME, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(HistoryColumn.STATE, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.setSpacing(6)
        layout.addWidget(self._state)
        layout.addWidget(self._reason)
        layout.addLayout(form)
        layout.addWidget(self.history, 1)

        _repaint_from(self, self.model, self._repaint)

    @property
    def state_text(self) -> str:
        return self._state.text()

    def _value(self, name: str) -> QLabel:
        label = QLabel(self)
        label.setObjectName(name)
        _selectable_value(label)
        return label

    def _steady_value(self, name: str) -> SteadyLabel:
        value = SteadyLabel(name, self)
        _selectable_value(value.label)
        return value

    def _on_reset_clicked(self) -> None:
        self.model.reset_breaker()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._repaint()  # what changed while closed

    def paintEvent(self, event: QPaintEvent) -> None:
        if self._behind:
            self._repaint()  # what changed out of sight, before its figures are painted
        super().paintEvent(event)

    def _repaint(self) -> None:
        # Out of sight (closed, or a tab behind another: a dock moved off the window, still
        # "visible"), its word-wrapped figures would be laid out again on every change for
        # nobody; its next paint brings them up to date.
        self._behind = self.visibleRegion().isEmpty()
        if self._behind:
            return
        model = self.model
        snapshot = model.snapshot
        now = model.live_snapshot()
        words, tone = model.headline()
        self._state.setText(words)
        restyle(self._state, f"{tone_style(tone)} font-size: 14pt;")
        self._reason.setText(snapshot.reason)

        beat = now.heartbeat
        if beat.samples:
            self.round_trip.setText(
                f"last {_ms(beat.last_rtt)} · mean {_ms(beat.mean_rtt)} · p95 {_ms(beat.p95_rtt)}"
                f" ({beat.samples} heartbeats)"
            )
        else:
            self.round_trip.setText("no heartbeat answered yet")
        age = beat.last_message_age
        self.last_message.setText("none yet" if age is None else f"{duration_words(age)} ago")

        if snapshot.connectivity_lost:
            set_toned_text(self.connectivity, "Lost (1100): TWS/Gateway cannot reach IB", Tone.BAD)
        elif snapshot.state in (HealthState.CONNECTED, HealthState.DEGRADED, HealthState.SYNCING):
            set_toned_text(self.connectivity, "OK", Tone.GOOD)
        else:
            set_toned_text(self.connectivity, "unknown while not connected", Tone.NEUTRAL)

        farms = model.farms
        broken = set(snapshot.broken_farms)
        if farms or broken:
            parts = [f"{f.farm}: {f.words}" for f in farms if f.farm not in broken]
            parts = [f"{farm}: broken" for farm in sorted(broken)] + parts
            set_toned_text(self.farms, "; ".join(parts), Tone.BAD if broken else Tone.GOOD)
        else:
            set_toned_text(self.farms, "no farm status reported yet", Tone.NEUTRAL)

        if snapshot.reconnect_at is not None:
            wait = max(snapshot.reconnect_at - model.now(), timedelta(0))
            set_toned_text(
                self.reconnect,
                f"{model.reconnect_attempts} attempt(s) so far; next try in "
                f"{duration_words(wait)} (at {local_time(snapshot.reconnect_at)})",
                Tone.BAD,
            )
        elif model.reconnect_attempts:
            set_toned_text(
                self.reconnect,
                f"attempt {model.reconnect_attempts} under way",
                Tone.WARN,
            )
        else:
            set_toned_text(self.reconnect, "none", Tone.NEUTRAL)

        if model.throttled:
            set_toned_text(
                self.throttling, "Throttled: requests are held back by IB's pacing", Tone.WARN
            )
        else:
            set_toned_text(self.throttling, "not throttled", Tone.NEUTRAL)

        if snapshot.order_entry_allowed:
            set_toned_text(self.order_entry, "allowed", Tone.GOOD)
        else:
            set_toned_text(self.order_entry, "blocked until connected and in sync", Tone.WARN)

        breaker_words, breaker_tone = _BREAKER_WORDS[snapshot.breaker]
        if snapshot.breaker_reopens_at is not None:
            breaker_words += f" until {local_time(snapshot.breaker_reopens_at)}"
        set_toned_text(self.breaker, breaker_words, breaker_tone)
        self.reset_button.setEnabled(snapshot.breaker is not BreakerState.CLOSED)


def _selectable_value(label: QLabel) -> None:
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
