"""File → Settings… over the simulator: a changed per-symbol limit checks the ticket's very next
order without a restart; a bad value is refused with the loader's sentence and nothing is
written; the trader's comments survive a save; environment overrides are read-only; the signal
secret goes to the keyring only.

The price ladder orders through the same order-entry core as the ticket (tests/broker/
test_order_entry.py covers the core applying new limits); the ladder itself is not here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from PySide6.QtCore import QAbstractItemModel, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialogButtonBox,
    QLineEdit,
    QPushButton,
)

from ibconsole.config import ConfigError, default_config_path, load_settings
from ibconsole.config.writer import backup_path, read_settings_file
from ibconsole.credentials import SIGNAL_SECRET_ENTRY
from ibconsole.domain.alert_kinds import AlertKind, AlertSettings
from ibconsole.domain.ladder import FarSideClick, LadderSettings
from ibconsole.domain.signals import SignalSettings
from ibconsole.domain.spread_roll import SpreadRollSettings
from ibconsole.journal import OrderState, SettingChange
from ibconsole.sim import PaperGateway
from ibconsole.ui.context import UiContext
from ibconsole.ui.decimal_spin_box import DecimalSpinBox
from ibconsole.ui.ladder.quantity_box import LadderQuantityBox
from ibconsole.ui.order_ticket import OrderTicket
from ibconsole.ui.settings import SettingsDialog

if TYPE_CHECKING:
    from conftest import MemoryKeyring, UiContextFactory

    from ibconsole.ui.main_window import MainWindow

HAND_WRITTEN = """\
# Desk settings, written by hand. Keep this note.
schema_version = 1

# Limits agreed with the desk.
[risk]
max_quantity = 10   # contracts per order
max_position = 20

[rollover]
buffer_days = 1     # roll early
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(HAND_WRITTEN, encoding="utf-8")
    return path


async def _context(
    make_ui_context: UiContextFactory,
    gateway: PaperGateway,
    config: Path,
    environ: Mapping[str, str],
) -> UiContext:
    return await make_ui_context(gateway, settings=load_settings(config, environ=environ))


def _dialog(ctx: UiContext, config: Path, environ: Mapping[str, str], qtbot: Any) -> SettingsDialog:
    dialog = SettingsDialog(ctx, read_settings_file(config, environ), environ)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def _exists(path: Path) -> bool:
    return path.exists()


def _load(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    load_settings(path, environ={})


def _column(model: QAbstractItemModel, header: str) -> int:
    for column in range(model.columnCount()):
        if model.headerData(column, Qt.Orientation.Horizontal) == header:
            return column
    raise AssertionError(f"no column headed {header!r}")


def _row(model: QAbstractItemModel, symbol: str) -> int:
    for row in range(model.rowCount()):
        if model.data(model.index(row, 0)) == symbol:
            return row
    raise AssertionError(f"no row for {symbol}")


def _set_symbol_limit(dialog: SettingsDialog, qtbot: Any, symbol: str, value: object) -> None:
    """What a trader does: type the symbol, Add, then the Max quantity cell."""
    dialog.show_page("Risk limits")
    view = dialog.findChild(QAbstractItemView, "riskLimitsTable")
    assert view is not None
    model = view.model()
    edit = dialog.findChild(QLineEdit, "riskSymbolEdit")
    add = dialog.findChild(QPushButton, "riskAddSymbolButton")
    assert edit is not None
    assert add is not None
    edit.setText(symbol.lower())
    qtbot.mouseClick(add, Qt.MouseButton.LeftButton)
    index = model.index(_row(model, symbol), _column(model, "Max quantity"))
    assert model.setData(index, value, Qt.ItemDataRole.EditRole)


def _save(dialog: SettingsDialog, qtbot: Any) -> None:
    box = dialog.findChild(QDialogButtonBox)
    assert box is not None
    (accept,) = [
        b for b in box.buttons() if box.buttonRole(b) is QDialogButtonBox.ButtonRole.AcceptRole
    ]
    qtbot.mouseClick(accept, Qt.MouseButton.LeftButton)


async def _ticket(ctx: UiContext, qtbot: Any, wait_for: Any) -> OrderTicket:
    ticket = OrderTicket(ctx)
    qtbot.addWidget(ticket)
    ticket.resize(400, 760)
    ticket.show()
    # The first reading of an exchange calendar (off the loop) can take seconds on a busy machine.
    await wait_for(lambda: ticket.is_populated, timeout=30, what="the ticket's contract")
    contract = ticket.contract
    assert contract is not None
    await wait_for(lambda: ctx.broker.market.quote(contract.con_id) is not None, what="a quote")
    return ticket


def _limit_buy(ticket: OrderTicket, ctx: UiContext, quantity: str) -> None:
    contract = ticket.contract
    assert contract is not None
    quote = ctx.broker.market.quote(contract.con_id)
    assert quote is not None
    assert quote.bid is not None
    quantity_box = ticket.findChild(DecimalSpinBox, "ticketQuantity")
    price_box = ticket.findChild(DecimalSpinBox, "ticketLimitPrice")
    assert quantity_box is not None
    assert price_box is not None
    quantity_box.set_text(quantity)
    price_box.set_value(quote.bid - 8 * contract.min_tick)


async def test_a_per_symbol_limit_checks_the_tickets_next_order_without_a_restart(
    make_ui_context: UiContextFactory,
    gateway: PaperGateway,
    config: Path,
    qtbot: Any,
    wait_for: Any,
) -> None:
    ctx = await _context(make_ui_context, gateway, config, {})
    ticket = await _ticket(ctx, qtbot, wait_for)
    contract = ticket.contract
    assert contract is not None
    symbol = contract.symbol
    session = ctx.broker.session.sync_info
    dialog = _dialog(ctx, config, {}, qtbot)

    _set_symbol_limit(dialog, qtbot, symbol, 2)
    explained = dialog.findChild(type(dialog.error), "riskAppliesLabel")
    assert explained is not None
    assert f"{symbol} is checked against: max quantity 2 ({symbol} row)" in explained.text()
    assert "max position 20 (default)" in explained.text()
    _save(dialog, qtbot)

    assert not dialog.isVisible(), dialog.error_text
    assert ctx.settings.risk.for_symbol(symbol).max_quantity == Decimal(2)
    _limit_buy(ticket, ctx, "3")
    ticket.buy()
    assert ticket.status_text.startswith("Blocked, nothing was sent"), ticket.status_text
    assert "Quantity 3 is above your limit of 2" in ticket.status_text
    assert [o.state for o in ctx.broker.journal.orders()] == [OrderState.BLOCKED]

    _limit_buy(ticket, ctx, "2")
    ticket.buy()
    assert ticket.status_text.startswith("Sent: Buy 2"), ticket.status_text
    sent_key = ctx.broker.journal.orders(limit=1)[0].intent.key
    await wait_for(
        lambda: any(o.request.order_ref == sent_key for o in gateway.orders),
        what="the 2-lot at the simulator",
    )
    assert ctx.broker.session.sync_info is session  # no reconnect, no restart
    (change,) = ctx.broker.journal.settings_changes()
    assert change.changes == (SettingChange(f"risk.symbols.{symbol}.max_quantity", "", "2"),)
    assert change.file == str(config)
    saved = _text(config)
    assert f"[risk.symbols.{symbol}]\nmax_quantity = 2" in saved
    assert _text(backup_path(config)) == HAND_WRITTEN


async def test_a_bad_value_is_refused_with_the_loaders_sentence_and_nothing_is_written(
    make_ui_context: UiContextFactory,
    gateway: PaperGateway,
    config: Path,
    tmp_path: Path,
    qtbot: Any,
) -> None:
    ctx = await make_ui_context(gateway, connect=False, settings=load_settings(config, environ={}))
    dialog = _dialog(ctx, config, {}, qtbot)
    _set_symbol_limit(dialog, qtbot, "MES", 0)

    _save(dialog, qtbot)

    assert dialog.isVisible()
    sentence = "risk.symbols.MES.max_quantity = 0: must be a whole number above zero"
    assert dialog.error_text.startswith(f"Not saved: {sentence}")
    # The loader says the very same about a file with that value.
    broken = tmp_path / "broken.toml"
    with pytest.raises(ConfigError) as loaded:
        _load(broken, HAND_WRITTEN + "\n[risk.symbols.MES]\nmax_quantity = 0\n")
    assert dialog.error_text.removeprefix("Not saved: ") in str(loaded.value)
    # The dialog stays on the refused cell.
    view = dialog.findChild(QAbstractItemView, "riskLimitsTable")
    assert view is not None
    current = view.currentIndex()
    assert view.model().data(view.model().index(current.row(), 0)) == "MES"
    assert current.column() == _column(view.model(), "Max quantity")
    assert _text(config) == HAND_WRITTEN
    assert not _exists(backup_path(config))
    assert ctx.broker.journal.settings_changes() == []
    assert ctx.settings.risk.for_symbol("MES").max_quantity == Decimal(10)


async def test_a_bad_form_value_keeps_the_dialog_on_its_field(
    make_ui_context: UiContextFactory, gateway: PaperGateway, config: Path, qtbot: Any
) -> None:
    ctx = await make_ui_context(gateway, connect=False, settings=load_settings(config, environ={}))
    dialog = _dialog(ctx, config, {}, qtbot)
    field = dialog.findChild(QLineEdit, "settingHealthHeartbeatIntervalSeconds")
    assert field is not None
    field.setText("soon")
    dialog.show_page("Risk limits")

    _save(dialog, qtbot)

    assert dialog.error_text == (
        "Not saved: health.heartbeat_interval_seconds = 'soon': must be a number of seconds "
        "above zero"
    )
    assert dialog.pages[dialog.nav.currentRow()].title == "Connection health"
    assert dialog.focusWidget() is field
    assert _text(config) == HAND_WRITTEN


async def test_comments_order_and_untouched_keys_of_a_hand_written_file_survive_a_save(
    make_ui_context: UiContextFactory, gateway: PaperGateway, config: Path, qtbot: Any
) -> None:
    ctx = await make_ui_context(gateway, connect=False, settings=load_settings(config, environ={}))
    dialog = _dialog(ctx, config, {}, qtbot)
    field = dialog.findChild(QLineEdit, "settingRolloverBufferDays")
    assert field is not None
    assert field.text() == "1"
    field.setText("2")

    _save(dialog, qtbot)

    assert not dialog.isVisible(), dialog.error_text
    assert _text(config) == HAND_WRITTEN.replace(
        "buffer_days = 1     # roll early", "buffer_days = 2     # roll early"
    )
    assert ctx.settings.rollover.buffer_days == 2
    (change,) = ctx.broker.journal.settings_changes()
    assert change.changes == (SettingChange("rollover.buffer_days", "1", "2"),)


async def test_an_environment_override_is_shown_read_only_and_never_written(
    make_ui_context: UiContextFactory, gateway: PaperGateway, config: Path, qtbot: Any
) -> None:
    environ = {
        "IBCONSOLE_RISK__MAX_QUANTITY": "4",
        "IBCONSOLE_RISK__SYMBOLS__MES__MAX_POSITION": "6",
    }
    ctx = await make_ui_context(
        gateway, connect=False, settings=load_settings(config, environ=environ)
    )
    dialog = _dialog(ctx, config, environ, qtbot)
    dialog.show_page("Risk limits")

    field = dialog.findChild(QLineEdit, "settingRiskMaxQuantity")
    assert field is not None
    assert (field.text(), field.isEnabled()) == ("4", False)
    assert "IBCONSOLE_RISK__MAX_QUANTITY" in field.toolTip()
    view = dialog.findChild(QAbstractItemView, "riskLimitsTable")
    assert view is not None
    model = view.model()
    cell = model.index(_row(model, "MES"), _column(model, "Max position"))
    assert model.data(cell) == "6"
    assert "IBCONSOLE_RISK__SYMBOLS__MES__MAX_POSITION" in model.data(
        cell, Qt.ItemDataRole.ToolTipRole
    )
    assert not model.flags(cell) & Qt.ItemFlag.ItemIsEditable
    assert not model.setData(cell, 9, Qt.ItemDataRole.EditRole)
    max_position = dialog.findChild(QLineEdit, "settingRiskMaxPosition")
    assert max_position is not None
    max_position.setText("8")

    _save(dialog, qtbot)

    assert not dialog.isVisible(), dialog.error_text
    saved = _text(config)
    assert "max_quantity = 10   # contracts per order" in saved
    assert "max_position = 8" in saved
    assert "MES" not in saved
    assert ctx.settings.risk.defaults.max_quantity == Decimal(4)  # the environment still rules
    assert ctx.settings.risk.for_symbol("MES").max_position == Decimal(6)


async def test_the_signal_secret_goes_to_the_keyring_never_to_the_file(
    make_ui_context: UiContextFactory,
    gateway: PaperGateway,
    config: Path,
    qtbot: Any,
    memory_keyring: MemoryKeyring,
) -> None:
    ctx = await make_ui_context(gateway, connect=False, settings=load_settings(config, environ={}))
    dialog = _dialog(ctx, config, {}, qtbot)
    secret = dialog.findChild(QLineEdit, "signalSecretEdit")
    assert secret is not None
    assert secret.echoMode() is QLineEdit.EchoMode.Password
    secret.setText("tv-hook-91c2-7f0d5a")

    _save(dialog, qtbot)

    assert not dialog.isVisible(), dialog.error_text
    assert memory_keyring.items == {("ibconsole", SIGNAL_SECRET_ENTRY): "tv-hook-91c2-7f0d5a"}
    assert _text(config) == HAND_WRITTEN  # nothing else changed
    assert ctx.broker.journal.settings_changes() == []


async def test_file_settings_creates_the_file_and_the_connection_panel_lists_a_new_profile(
    main_window: MainWindow, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, qtbot: Any
) -> None:
    # The context was built from defaults (no file): the dialog creates the platform's file.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    created = default_config_path()
    assert not _exists(created)
    action = main_window.actions_by_name["settings"]
    assert action.objectName() == "actionSettings"
    assert action.shortcut() == QKeySequence("Ctrl+,")
    applied: list[object] = []
    main_window.sig_settings_applied.connect(applied.append)

    action.trigger()

    dialog = main_window.findChild(SettingsDialog, "settingsDialog")
    assert dialog is not None
    assert dialog.isVisible()
    assert [p.title for p in dialog.pages] == [
        "Connection profiles",
        "Risk limits",
        "Rollover",
        "Connection health",
        "Market data",
        "Price ladder",
        "Options chain",
        "Signal inbox",
        "Alerts and sounds",
    ]
    name = dialog.findChild(QLineEdit, "profilesProfileEdit")
    add = dialog.findChild(QPushButton, "profilesAddProfileButton")
    assert name is not None
    assert add is not None
    name.setText("desk")
    qtbot.keyClick(name, Qt.Key.Key_Return)  # adds the row; Enter never saves the dialog
    assert dialog.isVisible()
    assert not _exists(created)
    model = _table(dialog, "profilesTable").model()
    assert model.setData(model.index(_row(model, "desk"), _column(model, "Port")), 4001)

    _save(dialog, qtbot)

    assert not dialog.isVisible(), dialog.error_text
    assert load_settings(created, environ={}).profiles["desk"].port == 4001
    combo = main_window.connection.form.profile_combo
    assert [combo.itemText(i) for i in range(combo.count())] == [
        "tws-paper",
        "gateway-paper",
        "desk",
    ]
    assert applied == [main_window._ctx.settings]
    assert main_window.settings_dialog is None


def _table(dialog: SettingsDialog, name: str) -> QAbstractItemView:
    view = dialog.findChild(QAbstractItemView, name)
    assert view is not None
    return view


async def test_built_in_profiles_are_written_whole_when_one_changes(
    make_ui_context: UiContextFactory, gateway: PaperGateway, config: Path, qtbot: Any
) -> None:
    # The hand-written file defines no profile: the two built-in ones are shown.
    ctx = await make_ui_context(gateway, connect=False, settings=load_settings(config, environ={}))
    dialog = _dialog(ctx, config, {}, qtbot)
    model = _table(dialog, "profilesTable").model()
    assert [model.data(model.index(r, 0)) for r in range(model.rowCount())] == [
        "tws-paper",
        "gateway-paper",
    ]
    port = model.index(_row(model, "gateway-paper"), _column(model, "Port"))
    assert model.setData(port, "4012", Qt.ItemDataRole.EditRole)

    _save(dialog, qtbot)

    assert not dialog.isVisible(), dialog.error_text
    reloaded = load_settings(config, environ={})
    assert reloaded.profiles["gateway-paper"].port == 4012
    assert reloaded.profiles["tws-paper"].port == 7497  # not lost by writing one profile
    assert ctx.settings.profiles["gateway-paper"].port == 4012


async def test_a_removed_symbol_row_removes_its_table_and_its_limits(
    make_ui_context: UiContextFactory, gateway: PaperGateway, config: Path, qtbot: Any
) -> None:
    _write(config, HAND_WRITTEN + "\n[risk.symbols.MES]  # micro\nmax_quantity = 50\n")
    ctx = await make_ui_context(gateway, connect=False, settings=load_settings(config, environ={}))
    assert ctx.settings.risk.for_symbol("MES").max_quantity == Decimal(50)
    dialog = _dialog(ctx, config, {}, qtbot)
    dialog.show_page("Risk limits")
    view = _table(dialog, "riskLimitsTable")
    view.setCurrentIndex(view.model().index(_row(view.model(), "MES"), 1))
    remove = dialog.findChild(QPushButton, "riskRemoveButton")
    assert remove is not None
    qtbot.mouseClick(remove, Qt.MouseButton.LeftButton)

    _save(dialog, qtbot)

    assert not dialog.isVisible(), dialog.error_text
    assert _text(config) == HAND_WRITTEN + "\n"
    assert ctx.settings.risk.for_symbol("MES").max_quantity == Decimal(10)
    (change,) = ctx.broker.journal.settings_changes()
    assert change.changes == (SettingChange("risk.symbols.MES", "max_quantity = 50", ""),)


async def test_a_roll_rule_added_in_the_table_applies_at_once(
    make_ui_context: UiContextFactory, gateway: PaperGateway, config: Path, qtbot: Any
) -> None:
    ctx = await make_ui_context(gateway, connect=False, settings=load_settings(config, environ={}))
    dialog = _dialog(ctx, config, {}, qtbot)
    dialog.show_page("Rollover")
    name = dialog.findChild(QLineEdit, "rollRulesSymbolEdit")
    add = dialog.findChild(QPushButton, "rollRulesAddSymbolButton")
    assert name is not None
    assert add is not None
    name.setText("cl")
    qtbot.mouseClick(add, Qt.MouseButton.LeftButton)
    model = _table(dialog, "rollRulesTable").model()
    row = _row(model, "CL")
    assert model.setData(model.index(row, _column(model, "Rule")), "calendar_days")
    assert model.setData(model.index(row, _column(model, "Days")), 4)

    _save(dialog, qtbot)

    assert not dialog.isVisible(), dialog.error_text
    rule = ctx.settings.rollover.overrides["CL"]
    assert (rule.kind.value, rule.days) == ("calendar_days", 4)
    assert '[rollover.rules.CL]\nkind = "calendar_days"\ndays = 4' in _text(config)


async def test_a_file_edited_by_hand_while_the_dialog_is_open_is_not_overwritten(
    make_ui_context: UiContextFactory, gateway: PaperGateway, config: Path, qtbot: Any
) -> None:
    ctx = await make_ui_context(gateway, connect=False, settings=load_settings(config, environ={}))
    dialog = _dialog(ctx, config, {}, qtbot)
    by_hand = HAND_WRITTEN.replace("max_position = 20", "max_position = 30")
    _write(config, by_hand)
    field = dialog.findChild(QLineEdit, "settingRolloverBufferDays")
    assert field is not None
    field.setText("3")

    _save(dialog, qtbot)

    assert dialog.isVisible()
    assert "changed on disk since it was read; nothing was written" in dialog.error_text
    assert _text(config) == by_hand
    assert ctx.settings.rollover.buffer_days == 1
    assert ctx.broker.journal.settings_changes() == []


async def test_the_line_budget_and_the_chains_strikes_apply_without_a_restart(
    make_ui_context: UiContextFactory, gateway: PaperGateway, config: Path, qtbot: Any
) -> None:
    ctx = await make_ui_context(gateway, connect=False, settings=load_settings(config, environ={}))
    dialog = _dialog(ctx, config, {}, qtbot)
    budget = dialog.findChild(QLineEdit, "settingMarketDataLineBudget")
    strikes = dialog.findChild(QLineEdit, "settingOptionChainStrikesEachSide")
    assert budget is not None
    assert strikes is not None
    assert (budget.text(), budget.placeholderText()) == ("", "default: 100")
    budget.setText("40")
    strikes.setText("6")

    _save(dialog, qtbot)

    assert not dialog.isVisible(), dialog.error_text
    assert ctx.broker.market.line_budget == 40
    assert ctx.settings.option_chain.strikes_each_side == 6
    reloaded = load_settings(config, environ={})
    assert (reloaded.market_data.line_budget, reloaded.option_chain.strikes_each_side) == (40, 6)
    assert _text(config).startswith(HAND_WRITTEN)  # new tables go below what was there


async def test_the_two_order_roll_s_fill_timeout_is_edited_checked_and_applied(
    make_ui_context: UiContextFactory, gateway: PaperGateway, config: Path, qtbot: Any
) -> None:
    ctx = await make_ui_context(gateway, connect=False, settings=load_settings(config, environ={}))
    assert ctx.broker.orders.rolls.fill_timeout == 30.0
    dialog = _dialog(ctx, config, {}, qtbot)
    field = dialog.findChild(QLineEdit, "settingRolloverFillTimeoutSeconds")
    assert field is not None
    assert (field.text(), field.placeholderText()) == ("", "default: 30")
    field.setText("0")
    dialog.show_page("Risk limits")

    _save(dialog, qtbot)

    assert dialog.error_text == (
        "Not saved: rollover.fill_timeout_seconds = 0: must be a number of seconds above zero"
    )
    assert dialog.pages[dialog.nav.currentRow()].title == "Rollover"
    assert dialog.focusWidget() is field
    assert _text(config) == HAND_WRITTEN
    assert ctx.broker.orders.rolls.fill_timeout == 30.0

    field.setText("12.5")
    _save(dialog, qtbot)

    assert not dialog.isVisible(), dialog.error_text
    assert ctx.broker.orders.rolls.fill_timeout == 12.5
    assert ctx.broker.orders.spread_rolls.fill_timeout == 30.0  # a setting of its own
    assert load_settings(config, environ={}).rollover.fill_timeout == timedelta(seconds=12.5)


async def test_applied_settings_reach_the_ladder_alerts_inbox_and_spread_roll(
    main_window: MainWindow,
    ui_context: UiContext,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    main_window.actions_by_name["settings"].trigger()
    dialog = main_window.findChild(SettingsDialog, "settingsDialog")
    assert dialog is not None
    changed = dataclasses.replace(
        ui_context.settings,
        ladder=LadderSettings(FarSideClick.STOP, (3, 7)),
        alerts=AlertSettings(sound_enabled=False),
        signals=SignalSettings(max_age=timedelta(seconds=5)),
        spread_roll=SpreadRollSettings(fill_timeout=timedelta(seconds=9)),
    )

    dialog.sig_applied.emit(changed)  # what a save announces once the file is written

    box = main_window.findChild(LadderQuantityBox, "ladderQuantityBox")
    assert box is not None
    assert box.presets == (3, 7)
    assert main_window.findChild(QPushButton, "ladderPreset7") is not None
    assert not main_window.notifier.settings.wants_sound(AlertKind.REJECT)
    assert ui_context.inbox.settings.max_age == timedelta(seconds=5)
    assert ui_context.broker.orders.spread_rolls.fill_timeout == 9.0
