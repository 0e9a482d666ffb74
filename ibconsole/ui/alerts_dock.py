"""The alerts dock: every alert raised this session (newest first), and the price alerts with
their state, each removable. Price alerts are set from the chart's context menu and the watch
list's (``PriceAlertDialog``)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ibconsole.domain.alert_kinds import AlertKind
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.order_words import price_text
from ibconsole.domain.price_alerts import PriceAlert
from ibconsole.ui.alert_sound import Player
from ibconsole.ui.blotter.table import ColumnFitter, make_table, show_status, status_label
from ibconsole.ui.blotter_models import Column, SnapshotTableModel
from ibconsole.ui.health import local_time
from ibconsole.ui.notifier import KIND_WORDS, AlertRecord, Notifier
from ibconsole.ui.price_alert_book import PriceAlertBook, PriceAlertRefused
from ibconsole.ui.theme import Tone, tone_color

_KIND_TONES = {
    AlertKind.FILL: Tone.GOOD,
    AlertKind.CONNECTION_RESTORED: Tone.GOOD,
    AlertKind.REJECT: Tone.BAD,
    AlertKind.CONNECTION_LOST: Tone.BAD,
    AlertKind.BREAKER_OPEN: Tone.BAD,
    AlertKind.CLOSE_OUT: Tone.BAD,
    AlertKind.MUST_ROLL: Tone.WARN,
    AlertKind.ROLL_WINDOW: Tone.WARN,
    AlertKind.PRICE: Tone.WARN,
}


@dataclass(frozen=True, slots=True)
class _HistoryLine:
    number: int  # order of arrival: the identity of a line
    record: AlertRecord


def _kind_color(line: _HistoryLine) -> QColor | None:
    tone = _KIND_TONES.get(line.record.kind)
    return tone_color(tone) if tone is not None else None


def _told(record: AlertRecord) -> str:
    parts = [
        word for word, done in (("notified", record.notified), ("sound", record.sounded)) if done
    ]
    return ", ".join(parts) or "listed only"


def _history_model() -> SnapshotTableModel[_HistoryLine]:
    return SnapshotTableModel(
        [
            Column("Time", lambda line: local_time(line.record.at), sort=lambda line: line.number),
            Column("Kind", lambda line: KIND_WORDS[line.record.kind], color=_kind_color),
            Column("Alert", lambda line: line.record.title, tip=lambda line: line.record.text),
            Column("Details", lambda line: line.record.text, tip=lambda line: _told(line.record)),
        ],
        ident=lambda line: line.number,
    )


def _alert_state(alert: PriceAlert) -> str:
    if alert.triggered_at is None:
        return "Armed"
    return f"Fired {local_time(alert.triggered_at)}"


def _price_alerts_model() -> SnapshotTableModel[PriceAlert]:
    return SnapshotTableModel(
        [
            Column("Contract", lambda a: a.local_symbol),
            Column("Crosses", lambda a: f"{a.direction.value} {a.level:,f}", numeric=True),
            Column(
                "Set",
                lambda a: f"{local_time(a.created_at)} at {a.reference:,f}",
                sort=lambda a: a.created_at.timestamp(),
            ),
            Column(
                "State",
                _alert_state,
                color=lambda a: tone_color(Tone.WARN) if a.triggered_at else None,
            ),
        ],
        ident=lambda a: a.alert_id,
    )


class AlertsPanel(QWidget):
    """History of alerts and the list of price alerts.

    Signals: none of its own; it follows ``Notifier.sig_notified`` and
    ``PriceAlertBook.sig_changed``.
    """

    def __init__(
        self, notifier: Notifier, book: PriceAlertBook, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("alertsPanel")
        self._notifier = notifier
        self._book = book
        self._count = 0

        self._history = _history_model()
        self.table, self._history_proxy = make_table("alertsTable", self._history)
        self.table.sortByColumn(0, Qt.SortOrder.DescendingOrder)
        self._history_fitter = ColumnFitter(self.table)

        self._alerts = _price_alerts_model()
        self.price_table, self._price_proxy = make_table("priceAlertsTable", self._alerts)
        self.price_table.sortByColumn(2, Qt.SortOrder.DescendingOrder)
        self._price_fitter = ColumnFitter(self.price_table)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setObjectName("removePriceAlertButton")
        self.remove_button.setToolTip("Remove the selected price alert")
        self.remove_button.setEnabled(False)
        self.remove_button.clicked.connect(self._on_remove_button_clicked)
        self.price_table.selectionModel().selectionChanged.connect(self._on_selection_changed)
        self.status = status_label("priceAlertsStatus")

        how = QLabel(_delivery_words(notifier))
        how.setObjectName("alertsDelivery")
        how.setWordWrap(True)
        how.setStyleSheet("color: palette(placeholder-text);")

        upper = QWidget()
        top = QVBoxLayout(upper)
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.table, 1)
        top.addWidget(how)
        lower = QWidget()
        bottom = QVBoxLayout(lower)
        bottom.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        title = QLabel("<b>Price alerts</b> · right-click the chart or a watch-list row to add")
        bar.addWidget(title, 1)
        bar.addWidget(self.remove_button)
        bottom.addLayout(bar)
        bottom.addWidget(self.status)
        bottom.addWidget(self.price_table, 1)
        splitter = QSplitter(Qt.Orientation.Vertical, self)
        splitter.addWidget(upper)
        splitter.addWidget(lower)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(splitter)

        notifier.sig_notified.connect(self._on_notifier_notified)
        book.sig_changed.connect(self._on_book_changed)
        for record in notifier.history:
            self._on_notifier_notified(record)
        self._on_book_changed()

    @property
    def history(self) -> SnapshotTableModel[_HistoryLine]:
        return self._history

    @property
    def price_alerts(self) -> SnapshotTableModel[PriceAlert]:
        return self._alerts

    @Slot(object)
    def _on_notifier_notified(self, record: AlertRecord) -> None:
        self._count += 1
        self._history.upsert([_HistoryLine(self._count, record)])
        # The notifier remembers its newest alerts only; the dock shows the same ones, so a
        # session of fills and reconnects does not grow the table without end.
        oldest = self._count - self._notifier.history_limit
        if oldest > 0:
            self._history.remove([oldest])
        self._history_fitter.fit()

    @Slot()
    def _on_book_changed(self) -> None:
        alerts = self._book.alerts
        known = {a.alert_id for a in alerts}
        self._alerts.remove([a.alert_id for a in self._alerts.lines() if a.alert_id not in known])
        self._alerts.upsert(alerts)
        self._price_fitter.fit()
        show_status(self.status, self._book.problem, Tone.BAD)

    @Slot()
    def _on_selection_changed(self, *_: object) -> None:
        self.remove_button.setEnabled(self.price_table.selectionModel().hasSelection())

    @Slot()
    def _on_remove_button_clicked(self) -> None:
        for index in self.price_table.selectionModel().selectedRows():
            source = self._price_proxy.mapToSource(index)
            self._book.remove(self._alerts.line(source.row()).alert_id)


def _delivery_words(notifier: Notifier) -> str:
    shown = (
        "desktop notifications in the system tray"
        if notifier.has_tray
        else ("no system tray here, so alerts show in this list and the status bar")
    )
    sound = notifier.sound
    played = {
        Player.COMMAND: f"sound through {sound.command}",
        Player.WINSOUND: "sound through Windows",
        Player.BEEP: "the system beep for sound",
    }[sound.player]
    return f"Alerts: {shown}; {played}. Each kind is switched in [alerts] of the settings."


class PriceAlertDialog(QDialog):
    """Asks for the level of a price alert on one contract, prefilled with the market's price.

    Signals:
        sig_added(PriceAlert)   the alert was set
    """

    sig_added = Signal(object)

    def __init__(
        self,
        book: PriceAlertBook,
        contract: ListedContract,
        price: Decimal | None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("priceAlertDialog")
        self.setWindowTitle(f"Price alert on {contract.local_symbol}")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._book = book
        self._contract = contract
        self.level = QLineEdit(price_text(price, contract).replace(",", "") if price else "")
        self.level.setObjectName("priceAlertLevel")
        market = QLabel(
            f"Market now: {price_text(price, contract)}. The alert fires once when the price "
            "crosses the level from where it is now."
        )
        market.setWordWrap(True)
        self.error = status_label("priceAlertError")
        form = QFormLayout()
        form.addRow("Level", self.level)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self._on_buttons_accepted)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(market)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.setMinimumWidth(360)

    @Slot()
    def _on_buttons_accepted(self) -> None:
        text = self.level.text().strip().replace(",", "")
        try:
            level = Decimal(text)
        except InvalidOperation:
            show_status(self.error, f"{text or 'Nothing'} is not a price.", Tone.BAD)
            return
        try:
            alert = self._book.add(self._contract, level)
        except PriceAlertRefused as refused:
            show_status(self.error, str(refused), Tone.BAD)
            return
        self.sig_added.emit(alert)
        self.accept()
