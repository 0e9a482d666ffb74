"""What a settings field shows and what its text means, without Qt.

A field shows the value the file holds (or the environment's, read-only); an empty field means
"not in the file": the default applies. Typed text means what the same text would mean in an
``IBCONSOLE_*`` variable — ``5`` a number, ``true`` a truth value, ``off`` text — so the
loader's checks and sentences apply unchanged. Names (hosts, accounts, keyring entries) are
always text.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from ibconsole.config import environment_value
from ibconsole.config.writer import REMOVE, KeyPath, dotted

__all__ = ["Kind", "Spec", "shown_text", "typed_value"]


class Kind(Enum):
    VALUE = "value"  # a number, "off", a truth value: read as TOML when it parses
    TEXT = "text"  # always text
    BOOL = "bool"  # a check box
    CHOICE = "choice"  # one of ``choices``
    LIST = "list"  # comma-separated values: 1, 2, 5, 10


@dataclass(frozen=True, slots=True)
class Spec:
    """One key of the file as a field: where it lives, its label and how it is edited."""

    path: KeyPath
    label: str
    kind: Kind = Kind.VALUE
    hint: str = ""  # shown as the empty field's placeholder and as its tooltip
    choices: tuple[str, ...] = ()
    unit: str = ""

    @property
    def key(self) -> str:
        return dotted(self.path)


def shown_text(value: object) -> str:
    """The text a field shows for a value read from the file or the environment."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(shown_text(v) for v in value)
    return str(value)


def typed_value(text: str, kind: Kind) -> object:
    """What ``text`` in a field of ``kind`` writes to the file; ``REMOVE`` when left empty."""
    stripped = text.strip()
    if not stripped:
        return REMOVE
    if kind in (Kind.TEXT, Kind.CHOICE):
        return stripped
    if kind is Kind.LIST:
        return environment_value(f"[{stripped}]")
    return environment_value(stripped)
