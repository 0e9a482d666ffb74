"""The collaborators every part of the window receives through its constructor."""

from __future__ import annotations

from dataclasses import dataclass

from ibconsole.broker.broker import Broker
from ibconsole.config import Settings
from ibconsole.credentials import CredentialStore
from ibconsole.domain.clock import Clock
from ibconsole.ui.background import BackgroundRunner
from ibconsole.ui.bridge import BrokerBridge


@dataclass(frozen=True, slots=True)
class UiContext:
    broker: Broker
    bridge: BrokerBridge
    runner: BackgroundRunner
    settings: Settings
    clock: Clock
    credentials: CredentialStore
    profile_name: str  # the connection profile selected at start-up
