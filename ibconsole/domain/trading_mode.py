"""Live or paper: what the port preset promises, what the account code proves, and where they disagree."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from enum import StrEnum


class AccountMode(StrEnum):
    PAPER = "paper"
    LIVE = "live"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class PortPreset:
    port: int
    # "TWS", "IB Gateway", SIMULATOR, or "" when the port is not one of IB's defaults
    application: str
    mode: AccountMode

    @property
    def label(self) -> str:
        if self.application == SIMULATOR:
            return f"Port {self.port} is the {SIMULATOR}: no TWS, no real money."
        if self.mode is AccountMode.UNKNOWN:
            return f"Port {self.port} is not an IB default: the mode is confirmed after connecting."
        return f"Port {self.port} is the {self.application} {self.mode.value} default."


SIMULATOR = "built-in paper simulator"


def simulator_preset(port: int) -> PortPreset:
    """The port the console's own paper gateway simulator listens on (``--demo``)."""
    return PortPreset(port, SIMULATOR, AccountMode.PAPER)


# IB's default API ports (TWS: Global Configuration → API → Settings; Gateway: Configure → Settings).
PORT_PRESETS: tuple[PortPreset, ...] = (
    PortPreset(7496, "TWS", AccountMode.LIVE),
    PortPreset(7497, "TWS", AccountMode.PAPER),
    PortPreset(4001, "IB Gateway", AccountMode.LIVE),
    PortPreset(4002, "IB Gateway", AccountMode.PAPER),
)


def port_preset(port: int, known: PortPreset | None = None) -> PortPreset:
    """What ``port`` promises: ``known`` when it names this port (the demo's simulator, a port
    configured to stand for an IB default), else IB's default for it, if any."""
    if known is not None and known.port == port:
        return known
    for preset in PORT_PRESETS:
        if preset.port == port:
            return preset
    return PortPreset(port, "", AccountMode.UNKNOWN)


def account_mode(account_code: str) -> AccountMode:
    """Paper accounts are issued with a D prefix: DU (individual) and DF (advisor master)."""
    code = account_code.strip().upper()
    if not code:
        return AccountMode.UNKNOWN
    return AccountMode.PAPER if code.startswith(("DU", "DF")) else AccountMode.LIVE


@dataclass(frozen=True, slots=True)
class ModeVerdict:
    """The mode the console acts on, and a warning when the port and the accounts disagree."""

    mode: AccountMode
    port: PortPreset
    accounts: tuple[str, ...]
    mismatch: str  # "" when port and accounts agree

    @property
    def is_live(self) -> bool:
        return self.mode is AccountMode.LIVE


def decide_mode(
    port: int, accounts: tuple[str, ...], known: PortPreset | None = None
) -> ModeVerdict:
    """The account codes decide; the port (``port_preset``) only raises a warning when it
    promised otherwise.

    A session with any live account is live: one live account among paper ones still moves real money.
    """
    preset = port_preset(port, known)
    modes = {account_mode(a) for a in accounts} - {AccountMode.UNKNOWN}
    if AccountMode.LIVE in modes:
        mode = AccountMode.LIVE
    elif AccountMode.PAPER in modes:
        mode = AccountMode.PAPER
    else:
        mode = AccountMode.UNKNOWN
    mismatch = ""
    if mode is AccountMode.UNKNOWN:
        mismatch = "The gateway reported no account code, so live or paper cannot be confirmed."
    elif preset.mode is not AccountMode.UNKNOWN and preset.mode is not mode:
        mismatch = (
            f"Port {port} is the {preset.application} {preset.mode.value} default, but account "
            f"{', '.join(accounts)} is {mode.value.upper()}. Check which TWS or Gateway is listening."
        )
    return ModeVerdict(mode, preset, accounts, mismatch)


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses: the only hosts TWS trusts without configuration."""
    name = host.strip().lower()
    if name in {"localhost", "localhost.localdomain", "ip6-localhost"}:
        return True
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


def mask_account(account_code: str) -> str:
    """Account ids in logs keep their prefix and last two characters only."""
    code = account_code.strip()
    if len(code) <= 4:
        return "*" * len(code)
    return code[:2] + "*" * (len(code) - 4) + code[-2:]
