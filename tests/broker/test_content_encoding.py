"""A signal body's Content-Encoding undone after the whole body arrived: what decodes, what is
refused as unreadable, and what is too large once decoded."""

from __future__ import annotations

import gzip
import zlib

import pytest

from ibconsole.broker.content_encoding import BodyTooLarge, BodyUnreadable, decoded_body

BODY = b'{"symbol": "MES1!", "action": "buy", "quantity": 1}'
LIMIT = 512


def _raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


@pytest.mark.parametrize(
    ("raw", "encoding"),
    [
        (BODY, None),
        (BODY, ""),
        (BODY, "identity"),
        (BODY, "bogus"),  # not an encoding aiohttp knows either: the body as it came
        (gzip.compress(BODY), "gzip"),
        (gzip.compress(BODY), " GZIP "),
        (zlib.compress(BODY), "deflate"),
        (_raw_deflate(BODY), "deflate"),  # without its zlib header, as some senders write it
    ],
)
def test_a_body_decodes_as_its_encoding_says(raw: bytes, encoding: str | None) -> None:
    assert decoded_body(raw, encoding, LIMIT) == BODY


@pytest.mark.parametrize(
    ("raw", "encoding", "reason"),
    [
        (BODY, "gzip", "it does not decode as gzip"),
        (BODY, "deflate", "it does not decode as deflate"),
        (gzip.compress(BODY)[:-12], "gzip", "it ends before its gzip stream does"),
        (zlib.compress(BODY)[:-6], "deflate", "it ends before its deflate stream does"),
        (b"", "gzip", "it ends before its gzip stream does"),
        (BODY, "br", "Content-Encoding br is not supported"),
        (BODY, "zstd", "Content-Encoding zstd is not supported"),
    ],
)
def test_a_body_that_does_not_decode_says_why(raw: bytes, encoding: str, reason: str) -> None:
    with pytest.raises(BodyUnreadable) as unreadable:
        decoded_body(raw, encoding, LIMIT)
    assert str(unreadable.value) == reason


def test_a_small_body_that_decodes_too_large_is_refused() -> None:
    bomb = gzip.compress(b" " * 100_000)
    assert len(bomb) < LIMIT
    with pytest.raises(BodyTooLarge, match="over 512 bytes"):
        decoded_body(bomb, "gzip", LIMIT)
    exact = b" " * LIMIT
    assert decoded_body(gzip.compress(exact), "gzip", LIMIT) == exact
