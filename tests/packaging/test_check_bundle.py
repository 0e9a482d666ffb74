"""The parts of the bundle check that do not need a built bundle."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

FLUSH = (
    "2026-11-21T20:09:42.129 qt.widgets.painting: Flushing QRegion(0,0 1030x774) of "
    'MainWindow(0x5566aa164ed0, name="mainWindow") to QWidgetWindow(0x5566aa183300, '
    'name="mainWindowWindow")'
)


def test_the_first_frame_is_the_first_flush_of_the_main_window(check_bundle: ModuleType) -> None:
    log = "\n".join(
        [
            "2026-11-21 20:09:42,076 INFO     ibconsole.sim.server: paper gateway listening",
            "2026-11-21T20:09:42.098 qt.widgets.painting: Flushing QRegion(0,0 9x9) of "
            'QMenu(0x1, name="menu") to QWidgetWindow(0x2)',
            FLUSH,
            FLUSH.replace("42.129", "42.500"),
        ]
    )

    match = check_bundle.FIRST_FRAME.search(log)

    assert match is not None
    assert match.group(1) == "2026-11-21T20:09:42.129"


def test_runs_read_and_write_only_a_scratch_home(
    check_bundle: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IBCONSOLE_LOG_LEVEL", "DEBUG")
    env = check_bundle.isolated_environment(tmp_path)

    assert "IBCONSOLE_LOG_LEVEL" not in env
    assert env["QT_QPA_PLATFORM"] == "offscreen"
    for key in ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "LOCALAPPDATA"):
        assert Path(env[key]).is_relative_to(tmp_path), key
