"""The alert chime, played by the platform's own player so the bundle needs no QtMultimedia.

PySide6-Essentials has no QtMultimedia; PySide6-Addons would bring it with FFmpeg (a 175 MB
wheel). A short WAV needs none of that: Windows plays it with ``winsound`` (standard library,
asynchronous), macOS with ``afplay``, Linux with ``pw-play``, ``paplay`` or ``aplay``, whichever
is installed, each started as a QProcess that never blocks the event loop. Without any of them
(or without the file) the console beeps with ``QApplication.beep``.
"""

from __future__ import annotations

import logging
import shutil
import sys
from enum import StrEnum
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, Slot
from PySide6.QtWidgets import QApplication

from ibconsole.resources_path import ResourceNotFoundError, default_locator

log = logging.getLogger(__name__)

ALERT_SOUND = "sounds/alert.wav"  # inside resources/
_LINUX_PLAYERS = ("pw-play", "paplay", "aplay")


class Player(StrEnum):
    """How the chime is played on this machine."""

    WINSOUND = "winsound"
    COMMAND = "command"  # the platform's player program, named by ``AlertSound.command``
    BEEP = "beep"


def alert_wav() -> Path | None:
    """The chime in resources/, or None where it is missing (the console then beeps)."""
    try:
        return default_locator().find(ALERT_SOUND)
    except ResourceNotFoundError as missing:
        log.warning("no alert sound: %s", missing)
        return None


def platform_command(platform: str = sys.platform) -> str | None:
    """The player program of ``platform`` found on this machine's PATH, if any."""
    if platform == "darwin":
        return shutil.which("afplay")
    if platform.startswith("linux") or "bsd" in platform:
        return next((found for name in _LINUX_PLAYERS if (found := shutil.which(name))), None)
    return None


class AlertSound(QObject):
    """Plays the chime; a chime still playing is not restarted, so a burst of alerts is one sound."""

    def __init__(self, wav: Path | None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._wav = wav if wav is not None and wav.is_file() else None
        self._process: QProcess | None = None
        self._plays = 0
        self.command = platform_command() if self._wav is not None else None
        if self._wav is None:
            self.player = Player.BEEP
        elif sys.platform == "win32":
            self.player = Player.WINSOUND
        elif self.command is not None:
            self.player = Player.COMMAND
        else:
            self.player = Player.BEEP
        log.info("alert sound: %s %s", self.player.value, self.command or "")

    @property
    def plays(self) -> int:
        """How many times the chime was started (a chime still playing is not counted again)."""
        return self._plays

    @property
    def playing(self) -> bool:
        """Is the platform's player still playing the last chime?"""
        return self._process is not None

    def play(self) -> None:
        if self._process is not None and self._process.state() != QProcess.ProcessState.NotRunning:
            return
        self._plays += 1
        if self.player is Player.WINSOUND and self._wav is not None:
            _play_on_windows(self._wav)
        elif self.player is Player.COMMAND and self.command is not None and self._wav is not None:
            process = QProcess(self)
            process.errorOccurred.connect(self._on_process_error_occurred)
            process.finished.connect(self._on_process_finished)
            process.start(self.command, [str(self._wav)])
            self._process = process
        else:
            QApplication.beep()

    @Slot()
    def _on_process_finished(self) -> None:
        self._forget_process()

    @Slot(QProcess.ProcessError)
    def _on_process_error_occurred(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            log.info("alert sound: %s could not start; beeping from now on", self.command)
            self.player = Player.BEEP
            QApplication.beep()
            self._forget_process()

    def _forget_process(self) -> None:
        if self._process is not None:
            self._process.deleteLater()
            self._process = None


def _play_on_windows(wav: Path) -> None:
    if sys.platform == "win32":
        import winsound  # the standard library's, on Windows only

        winsound.PlaySound(
            str(wav), winsound.SND_FILENAME | winsound.SND_ASYNC | winsound.SND_NODEFAULT
        )
