"""ibconsole: a desktop trading console for Interactive Brokers over the TWS API."""

__version__ = "0.1.0"
