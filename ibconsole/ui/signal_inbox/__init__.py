"""The signal inbox dock: signals from TradingView or a script, waiting for a trader's click."""

from ibconsole.ui.signal_inbox.panel import SignalInboxPanel

__all__ = ["SignalInboxPanel"]
