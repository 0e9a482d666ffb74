"""Price alerts kept across restarts: a small JSON file beside the journal.

Alerts are the trader's standing instructions to the console, not order records: they are
edited and removed, where the journal only appends, and they have no place in its schema.
The file is replaced atomically on every change (written beside it, flushed, renamed over it),
so a crash leaves the old file or the new one, never half of one. A file that cannot be read is
moved aside under a name that says so, never overwritten, and the reason is reported.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from ibconsole.domain.price_alerts import CrossDirection, PriceAlert

log = logging.getLogger(__name__)

_FORMAT = "ibconsole price alerts"
_VERSION = 1


class PriceAlertFileError(Exception):
    """The alerts file could not be read or written; the message names the file and the fault."""


def alert_file_beside(journal_path: Path) -> Path:
    """The alerts file of a journal: ``journal.sqlite3`` → ``journal.price-alerts.json``."""
    return journal_path.with_name(f"{journal_path.stem}.price-alerts.json")


class PriceAlertFile:
    """Loads and saves the price alerts at ``path``."""

    def __init__(self, path: Path) -> None:
        self._path = path

    @property
    def path(self) -> Path:
        return self._path

    def load(self) -> tuple[PriceAlert, ...]:
        """The saved alerts (none when there is no file yet).

        An unreadable file is renamed to ``<name>.unreadable`` and ``PriceAlertFileError`` says
        why and where it went; the next save starts a new file.
        """
        try:
            text = self._path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return ()
        except OSError as error:
            raise PriceAlertFileError(
                f"cannot read the price alerts {self._path}: {error}"
            ) from error
        try:
            return _decode(text)
        except (ValueError, TypeError, InvalidOperation) as error:
            aside = self._path.with_name(self._path.name + ".unreadable")
            try:
                os.replace(self._path, aside)
            except OSError as move_error:
                raise PriceAlertFileError(
                    f"the price alerts {self._path} are unreadable ({error}) and could not be "
                    f"moved aside: {move_error}"
                ) from error
            log.warning(
                "price alerts file %s unreadable (%s); moved to %s", self._path, error, aside
            )
            raise PriceAlertFileError(
                f"The price alerts in {self._path} could not be read ({error}); the file was "
                f"kept as {aside.name} and alerts start afresh."
            ) from error

    def save(self, alerts: Iterable[PriceAlert]) -> None:
        """Replace the file with ``alerts``, atomically."""
        document = {
            "format": _FORMAT,
            "version": _VERSION,
            "alerts": [_encode(alert) for alert in alerts],
        }
        temporary = self._path.with_name(self._path.name + ".new")
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            with temporary.open("w", encoding="utf-8") as stream:
                json.dump(document, stream, indent=2)
                stream.write("\n")
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, self._path)
        except OSError as error:
            raise PriceAlertFileError(
                f"cannot save the price alerts to {self._path}: {error}"
            ) from error


_FIELDS = (
    "id",
    "con_id",
    "symbol",
    "local_symbol",
    "level",
    "direction",
    "reference",
    "created_at",
    "triggered_at",
)


def _encode(alert: PriceAlert) -> dict[str, Any]:
    return {
        "id": alert.alert_id,
        "con_id": alert.con_id,
        "symbol": alert.symbol,
        "local_symbol": alert.local_symbol,
        "level": str(alert.level),
        "direction": alert.direction.value,
        "reference": str(alert.reference),
        "created_at": alert.created_at.isoformat(),
        "triggered_at": alert.triggered_at.isoformat() if alert.triggered_at else None,
    }


def _decode(text: str) -> tuple[PriceAlert, ...]:
    document = json.loads(text)
    if not isinstance(document, dict) or document.get("format") != _FORMAT:
        raise ValueError("not an ibconsole price alerts file")
    if document.get("version") != _VERSION:
        raise ValueError(f"format version {document.get('version')!r}, expected {_VERSION}")
    items = document["alerts"]
    if not isinstance(items, list):
        raise TypeError("'alerts' is not a list")
    return tuple(_alert(item) for item in items)


def _alert(item: object) -> PriceAlert:
    if not isinstance(item, dict):
        raise TypeError(f"an alert is {item!r}, not a table of fields")
    missing = [name for name in _FIELDS if name not in item]
    if missing:
        raise ValueError(f"an alert has no {', '.join(missing)}")
    con_id = item["con_id"]
    if not isinstance(con_id, int) or isinstance(con_id, bool):
        raise TypeError(f"con_id {con_id!r} is not a whole number")
    triggered = item["triggered_at"]
    return PriceAlert(
        alert_id=str(item["id"]),
        con_id=con_id,
        symbol=str(item["symbol"]),
        local_symbol=str(item["local_symbol"]),
        level=Decimal(str(item["level"])),
        direction=CrossDirection(item["direction"]),
        reference=Decimal(str(item["reference"])),
        created_at=_instant(item["created_at"]),
        triggered_at=_instant(triggered) if triggered is not None else None,
    )


def _instant(value: object) -> datetime:
    if not isinstance(value, str):
        raise TypeError(f"{value!r} is not a time")
    instant = datetime.fromisoformat(value)
    if instant.tzinfo is None:
        raise ValueError(f"the time {value} has no time zone")
    return instant
