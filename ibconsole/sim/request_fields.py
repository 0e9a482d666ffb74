"""Reading an inbound request's fields by position, with a clear error when one is missing or
malformed."""

from __future__ import annotations

__all__ = ["RequestFormatError", "int_field", "text_field"]


class RequestFormatError(ValueError):
    """An inbound request whose fields do not fit its layout."""


def text_field(fields: list[str], index: int, name: str) -> str:
    if index >= len(fields):
        raise RequestFormatError(
            f"msg {fields[0] if fields else '?'} has {len(fields)} fields, {name} missing"
        )
    return fields[index]


def int_field(fields: list[str], index: int, name: str) -> int:
    value = text_field(fields, index, name)
    try:
        return int(value or 0)
    except ValueError:
        raise RequestFormatError(
            f"msg {fields[0]} field {name} must be an integer, got {value!r}"
        ) from None
