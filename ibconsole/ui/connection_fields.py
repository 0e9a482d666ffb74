"""What the connection panel's fields accept and how it words a port, a probe and its diagnosis:
plain functions over text, tested without a window."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ibconsole.broker.probe import Diagnosis, ProbeReport
from ibconsole.domain.trading_mode import AccountMode, PortPreset, port_preset
from ibconsole.ui.theme import Tone

MAX_CLIENT_ID = 2**31 - 1
_HOST = re.compile(r"^[A-Za-z0-9._:\[\]-]+$")
_ACCOUNT = re.compile(r"^[A-Za-z0-9]+$")

DIAGNOSIS_WORDS: dict[Diagnosis, str] = {
    Diagnosis.OK: "Test passed",
    Diagnosis.NOT_LISTENING: "Not listening",
    Diagnosis.UNREACHABLE: "Host unreachable",
    Diagnosis.TCP_TIMEOUT: "No answer (timeout)",
    Diagnosis.CLIENT_ID_IN_USE: "clientId in use",
    Diagnosis.CLOSED_DURING_HANDSHAKE: "Closed during the handshake",
    Diagnosis.HANDSHAKE_TIMEOUT: "Handshake not completed",
    Diagnosis.NO_ROUND_TRIP: "No round trip",
}


@dataclass(frozen=True, slots=True)
class FieldErrors:
    host: str = ""
    port: str = ""
    client_id: str = ""
    account: str = ""

    @property
    def any(self) -> bool:
        return bool(self.host or self.port or self.client_id or self.account)


def host_error(text: str) -> str:
    host = text.strip()
    if not host:
        return (
            "Enter the host name or IP address where TWS/Gateway runs (127.0.0.1 for this machine)."
        )
    if not _HOST.match(host):
        return f"{host!r} is not a host name or IP address (letters, digits, dots, dashes)."
    return ""


def parse_port(text: str) -> tuple[int | None, str]:
    value = text.strip()
    if not value:
        return None, "Enter the API port (TWS 7496/7497, IB Gateway 4001/4002)."
    if not value.isdigit() or not 1 <= int(value) <= 65535:
        return None, f"{value!r} is not a port: a whole number from 1 to 65535."
    return int(value), ""


def parse_client_id(text: str) -> tuple[int | None, str]:
    value = text.strip()
    if not value:
        return None, "Enter a clientId: a whole number, 0 or more, unique per connected program."
    if not value.isdigit() or int(value) > MAX_CLIENT_ID:
        return None, f"{value!r} is not a clientId: a whole number from 0 to {MAX_CLIENT_ID}."
    return int(value), ""


def account_error(text: str) -> str:
    value = text.strip()
    if value and not _ACCOUNT.match(value):
        return f"{value!r} is not an account code: letters and digits only, e.g. DU1234567."
    return ""


def port_words(port: int, known: PortPreset | None = None) -> tuple[str, Tone]:
    """What the port promises, said with its mode: live ports in red, unknown ones in amber."""
    preset = port_preset(port, known)
    if preset.mode is AccountMode.LIVE:
        return f"LIVE: {preset.label} Orders will move real money.", Tone.BAD
    if preset.mode is AccountMode.PAPER:
        return f"Paper: {preset.label}", Tone.GOOD
    return f"Unknown mode: {preset.label}", Tone.WARN


def probe_summary(report: ProbeReport) -> str:
    """Measurements of a test connection, in one line."""
    parts = []
    if report.tcp_ms is not None:
        parts.append(f"TCP {report.tcp_ms:.1f} ms")
    if report.server_version is not None:
        parts.append(f"server version {report.server_version}")
    if report.accounts:
        parts.append(f"accounts {', '.join(report.accounts)}")
    if report.round_trip_ms is not None:
        parts.append(f"round trip {report.round_trip_ms:.1f} ms")
    if report.mode is not None and report.mode.mode is not AccountMode.UNKNOWN:
        parts.append(f"{report.mode.mode.value} account")
    return " · ".join(parts)


def probe_text(report: ProbeReport) -> str:
    """A test connection's verdict, advice, measurements and any mode mismatch, line by line."""
    headline = DIAGNOSIS_WORDS[report.diagnosis]
    lines = [
        f"{'✔' if report.ok else '✖'} {headline} — {report.host}:{report.port}",
        report.advice,
    ]
    measured = probe_summary(report)
    if measured:
        lines.append(measured)
    if report.mode is not None and report.mode.mismatch:
        lines.append(f"⚠ {report.mode.mismatch}")
    return "\n".join(lines)


def mode_words(mode: AccountMode, account: str) -> tuple[str, Tone]:
    """Live or paper as the account code proved it, in words and colour."""
    if mode is AccountMode.LIVE:
        return f"LIVE account {account}: real money", Tone.BAD
    if mode is AccountMode.PAPER:
        return f"Paper account {account}", Tone.GOOD
    return "Account mode unknown", Tone.WARN
