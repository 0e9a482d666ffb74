"""The options chain dock: options on the ticket's futures month with IB's greeks."""

from ibconsole.ui.option_chain.chain_panel import OptionChainPanel

__all__ = ["OptionChainPanel"]
