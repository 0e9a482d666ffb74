"""Connection profiles: where and how to connect, read from ``[profiles.NAME]``."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from ibconsole.config.values import (
    ConfigError,
    Table,
    argv_words,
    non_empty_text,
    text_value,
    true_or_false,
    whole_in,
)


@dataclass(frozen=True, slots=True)
class ConnectionProfile:
    """Where and how to connect; ``keyring_entry`` names the stored login, never holds it."""

    name: str
    host: str = "127.0.0.1"
    port: int = 7497
    client_id: int = 1
    read_only: bool = False
    account: str = ""
    gateway_command: tuple[str, ...] = ()  # argv that starts IB Gateway/TWS, e.g. an IBC script
    keyring_entry: str = ""


# The profiles used when the file defines none: the paper ports of TWS and IB Gateway.
DEFAULT_PROFILES: Mapping[str, Mapping[str, object]] = MappingProxyType(
    {"tws-paper": {"port": 7497}, "gateway-paper": {"port": 4002}}
)


def default_profiles() -> Mapping[str, ConnectionProfile]:
    return MappingProxyType(
        {
            name: ConnectionProfile(name, port=whole_in(1, 65535)(spec["port"]))
            for name, spec in DEFAULT_PROFILES.items()
        }
    )


def read_profiles(table: Table) -> dict[str, ConnectionProfile]:
    profiles = {}
    for name, sub in table.subtables("profiles").items():
        if not name.strip():
            raise ConfigError("profiles: a profile needs a non-empty name")
        base = ConnectionProfile(name)
        profiles[name] = ConnectionProfile(
            name=name,
            host=sub.get("host", base.host, non_empty_text, "must be a host name or IP address"),
            port=sub.get(
                "port", base.port, whole_in(1, 65535), "must be a port number, 1 to 65535"
            ),
            client_id=sub.get(
                "client_id",
                base.client_id,
                whole_in(0, 2**31 - 1),
                "must be a whole number, 0 or more",
            ),
            read_only=sub.get("read_only", base.read_only, true_or_false, "must be true or false"),
            account=sub.get("account", base.account, text_value, "must be text (an account code)"),
            gateway_command=sub.get(
                "gateway_command",
                base.gateway_command,
                argv_words,
                'must be a list of command-line words, e.g. ["/opt/ibc/gatewaystart.sh", "-inline"]',
            ),
            keyring_entry=sub.get(
                "keyring_entry",
                base.keyring_entry,
                text_value,
                "must be text (a keyring entry name)",
            ),
        )
        sub.finish()
    return profiles


def with_default_profiles(data: Mapping[str, object]) -> dict[str, object]:
    if data.get("profiles"):
        return dict(data)
    return {**data, "profiles": copy.deepcopy(dict(DEFAULT_PROFILES))}
