"""A table of named rows of the settings file: per-symbol limits, roll rules, profiles, the
signal inbox's symbol map.

Each row is one name under a table of the file (``[risk.symbols.MES]``); each column one key of
it (or, with ``key=None``, the row's own value, as in ``[signals.symbols]``). An empty cell is a
key the file does not set: what applies instead is shown greyed (``inherited``). A cell set by
an ``IBCONSOLE_*`` variable shows that value and cannot be edited. A removed row removes its
table from the file; nothing else of the file is touched.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QFont

from ibconsole.config.writer import REMOVE, KeyPath, SettingsFile, dotted
from ibconsole.ui.settings.editors import environment_tip
from ibconsole.ui.settings.values import Kind, shown_text, typed_value
from ibconsole.ui.theme import Tone, tone_color

__all__ = ["Column", "Row", "RowsModel"]

_Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True, slots=True)
class Column:
    header: str
    key: str | None  # the key under the row's table; None: the row's own value
    kind: Kind = Kind.VALUE
    tip: str = ""


@dataclass(slots=True)
class Row:
    name: str
    cells: list[str | bool]
    baseline: list[str | bool] | None  # None: a row the trader added
    variables: list[str | None] = field(default_factory=list)  # per cell, the env variable


class RowsModel(QAbstractTableModel):
    """Rows under ``prefix`` (e.g. ``("risk", "symbols")``); the first column is the name."""

    def __init__(
        self,
        prefix: KeyPath,
        name_header: str,
        columns: Sequence[Column],
        file: SettingsFile,
        environ: Mapping[str, str],
        *,
        shown: Mapping[str, object] | None = None,
        inherited: Callable[[Column], str] | None = None,
        whole_rows: bool = False,
    ) -> None:
        super().__init__()
        self.prefix = prefix
        self.columns = tuple(columns)
        self._name_header = name_header
        self._inherited = inherited
        # The file's rows are not all in the file (the built-in profiles): if any changes, every
        # row is written out whole so none is lost.
        self._whole_rows = whole_rows
        self._removed: list[str] = []
        self.rows: list[Row] = []
        # What the rows show: the file's table, or (``shown``) rows the file does not hold.
        held = shown if shown is not None else file.value(prefix)
        table = held if isinstance(held, Mapping) else {}
        listed = list(table)
        for key in file.environment:
            parts = key.split(".")
            if (
                tuple(parts[: len(prefix)]) == prefix
                and len(parts) > len(prefix)
                and parts[len(prefix)] not in listed
            ):
                listed.append(parts[len(prefix)])
        for name in listed:
            cells: list[str | bool] = []
            variables: list[str | None] = []
            for column in self.columns:
                path = self.cell_path(name, column)
                variable = file.environment.get(dotted(path))
                value = environ.get(variable, "") if variable else _held(table, name, column)
                cells.append(_cell(value, column))
                variables.append(variable)
            self.rows.append(Row(name, cells, list(cells), variables))

    # ------------------------------------------------------------------ rows
    def cell_path(self, name: str, column: Column) -> KeyPath:
        return (*self.prefix, name) if column.key is None else (*self.prefix, name, column.key)

    def names(self) -> list[str]:
        return [row.name for row in self.rows]

    def add_row(self, name: str) -> int:
        """Add an editable row for ``name`` (or return the row that has it)."""
        if name in self.names():
            return self.names().index(name)
        position = len(self.rows)
        self.beginInsertRows(QModelIndex(), position, position)
        empty = [_cell(None, column) for column in self.columns]
        self.rows.append(Row(name, empty, None, [None] * len(self.columns)))
        if name in self._removed:
            self._removed.remove(name)
        self.endInsertRows()
        return position

    def remove_row(self, position: int) -> None:
        row = self.rows[position]
        if any(row.variables):
            return  # its environment values stay whatever the table says
        self.beginRemoveRows(QModelIndex(), position, position)
        del self.rows[position]
        if row.baseline is not None:
            self._removed.append(row.name)
        self.endRemoveRows()

    def refresh_inherited(self) -> None:
        if self.rows:
            self.dataChanged.emit(
                self.index(0, 1), self.index(len(self.rows) - 1, len(self.columns))
            )

    # ------------------------------------------------------------------ changes
    def changes(self) -> dict[KeyPath, object]:
        changed: dict[KeyPath, object] = {(*self.prefix, name): REMOVE for name in self._removed}
        for row in self.rows:
            for number, column in enumerate(self.columns):
                if row.variables[number] is not None:
                    continue
                now = row.cells[number]
                # A new row writes what was filled in; a row of the file what was changed.
                if now != ("" if row.baseline is None else row.baseline[number]):
                    changed[self.cell_path(row.name, column)] = _written(now, column)
        if changed and self._whole_rows:
            # Every row in table order, so the file lists them as the table does.
            changed = {(*self.prefix, name): REMOVE for name in self._removed}
            for row in self.rows:
                for number, column in enumerate(self.columns):
                    value = _written(row.cells[number], column)
                    if value is not REMOVE and row.variables[number] is None:
                        changed[self.cell_path(row.name, column)] = value
        return changed

    # ------------------------------------------------------------------ Qt model
    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns) + 1

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        if orientation is not Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self._name_header if section == 0 else self.columns[section - 1].header
        if role == Qt.ItemDataRole.ToolTipRole and section > 0:
            return self.columns[section - 1].tip or None
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if not index.isValid() or index.column() == 0:
            return base
        row, number = self.rows[index.row()], index.column() - 1
        if row.variables[number] is not None:
            return base
        if self.columns[number].kind is Kind.BOOL:
            return base | Qt.ItemFlag.ItemIsUserCheckable
        return base | Qt.ItemFlag.ItemIsEditable

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        if index.column() == 0:
            if role == Qt.ItemDataRole.DisplayRole:
                return row.name
            if role == Qt.ItemDataRole.FontRole:
                font = QFont()
                font.setBold(True)
                return font
            return None
        number = index.column() - 1
        column, cell, variable = self.columns[number], row.cells[number], row.variables[number]
        if column.kind is Kind.BOOL:
            if role == Qt.ItemDataRole.CheckStateRole:
                return Qt.CheckState.Checked if cell is True else Qt.CheckState.Unchecked
            return self._tip(role, variable, column)
        if role == Qt.ItemDataRole.EditRole:
            return cell
        if role == Qt.ItemDataRole.DisplayRole:
            return self._inherited(column) if cell == "" and self._inherited else cell
        if role == Qt.ItemDataRole.ForegroundRole and (cell == "" or variable):
            return tone_color(Tone.NEUTRAL)
        if role == Qt.ItemDataRole.FontRole and cell == "":
            font = QFont()
            font.setItalic(True)
            return font
        return self._tip(role, variable, column, cell)

    def _tip(self, role: int, variable: str | None, column: Column, cell: object = None) -> object:
        if role != Qt.ItemDataRole.ToolTipRole:
            return None
        if variable:
            return environment_tip(variable)
        if cell == "" and self._inherited is not None:
            return f"Not set for this symbol: the default {self._inherited(column)} applies"
        return column.tip or None

    def setData(self, index: _Index, value: object, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or index.column() == 0:
            return False
        if not self.flags(index) & (Qt.ItemFlag.ItemIsEditable | Qt.ItemFlag.ItemIsUserCheckable):
            return False
        row, number = self.rows[index.row()], index.column() - 1
        if role == Qt.ItemDataRole.CheckStateRole:
            checked = value in (Qt.CheckState.Checked, Qt.CheckState.Checked.value, True)
            row.cells[number] = checked
        elif role == Qt.ItemDataRole.EditRole:
            row.cells[number] = shown_text(value).strip()
        else:
            return False
        self.dataChanged.emit(index, index)
        return True


def _cell(value: object, column: Column) -> str | bool:
    if column.kind is Kind.BOOL:
        return value is True or (isinstance(value, str) and value.strip().lower() == "true")
    return shown_text(value)


def _written(cell: str | bool, column: Column) -> object:
    return cell if isinstance(cell, bool) else typed_value(cell, column.kind)


def _held(table: Mapping[str, object], name: str, column: Column) -> object:
    """The value the shown table holds for ``name`` in ``column``, None when not set."""
    own = table.get(name)
    if column.key is None:
        return own
    return own.get(column.key) if isinstance(own, Mapping) else None
