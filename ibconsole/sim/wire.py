"""TWS API framing: length-prefixed, NUL-terminated text fields, in both directions."""

from __future__ import annotations

import math
import struct
import sys
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

__all__ = [
    "MAX_FRAME_BYTES",
    "UNSET_DOUBLE",
    "UNSET_INTEGER",
    "FrameError",
    "FrameReader",
    "encode_field",
    "encode_fields",
    "is_unset_double",
]

UNSET_INTEGER = 2**31 - 1
UNSET_DOUBLE = sys.float_info.max
# Far above any real client message (placeOrder is ~2 KB) yet small enough that a stray
# length prefix (e.g. b"API\0" read as a length, 1.09 GB) is caught instead of buffered.
MAX_FRAME_BYTES = 1 << 20

_LENGTH = struct.Struct(">I")
# IB's Java servers print an unset double like this; every client parses it with float().
_UNSET_DOUBLE_TEXT = "1.7976931348623157E308"


def is_unset_double(text: str) -> bool:
    """Whether a numeric field holds IB's unset double, in any spelling a client writes it:
    Java's ``1.7976931348623157E308``, Python's ``1.7976931348623157e+308``, C#'s ``E+308``."""
    if text == _UNSET_DOUBLE_TEXT:
        return True
    if not text or text[0] != "1" or "e" not in text.lower():
        return False
    try:
        return float(text) == UNSET_DOUBLE
    except ValueError:
        return False


class FrameError(ValueError):
    """The byte stream is not a sequence of TWS API frames (bad length prefix)."""


def _float_text(value: float) -> str:
    if value == UNSET_DOUBLE:
        return _UNSET_DOUBLE_TEXT
    if math.isinf(value):
        return "Infinite" if value > 0 else "-Infinite"
    if math.isnan(value):
        return ""
    text = repr(value)
    if "e" in text:
        text = format(Decimal(text), "f")
    return text


def _decimal_text(value: Decimal) -> str:
    if not value.is_finite():
        raise ValueError(f"cannot send a non-finite Decimal on the wire: {value}")
    return format(value, "f")


def _int_text(value: int) -> str:
    return str(value)


def _bool_text(value: bool) -> str:
    return "1" if value else "0"


def _none_text(_: None) -> str:
    return ""


_ENCODERS: dict[type, Callable[[Any], str]] = {
    int: _int_text,
    bool: _bool_text,
    float: _float_text,
    Decimal: _decimal_text,
    type(None): _none_text,
}


def encode_field(value: object) -> str:
    """One field as text: int -> ``"3"``, bool -> ``"1"``/``"0"``, Decimal/float -> plain decimal
    (no exponent; the unset double as IB prints it), ``None`` -> ``""``, str as is."""
    if type(value) is str:
        return value
    encoder = _ENCODERS.get(type(value))
    if encoder is not None:
        return encoder(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return _bool_text(value)
    if isinstance(value, int):
        return str(int(value))
    raise TypeError(f"cannot encode a {type(value).__name__} as a TWS API field: {value!r}")


def encode_fields(fields: Sequence[object]) -> bytes:
    """One frame: a 4-byte big-endian length, then every field followed by a NUL."""
    parts = [value if type(value) is str else encode_field(value) for value in fields]
    parts.append("")
    payload = "\0".join(parts).encode()
    return _LENGTH.pack(len(payload)) + payload


class FrameReader:
    """Incremental frame decoder: feed it bytes as they arrive, get whole messages back.

    Handles frames split across reads and several frames in one read. Each message is its list
    of fields (the trailing empty element after the last NUL removed), decoded as UTF-8 with
    ``backslashreplace`` like the clients do.
    """

    def __init__(self, max_frame_bytes: int = MAX_FRAME_BYTES) -> None:
        self._buffer = bytearray()
        self._max = max_frame_bytes

    @property
    def pending(self) -> int:
        """Bytes received that do not yet form a whole frame."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[list[str]]:
        buffer = self._buffer
        buffer += data
        messages: list[list[str]] = []
        start = 0
        end = len(buffer)
        while end - start >= 4:
            (size,) = _LENGTH.unpack_from(buffer, start)
            if size > self._max:
                raise FrameError(
                    f"frame length prefix {size} exceeds the limit of {self._max} bytes "
                    f"(prefix bytes {bytes(buffer[start : start + 4])!r})"
                )
            if end - start - 4 < size:
                break
            payload = bytes(buffer[start + 4 : start + 4 + size])
            start += 4 + size
            fields = payload.decode("utf-8", "backslashreplace").split("\0")
            if fields[-1] == "":
                fields.pop()
            messages.append(fields)
        if start:
            del buffer[:start]
        return messages
