"""The signal inbox dock: one row per signal with its time, source, symbol, resolved contract,
action, quantity, what it would do to the position and its state; Send (through the order-entry
model, with the ticket's checks and confirmations), Review (into the ticket) and Dismiss.

A view over ``broker.signal_inbox.SignalInbox``: nothing is sent without a click on Send (and,
where the checks ask, on the confirmation dialog's button).
"""

from __future__ import annotations

import logging
from functools import partial

from PySide6.QtCore import QItemSelectionModel, QTimer, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ibconsole.broker.signal_inbox import InboxEntry, SignalInbox
from ibconsole.domain.order_entry import EntryOutcome, NeedsConfirmation, Refusal, Sent
from ibconsole.domain.signals import SignalOrder, dismissable, sendable
from ibconsole.ui.blotter.table import REPAINT_MS, ColumnFitter, make_table
from ibconsole.ui.blotter_models import SnapshotTableModel
from ibconsole.ui.coalescing import CoalescingTimer
from ibconsole.ui.confirm_dialog import ConfirmDialog, open_confirmation
from ibconsole.ui.context import UiContext
from ibconsole.ui.event_follow import follow
from ibconsole.ui.signal_inbox.lines import SignalLine, signal_line, signals_model
from ibconsole.ui.signal_inbox.secret_box import SecretBox
from ibconsole.ui.theme import Tone, set_toned_text

log = logging.getLogger(__name__)

EXPIRY_CHECK_MS = 1000
# Changes are shown from a short timer, so a burst of them costs one pass over the table. An
# arrival is shown at once: its sender had its 202 from the endpoint's own thread already, and
# on a busy loop every extra turn before the paint is a frame or more of waiting.
SHOW_MS = 5

_REFUSAL_TONES = {
    Refusal.INVALID: Tone.BAD,
    Refusal.BLOCKED: Tone.BAD,
    Refusal.UNKNOWN: Tone.WARN,
    Refusal.NOTHING: Tone.NEUTRAL,
}


class SignalInboxPanel(QWidget):
    """The inbox's table, its three buttons, the endpoint's address and the secret.

    Signals:
        sig_signal_arrived(str, str)             title and text of a new signal (notification)
        sig_review_requested(object, str)        EntryFields to load into the ticket, and a note
    """

    sig_signal_arrived = Signal(str, str)
    sig_review_requested = Signal(object, str)

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("signalInboxPanel")
        self._ctx = ctx
        self._inbox: SignalInbox = ctx.inbox
        self._confirmation: ConfirmDialog | None = None
        self._model = signals_model()
        self.table, self._proxy = make_table("signalTable", self._model)
        self._fitter = ColumnFitter(self.table)
        self.secret = SecretBox(ctx.signal_secret)
        self._send = self._button("signalSendButton", "Send", "Send through the ticket's checks")
        self._review = self._button(
            "signalReviewButton", "Review", "Load into the order ticket without sending"
        )
        self._dismiss = self._button("signalDismissButton", "Dismiss", "Put the signal aside")
        self._status = QLabel()
        self._status.setObjectName("signalStatus")
        self._status.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.secret)
        layout.addWidget(self.table, 1)
        buttons = QHBoxLayout()
        for button in (self._send, self._review, self._dismiss):
            buttons.addWidget(button)
        layout.addLayout(buttons)
        layout.addWidget(self._status)

        self._arrived: list[InboxEntry] = []
        self._changed: dict[str, InboxEntry] = {}
        self._show_timer = CoalescingTimer(self, SHOW_MS, self._show_inbox)
        self._effects = CoalescingTimer(self, REPAINT_MS, self._refresh_effects)
        self._expiry = QTimer(self)
        self._expiry.setInterval(EXPIRY_CHECK_MS)
        self._expiry.timeout.connect(self._on_expiry_timeout)
        self._expiry.start()
        self._send.clicked.connect(self.send_selected)
        self._review.clicked.connect(self.review_selected)
        self._dismiss.clicked.connect(self.dismiss_selected)
        self.table.selectionModel().selectionChanged.connect(self._on_table_selection_changed)
        ctx.bridge.sig_portfolio_changed.connect(self._on_bridge_state_changed)
        ctx.bridge.sig_synced.connect(self._on_bridge_synced)
        follow(
            self,
            (self._inbox.arrived, self._on_inbox_arrived),
            (self._inbox.changed, self._on_inbox_changed),
            (self._inbox.removed, self._on_inbox_removed),
        )
        self._model.upsert(self._line(entry) for entry in self._inbox.entries)
        self._enable_buttons()

    @staticmethod
    def _button(name: str, text: str, tip: str) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(name)
        button.setAutoDefault(False)
        button.setToolTip(tip)
        return button

    # ------------------------------------------------------------------ public
    @property
    def model(self) -> SnapshotTableModel[SignalLine]:
        return self._model

    @property
    def confirmation(self) -> ConfirmDialog | None:
        """The confirmation dialog while it is open."""
        return self._confirmation

    @property
    def status_text(self) -> str:
        return self._status.text()

    def select(self, key: str) -> None:
        """Select the row of the signal ``key``."""
        row = self._model.row_of(key)
        if row is None:
            return
        index = self._proxy.mapFromSource(self._model.index(row, 0))
        self.table.selectionModel().select(
            index,
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows,
        )
        self.table.setCurrentIndex(index)

    def selected(self) -> InboxEntry | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        line = self._model.line(self._proxy.mapToSource(rows[0]).row())
        return self._inbox.get(line.key)

    def show_endpoint(self, url: str | None, demo_secret: str | None = None) -> None:
        self.secret.show_endpoint(url, demo_secret)

    def show_endpoint_down(self, reason: str) -> None:
        self.secret.show_endpoint_down(reason)

    # ------------------------------------------------------------------ clicks
    @Slot()
    def send_selected(self) -> None:
        entry = self.selected()
        if entry is None or self._busy():
            return
        if entry.contract is None and sendable(entry.state):
            self._say("Resolving the contract month first…", Tone.NEUTRAL)
            self._ctx.runner.start(
                self._inbox.resolve(entry.key),
                name=f"resolve signal {entry.key}",
                done=lambda resolved: self._send_resolved(resolved),
            )
            return
        self._show(entry.key, self._inbox.send(entry.key))

    @Slot()
    def review_selected(self) -> None:
        entry = self.selected()
        if entry is None:
            return
        if entry.contract is None:
            self._say(f"Not loaded: {entry.note or 'the contract is not resolved yet'}.", Tone.WARN)
            return
        order = self._inbox.order_of(entry)
        if isinstance(order, SignalOrder):
            fields = self._inbox.fields(entry, order.quantity)
            note = (
                f"Signal {entry.signal.summary}: review it, then press "
                f"{'Flatten' if order.flatten else order.side.value.title()} to send "
                f"({order.effect})."
            )
        else:
            fields = self._inbox.fields(entry)
            note = f"Signal {entry.signal.summary} loaded: {order}."
        self.sig_review_requested.emit(fields, note)
        self._say("Loaded into the order ticket; nothing was sent.", Tone.NEUTRAL)

    @Slot()
    def dismiss_selected(self) -> None:
        entry = self.selected()
        if entry is None:
            return
        if self._inbox.dismiss(entry.key):
            self._say(f"Dismissed: {entry.signal.summary}. Nothing was sent.", Tone.NEUTRAL)
        else:
            self._say(f"A {entry.state.value} signal cannot be dismissed.", Tone.NEUTRAL)

    # ------------------------------------------------------------------ inbox events
    def _on_inbox_arrived(self, entry: InboxEntry) -> None:
        self._arrived.append(entry)
        self._show_inbox()

    def _on_inbox_changed(self, entry: InboxEntry) -> None:
        self._changed[entry.key] = entry
        self._show_timer.request()

    def _on_inbox_removed(self, key: str) -> None:
        self._arrived = [entry for entry in self._arrived if entry.key != key]
        self._changed.pop(key, None)
        self._model.remove([key])
        self._enable_buttons()

    @Slot()
    def _show_inbox(self) -> None:
        arrived, self._arrived = self._arrived, []
        changed, self._changed = self._changed, {}
        latest = {entry.key: entry for entry in arrived}
        latest.update(changed)
        was_empty = self._model.rowCount() == 0
        self._model.upsert(
            self._line(self._inbox.get(key) or entry) for key, entry in latest.items()
        )
        if arrived:
            if self.selected() is None:
                self.select(arrived[-1].key)
            if was_empty:
                # Measuring columns costs milliseconds per row on every call: the first rows
                # set the widths, later ones elide (the tooltip has the whole signal).
                self._fitter.fit()
            texts = [f"{e.signal.summary} from {e.signal.source}" for e in arrived]
            self._say(f"New signal: {texts[-1]}. Nothing is sent until you click Send.", Tone.WARN)
            for text in texts:
                self.sig_signal_arrived.emit("Signal received", text)
        self._enable_buttons()

    @Slot(object)
    def _on_bridge_state_changed(self, payload: object) -> None:
        self._effects.request()

    @Slot(object)
    def _on_bridge_synced(self, info: object) -> None:
        # Signals that arrived while disconnected get their contract now.
        for entry in self._inbox.entries:
            if entry.contract is None and sendable(entry.state):
                self._ctx.runner.start(
                    self._inbox.resolve(entry.key), name=f"resolve signal {entry.key}"
                )
        self._effects.request()

    @Slot()
    def _refresh_effects(self) -> None:
        self._model.upsert(
            self._line(entry) for entry in self._inbox.entries if sendable(entry.state)
        )

    @Slot()
    def _on_expiry_timeout(self) -> None:
        self._inbox.expire_due()

    @Slot()
    def _on_table_selection_changed(self) -> None:
        self._enable_buttons()

    # ------------------------------------------------------------------ internals
    def _line(self, entry: InboxEntry) -> SignalLine:
        # A signal that can still be sent shows what it would do now; any other what became of it.
        if sendable(entry.state):
            return signal_line(entry, self._inbox.order_of(entry))
        return signal_line(entry, entry.note)

    def _enable_buttons(self) -> None:
        entry = self.selected()
        can_send = entry is not None and sendable(entry.state)
        self._send.setEnabled(can_send)
        self._review.setEnabled(entry is not None and entry.contract is not None)
        self._dismiss.setEnabled(entry is not None and dismissable(entry.state))

    def _say(self, text: str, tone: Tone) -> None:
        set_toned_text(self._status, text, tone)

    def _busy(self) -> bool:
        if self._confirmation is not None:
            self._confirmation.raise_()
            self._confirmation.activateWindow()
            return True
        return False

    def _send_resolved(self, entry: InboxEntry | None) -> None:
        if entry is None:
            return
        if entry.contract is None:
            self._say(f"Not sent: {entry.note}.", Tone.WARN)
            return
        self._show(entry.key, self._inbox.send(entry.key))

    def _show(self, key: str, outcome: EntryOutcome) -> None:
        if isinstance(outcome, NeedsConfirmation):
            self._ask(key, outcome)
        elif isinstance(outcome, Sent):
            self._say(outcome.message, Tone.GOOD)
        else:
            self._say(outcome.message, _REFUSAL_TONES[outcome.kind])

    def _ask(self, key: str, asked: NeedsConfirmation) -> None:
        self._say("Waiting for your confirmation…", Tone.WARN)
        self._confirmation = open_confirmation(asked, self, partial(self._on_decided, key, asked))

    def _on_decided(self, key: str, asked: NeedsConfirmation, confirmed: bool) -> None:
        self._confirmation = None
        if confirmed:
            self._show(key, self._inbox.confirm(key, asked))
        else:
            self._say(self._inbox.decline(key, asked), Tone.NEUTRAL)
