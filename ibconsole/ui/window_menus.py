"""The main window's menus and their actions (with the trading shortcuts)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence

if TYPE_CHECKING:
    from ibconsole.ui.main_window import MainWindow

__all__ = ["build_menus"]


def _action(
    window: MainWindow,
    actions: dict[str, QAction],
    name: str,
    text: str,
    slot: Callable[[], object],
    shortcut: QKeySequence | str | None = None,
    tip: str = "",
) -> QAction:
    action = QAction(text, window)
    action.setObjectName(f"{name}Action")
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
        # Trading keys work wherever the focus is, also in a floating dock.
        action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
    if tip:
        action.setStatusTip(tip)
        action.setToolTip(tip)
    action.triggered.connect(lambda _checked=False: slot())
    window.addAction(action)
    actions[name] = action
    return action


def build_menus(window: MainWindow) -> dict[str, QAction]:
    """The menu bar's menus; every action by name, for shortcuts and automation."""
    actions: dict[str, QAction] = {}
    menu = window.menuBar()
    file_menu = menu.addMenu("&File")
    file_menu.addAction(
        _action(
            window,
            actions,
            "exportJournal",
            "&Export journal CSV…",
            window.orders.export_button.click,
            "Ctrl+E",
            "Write every journalled order and fill to a CSV file",
        )
    )
    settings = _action(
        window,
        actions,
        "settings",
        "&Settings…",
        window.open_settings,
        "Ctrl+,",
        "Edit limits, rollover, profiles, health, market data, signals and alerts",
    )
    settings.setObjectName("actionSettings")
    settings.setMenuRole(QAction.MenuRole.PreferencesRole)
    file_menu.addAction(settings)
    file_menu.addSeparator()
    file_menu.addAction(_action(window, actions, "quit", "&Quit", window.close, "Ctrl+Q"))

    connection_menu = menu.addMenu("&Connection")
    connection_menu.addAction(
        _action(
            window,
            actions,
            "connect",
            "&Connect",
            window.connection.toggle_connection,
            "Ctrl+K",
            "Connect with the settings in the Connection panel, or disconnect",
        )
    )
    connection_menu.addAction(
        _action(
            window,
            actions,
            "testConnection",
            "&Test connection",
            window.connection.test_connection,
            "Ctrl+T",
            "Check reach, handshake, accounts and round trip without connecting",
        )
    )
    connection_menu.addSeparator()
    connection_menu.addAction(
        _action(
            window,
            actions,
            "resetBreaker",
            "&Reset circuit breaker",
            window.health_model.reset_breaker,
            "Ctrl+Shift+R",
            "Forget recent connect failures and try again now",
        )
    )

    trade_menu = menu.addMenu("&Trade")
    trade_menu.addAction(
        _action(
            window,
            actions,
            "buy",
            "&Buy",
            window.ticket.buy,
            "Ctrl+Alt+B",
            "Buy with the ticket's settings",
        )
    )
    trade_menu.addAction(
        _action(
            window,
            actions,
            "sell",
            "&Sell",
            window.ticket.sell,
            "Ctrl+Alt+S",
            "Sell with the ticket's settings",
        )
    )
    trade_menu.addAction(
        _action(
            window,
            actions,
            "flatten",
            "&Flatten position",
            window.ticket.flatten,
            "Ctrl+Alt+F",
            "Close the whole position in the ticket's contract (asks first)",
        )
    )
    trade_menu.addSeparator()
    trade_menu.addAction(
        _action(
            window,
            actions,
            "cancelAll",
            "&Cancel all orders",
            window.orders.cancel_all,
            "Ctrl+Alt+X",
            "Cancel every working order placed from this console (asks first)",
        )
    )

    view_menu = menu.addMenu("&View")
    for dock in window.docks.values():
        view_menu.addAction(dock.toggleViewAction())
    view_menu.addSeparator()
    view_menu.addAction(
        _action(
            window,
            actions,
            "resetLayout",
            "&Reset layout",
            window.reset_layout,
            tip="Put every panel back where it starts",
        )
    )

    help_menu = menu.addMenu("&Help")
    help_menu.addAction(_action(window, actions, "about", "&About IB Console", window.show_about))
    return actions
