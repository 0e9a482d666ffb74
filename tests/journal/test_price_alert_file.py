"""Price alerts on disk: saved and loaded as they were, replaced atomically, and an unreadable
file kept aside with the reason instead of being overwritten."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from ibconsole.domain.price_alerts import CrossDirection, PriceAlert
from ibconsole.journal.price_alert_file import (
    PriceAlertFile,
    PriceAlertFileError,
    alert_file_beside,
)

T0 = datetime(2026, 12, 4, 15, 30, tzinfo=UTC)
ARMED = PriceAlert(
    alert_id="A1",
    con_id=495512563,
    symbol="ES",
    local_symbol="ESZ6",
    level=Decimal("5931.75"),
    direction=CrossDirection.ABOVE,
    reference=Decimal("5920.25"),
    created_at=T0,
)
FIRED = PriceAlert(
    alert_id="A2",
    con_id=495512563,
    symbol="ES",
    local_symbol="ESZ6",
    level=Decimal("5900"),
    direction=CrossDirection.BELOW,
    reference=Decimal("5920.25"),
    created_at=T0,
    triggered_at=T0.replace(minute=45),
)


def test_the_file_sits_beside_its_journal(tmp_path: Path) -> None:
    assert alert_file_beside(tmp_path / "journal.sqlite3") == tmp_path / "journal.price-alerts.json"
    assert alert_file_beside(tmp_path / "demo-journal.sqlite3").name == (
        "demo-journal.price-alerts.json"
    )


def test_no_file_yet_means_no_alerts(tmp_path: Path) -> None:
    assert PriceAlertFile(tmp_path / "a.json").load() == ()


def test_alerts_come_back_as_they_were_saved(tmp_path: Path) -> None:
    store = PriceAlertFile(tmp_path / "sub" / "a.json")
    store.save([ARMED, FIRED])
    assert store.load() == (ARMED, FIRED)
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["a.json"]  # no temporary left
    store.save([FIRED])
    assert store.load() == (FIRED,)


ENCODED = {
    "id": "A1",
    "con_id": 1,
    "symbol": "ES",
    "local_symbol": "ESZ6",
    "level": "5931.75",
    "direction": "above",
    "reference": "5920",
    "created_at": "2026-12-04T15:30:00+00:00",
    "triggered_at": None,
}


@pytest.mark.expect_log_warnings
@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("{not json", "could not be read"),
        (json.dumps({"format": "something else"}), "not an ibconsole price alerts file"),
        (json.dumps({"format": "ibconsole price alerts", "version": 9}), "format version 9"),
        (
            json.dumps(
                {
                    "format": "ibconsole price alerts",
                    "version": 1,
                    "alerts": [{"id": "x", "con_id": "12"}],
                }
            ),
            "an alert has no symbol, local_symbol, level",
        ),
        (
            json.dumps(
                {
                    "format": "ibconsole price alerts",
                    "version": 1,
                    "alerts": [{**ENCODED, "con_id": "12"}],
                }
            ),
            "con_id '12' is not a whole number",
        ),
    ],
)
def test_an_unreadable_file_is_kept_aside_and_said(tmp_path: Path, content: str, says: str) -> None:
    path = tmp_path / "a.json"
    path.write_text(content, encoding="utf-8")
    store = PriceAlertFile(path)
    with pytest.raises(PriceAlertFileError, match=says) as raised:
        store.load()
    assert "a.json.unreadable" in str(raised.value)
    assert (tmp_path / "a.json.unreadable").read_text(encoding="utf-8") == content
    assert not path.exists()
    store.save([ARMED])
    assert store.load() == (ARMED,)
