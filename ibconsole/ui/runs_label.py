"""A label of a few runs of text, some bold, some coloured, that changes every frame (the chart's
quote readout), painted without a text document.

A rich-text QLabel parses its HTML into a text document and lays that out on every new text:
some 200 us a change against 40 for plain text. This label keeps the HTML as its text (what
tests and the automation contract read, unchanged) but as plain text, never parsed, and paints
the runs it was given itself; screen readers get the words without the markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import NamedTuple

from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QPainter,
    QPaintEvent,
    QStaticText,
    QTransform,
)
from PySide6.QtWidgets import QLabel, QWidget

_SHAPED_LIMIT = 256  # runs kept shaped; a market moving far shapes afresh


class Run(NamedTuple):
    """Some words of the label: bold or not, in ``color`` (None: the label's text colour)."""

    text: str
    bold: bool = False
    color: str | None = None


def runs_html(runs: Sequence[Run]) -> str:
    """The runs as the HTML a rich-text label would be given."""
    parts = []
    for run in runs:
        text = escape(run.text, quote=False)
        if run.bold and run.color:
            parts.append(f"<b style='color:{run.color}'>{text}</b>")
        elif run.bold:
            parts.append(f"<b>{text}</b>")
        elif run.color:
            parts.append(f"<span style='color:{run.color}'>{text}</span>")
        else:
            parts.append(text)
    return "".join(parts)


class RunsLabel(QLabel):
    """Shows ``set_runs(runs)``, aligned as ``alignment()`` says (horizontally and vertically
    centred or at an edge); its ``text()`` is the runs' HTML."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self._runs: tuple[Run, ...] = ()
        self._fonts: dict[bool, tuple[QFont, QFontMetricsF]] = {}  # by boldness, for the font
        self._laid_out: dict[tuple[str, bool], QStaticText] = {}  # the runs' words, shaped

    def set_runs(self, runs: Sequence[Run]) -> None:
        runs = tuple(runs)
        if runs == self._runs:
            return
        self._runs = runs
        self.setText(runs_html(runs))
        self.setAccessibleName("".join(run.text for run in runs))

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:
            self._fonts = {}
            self._laid_out = {}

    def _shaped(self, run: Run) -> QStaticText:
        # Shaped once: the words around the figures never change, and figures repeat.
        key = (run.text, run.bold)
        shaped = self._laid_out.get(key)
        if shaped is None:
            if len(self._laid_out) >= _SHAPED_LIMIT:
                self._laid_out = {}
            shaped = self._laid_out[key] = QStaticText(run.text)
            shaped.setTextFormat(Qt.TextFormat.PlainText)
            shaped.prepare(QTransform(), self._font(run.bold)[0])
        return shaped

    def _font(self, bold: bool) -> tuple[QFont, QFontMetricsF]:
        # Made once: a font and its metrics made afresh find their font engine again, which
        # cost more than the rest of a paint.
        made = self._fonts.get(bold)
        if made is None:
            font = QFont(self.font())
            font.setBold(bold)
            made = self._fonts[bold] = (font, QFontMetricsF(font))
        return made

    def paintEvent(self, event: QPaintEvent) -> None:
        if not self._runs:
            return
        painter = QPainter(self)
        fonts = {False: self._font(False), True: self._font(True)}
        shaped = [self._shaped(run) for run in self._runs]
        widths = [words.size().width() for words in shaped]
        rect = self.contentsRect()
        align = self.alignment()
        total = sum(widths)
        if align & Qt.AlignmentFlag.AlignRight:
            x = rect.right() + 1 - total
        elif align & Qt.AlignmentFlag.AlignHCenter:
            x = rect.left() + (rect.width() - total) / 2
        else:
            x = float(rect.left())
        line = fonts[False][1]
        top = rect.top() + (rect.height() - line.height()) / 2
        text_colour = self.palette().color(self.foregroundRole())
        for run, words, width in zip(self._runs, shaped, widths, strict=True):
            painter.setFont(fonts[run.bold][0])
            painter.setPen(QColor(run.color) if run.color else text_colour)
            painter.drawStaticText(QPointF(x, top), words)
            x += width
        painter.end()
