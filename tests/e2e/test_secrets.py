"""The gateway login lives in the OS keyring and reaches only the gateway command's environment;
the signal inbox's secret lives in the keyring (or IBCONSOLE_SIGNAL_SECRET) and reaches no file,
log record, argv or answer.

A whole console cycle (settings file, keyring, launch of a profile's gateway command, connect,
stop) runs with DEBUG logging into a log file, the journal, QSettings and the example config in
a temporary folder. The login must then appear in none of those files, in no log record, not in
the command's argv (/proc/<pid>/cmdline), not in the console's own environment and in no repr;
and it must appear in the command's environment, where the command reads it.

The stand-in gateway command records its environment and argv, prints a line with the password
(as a chatty start script might), and replaces itself with ``ibconsole-sim``.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")

import asyncio
import json
import logging
import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import qasync
import shiboken6
from PySide6.QtCore import QCoreApplication, QSettings
from PySide6.QtWidgets import QApplication

from ibconsole.app import build_console, configure_logging
from ibconsole.broker.launcher import PASSWORD_VARIABLE, USERNAME_VARIABLE, GatewayLauncher
from ibconsole.config import SIGNAL_SECRET_VARIABLE, load_settings, write_example_config
from ibconsole.credentials import CredentialStore, Login, SignalSecretStore
from ibconsole.domain.health import HealthState

SIM = Path(sys.executable).with_name("ibconsole-sim")
# Distinctive enough that any trace of them in a file or a record is a leak, not a coincidence.
USERNAME = "trader-Zq7xK2"
PASSWORD = "pä$$ word-9Xr!Lk3v"  # a space, a dollar and a non-ASCII letter on their way
SECRETS = (USERNAME, PASSWORD)
STEP_TIMEOUT = 30.0

STAND_IN = """\
import json, os, sys
record, sim, port, echo = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
with open(record, "w", encoding="utf-8") as out:
    json.dump({"pid": os.getpid(), "argv": sys.argv, "environ": dict(os.environ)}, out)
for name in echo.split(","):
    if name:
        print(f"starting with {name}={os.environ.get(name)}", flush=True)
os.execv(sim, [sim, "--port", port, "--log-level", "DEBUG"])
"""


class Records(logging.Handler):
    """Every log record of every logger, formatted with its traceback, at DEBUG and above."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def all_logs(tmp_path: Path) -> Iterator[tuple[Records, Path]]:
    """The console's own logging set-up (rotating file plus stderr) at DEBUG, into tmp_path,
    plus a handler that keeps every record; the test's logging is restored afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    log_file = tmp_path / "state" / "ibconsole.log"
    configure_logging("DEBUG", log_file)
    records = Records()
    root.addHandler(records)
    yield records, log_file
    for handler in root.handlers:
        handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def qsettings_folder(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "qsettings"
    folder.mkdir()
    names = QCoreApplication.organizationName(), QCoreApplication.applicationName()
    previous_format = QSettings.defaultFormat()
    QCoreApplication.setOrganizationName("ibconsole-secrets-test")
    QCoreApplication.setApplicationName("ibconsole-secrets-test")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    yield folder
    QSettings.setDefaultFormat(previous_format)
    QCoreApplication.setOrganizationName(names[0])
    QCoreApplication.setApplicationName(names[1])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def proc_text(pid: int, what: str) -> str:
    return Path(f"/proc/{pid}/{what}").read_bytes().replace(b"\0", b"\n").decode(errors="replace")


def leaks_in_files(folder: Path, skip: set[Path], secrets: tuple[str, ...] = SECRETS) -> list[str]:
    """Each file under ``folder`` holding a secret, as UTF-8 or UTF-16 bytes."""
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p not in skip):
        data = path.read_bytes()
        for secret in secrets:
            for encoding in ("utf-8", "utf-16-le"):
                if secret.encode(encoding) in data:
                    found.append(f"{secret!r} ({encoding}) in {path.relative_to(folder)}")
    return found


def leaks_in(texts: dict[str, str], secrets: tuple[str, ...] = SECRETS) -> list[str]:
    return [
        f"{secret!r} in {name}"
        for name, text in texts.items()
        for secret in secrets
        if secret in text
    ]


def run_on_qasync(qapp: QApplication, scenario: Callable[[], Any]) -> Any:
    """Run ``scenario()`` on a qasync loop over the test QApplication, as the console runs."""
    quit_on_close = qapp.quitOnLastWindowClosed()
    qapp.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(scenario())
    finally:
        loop.close()
        asyncio.set_event_loop(None)
        qapp.setQuitOnLastWindowClosed(quit_on_close)


async def until(predicate: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + STEP_TIMEOUT
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


@pytest.mark.expect_log_warnings
@pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")
def test_the_login_reaches_only_the_gateway_commands_environment(
    qapp: QApplication,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    memory_keyring: Any,  # the suite's in-memory keyring (tests/conftest.py)
    all_logs: tuple[Records, Path],
    qsettings_folder: Path,
) -> None:
    records, log_file = all_logs
    for variable, folder in (
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_STATE_HOME", "state"),
        ("XDG_CACHE_HOME", "cache"),
    ):
        monkeypatch.setenv(variable, str(tmp_path / folder))
    outside = tmp_path.parent / f"{tmp_path.name}-stand-in"
    outside.mkdir()
    script, record = outside / "start-gateway.py", outside / "record.json"
    script.write_text(STAND_IN, encoding="utf-8")
    port = free_port()
    config = tmp_path / "config" / "ibconsole" / "config.toml"
    write_example_config(tmp_path / "config" / "ibconsole" / "example.toml")
    command = [sys.executable, str(script), str(record), str(SIM), str(port), PASSWORD_VARIABLE]
    config.write_text(
        "schema_version = 1\n"
        'log_level = "DEBUG"\n'
        'journal_path = "journal.sqlite3"\n'
        'default_profile = "gateway"\n'
        "[profiles.gateway]\n"
        'host = "127.0.0.1"\n'
        f"port = {port}\n"
        f"gateway_command = {json.dumps(command)}\n"
        'keyring_entry = "gateway-login"\n',
        encoding="utf-8",
    )
    settings = load_settings(config, environ={})
    CredentialStore().set(settings.profile(), Login(USERNAME, PASSWORD))
    seen: dict[str, str] = {}

    async def cycle() -> None:
        console = build_console(
            ["--config", str(config), "--port", str(port), "--log-level", "DEBUG"]
        )
        launchers: dict[str, GatewayLauncher] = {}
        try:
            await console.start()
            gateways = console.context.gateways
            await until(lambda: gateways.launchers, "the gateway command to start")
            launchers.update(gateways.launchers)
            launcher = launchers["gateway"]
            await until(lambda: launcher.is_ready, "the gateway port")
            pid = launcher.pid
            assert pid is not None
            seen["cmdline"] = proc_text(pid, "cmdline")
            seen["environ"] = proc_text(pid, "environ")
            await until(
                lambda: console.broker.session.state is HealthState.CONNECTED,
                "the console to connect through the gateway",
            )
            seen["reprs"] = "\n".join(
                repr(thing)
                for thing in (
                    console,
                    console.launch,
                    settings,
                    settings.profile(),
                    launcher,
                    CredentialStore(),
                    console.broker.session.endpoint,
                )
            )
            seen["login repr"] = f"{CredentialStore().get(settings.profile())!r}"
            console.window.close()
        finally:
            await console.stop()
            for launcher in launchers.values():
                await launcher.stop()
            if shiboken6.isValid(console.window):
                shiboken6.delete(console.window)

    run_on_qasync(qapp, cycle)

    started = json.loads(record.read_text(encoding="utf-8"))
    assert started["environ"][USERNAME_VARIABLE] == USERNAME
    assert started["environ"][PASSWORD_VARIABLE] == PASSWORD
    assert f"{USERNAME_VARIABLE}={USERNAME}" in seen["environ"]
    assert f"{PASSWORD_VARIABLE}={PASSWORD}" in seen["environ"]
    assert "ibconsole-sim" in seen["cmdline"]
    assert log_file.read_text(encoding="utf-8").count("starting with TWS_PASSWORD=********") == 1
    assert (tmp_path / "config" / "ibconsole" / "journal.sqlite3").exists()
    assert any(qsettings_folder.rglob("*.ini")), "the window layout was not saved"
    login_repr = seen.pop("login repr")
    assert PASSWORD not in login_repr
    assert "<hidden>" in login_repr
    assert not leaks_in(
        {
            "argv recorded by the command": " ".join(started["argv"]),
            "/proc/<pid>/cmdline": seen["cmdline"],
            "a repr": seen["reprs"],
            "a log record": "\n".join(records.lines),
            "the console's environment": "\n".join(f"{k}={v}" for k, v in os.environ.items()),
        }
    )
    assert not leaks_in_files(tmp_path, skip=set())
    assert memory_keyring.items[("ibconsole", "gateway-login:password")] == PASSWORD


@pytest.mark.expect_log_warnings
async def test_a_gateway_that_echoes_its_environment_leaks_no_login_into_the_log(
    tmp_path: Path, memory_keyring: Any
) -> None:
    script, record = tmp_path / "start-gateway.py", tmp_path / "record.json"
    script.write_text(STAND_IN, encoding="utf-8")
    port = free_port()
    echo = f"{USERNAME_VARIABLE},{PASSWORD_VARIABLE}"
    launcher = GatewayLauncher(
        [sys.executable, str(script), str(record), str(SIM), str(port), echo],
        "127.0.0.1",
        port,
        Login(USERNAME, PASSWORD),
        port_timeout=STEP_TIMEOUT,
    )
    records = Records()
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.DEBUG)
    root.addHandler(records)
    try:
        await launcher.start()
        await until(
            lambda: sum("starting with" in line for line in records.lines) >= 2,
            "the command's output in the log",
        )
    finally:
        await launcher.stop()
        root.removeHandler(records)
        root.setLevel(level)
    assert json.loads(record.read_text(encoding="utf-8"))["environ"][USERNAME_VARIABLE] == USERNAME
    assert not leaks_in({"a log record": "\n".join(records.lines)})


SIGNAL_SECRET = "sïgnal secret-Jw4$Tz8q"  # a space, a dollar and a non-ASCII letter


@pytest.mark.expect_log_warnings  # at --log-level DEBUG the stall watchdog warns of slow jobs
@pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")
@pytest.mark.parametrize("origin", ["keyring", "environment"])
def test_the_signal_secret_reaches_no_file_log_argv_or_answer(
    qapp: QApplication,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    memory_keyring: Any,
    all_logs: tuple[Records, Path],
    qsettings_folder: Path,
    origin: str,
) -> None:
    records, _ = all_logs
    for variable, folder in (
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_STATE_HOME", "state"),
        ("XDG_CACHE_HOME", "cache"),
    ):
        monkeypatch.setenv(variable, str(tmp_path / folder))
    if origin == "keyring":
        SignalSecretStore().set(SIGNAL_SECRET)
    else:
        monkeypatch.setenv(SIGNAL_SECRET_VARIABLE, SIGNAL_SECRET)
    config = tmp_path / "config" / "ibconsole" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(
        'schema_version = 1\nlog_level = "DEBUG"\njournal_path = "journal.sqlite3"\n'
        "[signals]\nport = 0\n",
        encoding="utf-8",
    )
    # The demo turns the endpoint on (at the configured port) with the secret set above.
    argv = ["--demo", "--config", str(config), "--log-level", "DEBUG"]
    answers: list[str] = []

    async def cycle() -> None:
        console = build_console(argv)
        try:
            await console.start()
            url = console.signals_url
            assert url is not None
            async with aiohttp.ClientSession() as session:
                for secret in (SIGNAL_SECRET, SIGNAL_SECRET[:-1] + "x", SIGNAL_SECRET):
                    body = {
                        "secret": secret,
                        "id": "s-1",
                        "symbol": "MES1!",
                        "action": "buy",
                        "quantity": 1,
                    }
                    async with session.post(url, json=body) as answer:
                        answers.append(f"{answer.status} {await answer.text()}")
            await until(lambda: console.context.inbox.entries, "the signal in the inbox")
            console.window.close()
        finally:
            await console.stop()
            if shiboken6.isValid(console.window):
                shiboken6.delete(console.window)

    run_on_qasync(qapp, cycle)

    assert [a.split()[0] for a in answers] == ["202", "401", "409"]
    secrets = (SIGNAL_SECRET,)
    assert not leaks_in(
        {
            "argv": " ".join(argv),
            "an answer": "\n".join(answers),
            "a log record": "\n".join(records.lines),
        },
        secrets,
    )
    assert not leaks_in_files(tmp_path, skip=set(), secrets=secrets)
    assert (tmp_path / "config" / "ibconsole" / "demo-journal.sqlite3").exists()
