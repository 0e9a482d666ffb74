"""The bundle's ``ibconsole`` executable: check that Qt can start here, then run the console.

The check runs before anything imports PySide6, so a missing system library is reported in
plain words instead of an ImportError traceback or Qt's abort. Asking for help or the version
opens no window and skips it.
"""

from __future__ import annotations

import multiprocessing
import sys

_PRINT_ONLY = frozenset({"-h", "--help", "--version"})


def run() -> int:
    # The exchange calendars are read in a child process started from this executable.
    multiprocessing.freeze_support()
    if _PRINT_ONLY.isdisjoint(sys.argv[1:]):
        from ibconsole.platform_check import exit_if_qt_cannot_start

        exit_if_qt_cannot_start()
    from ibconsole.app import main

    return main()


if __name__ == "__main__":
    raise SystemExit(run())
