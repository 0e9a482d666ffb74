"""A whole demo session logged at DEBUG, as the trader runs it: no account code in the log file
or on stderr, from any logger (the IB client library logs every raw frame, each carrying the account)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ibconsole.app import DEMO_ACCOUNT
from ibconsole.broker.ib_client import LIBRARY
from ibconsole.domain.trading_mode import mask_account
from ibconsole.log_masking import ACCOUNT_CODE

BIN = Path(sys.executable).parent


def test_a_demo_session_at_debug_logs_no_account_code(
    tmp_path: Path, environment: dict[str, str]
) -> None:
    home = Path(environment["HOME"])
    shot = tmp_path / "shot.png"
    # The screenshot waits until the console is connected, synced and populated: a whole session.
    result = subprocess.run(
        [
            str(BIN / "ibconsole"),
            "--demo",
            "--log-level",
            "DEBUG",
            "--screenshot",
            str(shot),
            "--quit-after",
            "60",
        ],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    log_file = home / "state" / "ibconsole" / "log" / "ibconsole.log"
    text = log_file.read_text(encoding="utf-8")
    # The session did log its frames and its account, masked.
    assert f" {LIBRARY}.client: <<< " in text
    assert mask_account(DEMO_ACCOUNT) in text
    for where, logged in (("the log file", text), ("stderr", result.stderr)):
        assert DEMO_ACCOUNT not in logged, where
        assert ACCOUNT_CODE.findall(logged) == [], where
