"""The blotter docks, one panel per module: orders (cancel, cancel all, history, CSV export), fills,
positions and the account summary.

Broker events only record the newest snapshot per order, execution or contract (O(1)); each
panel applies what arrived from a short single-shot timer, so a burst of reports repaints once.
"""

from ibconsole.ui.blotter.account import AccountSummaryPanel
from ibconsole.ui.blotter.fills import FillsPanel
from ibconsole.ui.blotter.orders import OrdersPanel
from ibconsole.ui.blotter.positions import PositionsPanel

__all__ = ["AccountSummaryPanel", "FillsPanel", "OrdersPanel", "PositionsPanel"]
