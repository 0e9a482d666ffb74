"""The bundle's ``ibconsole-signal`` executable: post one test signal to a console's inbox."""

from __future__ import annotations

from ibconsole.signal_cli import main

if __name__ == "__main__":
    raise SystemExit(main())
