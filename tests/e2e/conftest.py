"""Fixtures for the end-to-end tests that start the console or the simulator as a program."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture
def environment(tmp_path: Path) -> dict[str, str]:
    """The environment of a child ``ibconsole``: this one without IBCONSOLE_* and XDG_*
    variables, with a throw-away home and folders, off screen."""
    home = tmp_path / "home"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("IBCONSOLE_", "XDG_")) and key != "HOME"
    }
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_DATA_HOME=str(home / "data"),
        XDG_STATE_HOME=str(home / "state"),
        XDG_CACHE_HOME=str(home / "cache"),
        XDG_RUNTIME_DIR=str(tmp_path / "runtime"),
        QT_QPA_PLATFORM="offscreen",
    )
    (tmp_path / "runtime").mkdir(mode=0o700)
    return env
