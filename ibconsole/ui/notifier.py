"""Tells the trader that something happened while they looked elsewhere.

``Notifier.notify(kind, title, text)`` is the one call every part of the console makes (fills,
rejects, the connection, rollover deadlines, price alerts, the signal inbox): the alert goes into
the history (the alerts dock shows it), then, as the ``[alerts]`` settings say for its kind, to a
desktop notification through the system tray where the platform has one, and to the chime.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from datetime import datetime

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication, QSystemTrayIcon

from ibconsole.domain.alert_kinds import AlertKind, AlertSettings
from ibconsole.domain.clock import Clock
from ibconsole.ui.alert_sound import AlertSound

log = logging.getLogger(__name__)

HISTORY_LIMIT = 1000
_SHOWN_MS = 8000

# How each kind reads in the history and which tray icon it carries.
KIND_WORDS: dict[AlertKind, str] = {
    AlertKind.FILL: "Fill",
    AlertKind.REJECT: "Reject",
    AlertKind.CONNECTION_LOST: "Connection lost",
    AlertKind.CONNECTION_RESTORED: "Connection restored",
    AlertKind.BREAKER_OPEN: "Breaker open",
    AlertKind.ROLL_WINDOW: "Roll window",
    AlertKind.MUST_ROLL: "Must roll",
    AlertKind.CLOSE_OUT: "Close-out",
    AlertKind.PRICE: "Price",
    AlertKind.SIGNAL: "Signal",
}
_WARNING_KINDS = frozenset(
    {
        AlertKind.REJECT,
        AlertKind.CONNECTION_LOST,
        AlertKind.BREAKER_OPEN,
        AlertKind.MUST_ROLL,
        AlertKind.CLOSE_OUT,
    }
)


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """One alert as it was raised, and how the trader was told."""

    at: datetime
    kind: AlertKind
    title: str
    text: str
    notified: bool  # a desktop notification was shown
    sounded: bool  # the chime was asked to play


class Notifier(QObject):
    """History, desktop notification and sound for every alert.

    Signals:
        sig_notified(AlertRecord)   an alert was raised (whatever its settings say)
    """

    sig_notified = Signal(object)

    def __init__(
        self,
        settings: AlertSettings,
        clock: Clock,
        sound: AlertSound,
        parent: QObject | None = None,
        history_limit: int = HISTORY_LIMIT,
    ) -> None:
        super().__init__(parent)
        self._settings = settings
        self._clock = clock
        self._sound = sound
        self._history: deque[AlertRecord] = deque(maxlen=history_limit)
        self.history_limit = history_limit
        self._tray: QSystemTrayIcon | None = None
        if QSystemTrayIcon.isSystemTrayAvailable() and QSystemTrayIcon.supportsMessages():
            self._tray = QSystemTrayIcon(QApplication.windowIcon(), self)
            self._tray.setToolTip("IB Console")
            self._tray.show()
        else:
            log.info("no system tray here: alerts show in the alerts dock and the status bar")

    @property
    def settings(self) -> AlertSettings:
        return self._settings

    @property
    def has_tray(self) -> bool:
        """True where the platform shows desktop notifications through a system tray."""
        return self._tray is not None

    @property
    def sound(self) -> AlertSound:
        return self._sound

    @property
    def history(self) -> tuple[AlertRecord, ...]:
        """Every alert raised, oldest first (the newest ``history_limit``)."""
        return tuple(self._history)

    def apply(self, settings: AlertSettings) -> None:
        """Use new ``[alerts]`` settings from the next alert on."""
        self._settings = settings

    def notify(self, kind: AlertKind, title: str, text: str) -> AlertRecord:
        """Raise one alert: history always; notification and sound as the settings say."""
        notified = False
        if self._settings.wants_notification(kind) and self._tray is not None:
            icon = (
                QSystemTrayIcon.MessageIcon.Warning
                if kind in _WARNING_KINDS
                else QSystemTrayIcon.MessageIcon.Information
            )
            self._tray.showMessage(title, text, icon, _SHOWN_MS)
            notified = True
        sounded = self._settings.wants_sound(kind)
        if sounded:
            self._sound.play()
        record = AlertRecord(self._clock.now(), kind, title, text, notified, sounded)
        self._history.append(record)
        log.info("alert %s: %s: %s", kind.value, title, text)
        self.sig_notified.emit(record)
        return record

    def close(self) -> None:
        """Take the tray icon away (before the window closes)."""
        if self._tray is not None:
            self._tray.hide()
