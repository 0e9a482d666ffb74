"""The pipe between the console and its signal endpoint's process: one message a frame, a 4-byte
length and the pickled tuple ``(kind, *values)``.

Both ends are the console's own code (the child is ``python -m ibconsole.broker.signal_child``,
started by ``signal_process``), so pickling carries the settings, the secret and each accepted
``Signal`` as they are. The secret goes this way, never through argv or the environment.

The console sends ``start`` (with a ``ChildStart``), ``secret``, ``settings``, ``refusals`` and
``stop``; the child sends ``listening`` or ``failed`` (to ``start``), ``applied`` (to
``settings``), ``refusals`` (to ``refusals``), each ``signal`` and ``log`` record as they come,
and ``stopped`` last. It answers in the order it was asked.
"""

from __future__ import annotations

import asyncio
import pickle
import struct
from dataclasses import dataclass
from typing import Final

from ibconsole.domain.clock import Clock
from ibconsole.domain.signals import SignalSettings

_LENGTH: Final = struct.Struct(">I")
MAX_FRAME: Final = 1 << 20  # a frame is a few hundred bytes; anything near this is a broken pipe


@dataclass(frozen=True, slots=True)
class ChildStart:
    """What the first frame, ``("start", ChildStart)``, tells the endpoint's process."""

    settings: SignalSettings
    secret: str | None
    journal: str  # the journal file's path: the process opens its own connection to it
    clock: Clock  # the console's (``--as-of`` moves it): signals are stamped by it
    port: int
    idle_timeout: float | None  # None: the endpoint's own
    log_level: int


class PipeBroken(Exception):
    """The other end sent something that is not a frame of ours."""


def frame(*message: object) -> bytes:
    """``message`` as the bytes of one frame."""
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(payload)) + payload


async def read_frame(reader: asyncio.StreamReader) -> tuple[object, ...] | None:
    """The next message, or None once the other end has closed the pipe."""
    try:
        head = await reader.readexactly(_LENGTH.size)
    except asyncio.IncompleteReadError as short:
        if short.partial:
            raise PipeBroken("the pipe closed in the middle of a frame") from None
        return None  # closed between frames
    (length,) = _LENGTH.unpack(head)
    if length > MAX_FRAME:
        raise PipeBroken(f"a frame of {length} bytes")
    try:
        payload = await reader.readexactly(length)
    except asyncio.IncompleteReadError:
        raise PipeBroken("the pipe closed in the middle of a frame") from None
    try:
        message = pickle.loads(payload)
    except Exception as error:  # unpickling fails in as many ways as there are types
        raise PipeBroken(f"a frame that does not unpickle: {error!r}") from None
    if not isinstance(message, tuple) or not message or not isinstance(message[0], str):
        raise PipeBroken(f"not a message: {type(message).__name__}")
    return message
