"""Paper gateway simulator: a TWS API server on loopback for unmodified TWS API clients."""

from ibconsole.sim.server import PaperGateway

__all__ = ["PaperGateway"]
