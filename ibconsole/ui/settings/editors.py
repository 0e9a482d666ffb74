"""One settings key as a widget: what it shows, whether the trader changed it, what it writes.

A field starts from what the file says (empty when the file leaves the key to its default,
which the placeholder shows). A key set by an ``IBCONSOLE_*`` variable shows that value,
cannot be edited and is never written; its tooltip names the variable.
"""

from __future__ import annotations

import tomllib

from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QWidget

from ibconsole.config import EXAMPLE_CONFIG
from ibconsole.config.writer import KeyPath, SettingsFile, value_at
from ibconsole.ui.settings.values import Kind, Spec, shown_text, typed_value

__all__ = ["DEFAULTS", "FieldEditor", "environment_tip"]

_FIELD_WIDTH = 240
# Every key's default, as the commented example file documents it.
DEFAULTS = tomllib.loads(EXAMPLE_CONFIG)


def environment_tip(variable: str) -> str:
    return (
        f"Set by the environment variable {variable} for this run; it is not saved to the "
        f"file. Unset {variable} to change it here."
    )


def _object_name(spec: Spec) -> str:
    words = [part for part in spec.path if part.isidentifier()]
    return "setting" + "".join(word.title().replace("_", "") for word in words)


class FieldEditor:
    """The widget of one key and the change it makes, if any."""

    def __init__(self, spec: Spec, file: SettingsFile, environ_text: str | None) -> None:
        self.spec = spec
        self.variable = file.environment.get(spec.key)
        default = value_at(DEFAULTS, spec.path)
        held = file.value(spec.path)
        self._baseline: object
        widget: QWidget
        if spec.kind is Kind.BOOL:
            box = QCheckBox(spec.label)
            shown = _truth(environ_text) if self.variable else held
            box.setChecked(bool(shown if isinstance(shown, bool) else default))
            self._baseline = box.isChecked()
            widget = box
        elif spec.kind is Kind.CHOICE:
            combo = QComboBox()
            combo.addItems(list(spec.choices))
            current = environ_text if self.variable else held
            combo.setCurrentText(shown_text(current if current is not None else default))
            self._baseline = combo.currentText()
            widget = combo
        else:
            line = QLineEdit()
            line.setMinimumWidth(_FIELD_WIDTH)
            line.setText(environ_text if self.variable and environ_text else shown_text(held))
            placeholder = shown_text(default)
            line.setPlaceholderText(f"default: {placeholder}" if placeholder else spec.hint)
            self._baseline = line.text()
            widget = line
        widget.setObjectName(_object_name(spec))
        tips = [spec.hint] if spec.hint else []
        if self.variable:
            widget.setEnabled(False)
            tips.append(environment_tip(self.variable))
        widget.setToolTip("\n".join(tips))
        self.widget = widget

    def current(self) -> object:
        if isinstance(self.widget, QCheckBox):
            return self.widget.isChecked()
        if isinstance(self.widget, QComboBox):
            return self.widget.currentText()
        assert isinstance(self.widget, QLineEdit)
        return self.widget.text()

    def changes(self) -> dict[KeyPath, object]:
        """``{path: new value}`` when the trader changed the field, else nothing."""
        if self.variable is not None:
            return {}
        now = self.current()
        if now == self._baseline:
            return {}
        if isinstance(now, bool):
            return {self.spec.path: now}
        return {self.spec.path: typed_value(str(now), self.spec.kind)}

    def focus(self) -> None:
        self.widget.setFocus()
        if isinstance(self.widget, QLineEdit):
            self.widget.selectAll()


def _truth(text: str | None) -> bool | None:
    if text is None:
        return None
    lowered = text.strip().lower()
    return True if lowered == "true" else False if lowered == "false" else None
