"""The risk page: the default limits beside the per-symbol rows, and which limit applies to the
selected symbol and why (its own row, or the default)."""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import QItemSelection, Slot
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QLineEdit, QVBoxLayout

from ibconsole.config.writer import SettingsFile, value_at
from ibconsole.ui.settings.editors import DEFAULTS
from ibconsole.ui.settings.page import RowsTable, SettingsPage
from ibconsole.ui.settings.rows import Column, RowsModel
from ibconsole.ui.settings.values import Kind, Spec, shown_text

__all__ = ["LIMIT_COLUMNS", "RiskPage"]

_DEFAULTS_WIDTH = 500  # the per-symbol table gets the rest, wide enough for every column
_OFF = 'a number, or "off" for no limit'
_LIMIT_TIP = 'empty: the default applies; "off": no limit for this symbol'

# The per-symbol limits, in the order of the defaults beside them.
LIMIT_COLUMNS = (
    Column("Max quantity", "max_quantity", tip=f"contracts per order; {_LIMIT_TIP}"),
    Column("Max position", "max_position", tip=f"contracts, working orders counted; {_LIMIT_TIP}"),
    Column("Max notional", "max_notional", tip=f"price × multiplier × quantity; {_LIMIT_TIP}"),
    Column("Price band %", "price_band_percent", tip=f"from the last good price; {_LIMIT_TIP}"),
    Column("Price band ticks", "price_band_ticks", tip=_LIMIT_TIP),
)


class RiskPage(SettingsPage):
    def __init__(self, file: SettingsFile, environ: Mapping[str, str]) -> None:
        super().__init__(
            "Risk limits",
            file,
            environ,
            "Every order is checked against these before it is sent. A symbol's own row changes "
            "only the limits it fills in; an empty cell shows the default that applies.",
        )
        defaults = self.group(
            "Defaults (every symbol)",
            (
                Spec(("risk", "max_quantity"), "Max quantity", hint=_OFF, unit="per order"),
                Spec(("risk", "max_position"), "Max position", hint=_OFF, unit="contracts"),
                Spec(("risk", "max_notional"), "Max notional", hint=_OFF),
                Spec(("risk", "price_band_percent"), "Price band", hint=_OFF, unit="%"),
                Spec(("risk", "price_band_ticks"), "Price band", hint=_OFF, unit="ticks"),
                Spec(("risk", "max_daily_loss"), "Max daily loss", hint=_OFF),
                Spec(("risk", "max_quote_age_seconds"), "Max quote age", unit="s"),
                Spec(("risk", "duplicate_window_seconds"), "Duplicate window", unit="s"),
                Spec(
                    ("risk", "block_market_orders_without_live_quote"),
                    "Block market orders with no live quote",
                    Kind.BOOL,
                ),
            ),
        )
        self._defaults = {e.spec.path[-1]: e for e in self.editors}
        self.model = RowsModel(
            ("risk", "symbols"),
            "Symbol",
            LIMIT_COLUMNS,
            file,
            environ,
            inherited=self.default_text,
        )
        self.table = RowsTable(
            self.model, table_name="riskLimitsTable", prefix="risk", name_hint="symbol, e.g. MES"
        )
        self.tables.append(self.table)
        self.applies = QLabel()
        self.applies.setObjectName("riskAppliesLabel")
        self.applies.setWordWrap(True)
        symbols = QGroupBox("Per symbol")
        column = QVBoxLayout(symbols)
        column.addWidget(self.table, 1)
        column.addWidget(self.applies)
        defaults.setMaximumWidth(_DEFAULTS_WIDTH)
        side_by_side = QHBoxLayout()
        side_by_side.addWidget(defaults)
        side_by_side.addWidget(symbols, 1)
        self.body.addLayout(side_by_side, 1)

        for editor in self.editors:
            if isinstance(editor.widget, QLineEdit):
                editor.widget.textChanged.connect(self._on_default_edited)
        self.model.dataChanged.connect(self._on_model_changed)
        self.model.rowsInserted.connect(self._on_model_changed)
        self.model.rowsRemoved.connect(self._on_model_changed)
        self.table.view.selectionModel().selectionChanged.connect(self._on_selection_changed)
        if self.model.rows:
            self.table.view.setCurrentIndex(self.model.index(0, 1))
        self._explain()

    def default_text(self, column: Column) -> str:
        """The default limit a symbol without its own value gets, as the form shows it now."""
        editor = self._defaults.get(column.key or "")
        text = str(editor.current()).strip() if editor is not None else ""
        return text or shown_text(value_at(DEFAULTS, ("risk", column.key or "")))

    def explanation(self, row: int) -> str:
        entry = self.model.rows[row]
        parts = []
        for number, column in enumerate(self.model.columns):
            own = entry.cells[number]
            if own != "":
                why = f"{entry.name} row" if entry.variables[number] is None else "environment"
                parts.append(f"{column.header.lower()} {own} ({why})")
            else:
                parts.append(f"{column.header.lower()} {self.default_text(column)} (default)")
        return f"{entry.name} is checked against: " + " · ".join(parts)

    def _explain(self) -> None:
        index = self.table.view.currentIndex()
        if index.isValid() and index.row() < len(self.model.rows):
            self.applies.setText(self.explanation(index.row()))
        else:
            self.applies.setText("Symbols without a row are checked against the defaults.")

    @Slot(str)
    def _on_default_edited(self, _text: str) -> None:
        self.model.refresh_inherited()
        self._explain()

    @Slot()
    def _on_model_changed(self) -> None:
        self._explain()

    @Slot(QItemSelection, QItemSelection)
    def _on_selection_changed(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        self._explain()
