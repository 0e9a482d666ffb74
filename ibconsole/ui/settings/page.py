"""One page of the Settings dialog: groups of fields and tables of named rows.

A page reports the changes the trader made (``changes``) and, when the loader refuses a value,
puts the focus on the field or cell that holds it (``focus``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, Qt, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ibconsole.config.writer import KeyPath, SettingsFile
from ibconsole.ui.settings.editors import FieldEditor
from ibconsole.ui.settings.rows import RowsModel
from ibconsole.ui.settings.values import Kind, Spec
from ibconsole.ui.theme import Tone, set_toned_text

__all__ = ["RowsTable", "SettingsPage"]

_Index = QModelIndex | QPersistentModelIndex
_MIN_COLUMN_WIDTH = 60
_LABEL_WIDTH = 200  # one label column width for every group of a page, so fields line up


class SettingsPage(QWidget):
    def __init__(
        self, title: str, file: SettingsFile, environ: Mapping[str, str], intro: str = ""
    ) -> None:
        super().__init__()
        self.title = title
        self._file = file
        self._environ = environ
        self.editors: list[FieldEditor] = []
        self.tables: list[RowsTable] = []
        self.body = QVBoxLayout(self)
        self.body.setContentsMargins(0, 0, 0, 0)
        self.body.setSpacing(10)
        heading = QLabel(title)
        heading.setObjectName("settingsPageTitle")
        font = heading.font()
        font.setPointSizeF(font.pointSizeF() * 1.35)
        font.setBold(True)
        heading.setFont(font)
        self.body.addWidget(heading)
        if intro:
            words = QLabel(intro)
            words.setWordWrap(True)
            words.setEnabled(False)  # secondary text, in the palette's muted colour
            self.body.addWidget(words)

    def group(self, title: str, specs: Sequence[Spec]) -> QGroupBox:
        """A titled group of fields, one per row, labels on the left."""
        box = QGroupBox(title)
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        for spec in specs:
            editor = self.editor(spec)
            field: QWidget = editor.widget
            if editor.variable is not None:
                field = _with_origin(editor.widget, editor.variable)
            text = "" if spec.kind is Kind.BOOL else spec.label
            if spec.unit and spec.kind is not Kind.BOOL:
                text = f"{text} ({spec.unit})"
            label = QLabel(text)
            label.setMinimumWidth(_LABEL_WIDTH)
            label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            form.addRow(label, field)
        return box

    def editor(self, spec: Spec) -> FieldEditor:
        variable = self._file.environment.get(spec.key)
        editor = FieldEditor(spec, self._file, self._environ.get(variable) if variable else None)
        self.editors.append(editor)
        return editor

    def changes(self) -> dict[KeyPath, object]:
        changed: dict[KeyPath, object] = {}
        for editor in self.editors:
            changed.update(editor.changes())
        for table in self.tables:
            changed.update(table.model.changes())
        return changed

    def focus(self, key: str) -> bool:
        """Focus the field or table cell that holds ``key``; False when it is not on this page."""
        for editor in self.editors:
            if editor.spec.key == key:
                editor.focus()
                return True
        for editor in self.editors:
            if editor.spec.key.startswith(f"{key}."):
                editor.focus()
                return True
        return any(table.focus(key) for table in self.tables)


def _with_origin(widget: QWidget, variable: str) -> QWidget:
    """The field with the variable that sets it beside it, so read-only never looks broken."""
    column = QWidget()
    stacked = QVBoxLayout(column)
    stacked.setContentsMargins(0, 0, 0, 0)
    stacked.setSpacing(2)
    stacked.addWidget(widget)
    origin = QLabel(f"from {variable}")
    origin.setObjectName("settingOrigin")
    origin.setToolTip(widget.toolTip())
    set_toned_text(origin, origin.text(), Tone.WARN)
    font = origin.font()
    font.setPointSizeF(font.pointSizeF() * 0.85)
    origin.setFont(font)
    stacked.addWidget(origin)
    return column


class _ChoiceDelegate(QStyledItemDelegate):
    """A drop-down of the column's allowed words for a cell of a ``Kind.CHOICE`` column."""

    def __init__(self, choices: Sequence[str], parent: QWidget) -> None:
        super().__init__(parent)
        self._choices = list(choices)

    def createEditor(self, parent: QWidget, option: QStyleOptionViewItem, index: _Index) -> QWidget:
        combo = QComboBox(parent)
        combo.addItems(self._choices)
        return combo

    def setEditorData(self, editor: QWidget, index: _Index) -> None:
        assert isinstance(editor, QComboBox)
        editor.setCurrentText(str(index.data(Qt.ItemDataRole.EditRole)))

    def setModelData(self, editor: QWidget, model: QAbstractItemModel, index: _Index) -> None:
        assert isinstance(editor, QComboBox)
        model.setData(index, editor.currentText(), Qt.ItemDataRole.EditRole)


class RowsTable(QWidget):
    """A table of named rows with a name field, Add and Remove below it."""

    def __init__(
        self,
        model: RowsModel,
        *,
        table_name: str,
        prefix: str,
        name_hint: str,
        noun: str = "Symbol",
        choices: Mapping[int, Sequence[str]] | None = None,
        upper: bool = True,
    ) -> None:
        super().__init__()
        self.model = model
        self._upper = upper
        self.view = QTableView()
        self.view.setObjectName(table_name)
        self.view.setModel(model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectItems)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.AnyKeyPressed
        )
        self.view.verticalHeader().setVisible(False)
        self.view.setAlternatingRowColors(True)
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setMinimumSectionSize(_MIN_COLUMN_WIDTH)
        header.setStretchLastSection(True)
        for column, words in (choices or {}).items():
            self.view.setItemDelegateForColumn(column, _ChoiceDelegate(words, self.view))
        self.name_edit = QLineEdit()
        self.name_edit.setObjectName(f"{prefix}{noun}Edit")
        self.name_edit.setPlaceholderText(name_hint)
        self.name_edit.setMaximumWidth(160)
        self.add_button = QPushButton("Add")
        self.add_button.setObjectName(f"{prefix}Add{noun}Button")
        self.remove_button = QPushButton("Remove")
        self.remove_button.setObjectName(f"{prefix}RemoveButton")
        bar = QHBoxLayout()
        bar.addWidget(self.name_edit)
        bar.addWidget(self.add_button)
        bar.addStretch(1)
        bar.addWidget(self.remove_button)
        stacked = QVBoxLayout(self)
        stacked.setContentsMargins(0, 0, 0, 0)
        stacked.addWidget(self.view)
        stacked.addLayout(bar)
        self.add_button.clicked.connect(self._on_add_clicked)
        self.name_edit.returnPressed.connect(self._on_add_clicked)
        self.remove_button.clicked.connect(self._on_remove_clicked)

    @Slot()
    def _on_add_clicked(self) -> None:
        name = self.name_edit.text().strip()
        if not name:
            return
        row = self.model.add_row(name.upper() if self._upper else name)
        self.name_edit.clear()
        index = self.model.index(row, 1)
        self.view.setCurrentIndex(index)
        self.view.setFocus()

    @Slot()
    def _on_remove_clicked(self) -> None:
        index = self.view.currentIndex()
        if index.isValid():
            self.model.remove_row(index.row())

    def focus(self, key: str) -> bool:
        prefix = ".".join(self.model.prefix) + "."
        if not key.startswith(prefix):
            return False
        name, _, rest = key[len(prefix) :].partition(".")
        if name not in self.model.names():
            return False
        row = self.model.names().index(name)
        numbers = [n for n, c in enumerate(self.model.columns) if c.key == (rest or None)]
        index = self.model.index(row, numbers[0] + 1 if numbers else 0)
        self.view.setCurrentIndex(index)
        self.view.scrollTo(index)
        self.view.setFocus()
        return True
