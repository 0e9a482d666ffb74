"""The pre-trade findings of an order in place, for each side where they differ: blocked first,
then what needs confirming, then what is only said."""

from __future__ import annotations

import html
from collections.abc import Mapping

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

from ibconsole.domain.order_words import side_word
from ibconsole.domain.orders import Side
from ibconsole.domain.risk import RiskReport, Severity
from ibconsole.ui.confirm_dialog import severity_word
from ibconsole.ui.theme import Tone, tone_color, tone_style

_ORDER = {Severity.BLOCK: 0, Severity.CONFIRM: 1, Severity.INFO: 2}


class FindingsView(QLabel):
    """The findings of each side's report as a table of severity and sentence."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._sentences: tuple[str, ...] = ()
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)

    @property
    def sentences(self) -> tuple[str, ...]:
        """The findings shown, as plain sentences ("Blocked: …")."""
        return self._sentences

    def show_reports(self, reports: Mapping[Side, RiskReport]) -> None:
        """Findings both sides share once, the others under their side's name."""
        entries: list[tuple[Severity, str]] = []
        if len(reports) == 2:
            common = [f for f in reports[Side.BUY].findings if f in reports[Side.SELL].findings]
        else:
            common = []
        entries.extend((f.severity, f.message) for f in common)
        for side, report in reports.items():
            entries.extend(
                (f.severity, f"{side_word(side)}: {f.message}")
                for f in report.findings
                if f not in common
            )
        entries.sort(key=lambda entry: _ORDER[entry[0]])
        self._sentences = tuple(f"{severity_word(s)[0]}: {m}" for s, m in entries)
        if not reports:
            self.setText(
                f"<span style='color:{tone_color(Tone.NEUTRAL).name()}'>"
                "The checks run once the quantity and prices are entered.</span>"
            )
            return
        if not entries:
            self.setText(f"<span style='{tone_style(Tone.GOOD)}'>All checks pass.</span>")
            return
        rows = "".join(
            f"<tr><td style='{tone_style(severity_word(s)[1])} padding-right:8px'>"
            f"{severity_word(s)[0]}</td><td>{html.escape(m)}</td></tr>"
            for s, m in entries
        )
        self.setText(f"<table cellspacing='0' cellpadding='2'>{rows}</table>")
