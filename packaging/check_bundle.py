"""Check a built bundle end to end: the console, the simulator, its libraries and its installer.

``python packaging/check_bundle.py [dist/ibconsole]`` (``make package-check``) runs the bundled
console in demo mode off screen in a throwaway home folder and requires a screenshot, measures
its start-up (time to the first painted main window, from Qt's paint log), starts the bundled
simulator and trades a handshake with it through the IB client library (ib_async), runs the
signal sender, and on Linux
checks that every library the bundle lacks is one ``ibconsole.platform_check`` names, that the
platform check speaks before Qt aborts, and that install.sh installs and uninstalls. Exits 1 on
any failure.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import queue
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ibconsole.broker.ib_client import IB, LIBRARY
from ibconsole.config import SIGNAL_SECRET_VARIABLE
from ibconsole.platform_check import (
    EXIT_QT_CANNOT_START,
    GUI_LIBRARIES,
    OPTIONAL_LIBRARIES,
    PLATFORM_LIBRARIES,
)

SUFFIX = ".exe" if sys.platform == "win32" else ""
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
RUN_TIMEOUT = 90.0
# Qt logs every widget repaint under this category; the first flush of the main window's
# backing store is the moment its first frame is ready to be shown.
PAINT_RULES = "qt.widgets.painting.debug=true"
PAINT_PATTERN = "%{time yyyy-MM-ddTHH:mm:ss.zzz} %{category}: %{message}"
FIRST_FRAME = re.compile(
    r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}) qt\.widgets\.painting: Flushing .*? of "
    r'MainWindow\(0x[0-9a-f]+, name="mainWindow"\)',
    re.MULTILINE,
)


class CheckFailed(Exception):
    """One check did not pass; the message says what was expected and what happened."""


@dataclass(frozen=True, slots=True)
class StartUp:
    """One start of the console: seconds to its first painted window and to its screenshot."""

    first_frame: float
    screenshot: float


def isolated_environment(home: Path) -> dict[str, str]:
    """The environment for a run that reads and writes nothing of the user's own files."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("IBCONSOLE_")}
    env.update(
        HOME=str(home),
        USERPROFILE=str(home),
        APPDATA=str(home / "AppData" / "Roaming"),
        LOCALAPPDATA=str(home / "AppData" / "Local"),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_STATE_HOME=str(home / ".local" / "state"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_RUNTIME_DIR=str(home / "runtime"),
        QT_QPA_PLATFORM="offscreen",
    )
    (home / "runtime").mkdir(mode=0o700, parents=True, exist_ok=True)
    return env


def run_console(bundle: Path, env: Mapping[str, str], screenshot: Path) -> StartUp:
    """Run the demo until its screenshot is saved; the time of its first frame from Qt's log."""
    command = [
        str(bundle / f"ibconsole{SUFFIX}"),
        "--demo",
        "--screenshot",
        str(screenshot),
        "--quit-after",
        "8",
    ]
    timed_env = {**env, "QT_LOGGING_RULES": PAINT_RULES, "QT_MESSAGE_PATTERN": PAINT_PATTERN}
    started_wall = datetime.now()
    started = time.time()
    result = subprocess.run(
        command, env=timed_env, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False
    )
    output = result.stdout + result.stderr
    if result.returncode != 0:
        raise CheckFailed(f"{' '.join(command)} exited with {result.returncode}:\n{_tail(output)}")
    if not screenshot.is_file() or screenshot.stat().st_size == 0:
        raise CheckFailed(f"the console exited 0 but wrote no screenshot at {screenshot}")
    if not screenshot.read_bytes().startswith(PNG_SIGNATURE):
        raise CheckFailed(f"the screenshot {screenshot} is not a PNG file")
    frame = FIRST_FRAME.search(output)
    if frame is None:
        raise CheckFailed(f"Qt's paint log never showed the main window painted:\n{_tail(output)}")
    first_frame = datetime.fromisoformat(frame.group(1)) - started_wall
    return StartUp(first_frame.total_seconds(), screenshot.stat().st_mtime - started)


def check_simulator(bundle: Path, env: Mapping[str, str]) -> str:
    """Start the bundled simulator on a free port and hold a TWS API session with it."""
    command = [str(bundle / f"ibconsole-sim{SUFFIX}"), "--port", "0"]
    process = subprocess.Popen(
        command, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        first_line = _first_line(process, timeout=30.0)
        match = re.fullmatch(r"listening on (\S+):(\d+)", first_line.strip())
        if match is None:
            raise CheckFailed(f"ibconsole-sim printed {first_line!r}, not 'listening on HOST:PORT'")
        host, port = match.group(1), int(match.group(2))
        return asyncio.run(_session(host, port))
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _first_line(process: subprocess.Popen[str], timeout: float) -> str:
    """The simulator's first stdout line, read on a thread so a silent process cannot hang us."""
    lines: queue.Queue[str] = queue.Queue()
    stdout = process.stdout
    assert stdout is not None
    threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
    try:
        line = lines.get(timeout=timeout)
    except queue.Empty:
        raise CheckFailed(f"ibconsole-sim printed nothing within {timeout:.0f} s") from None
    if not line:
        _, errors = process.communicate(timeout=5)
        raise CheckFailed(f"ibconsole-sim exited with {process.returncode}:\n{_tail(errors)}")
    return line


async def _session(host: str, port: int) -> str:
    ib = IB()
    try:
        await ib.connectAsync(host, port, clientId=7, timeout=15)
        server_time = await asyncio.wait_for(ib.reqCurrentTimeAsync(), 10)
        accounts = ib.managedAccounts()
        if not accounts:
            raise CheckFailed("the simulator named no managed account")
        return (
            f"{host}:{port}, server version {ib.client.serverVersion()}, "
            f"accounts {','.join(accounts)}, time {server_time:%Y-%m-%d %H:%M:%S %Z}"
        )
    finally:
        ib.disconnect()


def _elf_files(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            with path.open("rb") as file:
                if file.read(4) == b"\x7fELF":
                    yield path


def check_signal_sender(bundle: Path, env: Mapping[str, str]) -> str:
    """``ibconsole-signal`` starts and, without the secret in its environment, refuses plainly."""
    without = {key: value for key, value in env.items() if key != SIGNAL_SECRET_VARIABLE}
    result = subprocess.run(
        [str(bundle / f"ibconsole-signal{SUFFIX}"), "--port", "9"],
        env=without,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    if result.returncode != 2 or SIGNAL_SECRET_VARIABLE not in result.stderr:
        raise CheckFailed(
            f"ibconsole-signal without {SIGNAL_SECRET_VARIABLE} exited {result.returncode}, "
            f"expected 2 and a message naming it:\n{_tail(result.stderr)}"
        )
    return result.stderr.strip().splitlines()[-1]


def check_linked_libraries(bundle: Path) -> tuple[int, set[str]]:
    """Every library a bundled binary needs and nothing provides must be one the check names.

    Returns how many binaries were checked and which documented libraries this system lacks.
    """
    internal = bundle / "_internal"
    documented = {lib.soname for lib in (*GUI_LIBRARIES, *OPTIONAL_LIBRARIES)}
    documented |= {lib.soname for libs in PLATFORM_LIBRARIES.values() for lib in libs}
    # The bootloader puts _internal/ on the library path, as it is here.
    env = {**os.environ, "LD_LIBRARY_PATH": str(internal)}
    binaries = list(_elf_files(internal))
    absent: dict[str, set[str]] = {}
    for binary in binaries:
        listing = subprocess.run(
            ["ldd", str(binary)], env=env, capture_output=True, text=True, check=False
        ).stdout
        for name in re.findall(r"^\s*(\S+) => not found", listing, re.MULTILINE):
            absent.setdefault(name, set()).add(str(binary.relative_to(internal)))
    undocumented = {name: users for name, users in absent.items() if name not in documented}
    if undocumented:
        details = "; ".join(
            f"{name} (for {', '.join(sorted(u)[:3])})" for name, u in undocumented.items()
        )
        raise CheckFailed(f"the bundle needs libraries nothing provides or documents: {details}")
    return len(binaries), set(absent)


def check_platform_message(bundle: Path, env: Mapping[str, str]) -> str:
    """Without a display, the console says so in words and exits 3 instead of Qt's abort."""
    no_display = {
        key: value for key, value in env.items() if key not in {"DISPLAY", "WAYLAND_DISPLAY"}
    }
    no_display.update(QT_QPA_PLATFORM="xcb", XDG_SESSION_TYPE="x11")
    result = subprocess.run(
        [str(bundle / "ibconsole"), "--demo"],
        env=no_display,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    if result.returncode != EXIT_QT_CANNOT_START or "cannot open its window" not in result.stderr:
        raise CheckFailed(
            f"with QT_QPA_PLATFORM=xcb and no DISPLAY the console exited {result.returncode}, "
            f"expected {EXIT_QT_CANNOT_START} and a plain message:\n{_tail(result.stderr)}"
        )
    return result.stderr.strip().splitlines()[1]


def check_install_script(bundle: Path, env: Mapping[str, str], prefix: Path) -> None:
    """install.sh puts the commands, menu entry, icons and metainfo under PREFIX; --uninstall removes them."""
    script = bundle / "install.sh"
    subprocess.run(["sh", str(script), str(prefix)], env=dict(env), check=True, capture_output=True)
    installed = [
        prefix / "bin" / "ibconsole",
        prefix / "bin" / "ibconsole-sim",
        prefix / "bin" / "ibconsole-signal",
        prefix / "share" / "applications" / "ibconsole.desktop",
        prefix / "share" / "metainfo" / "io.github.ibconsole.metainfo.xml",
        prefix / "share" / "icons" / "hicolor" / "256x256" / "apps" / "ibconsole.png",
        prefix / "share" / "icons" / "hicolor" / "scalable" / "apps" / "ibconsole.svg",
    ]
    missing = [str(path) for path in installed if not path.exists()]
    if missing:
        raise CheckFailed(f"install.sh did not install {', '.join(missing)}")
    desktop = (prefix / "share" / "applications" / "ibconsole.desktop").read_text()
    if f"Exec={prefix / 'bin' / 'ibconsole'}" not in desktop:
        raise CheckFailed("the installed desktop entry does not run the installed command")
    version = subprocess.run(
        [str(prefix / "bin" / "ibconsole"), "--version"],
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
    )
    if version.returncode != 0 or not version.stdout.startswith("ibconsole "):
        raise CheckFailed(f"the installed ibconsole --version failed: {version.stderr.strip()}")
    subprocess.run(
        ["sh", str(script), "--uninstall", str(prefix)],
        env=dict(env),
        check=True,
        capture_output=True,
    )
    left = [str(path) for path in installed if path.exists() or path.is_symlink()]
    if left or (prefix / "lib" / "ibconsole").exists():
        raise CheckFailed(f"install.sh --uninstall left {', '.join(left) or 'lib/ibconsole'}")


def bundle_size(folder: Path) -> int:
    return sum(p.lstat().st_size for p in folder.rglob("*") if p.is_file() or p.is_symlink())


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("bundle", type=Path, nargs="?", default=Path("dist/ibconsole"))
    parser.add_argument(
        "--starts", type=int, default=3, help="how many times to start the console (default 3)"
    )
    args = parser.parse_args(argv)
    bundle: Path = args.bundle.resolve()
    if not (bundle / f"ibconsole{SUFFIX}").is_file():
        print(
            f"check_bundle: no ibconsole executable in {bundle}: run make package", file=sys.stderr
        )
        return 1
    linux = sys.platform.startswith("linux")
    print(f"bundle {bundle}: {bundle_size(bundle) / 2**20:.0f} MiB")
    with tempfile.TemporaryDirectory(prefix="ibconsole-check-") as scratch:
        root = Path(scratch)
        env = isolated_environment(root / "home")
        try:
            starts = [
                run_console(bundle, env, root / f"screenshot-{n}.png") for n in range(args.starts)
            ]
            frames = [start.first_frame for start in starts]
            print(
                f"console: exit 0 with a screenshot, {len(starts)} starts; first painted window "
                f"after {frames[0]:.2f} s on the first start, median {statistics.median(frames):.2f} s; "
                f"screenshot (connected and populated) after "
                f"{statistics.median(start.screenshot for start in starts):.2f} s"
            )
            print(f"simulator: {LIBRARY} session with {check_simulator(bundle, env)}")
            print(f"signal sender: {check_signal_sender(bundle, env)}")
            if linux and shutil.which("ldd"):
                count, absent = check_linked_libraries(bundle)
                lacking = f"; this system lacks {', '.join(sorted(absent))}" if absent else ""
                print(f"libraries: {count} binaries need nothing undocumented{lacking}")
            if linux:
                print(f"platform check: {check_platform_message(bundle, env)}")
                check_install_script(bundle, env, root / "prefix")
                print("install.sh: installs and uninstalls under a prefix")
        except (CheckFailed, subprocess.SubprocessError) as failure:
            print(f"check_bundle: FAILED: {failure}", file=sys.stderr)
            return 1
    print("bundle check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
