"""Field encoding and incremental frame decoding of the TWS API wire format."""

from __future__ import annotations

import itertools
import struct
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ibconsole.sim.wire import (
    MAX_FRAME_BYTES,
    UNSET_DOUBLE,
    UNSET_INTEGER,
    FrameError,
    FrameReader,
    encode_field,
    encode_fields,
)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (3, "3"),
        (-1, "-1"),
        (True, "1"),
        (False, "0"),
        (None, ""),
        ("ESZ6", "ESZ6"),
        (Decimal("5000.25"), "5000.25"),
        (Decimal("1E+2"), "100"),
        (Decimal("0.00005"), "0.00005"),
        (Decimal("1E-7"), "0.0000001"),
        (5012.25, "5012.25"),
        (0.0, "0.0"),
        (1e-05, "0.00001"),
        (1e22, "10000000000000000000000"),
        (UNSET_DOUBLE, "1.7976931348623157E308"),
        (UNSET_INTEGER, "2147483647"),
        (float("inf"), "Infinite"),
    ],
)
def test_field_rules(value: object, text: str) -> None:
    assert encode_field(value) == text


def test_unencodable_values_are_named() -> None:
    with pytest.raises(TypeError, match="list"):
        encode_field([1, 2])
    with pytest.raises(ValueError, match="non-finite"):
        encode_field(Decimal("NaN"))


def test_frame_is_length_prefixed_and_nul_terminated() -> None:
    frame = encode_fields([15, 1, "DU1234567"])
    assert frame == b"\x00\x00\x00\x0f" + b"15\x001\x00DU1234567\x00"


def test_reader_handles_split_and_coalesced_frames() -> None:
    data = encode_fields([49, 1]) + encode_fields([9, 1, 42]) + encode_fields([17, 1])
    reader = FrameReader()
    messages: list[list[str]] = []
    for byte in data[:-3]:
        messages += reader.feed(bytes([byte]))
    assert messages == [["49", "1"], ["9", "1", "42"]]
    assert reader.pending == 6
    assert reader.feed(data[-3:]) == [["17", "1"]]
    assert reader.pending == 0


def test_reader_keeps_a_version_frame_without_trailing_nul() -> None:
    reader = FrameReader()
    assert reader.feed(struct.pack(">I", 9) + b"v157..176") == [["v157..176"]]


def test_reader_keeps_empty_fields() -> None:
    reader = FrameReader()
    assert reader.feed(encode_fields([71, 2, 7, ""])) == [["71", "2", "7", ""]]


def test_reader_decodes_bad_utf8_with_backslashes() -> None:
    payload = b"46\x00\xff\x00"
    messages = FrameReader().feed(struct.pack(">I", len(payload)) + payload)
    assert messages == [["46", "\\xff"]]


def test_oversized_length_prefix_is_a_clear_error() -> None:
    reader = FrameReader()
    with pytest.raises(FrameError, match=f"exceeds the limit of {MAX_FRAME_BYTES} bytes"):
        reader.feed(b"API\0")


_field_text = st.text(
    alphabet=st.characters(blacklist_characters="\0", blacklist_categories=("Cs",)), max_size=20
)


@given(
    messages=st.lists(st.lists(_field_text, min_size=1, max_size=8), min_size=1, max_size=6),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=8),
)
def test_any_messages_survive_any_chunking(messages: list[list[str]], cuts: list[int]) -> None:
    data = b"".join(encode_fields(message) for message in messages)
    points = sorted({min(cut, len(data)) for cut in cuts} | {0, len(data)})
    reader = FrameReader()
    decoded: list[list[str]] = []
    for start, end in itertools.pairwise(points):
        decoded += reader.feed(data[start:end])
    assert decoded == messages
    assert reader.pending == 0
