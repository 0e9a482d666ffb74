"""What a settings field's text writes to the file: the environment's reading of text, so the
loader's checks and sentences apply unchanged; an empty field leaves the key to its default."""

from __future__ import annotations

import pytest

from ibconsole.config.writer import REMOVE
from ibconsole.ui.settings.values import Kind, shown_text, typed_value


@pytest.mark.parametrize(
    ("text", "kind", "written"),
    [
        ("5", Kind.VALUE, 5),
        (" 2.5 ", Kind.VALUE, 2.5),
        ("off", Kind.VALUE, "off"),
        ("true", Kind.VALUE, True),
        ("soon", Kind.VALUE, "soon"),  # the loader refuses it with its own sentence
        ("", Kind.VALUE, REMOVE),
        ("   ", Kind.TEXT, REMOVE),
        ("1e5", Kind.TEXT, "1e5"),  # a host or account is text, whatever it looks like
        ("127.0.0.1", Kind.TEXT, "127.0.0.1"),
        ("decorrelated", Kind.CHOICE, "decorrelated"),
        ("1, 2, 5, 10", Kind.LIST, [1, 2, 5, 10]),
        ("1, x", Kind.LIST, "[1, x]"),  # not a list of values: the loader says what is allowed
    ],
)
def test_typed_text_means_what_it_would_mean_in_the_environment(
    text: str, kind: Kind, written: object
) -> None:
    assert typed_value(text, kind) == written


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, ""),
        (True, "true"),
        (False, "false"),
        (10, "10"),
        (2.0, "2.0"),
        ("off", "off"),
        ([1, 2, 5, 10], "1, 2, 5, 10"),
    ],
)
def test_a_value_read_from_the_file_shows_as_it_would_be_typed(value: object, shown: str) -> None:
    assert shown_text(value) == shown
    if value is not None and not isinstance(value, bool):
        kind = Kind.LIST if isinstance(value, list) else Kind.VALUE
        assert typed_value(shown, kind) == value  # shown, then saved unchanged: the same value
