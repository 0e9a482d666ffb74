"""The confirmation asked before an order (or a cancel-all) goes out: every reason in plain words.

The dialog is opened with ``open()`` and answers through ``sig_decided``, so the event loop (and
ib_insync on it) keeps running while the trader reads. Cancel is the default button: Enter or
Escape never confirms anything by accident.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QGridLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ibconsole.broker.order_entry import NeedsConfirmation
from ibconsole.domain.risk import Finding, Severity
from ibconsole.ui.theme import Tone, tone_style

log = logging.getLogger(__name__)

# Each finding is labelled in words as well as colour.
_SEVERITY_WORDS = {
    Severity.BLOCK: ("Blocked", Tone.BAD),
    Severity.CONFIRM: ("Check", Tone.WARN),
    Severity.INFO: ("Note", Tone.NEUTRAL),
}


def severity_word(severity: Severity) -> tuple[str, Tone]:
    """How a finding's severity is labelled next to its message, and its colour."""
    return _SEVERITY_WORDS[severity]


class ConfirmDialog(QDialog):
    """Asks the trader to confirm one action, listing every finding and note it must know.

    Signals:
        sig_decided(bool)   True when the trader confirmed, False when cancelled or closed
    """

    sig_decided = Signal(bool)

    def __init__(
        self,
        title: str,
        summary: str,
        findings: Sequence[Finding] = (),
        *,
        notes: Sequence[str] = (),
        confirm_text: str = "Confirm",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("confirmDialog")
        self.setWindowTitle(title)
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._lines = (summary, *(f.message for f in findings), *notes)
        self._decided = False

        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 18, 20, 16)
        layout.setSpacing(12)
        headline = QLabel(summary)
        headline.setObjectName("confirmSummary")
        headline.setWordWrap(True)
        font = headline.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)
        font.setBold(True)
        headline.setFont(font)
        layout.addWidget(headline)

        if findings or notes:
            box = QFrame()
            box.setObjectName("confirmFindings")
            box.setFrameShape(QFrame.Shape.StyledPanel)
            grid = QGridLayout(box)
            grid.setContentsMargins(12, 10, 12, 10)
            grid.setHorizontalSpacing(12)
            grid.setVerticalSpacing(8)
            row = 0
            for finding in findings:
                word, tone = severity_word(finding.severity)
                self._add_line(grid, row, word, tone, finding.message)
                row += 1
            for note in notes:
                self._add_line(grid, row, "Note", Tone.NEUTRAL, note)
                row += 1
            grid.setColumnStretch(1, 1)
            layout.addWidget(box)

        buttons = QDialogButtonBox()
        self.confirm_button = QPushButton(confirm_text)
        self.confirm_button.setObjectName("confirmButton")
        self.confirm_button.setAutoDefault(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelButton")
        self.cancel_button.setDefault(True)
        buttons.addButton(self.confirm_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(self.cancel_button, QDialogButtonBox.ButtonRole.RejectRole)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.finished.connect(self._on_self_finished)
        self.setMinimumWidth(460)
        self.cancel_button.setFocus()

    @staticmethod
    def _add_line(grid: QGridLayout, row: int, word: str, tone: Tone, message: str) -> None:
        badge = QLabel(word)
        badge.setStyleSheet(tone_style(tone))
        badge.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        text = QLabel(message)
        text.setWordWrap(True)
        text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        grid.addWidget(badge, row, 0, Qt.AlignmentFlag.AlignTop)
        grid.addWidget(text, row, 1)

    @property
    def lines(self) -> tuple[str, ...]:
        """Everything the dialog says, in order: the summary, each finding, each note."""
        return self._lines

    def confirm(self) -> None:
        self.accept()

    def cancel(self) -> None:
        self.reject()

    def _on_self_finished(self, result: int) -> None:
        if self._decided:
            return
        self._decided = True
        confirmed = result == QDialog.DialogCode.Accepted
        log.info("%s: %s", self.windowTitle(), "confirmed" if confirmed else "cancelled")
        self.sig_decided.emit(confirmed)


def open_confirmation(
    asked: NeedsConfirmation, parent: QWidget, decided: Callable[[bool], None]
) -> ConfirmDialog:
    """Open the confirmation an order-entry answer asks for, without blocking the loop;
    ``decided`` gets the trader's answer."""
    dialog = ConfirmDialog(
        asked.title,
        asked.summary,
        asked.report.findings,
        notes=asked.notes,
        confirm_text=asked.confirm_text,
        parent=parent,
    )
    dialog.sig_decided.connect(decided)
    dialog.open()
    return dialog
