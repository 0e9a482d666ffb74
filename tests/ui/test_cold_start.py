"""Cold start: what the first paint does without is loaded after it, or never (aiohttp, which
only the signal endpoint's own process loads). Each case is a fresh interpreter (tests/ui/cold_start_probe.py), since this
one has loaded everything already."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from ibconsole.config import SIGNAL_SECRET_VARIABLE
from ibconsole.credentials import SignalSecretStore
from ibconsole.ui.deferred_panel import DeferredPanel
from ibconsole.ui.signal_inbox.secret_box import SecretBox

PROBE = Path(__file__).with_name("cold_start_probe.py")
# numpy: pyqtgraph's, once the chart is built (the IB client library's import leaves it out).
AFTER_PAINT = [
    "ibconsole.ui.charts",
    "ibconsole.ui.settings",
    "keyring",
    "numpy",
    "pyqtgraph",
    "tomlkit",
]


def start_console(tmp_path: Path, *arguments: str) -> dict[str, Any]:
    config = tmp_path / "config.toml"
    config.write_text(
        f'schema_version = 1\njournal_path = "{tmp_path / "journal.sqlite3"}"\n', encoding="utf-8"
    )
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("IBCONSOLE_", "XDG_"))
    }
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        env[name] = str(tmp_path / name.lower())
    env.update(
        QT_QPA_PLATFORM="offscreen",
        QT_API="pyside6",
        # The secret box reads the environment before any keyring.
        **{SIGNAL_SECRET_VARIABLE: "a-long-enough-secret-Qz7"},
    )
    done = subprocess.run(
        [sys.executable, str(PROBE), "--config", str(config), *arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return report


def test_with_the_inbox_off_aiohttp_never_loads_and_the_rest_follows_the_first_paint(
    tmp_path: Path,
) -> None:
    report = start_console(tmp_path)
    assert report["imported"] == []
    assert report["painted"] == []
    assert report["started"] == AFTER_PAINT


def test_with_the_inbox_on_its_process_starts_after_the_first_paint_and_aiohttp_is_its_own(
    tmp_path: Path,
) -> None:
    report = start_console(tmp_path, "--signals-port", "0")
    assert report["imported"] == []
    assert report["painted"] == []
    # The endpoint (aiohttp, its handler) runs in a process of its own: the console loads
    # only what starts it, after the first paint.
    assert report["started"] == sorted([*AFTER_PAINT, "ibconsole.broker.signal_process"])


async def test_the_secret_box_reads_the_keyring_once_on_screen_and_keeps_a_demo_secret(
    memory_keyring: Any, qtbot: Any, wait_for: Any
) -> None:
    store = SignalSecretStore(environ={})
    holder = QWidget()
    qtbot.addWidget(holder)
    demo, plain = SecretBox(store), SecretBox(store)
    layout = QVBoxLayout(holder)
    layout.addWidget(demo)
    layout.addWidget(plain)
    demo.show_endpoint("http://127.0.0.1:8787/signals", "made-up-secret-for-the-run")
    plain_origin = plain.findChild(QLabel, "signalSecretOrigin")
    assert plain_origin.text() == ""  # nothing read from the keyring while building
    holder.show()
    await wait_for(lambda: plain_origin.text() != "", what="the plain box's origin")
    assert "No secret is set" in plain_origin.text()
    # The demo box painted first; its deferred read left the demo's secret on screen.
    demo_origin = demo.findChild(QLabel, "signalSecretOrigin")
    assert demo_origin.text() == "Demo secret (made up for this run): made-up-secret-for-the-run"


async def test_a_deferred_panel_asks_for_its_panel_once_it_has_painted(
    qtbot: Any, wait_for: Any
) -> None:
    place = DeferredPanel("place")
    qtbot.addWidget(place)
    asked: list[bool] = []
    place.sig_needed.connect(lambda: asked.append(True))
    place.resize(200, 100)
    assert asked == []  # built hidden: nothing asked
    place.show()
    await wait_for(lambda: asked == [True], what="the place asking for its panel")
    panel = QLabel("the panel")
    place.hold(panel)
    assert panel.parent() is place


def test_importing_the_console_holds_the_collector_then_gives_it_back_as_it_was() -> None:
    code = (
        "import gc, sys\n"
        "was = sys.argv[1] == 'on'\n"
        "None if was else gc.disable()\n"
        "import ibconsole.app\n"
        "print(gc.isenabled() == was, gc.get_freeze_count() > 10_000)\n"
    )
    for state in ("on", "off"):
        done = subprocess.run(
            [sys.executable, "-c", code, state],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        # The collector as it was before; what the import made is out of its passes.
        assert done.stdout.split() == ["True", "True"], state
