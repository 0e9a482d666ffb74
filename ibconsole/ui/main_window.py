"""The main window: a dock for every part, the LIVE banner and critical alerts on top, the health
indicator in the status bar, menus with the trading shortcuts, and the layout kept in QSettings.
"""

from __future__ import annotations

import asyncio
import logging
import os
from decimal import Decimal
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QEvent, QObject, QSettings, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent
from PySide6.QtWidgets import (
    QDockWidget,
    QFrame,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from ibconsole import __version__
from ibconsole.broker.session import Endpoint, SyncInfo
from ibconsole.config import ConfigError, Settings
from ibconsole.domain.alert_kinds import AlertKind
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.health import HealthSnapshot, HealthState
from ibconsole.domain.order_entry import EntryFields
from ibconsole.domain.trading_mode import AccountMode
from ibconsole.journal.price_alert_file import PriceAlertFile, alert_file_beside
from ibconsole.ui.alert_center import AlertCenter
from ibconsole.ui.alert_sound import AlertSound, alert_wav
from ibconsole.ui.alerts import AlertBar
from ibconsole.ui.alerts_dock import AlertsPanel, PriceAlertDialog
from ibconsole.ui.blotter import AccountSummaryPanel, FillsPanel, OrdersPanel, PositionsPanel
from ibconsole.ui.connection_panel import ConnectionPanel
from ibconsole.ui.context import UiContext
from ibconsole.ui.deferred_panel import DeferredPanel
from ibconsole.ui.health import HealthDock, HealthIndicator, HealthModel
from ibconsole.ui.ladder import PriceLadder
from ibconsole.ui.line_budget_label import LineBudgetLabel
from ibconsole.ui.notifier import AlertRecord, Notifier
from ibconsole.ui.option_chain import OptionChainPanel
from ibconsole.ui.order_ticket import OrderTicket
from ibconsole.ui.price_alert_book import PriceAlertBook, PriceAlertRefused
from ibconsole.ui.rollover_panel import RolloverPanel
from ibconsole.ui.signal_inbox import SignalInboxPanel
from ibconsole.ui.theme import Tone, tone_style
from ibconsole.ui.window_layout import apply_default_layout, first_run_size
from ibconsole.ui.window_menus import build_menus

if TYPE_CHECKING:
    from ibconsole.ui.charts import ChartPanel
    from ibconsole.ui.settings import SettingsDialog

log = logging.getLogger(__name__)

# Bump when docks are added, removed or renamed: an old saved state then falls back to the
# default layout instead of restoring a window with parts missing.
LAYOUT_VERSION = 2
_GEOMETRY_KEY = "mainWindow/geometry"
_STATE_KEY = "mainWindow/state"
_POPULATED_CHECK_MS = 100
_STATUS_MESSAGE_MS = 5000
# Forms taller than a small screen's share scroll instead of squeezing the chart.
_SCROLLED = frozenset({"connection", "health"})


class LiveBanner(QLabel):
    """The red LIVE banner: shown from the trader's live confirmation until the session ends."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("liveBanner")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setStyleSheet(
            "#liveBanner { background: #c62828; color: white; font-weight: 800; "
            "font-size: 13pt; letter-spacing: 2px; padding: 5px; border-radius: 3px; }"
        )
        self.hide()

    def show_live(self, account: str) -> None:
        self.setText(f"LIVE TRADING — account {account} — orders move real money")
        self.setAccessibleName(self.text())
        self.show()

    def clear(self) -> None:
        self.setText("")
        self.hide()


class MainWindow(QMainWindow):
    """The console window; every part lives in a dock the trader can move, tab or float.

    Signals:
        sig_closed()   the window was closed (the app then shuts down)
        sig_settings_applied(Settings)   the trader saved the Settings dialog; ctx.settings is
                       the new settings already (parts that keep a setting refresh on this)
    """

    sig_closed = Signal()
    sig_settings_applied = Signal(object)

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.setWindowTitle("IB Console")
        self.setDockNestingEnabled(True)
        self.setDockOptions(
            QMainWindow.DockOption.AnimatedDocks
            | QMainWindow.DockOption.AllowNestedDocks
            | QMainWindow.DockOption.AllowTabbedDocks
        )
        self._ctx = ctx
        self._closed = False

        self.health_model = HealthModel(ctx, self)
        self.connection = ConnectionPanel(ctx)
        self.ticket = OrderTicket(ctx)
        self.ladder = PriceLadder(ctx)
        self.orders = OrdersPanel(ctx)
        self.fills = FillsPanel(ctx)
        self.positions = PositionsPanel(ctx)
        self.account = AccountSummaryPanel(ctx)
        self.rollover = RolloverPanel(ctx)
        # The chart loads pyqtgraph: built once its dock has painted, or when first asked for.
        self._chart: ChartPanel | None = None
        self._chart_place = DeferredPanel("chartPlace")
        self._chart_place.sig_needed.connect(self._on_chart_place_needed)
        self.health = HealthDock(ctx, model=self.health_model)
        self.notifier = Notifier(
            ctx.settings.alerts, ctx.clock, AlertSound(alert_wav(), self), self
        )
        self.price_alerts = PriceAlertBook(
            ctx, PriceAlertFile(alert_file_beside(ctx.broker.journal.path)), self
        )
        self.alert_center = AlertCenter(ctx, self.notifier, self.price_alerts, self)
        self.alert_center.watch_rollover(self.rollover.model)
        self.alerts = AlertsPanel(self.notifier, self.price_alerts)
        self.signal_inbox = SignalInboxPanel(ctx)
        self.option_chain = OptionChainPanel(ctx)

        self.docks: dict[str, QDockWidget] = {}
        for name, title, widget in (
            ("connection", "Connection", self.connection),
            ("ticket", "Order ticket", self.ticket),
            ("priceLadder", "Price ladder", self.ladder),
            ("chart", "Chart", self._chart_place),
            ("orders", "Orders", self.orders),
            ("fills", "Fills", self.fills),
            ("positions", "Positions", self.positions),
            ("account", "Account", self.account),
            ("rollover", "Contracts and rollover", self.rollover),
            ("health", "Connection health", self.health),
            ("alerts", "Alerts", self.alerts),
            ("signalInbox", "Signal inbox", self.signal_inbox),
            ("optionChain", "Options chain", self.option_chain),
        ):
            self.docks[name] = self._dock(name, title, widget)

        self.live_banner = LiveBanner()
        self.alert_bar = AlertBar(ctx)
        self._build_banners()

        self.health_indicator = HealthIndicator(ctx, model=self.health_model)
        self.mode_label = QLabel()
        self.mode_label.setObjectName("modeIndicator")
        self.statusBar().addPermanentWidget(LineBudgetLabel(ctx))
        self.statusBar().addPermanentWidget(self.mode_label)
        self.statusBar().addPermanentWidget(self.health_indicator)
        self.statusBar().setSizeGripEnabled(True)

        self.settings_dialog: SettingsDialog | None = None
        self.actions_by_name: dict[str, QAction] = build_menus(self)

        self.price_alerts.sig_changed.connect(self._on_price_alerts_changed)
        self._on_price_alerts_changed()
        self.rollover.sig_price_alert_requested.connect(self._on_rollover_price_alert_requested)
        self.notifier.sig_notified.connect(self._on_notifier_notified)
        self.signal_inbox.sig_signal_arrived.connect(self._on_signal_inbox_signal_arrived)
        self.signal_inbox.sig_review_requested.connect(self._on_signal_inbox_review_requested)
        self.ticket.sig_contract_changed.connect(self.option_chain.follow)
        self.option_chain.sig_option_picked.connect(self.ticket.load_option)
        self.ticket.sig_contract_changed.connect(self.ladder.follow)
        self.connection.sig_live_confirmed.connect(self._on_connection_live_confirmed)
        self.connection.sig_live_ended.connect(self._on_connection_live_ended)
        self.alert_bar.sig_notice.connect(self._on_alert_bar_notice)
        self.alert_bar.sig_acknowledged.connect(self._on_alert_bar_acknowledged)
        self.health_indicator.sig_clicked.connect(self._on_health_indicator_clicked)
        ctx.bridge.sig_health_changed.connect(self._on_bridge_health_changed)
        ctx.bridge.sig_synced.connect(self._on_bridge_synced)
        self._on_bridge_health_changed(ctx.broker.session.health)
        if ctx.broker.session.sync_info is not None:
            self._on_bridge_synced(ctx.broker.session.sync_info)

        self._restore_layout()

    # ------------------------------------------------------------------ public
    @property
    def chart(self) -> ChartPanel:
        """The chart panel, built now if its dock has not painted yet."""
        return self._chart if self._chart is not None else self._build_chart()

    @property
    def panels(self) -> tuple[QWidget, ...]:
        """The parts that must show data before the window counts as populated."""
        return (
            self.ticket,
            self.orders,
            self.fills,
            self.positions,
            self.account,
            self.rollover,
            self.chart,
        )

    @property
    def is_populated(self) -> bool:
        return self._ctx.broker.session.sync_info is not None and all(
            bool(getattr(panel, "is_populated", False)) for panel in self.panels
        )

    def show_endpoint(self, endpoint: Endpoint) -> None:
        self.connection.show_endpoint(endpoint)

    def request_connect(self) -> None:
        self.connection.request_connect()

    async def wait_populated(self) -> None:
        """Return once connected, synced and every panel shows data."""
        if self.is_populated:
            return
        populated: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # Panels fill from many signals; checking the one property on a timer is simplest.
        timer = QTimer(self)
        timer.setInterval(_POPULATED_CHECK_MS)

        def check() -> None:
            if self.is_populated and not populated.done():
                populated.set_result(None)

        timer.timeout.connect(check)
        timer.start()
        try:
            await populated
        finally:
            timer.stop()
            timer.deleteLater()

    def save_layout(self) -> None:
        settings = QSettings()
        settings.setValue(_GEOMETRY_KEY, self.saveGeometry())
        settings.setValue(_STATE_KEY, self.saveState(LAYOUT_VERSION))
        settings.sync()

    def reset_layout(self) -> None:
        """Put every dock back where the first run puts it, for the current window size."""
        apply_default_layout(self, self.docks, self.size())

    # ----------------------------------------------------------------- layout
    def _dock(self, name: str, title: str, widget: QWidget) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"{name}Dock")
        if name in _SCROLLED:
            scroller = QScrollArea(dock)
            scroller.setObjectName(f"{name}Scroller")
            scroller.setWidgetResizable(True)
            scroller.setFrameShape(QFrame.Shape.NoFrame)
            scroller.setWidget(widget)
            dock.setWidget(scroller)
        else:
            dock.setWidget(widget)
            # Opaque, as a scroller's widget is: a child's repaint (a quote, every frame) stops
            # here instead of repainting the dock's title bar, whose style loads the float and
            # close icons from their files on every paint.
            widget.setAutoFillBackground(True)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
        )
        return dock

    def _build_chart(self) -> ChartPanel:
        # Imported here: pyqtgraph is a third of the start-up imports, and the window's first
        # paint shows the chart's dock empty; the dock's paint asks for the chart a moment later.
        from ibconsole.ui.charts import ChartPanel

        chart = ChartPanel(self._ctx)
        self._chart = chart
        self._chart_place.hold(chart)
        self.ticket.sig_contract_changed.connect(chart.show_contract)
        chart.trading.sig_alert_requested.connect(self._on_chart_alert_requested)
        chart.trading.show_alerts(self.price_alerts.alerts)
        if self.ticket.contract is not None:
            chart.show_contract(self.ticket.contract)
        return chart

    def _build_banners(self) -> None:
        holder = QWidget()
        holder.setObjectName("bannerArea")
        layout = QVBoxLayout(holder)
        layout.setContentsMargins(4, 4, 4, 0)
        layout.setSpacing(4)
        layout.addWidget(self.live_banner)
        layout.addWidget(self.alert_bar)
        bar = QToolBar("Banners", self)
        bar.setObjectName("bannerBar")
        bar.setMovable(False)
        bar.setFloatable(False)
        bar.toggleViewAction().setVisible(False)
        bar.setStyleSheet("QToolBar { border: none; padding: 0; }")
        bar.addWidget(holder)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)
        self._banner_bar = bar
        bar.hide()
        # The bar takes room only while a banner shows.
        self.live_banner.installEventFilter(self)
        self.alert_bar.installEventFilter(self)

    def _restore_layout(self) -> None:
        settings = QSettings()
        geometry = settings.value(_GEOMETRY_KEY)
        state = settings.value(_STATE_KEY)
        if isinstance(geometry, QByteArray) and self.restoreGeometry(geometry):
            apply_default_layout(self, self.docks, self.size())
            if isinstance(state, QByteArray) and self.restoreState(state, LAYOUT_VERSION):
                log.info("window layout restored")
                return
            log.info("saved window layout is from another version; using the default")
            return
        self.resize(first_run_size(self))
        apply_default_layout(self, self.docks, self.size())

    def open_settings(self) -> None:
        """File → Settings…: one dialog at a time, over the window, never blocking the loop."""
        if self.settings_dialog is not None and self.settings_dialog.isVisible():
            self.settings_dialog.raise_()
            self.settings_dialog.activateWindow()
            return
        # Imported here: tomlkit and the dialog's pages are for this click alone; the console
        # imports them once the window has painted (app.Console.start), so the click does not.
        from ibconsole.ui.settings import SettingsDialog, open_settings_file

        try:
            file = open_settings_file(self._ctx, os.environ)
        except ConfigError as error:
            QMessageBox.warning(
                self, "Settings", f"The settings file cannot be edited here: {error}"
            )
            return
        dialog = SettingsDialog(self._ctx, file, os.environ, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.sig_applied.connect(self._on_settings_applied)
        dialog.finished.connect(self._on_settings_finished)
        self.settings_dialog = dialog
        dialog.open()

    @Slot(int)
    def _on_settings_finished(self, _result: int) -> None:
        self.settings_dialog = None

    @Slot(object)
    def _on_settings_applied(self, settings: Settings) -> None:
        self.notifier.apply(settings.alerts)
        self.ladder.apply_settings(settings.ladder)
        self._ctx.inbox.apply(settings.signals, settings.rollover)
        spread_rolls = self._ctx.broker.orders.spread_rolls
        spread_rolls.fill_timeout = settings.spread_roll.fill_timeout.total_seconds()
        self.connection.reload_profiles()
        self.ticket.recheck()
        self.statusBar().showMessage("Settings saved and applied.", _STATUS_MESSAGE_MS)
        self.sig_settings_applied.emit(settings)

    def show_about(self) -> None:
        box = QMessageBox(self)
        box.setObjectName("aboutDialog")
        box.setWindowTitle("About IB Console")
        box.setIconPixmap(self.windowIcon().pixmap(64, 64))
        box.setText(f"<b>IB Console</b> {__version__}")
        box.setInformativeText(
            "A trading console for Interactive Brokers over the TWS API: order entry with "
            "pre-trade checks, positions, futures rollover and live charts."
        )
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    # ------------------------------------------------------------------ events
    @Slot(str)
    def _on_connection_live_confirmed(self, account: str) -> None:
        self.live_banner.show_live(account)

    @Slot()
    def _on_connection_live_ended(self) -> None:
        self.live_banner.clear()

    @Slot(str)
    def _on_alert_bar_notice(self, sentence: str) -> None:
        self.statusBar().showMessage(sentence, 15_000)

    @Slot(str)
    def _on_alert_bar_acknowledged(self, sentence: str) -> None:
        self.statusBar().showMessage("Alert acknowledged.", 3_000)

    @Slot(object, object)
    def _on_chart_alert_requested(self, contract: ListedContract, price: Decimal) -> None:
        try:
            alert = self.price_alerts.add(contract, price)
        except PriceAlertRefused as refused:
            self.statusBar().showMessage(str(refused), 15_000)
            return
        self.statusBar().showMessage(f"Price alert set: {alert.describe()}.", 8_000)

    @Slot()
    def _on_price_alerts_changed(self) -> None:
        if self._chart is not None:
            self._chart.trading.show_alerts(self.price_alerts.alerts)

    @Slot()
    def _on_chart_place_needed(self) -> None:
        if self._chart is None:
            self._build_chart()

    @Slot(object)
    def _on_rollover_price_alert_requested(self, contract: ListedContract) -> None:
        market = self._ctx.broker.market
        market.subscribe(contract)  # its price decides which way the alert waits
        quote = market.quote(contract.con_id)
        price = quote.last_good_price() if quote is not None else None
        dialog = PriceAlertDialog(self.price_alerts, contract, price, self)
        dialog.finished.connect(lambda _result: market.unsubscribe(contract.con_id))
        dialog.open()

    @Slot(object)
    def _on_notifier_notified(self, record: AlertRecord) -> None:
        self.statusBar().showMessage(f"{record.title}: {record.text}", 15_000)

    @Slot(str, str)
    def _on_signal_inbox_signal_arrived(self, title: str, text: str) -> None:
        # The notifier keeps it in the alerts' history, notifies and sounds as the settings say,
        # and shows it in the status bar.
        self.notifier.notify(AlertKind.SIGNAL, title, f"{text} — waiting in the signal inbox")

    @Slot(object, str)
    def _on_signal_inbox_review_requested(self, fields: EntryFields, note: str) -> None:
        self.ticket.load(fields, note)
        dock = self.docks["ticket"]
        dock.show()
        dock.raise_()

    @Slot()
    def _on_health_indicator_clicked(self) -> None:
        dock = self.docks["health"]
        dock.show()
        dock.raise_()

    @Slot(object)
    def _on_bridge_health_changed(self, snapshot: HealthSnapshot) -> None:
        disconnected = snapshot.state is HealthState.DISCONNECTED
        connect = self.actions_by_name["connect"]
        connect.setText("&Connect" if disconnected else "&Disconnect")
        if disconnected:
            self.mode_label.setText("")

    @Slot(object)
    def _on_bridge_synced(self, info: SyncInfo) -> None:
        account = info.account or ", ".join(info.accounts)
        if info.mode.mode is AccountMode.LIVE:
            self.mode_label.setText(f"LIVE {account}")
            self.mode_label.setStyleSheet(tone_style(Tone.BAD))
        elif info.mode.mode is AccountMode.PAPER:
            self.mode_label.setText(f"Paper {account}")
            self.mode_label.setStyleSheet(tone_style(Tone.GOOD))
        else:
            self.mode_label.setText(f"Mode unknown {account}")
            self.mode_label.setStyleSheet(tone_style(Tone.WARN))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # *ToParent: sent on show()/hide() even while the bar (their parent) is hidden.
        if watched in (self.live_banner, self.alert_bar) and event.type() in (
            QEvent.Type.ShowToParent,
            QEvent.Type.HideToParent,
        ):
            self._banner_bar.setVisible(
                not self.live_banner.isHidden() or not self.alert_bar.isHidden()
            )
        return super().eventFilter(watched, event)

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._closed:
            self._closed = True
            self.save_layout()
            self.notifier.close()
            self._ctx.gateways.terminate()
            log.info("main window closed")
            self.sig_closed.emit()
        event.accept()
