"""Paper gateway simulator: a TWS API server on loopback for unmodified TWS API clients."""
