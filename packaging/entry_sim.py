"""The bundle's ``ibconsole-sim`` executable: the paper gateway simulator's command line."""

from __future__ import annotations

from ibconsole.sim.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
