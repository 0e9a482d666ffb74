"""The price ladder dock: a click-trading depth ladder for the ticket's contract."""

from ibconsole.ui.ladder.panel import PriceLadder

__all__ = ["PriceLadder"]
