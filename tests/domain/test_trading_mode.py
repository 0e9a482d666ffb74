from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ibconsole.domain.trading_mode import (
    AccountMode,
    account_mode,
    decide_mode,
    is_loopback,
    mask_account,
    port_preset,
)


@pytest.mark.parametrize(
    ("port", "application", "mode"),
    [
        (7496, "TWS", AccountMode.LIVE),
        (7497, "TWS", AccountMode.PAPER),
        (4001, "IB Gateway", AccountMode.LIVE),
        (4002, "IB Gateway", AccountMode.PAPER),
        (5000, "", AccountMode.UNKNOWN),
    ],
)
def test_port_presets_name_application_and_mode(
    port: int, application: str, mode: AccountMode
) -> None:
    preset = port_preset(port)
    assert (preset.application, preset.mode) == (application, mode)
    assert str(port) in preset.label


@pytest.mark.parametrize(
    ("code", "mode"),
    [
        ("DU1234567", AccountMode.PAPER),
        ("du1234567", AccountMode.PAPER),
        ("DF998877", AccountMode.PAPER),
        ("U1234567", AccountMode.LIVE),
        ("F1234567", AccountMode.LIVE),
        ("", AccountMode.UNKNOWN),
    ],
)
def test_account_code_decides_paper_or_live(code: str, mode: AccountMode) -> None:
    assert account_mode(code) is mode


def test_paper_port_with_live_account_is_live_and_warns() -> None:
    verdict = decide_mode(7497, ("U7654321",))
    assert verdict.is_live
    assert "7497" in verdict.mismatch
    assert "LIVE" in verdict.mismatch


def test_live_port_with_paper_account_is_paper_and_warns() -> None:
    verdict = decide_mode(4001, ("DU1234567",))
    assert verdict.mode is AccountMode.PAPER
    assert "PAPER" in verdict.mismatch


def test_matching_port_and_account_raise_no_warning() -> None:
    assert decide_mode(7497, ("DU1234567",)).mismatch == ""
    assert decide_mode(4001, ("U1234567",)).mismatch == ""
    assert decide_mode(5555, ("U1234567",)).mismatch == ""


def test_one_live_account_among_paper_ones_makes_the_session_live() -> None:
    assert decide_mode(7497, ("DU1", "U2")).is_live


def test_no_account_code_is_unknown_and_said_so() -> None:
    verdict = decide_mode(7497, ())
    assert verdict.mode is AccountMode.UNKNOWN
    assert "no account" in verdict.mismatch


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.5.0.9", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("192.168.1.20", False),
        ("tws.example.org", False),
        ("", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@given(st.text(alphabet="DUF0123456789", min_size=5, max_size=12))
def test_masked_account_never_reveals_the_middle(code: str) -> None:
    masked = mask_account(code)
    assert len(masked) == len(code)
    assert masked[2:-2] == "*" * (len(code) - 4)
