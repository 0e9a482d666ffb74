"""Saving the settings file: the trader's comments, order and untouched keys survive.

The Settings dialog describes what it changed as ``Changes``: a key path (``("risk", "symbols",
"MES", "max_quantity")``) mapped to its new TOML value, or to ``REMOVE`` to drop the key (or a
whole table, e.g. a per-symbol row). ``edit`` applies them to a copy of the parsed document with
tomlkit, touching nothing else; ``check`` runs the loader's own parser over the result (with the
``IBCONSOLE_*`` overrides, exactly as the next start would read it), so a bad value is refused
with the loader's sentence before anything is written; ``save`` keeps the previous file as
``<name>.bak`` and replaces the file atomically (temporary file in the same folder, fsync,
``os.replace``), so a crash at any moment leaves the old file or the new one, never a mix.

Keys set from the environment are never written: ``edit`` refuses a change to any of them.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import tomlkit
import tomlkit.exceptions
from tomlkit.container import Container, OutOfOrderTableProxy
from tomlkit.items import Table

from ibconsole.config.files import settings_from_data
from ibconsole.config.settings import SCHEMA_VERSION, Settings
from ibconsole.config.values import ConfigError

__all__ = [
    "REMOVE",
    "Changes",
    "KeyPath",
    "SettingsFile",
    "backup_path",
    "check",
    "dotted",
    "edit",
    "read_settings_file",
    "save",
    "value_at",
]

KeyPath = tuple[str, ...]


class _Remove(Enum):
    REMOVE = "remove"


REMOVE = _Remove.REMOVE

# A new value is a TOML scalar (or a list of scalars); REMOVE drops the key or table.
Changes = Mapping[KeyPath, object]


def dotted(path: KeyPath) -> str:
    """The key as the loader's sentences and the environment origins name it."""
    return ".".join(path)


@dataclass(frozen=True, slots=True)
class SettingsFile:
    """The settings file as read: where it is, its text parsed by tomlkit, and which keys the
    environment overrides (dotted key → variable name)."""

    path: Path
    document: tomlkit.TOMLDocument
    environment: Mapping[str, str]
    text: str | None  # as read, None when there was no file: a save checks nobody changed it

    @property
    def exists(self) -> bool:
        return self.text is not None

    def value(self, path: KeyPath) -> object | None:
        """The plain value the file holds at ``path``, None when the file does not set it."""
        return value_at(self.document.unwrap(), path)


def value_at(data: Mapping[str, object], path: KeyPath) -> object | None:
    """The plain value at ``path`` in nested mappings (parsed TOML), None when absent."""
    node: object = data
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def read_settings_file(path: Path, environ: Mapping[str, str]) -> SettingsFile:
    """Parse ``path`` (a missing file is an empty one with the current schema version)."""
    text: str | None = None
    if path.is_file():
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(f"Cannot read the config file {path}: {error}") from None
        try:
            document = tomlkit.parse(text)
        except tomlkit.exceptions.ParseError as error:
            raise ConfigError(f"The config file {path} is not valid TOML: {error}") from None
    else:
        document = tomlkit.document()
        document["schema_version"] = SCHEMA_VERSION
    _, origins = settings_from_data(document.unwrap(), source=path, environ=environ)
    return SettingsFile(path, document, origins, text)


def edit(file: SettingsFile, changes: Changes) -> tomlkit.TOMLDocument:
    """A copy of the file's document with ``changes`` applied and nothing else touched."""
    for path in changes:
        overridden = file.environment.get(dotted(path))
        if overridden is not None:
            raise ConfigError(
                f"{dotted(path)} is set by the environment variable {overridden}; "
                "it is not written to the file"
            )
    document = tomlkit.parse(file.document.as_string())
    for path, value in changes.items():
        if not path:
            raise ValueError("a change needs a key path")
        if value is REMOVE:
            _remove(document, path)
        else:
            _set(document, path, value)
    return document


def check(
    file: SettingsFile, document: tomlkit.TOMLDocument, environ: Mapping[str, str]
) -> Settings:
    """The settings ``document`` gives under ``environ``, by the loader's own rules;
    ``ConfigError`` (naming the key) when a value is refused."""
    settings, _ = settings_from_data(document.unwrap(), source=file.path, environ=environ)
    return settings


def backup_path(path: Path) -> Path:
    return path.with_name(f"{path.name}.bak")


def save(file: SettingsFile, document: tomlkit.TOMLDocument) -> SettingsFile:
    """Write ``document`` over ``file`` atomically and return the file as saved.

    The previous file, if any, is kept as ``<name>.bak`` (also written atomically). When the file
    on disk is no longer the one read (edited by hand meanwhile), nothing is written and
    ``ConfigError`` says so: a save never loses another edit.
    """
    path = file.path
    try:
        current = path.read_text(encoding="utf-8") if path.is_file() else None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"Cannot read the config file {path}: {error}") from None
    if current != file.text:
        raise ConfigError(
            f"The config file {path} changed on disk since it was read; nothing was written. "
            "Open Settings again to edit the file as it is now."
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    if current is not None:
        _write_atomically(backup_path(path), current.encode("utf-8"))
    text = document.as_string()
    _write_atomically(path, text.encode("utf-8"))
    return SettingsFile(path, document, file.environment, text)


def _write_atomically(path: Path, data: bytes) -> None:
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); Windows has no directory handles to sync."""
    if os.name != "posix":
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


# What a key path walks through: the document, a table, or a table split across the file
# (``[risk]`` near the top, ``[risk.symbols.MES]`` at the end), which tomlkit joins in a proxy.
_Node = Container | Table | OutOfOrderTableProxy


def _parent(document: Container, path: KeyPath, *, create: bool) -> _Node | None:
    node: _Node = document
    for depth, part in enumerate(path[:-1]):
        child = node.get(part)
        if child is None:
            if not create:
                return None
            # A table under another (risk.symbols) is "super": only its sub-tables get headers.
            node[part] = tomlkit.table(is_super_table=depth + 2 < len(path))
            child = node[part]
        if not isinstance(child, Container | Table | OutOfOrderTableProxy):
            raise ConfigError(f"{dotted(path[: depth + 1])} must be a table to hold {dotted(path)}")
        node = child
    return node


def _set(document: Container, path: KeyPath, value: object) -> None:
    parent = _parent(document, path, create=True)
    assert parent is not None  # created on the way
    key = path[-1]
    existing = parent.get(key)
    if isinstance(existing, Container | Table | OutOfOrderTableProxy):
        raise ConfigError(f"{dotted(path)} is a table; it cannot hold a single value")
    parent[key] = value


def _remove(document: Container, path: KeyPath) -> None:
    parent = _parent(document, path, create=False)
    if parent is None or path[-1] not in parent:
        return
    del parent[path[-1]]
