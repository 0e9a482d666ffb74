"""The connection panel's field rules and words, as plain functions over text (no window)."""

from __future__ import annotations

import pytest

from ibconsole.domain.trading_mode import AccountMode, simulator_preset
from ibconsole.ui.connection_fields import (
    MAX_CLIENT_ID,
    account_error,
    host_error,
    mode_words,
    parse_client_id,
    parse_port,
    port_words,
)
from ibconsole.ui.theme import Tone


@pytest.mark.parametrize(
    ("text", "port", "error"),
    [
        ("7497", 7497, ""),
        (" 4002 ", 4002, ""),
        ("", None, "Enter the API port"),
        ("0", None, "'0' is not a port"),
        ("65536", None, "from 1 to 65535"),
        ("74x7", None, "'74x7' is not a port"),
    ],
)
def test_port(text: str, port: int | None, error: str) -> None:
    parsed, message = parse_port(text)
    assert parsed == port
    assert error in message
    assert bool(message) is bool(error)


@pytest.mark.parametrize(
    ("text", "client_id", "error"),
    [
        ("0", 0, ""),
        (str(MAX_CLIENT_ID), MAX_CLIENT_ID, ""),
        (str(MAX_CLIENT_ID + 1), None, "is not a clientId"),
        ("-1", None, "'-1' is not a clientId"),
        ("", None, "Enter a clientId"),
    ],
)
def test_client_id(text: str, client_id: int | None, error: str) -> None:
    parsed, message = parse_client_id(text)
    assert parsed == client_id
    assert error in message
    assert bool(message) is bool(error)


@pytest.mark.parametrize(
    ("host", "account", "host_says", "account_says"),
    [
        ("127.0.0.1", "DU1234567", "", ""),
        ("tws.example.com", "", "", ""),
        ("", "", "Enter the host name", ""),
        ("my host", "DU-1", "is not a host name", "letters and digits only"),
    ],
)
def test_host_and_account(host: str, account: str, host_says: str, account_says: str) -> None:
    assert host_says in host_error(host)
    assert bool(host_error(host)) is bool(host_says)
    assert account_says in account_error(account)
    assert bool(account_error(account)) is bool(account_says)


@pytest.mark.parametrize(
    ("port", "starts", "tone"),
    [
        (7496, "LIVE: Port 7496 is the TWS live default.", Tone.BAD),
        (4002, "Paper: Port 4002 is the IB Gateway paper default.", Tone.GOOD),
        (5555, "Unknown mode: Port 5555 is not an IB default", Tone.WARN),
        (5556, "Paper: Port 5556 is the built-in paper simulator", Tone.GOOD),
    ],
)
def test_port_words(port: int, starts: str, tone: Tone) -> None:
    words, shown_tone = port_words(port, simulator_preset(5556))
    assert words.startswith(starts)
    assert shown_tone is tone


@pytest.mark.parametrize(
    ("mode", "words", "tone"),
    [
        (AccountMode.LIVE, "LIVE account U1: real money", Tone.BAD),
        (AccountMode.PAPER, "Paper account U1", Tone.GOOD),
        (AccountMode.UNKNOWN, "Account mode unknown", Tone.WARN),
    ],
)
def test_mode_words(mode: AccountMode, words: str, tone: Tone) -> None:
    assert mode_words(mode, "U1") == (words, tone)
