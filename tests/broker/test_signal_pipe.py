"""The pipe between the console and its signal endpoint's process: frames read back as sent, a
pipe closed between frames is its end and one closed inside a frame (or carrying what is not a
message of ours) is broken; the child's command and environment carry no secret."""

from __future__ import annotations

import asyncio
import pickle
import struct
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ibconsole.broker.signal_pipe import MAX_FRAME, ChildStart, PipeBroken, frame, read_frame
from ibconsole.broker.signal_process import (
    BUNDLED_CHILD,
    CHILD_MODULE,
    child_command,
    child_environment,
)
from ibconsole.domain.clock import OffsetClock
from ibconsole.domain.signals import SignalSettings


def reader_of(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return reader


async def test_frames_read_back_as_sent_then_the_end() -> None:
    settings = SignalSettings(port=0, max_per_minute=7, symbols={"ES": "MES"})
    clock = OffsetClock(datetime(2025, 3, 4, 15, 0, tzinfo=UTC))
    start = ChildStart(settings, "a-secret-of-sorts-123", "/tmp/j.sqlite3", clock, 0, None, 20)
    reader = reader_of(frame("start", start) + frame("refusals", {401: 3}) + frame("stop"))
    first = await read_frame(reader)
    assert first is not None
    kind, got = first
    assert kind == "start"
    assert isinstance(got, ChildStart)
    assert got.settings == settings
    assert dict(got.settings.symbols) == {"ES": "MES"}
    assert got.secret == "a-secret-of-sorts-123"
    assert abs(got.clock.now() - clock.now()) < timedelta(seconds=5)
    assert await read_frame(reader) == ("refusals", {401: 3})
    assert await read_frame(reader) == ("stop",)
    assert await read_frame(reader) is None


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (frame("stop")[:2], "in the middle of a frame"),
        (frame("stop")[:-1], "in the middle of a frame"),
        (struct.pack(">I", MAX_FRAME + 1), "a frame of"),
        (frame()[:4] + pickle.dumps(()), "not a message"),
        (struct.pack(">I", 4) + pickle.dumps(3)[:4], "does not unpickle"),
    ],
)
async def test_a_broken_pipe_says_so(data: bytes, why: str) -> None:
    with pytest.raises(PipeBroken, match=why):
        await read_frame(reader_of(data))


def test_the_child_is_this_interpreter_on_its_module_or_the_bundles_executable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert child_command() == [sys.executable, "-P", "-m", CHILD_MODULE]
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "ibconsole"))
    suffix = ".exe" if sys.platform == "win32" else ""
    assert child_command() == [str(tmp_path / f"{BUNDLED_CHILD}{suffix}")]


def test_the_childs_environment_holds_nothing_of_the_consoles_but_the_basics() -> None:
    environ = {
        "PATH": "/usr/bin",
        "HOME": "/home/trader",
        "LANG": "C.UTF-8",
        "IBCONSOLE_SIGNAL_SECRET": "in-the-console-environment",
        "IBCONSOLE_GATEWAY_PASSWORD": "hunter2",
        "PYTHONPATH": "/somewhere/else",
    }
    passed = child_environment(environ)
    assert set(passed) == {"PATH", "HOME", "LANG", "PYTHONPATH"}
    assert passed["PYTHONPATH"] != "/somewhere/else"  # where this ibconsole is
    assert (Path(passed["PYTHONPATH"]) / "ibconsole" / "broker" / "signal_child.py").exists()
    assert "in-the-console-environment" not in passed.values()
