"""The bundle's ``ibconsole-signal-endpoint`` executable: the signal inbox's endpoint, started by
the console as a process of its own (``ibconsole.broker.signal_process``), never by hand."""

from __future__ import annotations

from ibconsole.broker.signal_child import main

if __name__ == "__main__":
    raise SystemExit(main())
