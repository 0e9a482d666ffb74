"""Greeks of the option positions and the delta held per underlying, in futures-equivalent
contracts, under the positions table. Each held option keeps a market-data line for IB's option
computation (shared with the chain when it shows the same option); a delta IB has not sent is
said, and the total that lacks it says it is incomplete."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QVBoxLayout, QWidget

from ibconsole.broker.market_data import LineBudgetExceeded
from ibconsole.domain.account import PortfolioRow
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.option_chain import Column as Greek
from ibconsole.domain.option_chain import DeltaLine, DeltaTotal, Greeks, delta_totals, greek_text
from ibconsole.ui.blotter.table import REPAINT_MS, make_table, show_status, status_label
from ibconsole.ui.blotter_models import Column, SnapshotTableModel
from ibconsole.ui.coalescing import CoalescingTimer
from ibconsole.ui.context import UiContext
from ibconsole.ui.theme import Tone

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RiskLine:
    """An option position with IB's greeks, or (``greeks`` None, ``total``) an underlying's sum."""

    key: str
    name: str
    quantity: Decimal | None
    greeks: Greeks | None
    position_delta: float | None  # futures-equivalent contracts
    total: bool = False
    complete: bool = True


def _greek(greek: Greek) -> Column[RiskLine]:
    return Column(
        greek.value,
        lambda line: "" if line.total else greek_text(greek, line.greeks),
        numeric=True,
    )


def _position_delta(line: RiskLine) -> str:
    if line.position_delta is None:
        return "none"
    text = f"{line.position_delta:+.2f}"
    if line.total:
        text += " futures-equivalent" + ("" if line.complete else " (incomplete)")
    return text


RISK_COLUMNS: tuple[Column[RiskLine], ...] = (
    Column("Contract", lambda line: line.name),
    Column(
        "Qty", lambda line: "" if line.quantity is None else f"{line.quantity:+f}", numeric=True
    ),
    *(_greek(g) for g in (Greek.DELTA, Greek.GAMMA, Greek.THETA, Greek.VEGA, Greek.IV)),
    Column(
        "Position Δ",
        _position_delta,
        numeric=True,
        header_tip="Delta of the position in contracts of the underlying future",
    ),
)


class OptionRiskView(QWidget):
    """Option positions with their greeks and the delta per underlying; hidden without options.

    Signals: none.
    """

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ctx = ctx
        self._broker = ctx.broker
        self._rows: tuple[PortfolioRow, ...] = ()
        self._options: dict[int, ListedContract] = {}  # held options by conId
        self._looked_up: set[int] = set()
        self._lines: set[int] = set()  # options whose market-data line this view holds
        self.model = SnapshotTableModel(RISK_COLUMNS, lambda line: line.key)
        self.table, _proxy = make_table("optionRiskTable", self.model)
        self.state = status_label("optionRiskState")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.state)
        layout.addWidget(self.table)
        self._timer = CoalescingTimer(self, REPAINT_MS, self._repaint)
        ctx.bridge.sig_greeks_updated.connect(self._on_bridge_greeks_updated)
        self.setVisible(False)

    def show_positions(self, rows: Iterable[PortfolioRow]) -> None:
        """The account's positions changed: follow its options."""
        self._rows = tuple(row for row in rows if row.quantity)
        for row in self._rows:
            self._identify(row.con_id)
        self._hold_lines()
        self._timer.request()

    def line_text(self, key: str) -> str:
        """A row as the trader reads it, column by column ("" when there is none)."""
        line = self.model.find(key)
        if line is None:
            return ""
        return " · ".join(f"{c.title} {c.text(line)}".strip() for c in RISK_COLUMNS)

    def _identify(self, con_id: int) -> None:
        if con_id in self._options or self._broker.contracts.by_con_id(con_id) is not None:
            return
        known = self._broker.options.option(con_id)
        if known is not None:
            self._options[con_id] = known
            return
        if con_id in self._looked_up or self._broker.session.sync_info is None:
            return
        self._looked_up.add(con_id)
        self._ctx.runner.start(
            self._broker.options.lookup(con_id),
            name=f"positions: contract {con_id}",
            done=self._on_looked_up,
            failed=lambda error: log.info("positions: contract %d unknown: %s", con_id, error),
        )

    def _on_looked_up(self, option: ListedContract | None) -> None:
        if option is not None:
            self._options[option.con_id] = option
            self._hold_lines()
            self._timer.request()

    def _hold_lines(self) -> None:
        held = {row.con_id for row in self._rows if row.con_id in self._options}
        market = self._broker.market
        for con_id in self._lines - held:
            self._lines.discard(con_id)
            market.unsubscribe(con_id)
        refused = ""
        for con_id in held - self._lines:
            try:
                market.subscribe(self._options[con_id])
            except LineBudgetExceeded as error:
                refused = f"No greeks for {self._options[con_id].local_symbol}: {error}"
                continue
            self._lines.add(con_id)
        show_status(self.state, refused, Tone.WARN if refused else Tone.NEUTRAL)

    @Slot(object)
    def _on_bridge_greeks_updated(self, computed: tuple[tuple[int, Greeks], ...]) -> None:
        if any(con_id in self._lines for con_id, _ in computed):
            self._timer.request()

    @Slot()
    def _repaint(self) -> None:
        market = self._broker.market
        lines: list[RiskLine] = []
        deltas: list[DeltaLine] = []
        underlyings: dict[int, ListedContract] = {}
        for row in self._rows:
            option = self._options.get(row.con_id)
            if option is None or option.option is None:
                continue
            greeks = market.greeks(row.con_id)
            under = option.option.underlying_con_id
            month = self._broker.contracts.by_con_id(under)
            under_multiplier = month.contract.multiplier if month else option.multiplier
            if month is not None:
                underlyings[under] = month.contract
            delta = greeks.delta if greeks is not None else None
            share = DeltaLine(under, row.quantity, delta, option.multiplier, under_multiplier)
            deltas.append(share)
            lines.append(
                RiskLine(
                    f"option:{row.con_id}",
                    option.local_symbol,
                    row.quantity,
                    greeks,
                    share.contracts,
                )
            )
        underlying_ids = {d.underlying_con_id for d in deltas}
        for row in self._rows:
            if row.con_id in underlying_ids:
                future = underlyings.get(row.con_id)
                multiplier = future.multiplier if future is not None else Decimal(1)
                deltas.append(DeltaLine(row.con_id, row.quantity, 1.0, multiplier, multiplier))
        for total in delta_totals(deltas).values():
            lines.append(self._total_line(total, underlyings.get(total.underlying_con_id)))
        keys = {line.key for line in lines}
        self.model.remove(line.key for line in self.model.lines() if line.key not in keys)
        self.model.upsert(lines)
        self.setVisible(bool(lines))

    @staticmethod
    def _total_line(total: DeltaTotal, future: ListedContract | None) -> RiskLine:
        name = future.local_symbol if future is not None else f"conId {total.underlying_con_id}"
        return RiskLine(
            f"total:{total.underlying_con_id}",
            f"{name} total",
            None,
            None,
            total.contracts,
            total=True,
            complete=total.complete,
        )
