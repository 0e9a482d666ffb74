"""The signal endpoint in a process of its own, over real HTTP on loopback with a real journal
file and a real child process: a signal reaches ``accept`` once journalled, the secret is in
neither the child's argv nor its environment, settings reach the child as it runs, a child that
dies is reported and started again (and still knows the keys journalled before), a console that
dies takes its child with it, and a flood of bad secrets costs the console's threads next to no
CPU (measured by CPU clocks, not wall time)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from ibconsole.broker.signal_process import SignalProcess
from ibconsole.domain.clock import OffsetClock
from ibconsole.domain.signals import Signal, SignalSettings, parse_signal
from ibconsole.journal.signal_log import SignalLog
from tests.conftest import WaitFor
from tests.http_sender import post

SECRET = "process-test-secret-3Hv9Xq"
SETTINGS = SignalSettings(enabled=True, port=0, max_per_minute=1000, max_body_bytes=512)
STARTS_WITHIN = 60.0  # seconds for a child to start on a machine busy with other work
FLOOD = 500
# CPU the console may spend while its child refuses FLOOD requests: about 0.4 ms each on a
# thread of the console's own (the endpoint before it had a process), next to nothing now.
FLOOD_CPU_BOUND_S = 0.05


@dataclass
class Rig:
    endpoint: SignalProcess
    journal: Path
    clock: OffsetClock
    accepted: list[Signal] = field(default_factory=list)
    listening: list[str] = field(default_factory=list)
    down: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        url = self.endpoint.url
        assert url is not None
        return url

    @property
    def pid(self) -> int:
        pid = self.endpoint.pid
        assert pid is not None
        return pid

    async def post(self, body: dict[str, Any], url: str | None = None) -> int:
        return await asyncio.to_thread(post, url or self.url, body)

    def journalled(self, since: datetime) -> list[str]:
        with SignalLog(self.journal) as log:
            return [item.signal.key for item in log.since(since)]


@pytest.fixture
async def rig(tmp_path: Path, as_of: datetime) -> AsyncIterator[Rig]:
    journal = tmp_path / "journal.sqlite3"
    SignalLog(journal).close()  # the console opens its journal before the endpoint starts
    accepted: list[Signal] = []
    listening: list[str] = []
    down: list[str] = []
    clock = OffsetClock(as_of)
    endpoint = SignalProcess(
        SETTINGS,
        SECRET,
        journal,
        accepted.append,
        clock,
        on_listening=listening.append,
        on_down=down.append,
        restart_delay=0.05,
    )
    rig = Rig(endpoint, journal, clock, accepted, listening, down)
    await rig.endpoint.start(0)
    yield rig
    await rig.endpoint.stop()


def signal_body(ident: str, secret: str = SECRET) -> dict[str, Any]:
    return {"secret": secret, "id": ident, "symbol": "MES1!", "action": "buy", "quantity": 1}


def ended(pid: int) -> bool:
    """Has process ``pid`` ended (gone, or a zombie waiting for whoever reaps it)?"""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def proc_file(pid: int, name: str) -> bytes:
    return Path(f"/proc/{pid}/{name}").read_bytes()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_signal_is_journalled_then_handed_over_and_its_repeat_is_409(
    rig: Rig, as_of: datetime, wait_for: WaitFor
) -> None:
    assert rig.url.startswith("http://127.0.0.1:")
    assert rig.url.endswith("/signals")
    assert rig.pid != os.getpid()
    assert await rig.post(signal_body("p-1")) == 202
    assert rig.journalled(as_of) == ["id:p-1"]  # before the 202 left
    await wait_for(lambda: rig.accepted, what="the signal handed over")
    [accepted] = rig.accepted
    assert accepted.key == "id:p-1"
    assert accepted.symbol == "MES1!"
    assert accepted.received_at >= as_of
    assert await rig.post(signal_body("p-1")) == 409
    assert await rig.post(signal_body("p-2", secret="wrong-secret-wrong-secret")) == 401
    assert await rig.endpoint.refusals() == {409: 1, 401: 1}
    assert [s.key for s in rig.accepted] == ["id:p-1"]


async def test_the_secret_is_in_neither_the_childs_argv_nor_its_environment(
    tmp_path: Path,
    as_of: datetime,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The console's own environment may hold the secret (IBCONSOLE_SIGNAL_SECRET): not passed on.
    monkeypatch.setenv("IBCONSOLE_SIGNAL_SECRET", SECRET)
    caplog.set_level("DEBUG")
    journal = tmp_path / "journal.sqlite3"
    SignalLog(journal).close()
    endpoint = SignalProcess(SETTINGS, SECRET, journal, lambda s: None, OffsetClock(as_of))
    await endpoint.start(0)
    try:
        pid = endpoint.pid
        assert pid is not None
        argv, environ = proc_file(pid, "cmdline"), proc_file(pid, "environ")
        assert b"ibconsole.broker.signal_child" in argv  # it is the child
        assert SECRET.encode() not in argv
        assert SECRET.encode() not in environ
        assert b"IBCONSOLE_SIGNAL_SECRET" not in environ
        url = endpoint.url
        assert url is not None
        new_secret = "another-process-secret-7Rm2"
        endpoint.set_secret(new_secret)
        await endpoint.refusals()  # answered after the child has read the new secret
        assert await asyncio.to_thread(post, url, signal_body("s-1", secret=new_secret)) == 202
        assert await asyncio.to_thread(post, url, signal_body("s-2")) == 401
        assert new_secret.encode() not in proc_file(pid, "environ")
    finally:
        await endpoint.stop()
    # The child's own records reach the console's log; neither secret is in any of them.
    children = [r for r in caplog.records if r.name == "ibconsole.broker.signal_endpoint"]
    assert any("accepted" in r.getMessage() for r in children)
    assert any("refused" in r.getMessage() for r in children)
    assert SECRET not in caplog.text
    assert new_secret not in caplog.text


async def test_settings_reach_the_child_and_a_new_port_moves_it(
    rig: Rig, wait_for: WaitFor
) -> None:
    pid = rig.pid
    await rig.endpoint.apply(replace(SETTINGS, max_per_minute=1), 0)
    assert rig.pid == pid, "a new rate needs no new process"
    assert await rig.post(signal_body("r-1")) == 202
    assert await rig.post(signal_body("r-2")) == 429
    assert await rig.endpoint.refusals() == {429: 1}

    old_url, port = rig.url, free_port()
    await rig.endpoint.apply(replace(SETTINGS, max_per_minute=1), port)
    assert rig.url == f"http://127.0.0.1:{port}/signals"
    assert rig.listening == [rig.url]
    assert rig.pid != pid
    await wait_for(lambda: ended(pid), what="the child on the old port ended")
    with pytest.raises(ConnectionError):
        post(old_url, signal_body("r-3"))
    # The allowance starts again with the new process; the keys journalled before are known.
    assert await rig.post(signal_body("r-1")) == 409
    assert await rig.post(signal_body("r-3")) == 202


@pytest.mark.expect_log_warnings
async def test_a_child_that_dies_is_reported_and_started_again_on_its_port(
    rig: Rig, wait_for: WaitFor
) -> None:
    assert await rig.post(signal_body("d-1")) == 202
    url, pid = rig.url, rig.pid
    os.kill(pid, signal.SIGKILL)
    await wait_for(lambda: rig.down, what="the death reported")
    assert "ended unexpectedly" in rig.down[0]
    assert "starting it again" in rig.down[0]
    await wait_for(lambda: rig.listening, timeout=STARTS_WITHIN, what="the child started again")
    assert rig.listening == [url]
    assert rig.url == url
    assert rig.pid != pid
    assert await rig.post(signal_body("d-1")) == 409  # journalled before it died
    assert await rig.post(signal_body("d-2")) == 202
    await wait_for(lambda: len(rig.accepted) == 2, what="both signals handed over")
    assert [s.key for s in rig.accepted] == ["id:d-1", "id:d-2"]


@pytest.mark.expect_log_warnings
async def test_what_a_dead_child_journalled_but_did_not_hand_over_reaches_accept(
    rig: Rig, wait_for: WaitFor
) -> None:
    # As a child killed between its journal's commit and its frame to the console leaves it.
    orphan = parse_signal(signal_body("lost-1"), rig.clock.now())
    with SignalLog(rig.journal) as journal:
        assert journal.record(orphan)
    os.kill(rig.pid, signal.SIGKILL)
    await wait_for(lambda: rig.accepted, what="the journalled signal handed over")
    assert [s.key for s in rig.accepted] == ["id:lost-1"]
    await wait_for(lambda: rig.listening, timeout=STARTS_WITHIN, what="the child started again")
    assert await rig.post(signal_body("lost-1")) == 409
    assert [s.key for s in rig.accepted] == ["id:lost-1"]


async def test_stop_hands_over_what_was_accepted_then_ends_the_child(
    rig: Rig, as_of: datetime
) -> None:
    statuses = [await rig.post(signal_body(f"t-{n}")) for n in range(3)]
    assert statuses == [202] * 3
    url, pid = rig.url, rig.pid
    await rig.endpoint.stop()
    assert [s.key for s in rig.accepted] == ["id:t-0", "id:t-1", "id:t-2"]
    assert rig.endpoint.url is None
    assert rig.endpoint.pid is None
    assert ended(pid)
    assert rig.down == [], "a child stopped on purpose is not reported down"
    with pytest.raises(ConnectionError):
        post(url, signal_body("after"))
    with pytest.raises(ConnectionError):
        await rig.endpoint.refusals()
    await rig.endpoint.start(0)
    assert await rig.post(signal_body("t-1")) == 409


async def test_a_port_in_use_is_an_oserror_and_leaves_no_child(rig: Rig, as_of: datetime) -> None:
    port = int(urlsplit(rig.url).port or 0)
    before = children_of_this_process()
    second = SignalProcess(SETTINGS, SECRET, rig.journal, lambda s: None, OffsetClock(as_of))
    with pytest.raises(OSError, match="in use"):
        await second.start(port)
    assert second.url is None
    assert children_of_this_process() == before


def children_of_this_process() -> set[int]:
    return {
        int(pid)
        for task in Path("/proc/self/task").iterdir()
        for pid in (task / "children").read_text().split()
    }


PARENT = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from ibconsole.broker.signal_process import SignalProcess
    from ibconsole.domain.clock import SystemClock
    from ibconsole.domain.signals import SignalSettings

    async def main():
        endpoint = SignalProcess(SignalSettings(), "parent-test-secret-0Kd8", Path(sys.argv[1]),
                                 lambda s: None, SystemClock())
        await endpoint.start(0)
        print(endpoint.pid, endpoint.url, flush=True)
        await asyncio.Event().wait()  # until killed

    asyncio.run(main())
    """
)


def start_console(journal: Path) -> subprocess.Popen[str]:
    """A console's stand-in: a process that starts a ``SignalProcess`` and prints its child."""
    return subprocess.Popen(
        [sys.executable, "-c", PARENT, str(journal)], stdout=subprocess.PIPE, text=True
    )


async def test_a_console_that_is_killed_takes_its_child_with_it(
    tmp_path: Path, wait_for: WaitFor
) -> None:
    journal = tmp_path / "journal.sqlite3"
    SignalLog(journal).close()
    with start_console(journal) as console:
        try:
            assert console.stdout is not None
            line = await asyncio.wait_for(asyncio.to_thread(console.stdout.readline), STARTS_WITHIN)
            child, url = line.split()
            assert await asyncio.to_thread(post, url, signal_body("k-1", "x" * 20)) == 401
            console.kill()
            await asyncio.to_thread(console.wait)
            await wait_for(lambda: ended(int(child)), timeout=10, what="the orphaned child ended")
            with pytest.raises(ConnectionError):
                post(url, signal_body("k-2"))
        finally:
            console.kill()


async def test_a_flood_of_bad_secrets_costs_the_console_next_to_no_cpu(rig: Rig) -> None:
    wrong = SECRET[:-1] + "x"
    sender_cpu: list[float] = []

    def flood() -> list[int]:
        started = time.thread_time()
        statuses = [post(rig.url, signal_body(f"f-{n}", secret=wrong)) for n in range(FLOOD)]
        sender_cpu.append(time.thread_time() - started)
        return statuses

    loop_cpu, process_cpu = time.thread_time(), time.process_time()
    statuses = await run_on_thread(flood)
    loop_cpu = time.thread_time() - loop_cpu
    console_cpu = time.process_time() - process_cpu - sender_cpu[0]
    assert statuses == [401] * FLOOD
    assert await rig.endpoint.refusals() == {401: FLOOD}  # the child did the work
    assert loop_cpu < FLOOD_CPU_BOUND_S, f"the loop's thread spent {loop_cpu * 1000:.1f} ms"
    assert console_cpu < FLOOD_CPU_BOUND_S, f"the console spent {console_cpu * 1000:.1f} ms"
    assert rig.accepted == []


async def run_on_thread(work: Callable[[], list[int]]) -> list[int]:
    """``work`` on a thread of its own, the loop waiting idle for it."""
    done: asyncio.Future[list[int]] = asyncio.get_running_loop().create_future()
    loop = asyncio.get_running_loop()

    def run() -> None:
        try:
            result = work()
        except Exception as error:  # the test fails with it, not hangs
            loop.call_soon_threadsafe(done.set_exception, error)
        else:
            loop.call_soon_threadsafe(done.set_result, result)

    thread = threading.Thread(target=run, name="flood sender")
    thread.start()
    try:
        return await done
    finally:
        thread.join()
