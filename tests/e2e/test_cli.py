"""The installed commands, run as the trader runs them: help texts and the offscreen demo.

Every run gets a temporary HOME and XDG folders, so no test writes the user's settings, journal,
log or window layout.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run(args: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_ibconsole_help_lists_the_automation_options(environment: dict[str, str]) -> None:
    result = run([str(BIN / "ibconsole"), "--help"], environment, 30)
    assert result.returncode == 0, result.stderr
    for option in (
        "--host",
        "--port",
        "--client-id",
        "--profile",
        "--demo",
        "--as-of",
        "--screenshot",
        "--quit-after",
        "--log-level",
        "--config",
    ):
        assert option in result.stdout


def test_ibconsole_sim_help_lists_its_options(environment: dict[str, str]) -> None:
    result = run([str(BIN / "ibconsole-sim"), "--help"], environment, 30)
    assert result.returncode == 0, result.stderr
    for option in ("--host", "--port", "--seed", "--as-of", "--account", "--tick-rate"):
        assert option in result.stdout


def test_the_demo_takes_a_screenshot_offscreen_and_exits_0(
    environment: dict[str, str], tmp_path: Path
) -> None:
    shot = tmp_path / "shot.png"
    result = run(
        [str(BIN / "ibconsole"), "--demo", "--screenshot", str(shot), "--quit-after", "8"],
        environment,
        90,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert shot.read_bytes()[:8] == PNG_SIGNATURE
    assert shot.stat().st_size > 20_000
    home = Path(environment["HOME"])
    written = {p.relative_to(home).parts[0] for p in home.rglob("*") if p.is_file()}
    assert written <= {"config", "data", "state", "cache"}, written


def test_a_screenshot_of_a_console_that_never_connects_exits_non_zero(
    environment: dict[str, str], tmp_path: Path
) -> None:
    shot = tmp_path / "never.png"
    # Port 1 on loopback refuses connections: the window never gets connected and populated.
    result = run(
        [
            str(BIN / "ibconsole"),
            "--host",
            "127.0.0.1",
            "--port",
            "1",
            "--screenshot",
            str(shot),
            "--quit-after",
            "3",
        ],
        environment,
        60,
    )
    assert result.returncode != 0
    assert not shot.exists()
    assert "not connected and populated" in result.stderr


def test_an_example_config_is_written_once_and_a_bad_one_stops_the_start(
    environment: dict[str, str], tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    first = run(
        [str(BIN / "ibconsole"), "--write-example-config", "--config", str(config)], environment, 30
    )
    assert first.returncode == 0, first.stderr
    assert config.read_text(encoding="utf-8").startswith("# ibconsole settings")
    again = run(
        [str(BIN / "ibconsole"), "--write-example-config", "--config", str(config)], environment, 30
    )
    assert again.returncode == 1
    assert "already exists" in again.stderr

    config.write_text("schema_version = 1\n[risk]\nmax_quantity = -3\n", encoding="utf-8")
    bad = run([str(BIN / "ibconsole"), "--config", str(config)], environment, 30)
    assert bad.returncode == 2
    assert "risk.max_quantity" in bad.stderr
    assert "-3" in bad.stderr
