"""Saving the settings file (Qt-free): comments survive, env keys are never written, a bad value
is refused with the loader's sentence, and a crash mid-write leaves a whole file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tomllib
from decimal import Decimal
from pathlib import Path

import pytest

from ibconsole.config import ConfigError, load_settings
from ibconsole.config.writer import (
    REMOVE,
    backup_path,
    check,
    edit,
    read_settings_file,
    save,
)

HAND_WRITTEN = """\
# My settings: keep this note.
schema_version = 1
default_profile = "tws-paper"

[profiles.tws-paper]
port = 7497  # TWS paper

# Limits I agreed with myself.
[risk]
max_quantity = 10   # per order
max_position = 20

[risk.symbols.ES]
max_quantity = 2    # big contract, small size

[rollover]
buffer_days = 1
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(HAND_WRITTEN, encoding="utf-8")
    return path


def test_comments_order_and_untouched_keys_survive_a_save(config: Path) -> None:
    file = read_settings_file(config, {})
    document = edit(
        file,
        {
            ("risk", "max_quantity"): 5,
            ("risk", "symbols", "MES", "max_quantity"): 50,
            ("rollover", "reopen_on_roll"): False,
        },
    )
    save(file, document)

    text = config.read_text(encoding="utf-8")
    for line in (
        "# My settings: keep this note.",
        "port = 7497  # TWS paper",
        "# Limits I agreed with myself.",
        "max_quantity = 5   # per order",
        "max_quantity = 2    # big contract, small size",
    ):
        assert line in text
    assert text.index("[risk]") < text.index("[risk.symbols.ES]") < text.index("[rollover]")
    settings = load_settings(config, environ={})
    assert settings.risk.defaults.max_quantity == 5
    assert settings.risk.for_symbol("MES").max_quantity == 50
    assert settings.risk.for_symbol("ES").max_quantity == 2
    assert settings.rollover.reopen_on_roll is False
    assert settings.rollover.buffer_days == 1


def test_removing_a_symbol_row_drops_its_table_and_keeps_the_rest(config: Path) -> None:
    file = read_settings_file(config, {})
    save(file, edit(file, {("risk", "symbols", "ES"): REMOVE}))
    data = tomllib.loads(config.read_text(encoding="utf-8"))
    assert "ES" not in data["risk"].get("symbols", {})
    assert data["risk"]["max_quantity"] == 10
    assert "# Limits I agreed with myself." in config.read_text(encoding="utf-8")


def test_a_table_split_across_the_file_is_edited_where_it_stands(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        "schema_version = 1\n[risk]\nmax_quantity = 10\n[rollover]\nbuffer_days = 1\n\n"
        "[risk.symbols.MES]  # micro\nmax_quantity = 50\n",
        encoding="utf-8",
    )
    file = read_settings_file(path, {})
    save(
        file,
        edit(
            file,
            {
                ("risk", "max_position"): 4,
                ("risk", "symbols", "MES"): REMOVE,
                ("risk", "symbols", "ES", "max_quantity"): 3,
            },
        ),
    )
    text = path.read_text(encoding="utf-8")
    assert text.startswith("schema_version = 1\n[risk]\nmax_quantity = 10\nmax_position = 4\n")
    assert "MES" not in text
    settings = load_settings(path, environ={})
    assert settings.risk.for_symbol("ES").max_quantity == 3
    assert settings.risk.defaults.max_position == 4


def test_the_previous_file_is_kept_as_a_backup(config: Path) -> None:
    file = read_settings_file(config, {})
    saved = save(file, edit(file, {("risk", "max_position"): 8}))
    assert backup_path(config).read_text(encoding="utf-8") == HAND_WRITTEN
    assert saved.text == config.read_text(encoding="utf-8")
    assert tomllib.loads(config.read_text(encoding="utf-8"))["risk"]["max_position"] == 8


def test_a_first_save_creates_the_file_with_the_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "new" / "config.toml"
    file = read_settings_file(path, {})
    assert not file.exists
    save(file, edit(file, {("risk", "symbols", "MES", "max_quantity"): 3}))
    assert not backup_path(path).exists()
    settings = load_settings(path, environ={})
    assert settings.risk.for_symbol("MES").max_quantity == 3


@pytest.mark.parametrize(
    ("change", "sentence"),
    [
        (
            {("risk", "symbols", "MES", "max_quantity"): 0},
            "risk.symbols.MES.max_quantity = 0: must be a whole number above zero",
        ),
        ({("rollover", "buffer_days"): 99}, "rollover.buffer_days = 99: must be a whole number"),
        ({("health", "heartbeat_interval_seconds"): "soon"}, "health.heartbeat_interval_seconds"),
        ({("risk", "symbols", "XYZ", "max_quantity"): 1}, "unknown futures symbol 'XYZ'"),
    ],
)
def test_a_bad_value_is_refused_with_the_loaders_sentence(
    config: Path, change: dict[tuple[str, ...], object], sentence: str
) -> None:
    file = read_settings_file(config, {})
    with pytest.raises(ConfigError) as refused:
        check(file, edit(file, change), {})
    assert sentence in str(refused.value)
    # The loader itself says the same about the same file.
    broken = config.with_name("broken.toml")
    broken.write_text(edit(file, change).as_string(), encoding="utf-8")
    with pytest.raises(ConfigError) as loaded:
        load_settings(broken, environ={})
    assert str(refused.value) in str(loaded.value)


def test_a_file_edited_by_hand_meanwhile_is_never_overwritten(config: Path) -> None:
    file = read_settings_file(config, {})
    by_hand = HAND_WRITTEN.replace("max_position = 20", "max_position = 30")
    config.write_text(by_hand, encoding="utf-8")
    with pytest.raises(ConfigError, match="changed on disk since it was read; nothing was written"):
        save(file, edit(file, {("risk", "max_quantity"): 5}))
    assert config.read_text(encoding="utf-8") == by_hand
    assert not backup_path(config).exists()


def test_environment_keys_are_reported_and_never_written(config: Path) -> None:
    environ = {"IBCONSOLE_RISK__MAX_QUANTITY": "3"}
    file = read_settings_file(config, environ)
    assert file.environment == {"risk.max_quantity": "IBCONSOLE_RISK__MAX_QUANTITY"}
    with pytest.raises(ConfigError, match="IBCONSOLE_RISK__MAX_QUANTITY"):
        edit(file, {("risk", "max_quantity"): 3})
    document = edit(file, {("risk", "max_position"): 4})
    assert check(file, document, environ).risk.defaults.max_quantity == Decimal(3)
    save(file, document)
    assert tomllib.loads(config.read_text(encoding="utf-8"))["risk"]["max_quantity"] == 10


_WRITER_LOOP = """
import sys
from pathlib import Path
from ibconsole.config.writer import edit, read_settings_file, save

path = Path(sys.argv[1])
file = read_settings_file(path, {})
# Two large versions of the file, so a kill lands inside a write most of the time.
versions = [
    edit(file, {("risk", "max_position"): 20 + n, ("profiles", "tws-paper", "account"): mark * 1_000_000})
    for n, mark in ((1, "A"), (2, "B"))
]
count = 0
while True:
    file = save(file, versions[count % 2])
    count += 1
    print(count, flush=True)
"""


def test_a_kill_during_the_write_leaves_the_old_or_the_new_file(config: Path) -> None:
    for round_number in range(3):
        child = subprocess.Popen(
            [sys.executable, "-c", _WRITER_LOOP, str(config)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        # Let it complete a few saves, then kill it wherever it is.
        for _ in range(2 + round_number):
            assert child.stdout.readline()
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        child.stdout.close()
        data = tomllib.loads(config.read_text(encoding="utf-8"))
        account = data["profiles"]["tws-paper"]["account"]
        expected = {21: "A", 22: "B"}[data["risk"]["max_position"]] * 1_000_000
        assert account == expected
        assert load_settings(config, environ={}).risk.defaults.max_quantity == 10
    leftovers = [p.name for p in config.parent.iterdir() if p.name.endswith(".tmp")]
    # A killed writer may leave its temporary file; it is never the settings file.
    assert all(name.startswith(".config.toml.") for name in leftovers)
