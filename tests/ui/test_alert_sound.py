"""The chime: found in resources/, played by the platform's player as a separate process (here a
stand-in player on PATH that records what it was asked to play), a beep without one."""

from __future__ import annotations

import stat
import sys
import wave
from pathlib import Path
from typing import Any

import pytest

from ibconsole.ui.alert_sound import AlertSound, Player, alert_wav, platform_command


def test_the_chime_is_a_short_wav_in_resources() -> None:
    wav = alert_wav()
    assert wav is not None
    assert wav.parts[-2:] == ("sounds", "alert.wav")
    with wave.open(str(wav)) as sound:
        seconds = sound.getnframes() / sound.getframerate()
    assert 0.2 < seconds < 1.0


@pytest.fixture
def recording_player(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An executable named paplay, alone on PATH, that writes the file it is given to a log."""
    folder = tmp_path / "bin"
    folder.mkdir()
    log = tmp_path / "played.txt"
    player = folder / "paplay"
    player.write_text(f'#!/bin/sh\necho "$1" >> "{log}"\n')
    player.chmod(player.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", str(folder))
    return log


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="a shell script stands in for paplay"
)
async def test_the_platform_player_plays_the_chime_without_waiting(
    recording_player: Path, qtbot: Any, wait_for: Any
) -> None:
    assert platform_command("linux") == str(recording_player.parent / "bin" / "paplay")
    wav = alert_wav()
    assert wav is not None
    sound = AlertSound(wav)
    assert sound.player is Player.COMMAND
    sound.play()
    sound.play()  # still playing: one chime for a burst of alerts
    await wait_for(recording_player.exists, what="the player to run")
    await wait_for(lambda: recording_player.read_text().strip() == str(wav), what="the file")
    await wait_for(lambda: not sound.playing, what="the player to finish")
    assert sound.plays == 1


def test_without_a_player_or_a_file_the_console_beeps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert platform_command("linux") is None
    assert AlertSound(alert_wav()).player is Player.BEEP
    missing = AlertSound(tmp_path / "nowhere.wav")
    assert missing.player is Player.BEEP
    missing.play()
    assert missing.plays == 1
