"""The contracts and rollover panel: a watch list of futures families with their front and next
months, expiry, roll date, roll status and trading session, held positions marked, the Roll…
action for a held position in its roll window and the partial-roll alert with its retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import IntEnum
from zoneinfo import ZoneInfo

from PySide6.QtCore import (
    QAbstractTableModel,
    QItemSelection,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPoint,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ibconsole.broker.contracts import ContractLookupError, ListedMonth
from ibconsole.broker.order_values import OrderRefused, RollFailure
from ibconsole.domain.account import PortfolioRow
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.products import PRODUCTS, product
from ibconsole.domain.rollover import RollPlan, RollStatus, contract_schedule, roll_target
from ibconsole.domain.sessions import schedule_at
from ibconsole.journal import JournalOrder
from ibconsole.ui.context import UiContext
from ibconsole.ui.months import (
    WATCH_LIST,
    FamilyMonths,
    contract_name,
    exchange_day,
    exchange_time,
    family_months,
)
from ibconsole.ui.roll_dialog import RollDialog, RollFailureAlert
from ibconsole.ui.theme import Tone, tone_color

log = logging.getLogger(__name__)

# The day changes under a running console: statuses and sessions are re-read this often.
_REFRESH_MS = 30_000
_COALESCE_MS = 150
_QUOTE_WAIT_S = 5.0
_ROLLABLE = (RollStatus.ROLL_WINDOW, RollStatus.MUST_ROLL)


@dataclass(frozen=True, slots=True)
class SessionState:
    """Whether a market trades now, when that changes, and from which schedule."""

    is_open: bool | None  # None when no schedule covers now
    changes_at: datetime | None  # the next close when open, the next open when closed
    source: str
    disagreement: str  # "" when IB's hours and the exchange calendar agree (or one is missing)


@dataclass(frozen=True, slots=True)
class HeldPosition:
    contract: ListedContract
    quantity: Decimal  # signed
    status: RollStatus
    target: ListedContract | None  # where a roll goes: the family's active (or next) month

    @property
    def rollable(self) -> bool:
        return self.status in _ROLLABLE and self.target is not None


@dataclass(frozen=True, slots=True)
class WatchRow:
    """One family's line in the watch list."""

    symbol: str
    months: FamilyMonths | None
    error: str  # why the months are unknown, "" when known
    session: SessionState | None
    held: tuple[HeldPosition, ...]

    @property
    def roll_candidate(self) -> HeldPosition | None:
        return next((h for h in self.held if h.rollable), None)


class Column(IntEnum):
    """Most telling first: a narrow dock still shows the status and what is held."""

    FAMILY = 0
    FRONT = 1
    NEXT = 2
    STATUS = 3
    POSITION = 4
    DAYS = 5
    ROLL_DATE = 6
    SESSION = 7
    LAST_TRADE = 8


_HEADERS = {
    Column.FAMILY: "Family",
    Column.FRONT: "Front",
    Column.NEXT: "Next",
    Column.STATUS: "Status",
    Column.POSITION: "Position",
    Column.DAYS: "Days",
    Column.ROLL_DATE: "Roll date",
    Column.SESSION: "Session",
    Column.LAST_TRADE: "Last trade (exchange time)",
}

_STATUS_WORDS = {
    RollStatus.OK: "OK",
    RollStatus.ROLL_WINDOW: "Roll window",
    RollStatus.MUST_ROLL: "Must roll",
    RollStatus.EXPIRED: "Expired",
}
_STATUS_TONES = {
    RollStatus.OK: Tone.GOOD,
    RollStatus.ROLL_WINDOW: Tone.WARN,
    RollStatus.MUST_ROLL: Tone.BAD,
    RollStatus.EXPIRED: Tone.NEUTRAL,
}


def status_words(status: RollStatus) -> str:
    return _STATUS_WORDS[status]


def _signed(quantity: Decimal) -> str:
    return f"{quantity:+,f}".rstrip("0").rstrip(".") if quantity % 1 else f"{quantity:+,.0f}"


def _short_time(instant: datetime, zone: ZoneInfo, now: datetime) -> str:
    local = instant.astimezone(zone)
    if local.date() == now.astimezone(zone).date():
        return local.strftime("%H:%M %Z")
    return local.strftime("%a %H:%M %Z")


class RolloverModel(QAbstractTableModel):
    """The watch list over frozen ``WatchRow`` snapshots; ``now`` dates the relative texts."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[WatchRow] = []
        self._now: datetime | None = None
        # Display texts of the current rows: the header's sizing asks for each one many times.
        self._texts: dict[tuple[int, Column], str] = {}

    # ----------------------------------------------------------------- contents
    def set_rows(self, rows: Sequence[WatchRow], now: datetime) -> list[int] | None:
        """Show ``rows``; the numbers of those that read differently now, or None for all."""
        # Session texts count in minutes: a new second alone changes no row's text, and marking
        # every row changed makes the table measure all of them again.
        minute = now.replace(second=0, microsecond=0)
        changed_now = self._now is None or minute != self._now.replace(second=0, microsecond=0)
        self._now = now
        self._texts.clear()
        if [r.symbol for r in rows] != [r.symbol for r in self._rows]:
            self.beginResetModel()
            self._rows = list(rows)
            self.endResetModel()
            return None
        # Session texts count from now, so every row may read differently after a minute.
        changed = [
            number
            for number, (old, new) in enumerate(zip(self._rows, rows, strict=True))
            if old != new or changed_now
        ]
        self._rows = list(rows)
        if changed:
            # One signal for the span: the header sizes its columns to their contents once per
            # signal, and a signal per row measured every row once per row (~200 ms a minute).
            last = self.columnCount() - 1
            self.dataChanged.emit(self.index(changed[0], 0), self.index(changed[-1], last))
        return None if changed_now else changed

    def row_at(self, number: int) -> WatchRow | None:
        return self._rows[number] if 0 <= number < len(self._rows) else None

    def row_of(self, symbol: str) -> int:
        return next((n for n, r in enumerate(self._rows) if r.symbol == symbol), -1)

    @property
    def rows(self) -> tuple[WatchRow, ...]:
        return tuple(self._rows)

    # ------------------------------------------------------------ Qt model API
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(Column)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        if orientation is Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return _HEADERS[Column(section)]
        return None

    def data(
        self,
        index: QModelIndex | QPersistentModelIndex,
        role: int = Qt.ItemDataRole.DisplayRole,
    ) -> object:
        row = self.row_at(index.row())
        if row is None or not index.isValid():
            return None
        column = Column(index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            key = (index.row(), column)
            text = self._texts.get(key)
            if text is None:
                text = self._texts[key] = self._text(row, column)
            return text
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row, column)
        if role == Qt.ItemDataRole.ForegroundRole:
            tone = self._tone(row, column)
            return tone_color(tone) if tone is not None else None
        if role == Qt.ItemDataRole.FontRole and (
            column in (Column.STATUS, Column.FAMILY) or (column is Column.POSITION and row.held)
        ):
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.TextAlignmentRole:
            if column is Column.DAYS:
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            return int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _text(self, row: WatchRow, column: Column) -> str:
        if column is Column.FAMILY:
            return row.symbol
        if column is Column.POSITION:
            return ", ".join(f"{_signed(h.quantity)} {contract_name(h.contract)}" for h in row.held)
        if row.months is None:
            if column is not Column.STATUS:
                return ""
            return f"Unavailable: {row.error}" if row.error else "Waiting for the connection…"
        view = row.months.view
        front = view.front.contract
        if column is Column.FRONT:
            return contract_name(front)
        if column is Column.NEXT:
            return contract_name(view.next.contract) if view.next else "—"
        if column is Column.LAST_TRADE:
            return exchange_time(front.last_trade, front, year=False)
        if column is Column.DAYS:
            return str(view.days_to_expiry)
        if column is Column.ROLL_DATE:
            return exchange_day(view.roll_date, year=False)
        if column is Column.STATUS:
            words = status_words(view.status)
            if view.active != front:
                return f"{words} → {contract_name(view.active)}"
            return words
        return self._session_text(row)

    def _session_text(self, row: WatchRow) -> str:
        state = row.session
        if state is None or state.is_open is None:
            return "Unknown"
        zone = ZoneInfo(product(row.symbol).time_zone)
        now = self._now or datetime.now(zone)
        if state.is_open:
            text = "Open"
            if state.changes_at is not None:
                text += f" · closes {_short_time(state.changes_at, zone, now)}"
        else:
            text = "Closed"
            if state.changes_at is not None:
                text += f" · opens {_short_time(state.changes_at, zone, now)}"
        return f"{text} ⚠" if state.disagreement else text

    def _tooltip(self, row: WatchRow, column: Column) -> str | None:
        if column is Column.FAMILY:
            return PRODUCTS[row.symbol].description
        if column is Column.LAST_TRADE and row.months is not None:
            front = row.months.view.front.contract
            return f"{contract_name(front)} last trades {exchange_time(front.last_trade, front)}"
        if column is Column.ROLL_DATE and row.months is not None:
            return f"Roll from {exchange_day(row.months.view.roll_date)}"
        if column is Column.SESSION and row.session is not None:
            lines = [f"From {row.session.source}"]
            if row.session.disagreement:
                lines.append(row.session.disagreement)
            return "\n".join(lines)
        if column is Column.POSITION and row.held:
            return "\n".join(
                f"{_signed(h.quantity)} {contract_name(h.contract)}: {status_words(h.status)}"
                + (f", roll into {contract_name(h.target)}" if h.rollable and h.target else "")
                for h in row.held
            )
        if column is Column.STATUS and row.months is not None:
            schedule = row.months.view.front
            failed = f"\nLast refresh failed: {row.error}" if row.error else ""
            view = row.months.view
            active = f"New orders go to {contract_name(view.active)}.\n"
            return active + (
                f"Roll from {exchange_time(schedule.roll_at, schedule.contract)}\n"
                f"Must roll from {exchange_time(schedule.must_roll_at, schedule.contract)}\n"
                f"Hold until {exchange_time(schedule.deadline, schedule.contract)}{failed}"
            )
        if column is Column.STATUS and row.error:
            return row.error
        return None

    def _tone(self, row: WatchRow, column: Column) -> Tone | None:
        if column is Column.STATUS:
            if row.months is None:
                return Tone.NEUTRAL
            return _STATUS_TONES[row.months.view.status]
        if column is Column.SESSION and row.session is not None:
            if row.session.is_open is None or row.session.disagreement:
                return Tone.WARN
            return Tone.GOOD if row.session.is_open else Tone.NEUTRAL
        if column is Column.POSITION and row.held:
            worst = max((h.status for h in row.held), key=list(RollStatus).index)
            return _STATUS_TONES[worst]
        return None


class RolloverPanel(QWidget):
    """Watch list of futures families with the Roll… action for held positions.

    Signals:
        sig_price_alert_requested(ListedContract)   the trader asked for a price alert on it

    It listens to the bridge's sig_synced, sig_portfolio_changed and sig_roll_failed.
    """

    sig_price_alert_requested = Signal(object)

    def __init__(
        self,
        ctx: UiContext,
        parent: QWidget | None = None,
        *,
        families: Sequence[str] = WATCH_LIST,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("rolloverPanel")
        for symbol in families:
            product(symbol)  # an unknown symbol fails here, naming itself
        self._ctx = ctx
        self._families = tuple(families)
        self._months: dict[str, FamilyMonths] = {}
        self._errors: dict[str, str] = {}
        self._loading = False
        self._reload_again = False
        self._dialog: RollDialog | None = None

        self._model = RolloverModel(self)
        self._table = QTableView(self)
        self._table.setObjectName("rolloverTable")
        self._table.setModel(self._model)
        self._table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self._table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self._table.setAlternatingRowColors(True)
        self._table.verticalHeader().setVisible(False)
        self._table.verticalHeader().setDefaultSectionSize(24)
        self._table.setWordWrap(False)
        header = self._table.horizontalHeader()
        header.setStretchLastSection(True)
        self._table.selectionModel().selectionChanged.connect(self._on_table_selection_changed)
        self._table.doubleClicked.connect(self._on_table_double_clicked)
        self._table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self._table.customContextMenuRequested.connect(self._on_table_menu_requested)

        self._alert = RollFailureAlert(self)
        self._alert.sig_retry_requested.connect(self.retry_open)

        self._roll_button = QPushButton("Roll…", self)
        self._roll_button.setObjectName("rollButton")
        self._roll_button.setEnabled(False)
        self._roll_button.setToolTip("Select a held position in its roll window to roll it")
        self._roll_button.clicked.connect(self._on_roll_button_clicked)
        self._hint = QLabel(self)
        self._hint.setObjectName("rolloverHint")
        self._updated = QLabel(self)
        self._updated.setObjectName("rolloverUpdated")

        bar = QHBoxLayout()
        bar.addWidget(self._roll_button)
        bar.addWidget(self._hint, 1)
        bar.addWidget(self._updated)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self._alert)
        layout.addWidget(self._table, 1)
        layout.addLayout(bar)

        self._rebuild_timer = QTimer(self)
        self._rebuild_timer.setSingleShot(True)
        self._rebuild_timer.setInterval(_COALESCE_MS)
        self._rebuild_timer.timeout.connect(self._rebuild)
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setInterval(_REFRESH_MS)
        self._refresh_timer.timeout.connect(self.refresh)
        self._refresh_timer.start()

        bridge = ctx.bridge
        bridge.sig_synced.connect(self._on_bridge_synced)
        bridge.sig_portfolio_changed.connect(self._on_bridge_portfolio_changed)
        bridge.sig_roll_failed.connect(self._on_bridge_roll_failed)
        self._rebuild()
        if ctx.broker.session.sync_info is not None:
            QTimer.singleShot(0, self.refresh)

    # ------------------------------------------------------------------ public
    @property
    def is_populated(self) -> bool:
        return any(row.months is not None for row in self._model.rows)

    @property
    def model(self) -> RolloverModel:
        return self._model

    @property
    def table(self) -> QTableView:
        return self._table

    @property
    def failure_alert(self) -> RollFailureAlert:
        return self._alert

    @property
    def roll_dialog(self) -> RollDialog | None:
        """The open roll dialog, if any."""
        return self._dialog

    def select_family(self, symbol: str) -> None:
        number = self._model.row_of(symbol)
        if number < 0:
            raise ValueError(f"{symbol} is not in the watch list ({', '.join(self._families)})")
        self._table.selectRow(number)

    @Slot()
    def refresh(self) -> None:
        """Re-read every family's months (the broker caches chains per trading day)."""
        if self._ctx.broker.session.sync_info is None and not self._months:
            return  # nothing to show before the first sync; sig_synced refreshes
        if self._loading:
            self._reload_again = True
            return
        self._loading = True
        self._ctx.runner.start(
            self._load(self._ctx.clock.now()),
            name="rollover watch list",
            done=self._on_loaded,
            failed=self._on_load_failed,
        )

    # --------------------------------------------------------------- loading
    async def _load(self, now: datetime) -> dict[str, FamilyMonths | str]:
        settings = self._ctx.settings.rollover
        broker = self._ctx.broker

        async def one(symbol: str) -> FamilyMonths | str:
            try:
                months = await family_months(broker, symbol, settings, now)
            except (ContractLookupError, ValueError) as error:
                return str(error)
            # Read now, so the rows find the exchange's sessions; a calendar exchange_calendars
            # does not know leaves IB's hours alone (sessions_if_read says so once).
            with contextlib.suppress(ValueError):
                await broker.calendars.sessions_around(months.chain.product.calendar, now.date())
            return months

        results = await asyncio.gather(*(one(symbol) for symbol in self._families))
        return dict(zip(self._families, results, strict=True))

    def _on_loaded(self, results: dict[str, FamilyMonths | str]) -> None:
        self._loading = False
        for symbol, result in results.items():
            if isinstance(result, str):
                self._errors[symbol] = result
                if symbol not in self._months:
                    log.info("rollover: %s unavailable: %s", symbol, result)
            else:
                self._months[symbol] = result
                self._errors.pop(symbol, None)
        self._rebuild()
        if self._reload_again:
            self._reload_again = False
            self.refresh()

    def _on_load_failed(self, error: BaseException) -> None:
        self._loading = False
        log.error("rollover watch list could not be refreshed: %s", error)
        self._hint.setText(f"Could not refresh: {error}")

    # -------------------------------------------------------------- building
    @Slot()
    def _rebuild(self) -> None:
        now = self._ctx.clock.now()
        portfolio = self._ctx.broker.account.portfolio()
        rows = [self._row(symbol, now, portfolio) for symbol in self._families]
        self._fit_columns(self._model.set_rows(rows, now))
        if any(row.months is not None for row in rows):
            self._updated.setText(f"Updated {now.astimezone().strftime('%H:%M:%S')}")
        self._update_roll_button()

    def _fit_columns(self, changed: list[int] | None) -> None:
        """Columns as wide as their texts: every row measured when all may read differently (a
        new minute, other families), else only the rows that changed, which only widen them.
        Sized to contents by the header, one position's change measured the whole table again,
        ~10 ms of the loop on every fill."""
        table, header = self._table, self._table.horizontalHeader()
        if changed is None:
            table.resizeColumnsToContents()
            return
        grid = 1 if table.showGrid() else 0
        for row in changed:
            for column in range(header.count() - 1):  # the last one stretches
                width = table.sizeHintForIndex(self._model.index(row, column)).width() + grid
                if width > header.sectionSize(column):
                    header.resizeSection(column, width)

    def _row(self, symbol: str, now: datetime, portfolio: Sequence[PortfolioRow]) -> WatchRow:
        months = self._months.get(symbol)
        # After a failed refresh the last good months stay on screen, the error in the tooltip.
        error = self._errors.get(symbol, "")
        if months is None:
            return WatchRow(symbol, None, error, None, ())
        session = self._session(months, now)
        held = tuple(
            self._held(months, item, now)
            for item in portfolio
            if item.quantity and months.chain.month(item.con_id) is not None
        )
        return WatchRow(symbol, months, error, session, held)

    def _held(self, months: FamilyMonths, item: PortfolioRow, now: datetime) -> HeldPosition:
        month = months.chain.month(item.con_id)
        assert month is not None  # filtered by the caller
        contract = month.contract
        settings = self._ctx.settings.rollover
        status = contract_schedule(contract, months.calendar, settings).status(now)
        return HeldPosition(contract, item.quantity, status, roll_target(months.view, contract))

    def _session(self, months: FamilyMonths, now: datetime) -> SessionState:
        front: ListedMonth | None = months.chain.month(months.view.front.contract.con_id)
        ib_hours = front.trading_hours if front is not None else None
        calendar = self._ctx.broker.calendars.sessions_if_read(
            months.chain.product.calendar, now.date()
        )
        primary = schedule_at(now, ib_hours, lambda: calendar)
        if primary is None:
            return SessionState(None, None, "no schedule covers now", "")
        is_open = primary.is_open(now)
        changes_at = primary.next_close(now) if is_open else primary.next_open(now)
        disagreement = ""
        cross_checked = primary is ib_hours and calendar is not None and calendar.covers(now)
        if cross_checked and calendar is not None and calendar.is_open(now) != is_open:
            disagreement = (
                f"{primary.source} says {'open' if is_open else 'closed'}, "
                f"{calendar.source} says {'closed' if is_open else 'open'}"
            )
        return SessionState(is_open, changes_at, primary.source, disagreement)

    # ------------------------------------------------------------------- roll
    def _selected_row(self) -> WatchRow | None:
        selected = self._table.selectionModel().selectedRows()
        return self._model.row_at(selected[0].row()) if selected else None

    def _update_roll_button(self) -> None:
        row = self._selected_row()
        candidate = row.roll_candidate if row is not None else None
        busy = self._dialog is not None
        self._roll_button.setEnabled(candidate is not None and not busy)
        if busy:
            self._hint.setText("A roll dialog is open.")
        elif candidate is not None and candidate.target is not None:
            self._hint.setText(
                f"{_signed(candidate.quantity)} {contract_name(candidate.contract)} is in its "
                f"{status_words(candidate.status).lower()}: roll into "
                f"{contract_name(candidate.target)}"
            )
        elif row is not None and row.held:
            self._hint.setText(f"{row.symbol}: held positions are not in a roll window.")
        elif row is not None:
            self._hint.setText(f"No {row.symbol} position held.")
        else:
            self._hint.setText("Select a held position in its roll window to roll it.")

    @Slot()
    def _on_roll_button_clicked(self) -> None:
        row = self._selected_row()
        candidate = row.roll_candidate if row is not None else None
        if candidate is None or candidate.target is None or self._dialog is not None:
            return
        dialog = RollDialog(
            self._ctx, candidate.quantity, candidate.contract, candidate.target, self
        )
        dialog.finished.connect(self._on_dialog_finished)
        dialog.sig_retry_requested.connect(self.retry_open)
        self._dialog = dialog
        self._update_roll_button()
        dialog.show()

    @Slot(int)
    def _on_dialog_finished(self, result: int) -> None:
        dialog, self._dialog = self._dialog, None
        if dialog is not None:
            # A roll keeps running after its dialog closes; the dialog goes once it has ended.
            if dialog.running:
                dialog.sig_roll_finished.connect(dialog.deleteLater)
            else:
                dialog.deleteLater()
        self._update_roll_button()

    @Slot(QItemSelection, QItemSelection)
    def _on_table_selection_changed(self, *_: object) -> None:
        self._update_roll_button()

    @Slot(QModelIndex)
    def _on_table_double_clicked(self, index: QModelIndex) -> None:
        row = self._model.row_at(index.row())
        if row is not None and row.roll_candidate is not None:
            self._on_roll_button_clicked()

    def alert_menu(self, number: int) -> QMenu | None:
        """The context menu of watch-list row ``number``: a price alert on its active month or a
        held month; None while the row's months are unknown."""
        row = self._model.row_at(number)
        if row is None or row.months is None:
            return None
        menu = QMenu(self)
        menu.setObjectName("rolloverMenu")
        contracts = [row.months.view.active]
        contracts += [h.contract for h in row.held if h.contract not in contracts]
        for contract in contracts:
            action = menu.addAction(f"Price alert on {contract_name(contract)}…")
            action.setObjectName("rolloverPriceAlert")
            action.triggered.connect(
                lambda _checked=False, chosen=contract: self.sig_price_alert_requested.emit(chosen)
            )
        return menu

    @Slot(QPoint)
    def _on_table_menu_requested(self, point: QPoint) -> None:
        menu = self.alert_menu(self._table.indexAt(point).row())
        if menu is not None:
            menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            menu.popup(self._table.viewport().mapToGlobal(point))

    # ---------------------------------------------------- partial roll alert
    @Slot(object)
    def _on_bridge_roll_failed(self, failure: RollFailure) -> None:
        detail = self._open_leg_message(failure)
        self._alert.show_failure(failure, detail)
        if self._dialog is not None:
            self._dialog.show_failure(failure, detail)

    def _open_leg_message(self, failure: RollFailure) -> str:
        """IB's words on the newest failed order of the open leg ("" when it said nothing)."""
        leg = failure.plan.open
        if leg is None:
            return ""
        said = [
            row.message
            for row in self._ctx.broker.orders.rows()
            if row.ours
            and row.con_id == leg.contract.con_id
            and row.side is leg.side
            and not row.working
            and row.message
        ]
        return said[-1] if said else ""

    @Slot(object)
    def retry_open(self, failure: RollFailure) -> None:
        """Place only the failed open leg again (the close leg is never repeated)."""
        self._alert.show_retrying()
        if self._dialog is not None:
            self._dialog.show_retrying()
        self._ctx.runner.start(
            self._retry(failure.plan),
            name=f"retry open leg of {contract_name(failure.plan.close.contract)}",
            done=lambda _: self._on_retry_done(failure),
            failed=self._on_retry_failed,
        )

    async def _retry(self, plan: RollPlan) -> JournalOrder:
        # The open leg is a market order, which needs a live quote of the new month.
        market = self._ctx.broker.market
        assert plan.open is not None  # the alert offers no retry without an open leg
        target = plan.open.contract
        market.subscribe(target)
        try:
            await self._quote_of(target.con_id)
            return await self._ctx.broker.orders.retry_open(plan)
        finally:
            market.unsubscribe(target.con_id)

    async def _quote_of(self, con_id: int) -> None:
        """Wait (a few seconds at most) until the broker holds a priced quote of ``con_id``."""
        market = self._ctx.broker.market

        def priced() -> bool:
            quote = market.quote(con_id)
            return quote is not None and quote.last_good_price() is not None

        if priced():
            return
        arrived = asyncio.get_running_loop().create_future()

        def on_quotes(quotes: object) -> None:
            if priced() and not arrived.done():
                arrived.set_result(None)

        self._ctx.bridge.sig_quotes_updated.connect(on_quotes)
        try:
            await asyncio.wait_for(arrived, _QUOTE_WAIT_S)
        except TimeoutError:
            log.info("no quote of conId %d before retrying; the checks will say so", con_id)
        finally:
            self._ctx.bridge.sig_quotes_updated.disconnect(on_quotes)

    def _on_retry_done(self, failure: RollFailure) -> None:
        opened = failure.plan.open
        self._alert.clear()
        if self._dialog is not None:
            self._dialog.show_retry_filled()
        log.info("roll completed by retry: %s", contract_name(opened.contract) if opened else "")

    def _on_retry_failed(self, error: BaseException) -> None:
        # A refused or unfilled retry raises the roll_failed event again, which re-shows the
        # alert with the new reason; anything else is unexpected.
        if not isinstance(error, OrderRefused):
            self._alert.show_error(str(error))
            log.error("retrying the open leg failed: %s", error)

    # ---------------------------------------------------------------- events
    @Slot(object)
    def _on_bridge_synced(self, info: object) -> None:
        self.refresh()

    @Slot(object)
    def _on_bridge_portfolio_changed(self, rows: object) -> None:
        if self._months:
            self._rebuild_timer.start()
