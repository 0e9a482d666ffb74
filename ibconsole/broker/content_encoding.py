"""A request body's ``Content-Encoding`` undone by the signal endpoint itself, after the whole body
has arrived.

aiohttp can decode while the body arrives, but a body that does not decode then fails half-way:
the answer goes out and the connection closes while the sender is still writing the rest, and
the sender sees a broken pipe instead of its 400. Read whole first and decoded here, a broken
body is answered like any other unusable one. ``gzip`` and ``deflate`` (with its zlib header or,
as some senders write it, without) are decoded; ``br`` and ``zstd`` are refused (their libraries
are not installed); any other value is ignored, as aiohttp ignores it.
"""

from __future__ import annotations

import zlib
from typing import Final

_GZIP_WINDOW: Final = 16 + zlib.MAX_WBITS
_ZLIB_WINDOW: Final = zlib.MAX_WBITS
_RAW_WINDOW: Final = -zlib.MAX_WBITS
_REFUSED: Final = frozenset({"br", "zstd"})


class BodyUnreadable(ValueError):
    """The body does not decode as its ``Content-Encoding`` says (the reason is the message)."""


class BodyTooLarge(ValueError):
    """The decoded body is over the limit."""


def decoded_body(raw: bytes, content_encoding: str | None, limit: int) -> bytes:
    """``raw`` decoded as ``content_encoding`` says, at most ``limit`` bytes of it."""
    encoding = (content_encoding or "").strip().lower()
    if encoding in _REFUSED:
        raise BodyUnreadable(f"Content-Encoding {encoding} is not supported")
    if encoding == "gzip":
        window = _GZIP_WINDOW
    elif encoding == "deflate":
        # RFC 1950's header names the method in its low four bits (8, deflate); without it
        # the stream is raw deflate, as some senders write it.
        window = _ZLIB_WINDOW if raw[:1] and raw[0] & 0x0F == 8 else _RAW_WINDOW
    else:
        return raw
    decompressor = zlib.decompressobj(window)
    try:
        body = decompressor.decompress(raw, limit + 1)
    except zlib.error:
        raise BodyUnreadable(f"it does not decode as {encoding}") from None
    if len(body) > limit:
        raise BodyTooLarge(f"decoded, the body is over {limit} bytes")
    if not decompressor.eof:
        raise BodyUnreadable(f"it ends before its {encoding} stream does")
    return body
