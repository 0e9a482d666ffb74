"""Light and dark themes that follow the system colour scheme (Qt 6 ``QStyleHints.colorScheme``).

Fusion with an explicit palette looks the same on every desktop; the scheme is re-applied when
the system switches. ``Tone`` colours give every status its colour in both schemes (always shown
together with words, never alone).
"""

from __future__ import annotations

import logging
from enum import StrEnum

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory

log = logging.getLogger(__name__)


class Tone(StrEnum):
    GOOD = "good"
    WARN = "warn"
    BAD = "bad"
    NEUTRAL = "neutral"


_TONES_LIGHT = {
    Tone.GOOD: "#1b7f3b",
    Tone.WARN: "#a35c00",
    Tone.BAD: "#c62828",
    Tone.NEUTRAL: "#5f6368",
}
_TONES_DARK = {
    Tone.GOOD: "#4cc173",
    Tone.WARN: "#f0a330",
    Tone.BAD: "#ff6b6b",
    Tone.NEUTRAL: "#a0a4a8",
}


def is_dark() -> bool:
    app = QGuiApplication.instance()
    if not isinstance(app, QGuiApplication):
        return False
    return app.palette().color(QPalette.ColorRole.Window).lightness() < 128


def tone_color(tone: Tone) -> QColor:
    """The text colour of a status tone, readable on the current theme's background."""
    return QColor((_TONES_DARK if is_dark() else _TONES_LIGHT)[tone])


def tone_style(tone: Tone) -> str:
    """A style sheet fragment for a status label of ``tone``: coloured text, bold."""
    return f"color: {tone_color(tone).name()}; font-weight: 600;"


def light_palette() -> QPalette:
    palette = QPalette()
    roles = {
        QPalette.ColorRole.Window: "#f3f4f6",
        QPalette.ColorRole.WindowText: "#1f2328",
        QPalette.ColorRole.Base: "#ffffff",
        QPalette.ColorRole.AlternateBase: "#f6f8fa",
        QPalette.ColorRole.ToolTipBase: "#ffffff",
        QPalette.ColorRole.ToolTipText: "#1f2328",
        QPalette.ColorRole.PlaceholderText: "#8c959f",
        QPalette.ColorRole.Text: "#1f2328",
        QPalette.ColorRole.Button: "#eaedf0",
        QPalette.ColorRole.ButtonText: "#1f2328",
        QPalette.ColorRole.BrightText: "#c62828",
        QPalette.ColorRole.Highlight: "#2f6fde",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: "#1f5fbf",
        QPalette.ColorRole.Mid: "#c8ccd1",
        QPalette.ColorRole.Dark: "#a0a6ad",
        QPalette.ColorRole.Light: "#ffffff",
    }
    for role, color in roles.items():
        palette.setColor(role, QColor(color))
    _disabled(palette, "#8c959f")
    return palette


def dark_palette() -> QPalette:
    palette = QPalette()
    roles = {
        QPalette.ColorRole.Window: "#1e2126",
        QPalette.ColorRole.WindowText: "#e6e8eb",
        QPalette.ColorRole.Base: "#16181c",
        QPalette.ColorRole.AlternateBase: "#1c1f24",
        QPalette.ColorRole.ToolTipBase: "#2a2e35",
        QPalette.ColorRole.ToolTipText: "#e6e8eb",
        QPalette.ColorRole.PlaceholderText: "#7d848d",
        QPalette.ColorRole.Text: "#e6e8eb",
        QPalette.ColorRole.Button: "#2a2e35",
        QPalette.ColorRole.ButtonText: "#e6e8eb",
        QPalette.ColorRole.BrightText: "#ff6b6b",
        QPalette.ColorRole.Highlight: "#3d7ae6",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: "#6ea8ff",
        QPalette.ColorRole.Mid: "#3a3f47",
        QPalette.ColorRole.Dark: "#121417",
        QPalette.ColorRole.Light: "#3a3f47",
    }
    for role, color in roles.items():
        palette.setColor(role, QColor(color))
    _disabled(palette, "#6b717a")
    return palette


def _disabled(palette: QPalette, color: str) -> None:
    for role in (
        QPalette.ColorRole.WindowText,
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
    ):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(color))


def apply_theme(app: QApplication, scheme: Qt.ColorScheme) -> None:
    """Dark palette for a dark system scheme; light for light or unknown."""
    app.setPalette(dark_palette() if scheme is Qt.ColorScheme.Dark else light_palette())
    log.debug("theme %s", "dark" if scheme is Qt.ColorScheme.Dark else "light")


def follow_system_theme(app: QApplication) -> None:
    """Use Fusion with the palette of the system scheme, now and whenever the system switches."""
    style = QStyleFactory.create("Fusion")
    if style is not None:
        app.setStyle(style)
    hints = app.styleHints()
    apply_theme(app, hints.colorScheme())
    if not app.property("ibconsoleFollowsScheme"):
        hints.colorSchemeChanged.connect(lambda scheme: apply_theme(app, scheme))
        app.setProperty("ibconsoleFollowsScheme", True)
