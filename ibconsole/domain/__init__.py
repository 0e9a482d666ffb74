"""Pure trading logic: products, rollover, sessions, risk, orders and connection health."""
