"""The Qt binding survives the call volume of a trading day.

PySide6-Essentials 6.12.0 on Python 3.11 drops a reference to True on every ``Signal.emit`` and
to None on every void call, and the interpreter aborts after a few thousand live ticks. This runs
the same calls in a child process, so a binding with that fault fails here, not on a trader's desk.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    from PySide6.QtCore import QObject, Signal
    from PySide6.QtWidgets import QApplication, QLabel

    class Source(QObject):
        sig_ticked = Signal(object)

    app = QApplication([])
    source, label = Source(), QLabel()
    for _ in range(200_000):
        source.sig_ticked.emit(1)
        label.setText("x")
    print("survived")
    """
)


def test_signals_and_void_calls_keep_reference_counts() -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "survived"
