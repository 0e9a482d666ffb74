"""Cold start → first painted window: ``ibconsole --demo`` launched as a fresh process, from the
moment before the launch until the first paint event reaches a widget of the main window.

The launched process is this module with ``--probe``: it imports the console first, as the
``ibconsole`` command does (the IB client library and the broker load before Qt, which then looks
at fewer modules as they are imported), makes a QApplication, then hands over to
``ibconsole.app.main`` with the demo arguments (``create_application`` takes over the
QApplication it finds). An application-wide event filter watches for the first paint from the
moment the console has shown its window and awaits that paint; installed earlier, it would pass
every event of the window's construction through Python, time the console itself does not
spend. It prints a stamp at each stage: ``imported`` (the console's modules), ``shown`` (the main
window's ``show()`` done), ``painted`` (the first paint event of a widget of the main window) and
``populated`` (connected to the demo simulator, every panel filled: the ``--screenshot``
moment, read from the console's log). Stamps are ``time.perf_counter()`` (CLOCK_MONOTONIC, shared
by both processes), with the launched process's CPU time so far beside each. The platform is Qt's
offscreen one: painting is real (software raster, as on a desktop without OpenGL), presenting to a
screen is not part of the figure. A first launch, not counted, warms the OS file cache and writes
the bytecode; each figure is a fresh interpreter, fresh imports and a fresh QApplication. Bytecode
is cached as an installed console has it (pip compiles it at install): a
``PYTHONDONTWRITEBYTECODE`` in the caller's environment is not passed on, since it would make every
launch compile the console's few hundred modules from source.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import cli
from bench.summary import summarize

STAGES = ("imported", "shown", "painted", "populated")
_AS_OF = "2025-03-04T15:00:00Z"


@dataclass(frozen=True, slots=True)
class Size:
    launches: int
    warm_ups: int  # launches before the counted ones, not counted


SIZES = {"full": Size(launches=7, warm_ups=1), "smoke": Size(launches=1, warm_ups=0)}


def _stamp(stage: str) -> None:
    print(f"stage {stage} {time.perf_counter():.6f} {time.process_time():.6f}", flush=True)


def probe(screenshot: Path) -> int:
    """Runs in the launched process: stamp the stages, run the console as ``ibconsole`` does."""
    os.environ.setdefault("QT_API", "pyside6")
    from ibconsole import app as console_app

    _stamp("imported")
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtWidgets import QApplication, QMainWindow, QWidget

    class FirstPaint(QObject):
        def __init__(self) -> None:
            super().__init__()
            self.painted = False

        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if (
                not self.painted
                and event.type() == QEvent.Type.Paint
                and isinstance(watched, QWidget)
                and isinstance(watched.window(), QMainWindow)
            ):
                self.painted = True
                _stamp("painted")
            return False

    class Populated(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().startswith("screenshot saved"):
                _stamp("populated")

    app = QApplication([sys.argv[0]])
    watcher = FirstPaint()
    console_first_paint = console_app.first_paint

    async def first_paint(window: QWidget) -> bool:
        # The console awaits its window's first paint right after showing it: the watch starts
        # there (from the start, the window's construction would pass thousands of events
        # through this Python filter, a tenth of a second the console does not spend).
        _stamp("shown")
        app.installEventFilter(watcher)
        try:
            return await console_first_paint(window)
        finally:
            app.removeEventFilter(watcher)

    console_app.first_paint = first_paint
    logging.getLogger("ibconsole.app").addHandler(Populated())
    arguments = ["--demo", "--as-of", _AS_OF, "--screenshot", str(screenshot)]
    return console_app.main([*arguments, "--quit-after", "60", "--log-level", "INFO"])


def _launch(folder: Path) -> dict[str, float]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    command = [sys.executable, "-m", "bench.cold_start", "--probe", str(folder / "shot.png")]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    ended = time.perf_counter()
    stamps: dict[str, float] = {}
    for line in done.stdout.splitlines():
        word, *fields = line.split()
        if word == "stage" and len(fields) == 3:
            stage, at, cpu = fields
            stamps.setdefault(stage, float(at) - started)
            stamps.setdefault(f"{stage}_cpu", float(cpu))
    missing = [stage for stage in STAGES if stage not in stamps]
    if done.returncode != 0 or missing:
        raise RuntimeError(
            f"the console exited with {done.returncode}, stages missing: {missing}\n"
            f"{done.stderr[-2000:]}"
        )
    stamps["exited"] = ended - started
    return stamps


def measure(size_name: str) -> dict[str, Any]:
    size = SIZES[size_name]
    launches = []
    with tempfile.TemporaryDirectory(prefix="ibconsole-cold-") as folder:
        # The first launch from a fresh clone compiles the console's bytecode (an installed
        # console has it from pip, and 0.2 s of CPU) and fills the OS file cache: not counted.
        for _ in range(size.warm_ups):
            _launch(Path(folder))
        for _ in range(size.launches):
            launches.append(_launch(Path(folder)))
    return {
        "launches": size.launches,
        **{
            f"launch_to_{stage}_ms": summarize([launch[stage] for launch in launches], 1000)
            for stage in (*STAGES, "exited")
        },
        # CPU the launched process spent by each stage: what other work on the machine cannot
        # inflate (the wall figures above include waiting for a core).
        **{
            f"cpu_to_{stage}_ms": summarize([launch[f"{stage}_cpu"] for launch in launches], 1000)
            for stage in STAGES
        },
    }


if __name__ == "__main__":
    if sys.argv[1:2] == ["--probe"]:
        sys.exit(probe(Path(sys.argv[2])))
    sys.exit(cli.main(__doc__.splitlines()[0], measure))
