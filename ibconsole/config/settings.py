"""The settings as one frozen object, and how parsed TOML becomes it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from ibconsole.config.profiles import (
    ConnectionProfile,
    default_profiles,
    read_profiles,
    with_default_profiles,
)
from ibconsole.config.sections import (
    read_alerts,
    read_health,
    read_ladder,
    read_market_data,
    read_option_chain,
    read_risk,
    read_rollover,
    read_signals,
    read_spread_roll,
)
from ibconsole.config.values import ConfigError, Table, file_path, non_empty_text, one_of, whole_in
from ibconsole.domain.alert_kinds import AlertSettings
from ibconsole.domain.health import HealthSettings
from ibconsole.domain.ladder import LadderSettings
from ibconsole.domain.market_lines import MarketDataSettings
from ibconsole.domain.option_chain import OptionChainSettings
from ibconsole.domain.risk import RiskLimits
from ibconsole.domain.rollover import RolloverSettings
from ibconsole.domain.signals import SignalSettings
from ibconsole.domain.spread_roll import SpreadRollSettings

SCHEMA_VERSION = 1
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True, slots=True)
class Settings:
    source: Path | None = None  # the file read, None when built from defaults alone
    log_level: str = "INFO"
    journal_path: Path | None = None  # None: the journal's default location
    default_profile: str = "tws-paper"
    profiles: Mapping[str, ConnectionProfile] = field(default_factory=default_profiles)
    risk: RiskLimits = field(default_factory=RiskLimits)
    rollover: RolloverSettings = field(default_factory=RolloverSettings)
    health: HealthSettings = field(default_factory=HealthSettings)
    spread_roll: SpreadRollSettings = field(default_factory=SpreadRollSettings)
    market_data: MarketDataSettings = field(default_factory=MarketDataSettings)
    ladder: LadderSettings = field(default_factory=LadderSettings)
    option_chain: OptionChainSettings = field(default_factory=OptionChainSettings)
    signals: SignalSettings = field(default_factory=SignalSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)

    def profile(self, name: str | None = None) -> ConnectionProfile:
        """The named profile, or the default one; ``ConfigError`` lists the known names."""
        wanted = name if name is not None else self.default_profile
        try:
            return self.profiles[wanted]
        except KeyError:
            known = ", ".join(sorted(self.profiles)) or "none"
            raise ConfigError(
                f"There is no connection profile {wanted!r}; known: {known}"
            ) from None


def parse_settings(
    data: Mapping[str, object],
    *,
    source: Path | None = None,
    origins: Mapping[str, str] | None = None,
) -> Settings:
    """Build settings from parsed TOML; ``origins`` maps dotted keys to the variable that set them."""
    root = Table(with_default_profiles(data), "", origins or {})
    version = root.get("schema_version", None, whole_in(), f"must be {SCHEMA_VERSION}")
    if version is None:
        raise ConfigError(
            f"schema_version is missing; this version of ibconsole reads schema_version = "
            f"{SCHEMA_VERSION}"
        )
    if version != SCHEMA_VERSION:
        raise root.fail(
            "schema_version",
            version,
            f"this version of ibconsole reads schema_version = {SCHEMA_VERSION}",
        )
    base = Settings()
    log_level = root.get(
        "log_level",
        base.log_level,
        one_of(_LOG_LEVELS, upper=True),
        f"must be one of {', '.join(_LOG_LEVELS)}",
    )
    journal_path = root.get("journal_path", None, file_path, "must be a file path")
    if journal_path is not None and not journal_path.is_absolute() and source is not None:
        journal_path = source.parent / journal_path
    profiles = read_profiles(root)
    default_profile = root.get(
        "default_profile", next(iter(profiles)), non_empty_text, "must name a profile"
    )
    if default_profile not in profiles:
        raise root.fail(
            "default_profile", default_profile, f"must name a profile: {', '.join(profiles)}"
        )
    rollover = root.table("rollover")
    settings = Settings(
        source=source,
        log_level=log_level,
        journal_path=journal_path,
        default_profile=default_profile,
        profiles=MappingProxyType(profiles),
        risk=read_risk(root.table("risk")),
        spread_roll=read_spread_roll(rollover.table("spread")),
        rollover=read_rollover(rollover),
        health=read_health(root.table("health")),
        market_data=read_market_data(root.table("market_data")),
        ladder=read_ladder(root.table("ladder")),
        option_chain=read_option_chain(root.table("option_chain")),
        signals=read_signals(root.table("signals")),
        alerts=read_alerts(root.table("alerts")),
    )
    root.finish()
    return settings
