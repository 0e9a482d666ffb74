"""The collaborators every part of the window receives through its constructor, and the one
place they are assembled and taken down."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ibconsole.broker.broker import Broker
from ibconsole.broker.gateway_supervisor import GatewaySupervisor
from ibconsole.broker.session import Endpoint
from ibconsole.broker.signal_inbox import SignalInbox
from ibconsole.config import Settings
from ibconsole.credentials import CredentialStore, SignalSecretStore
from ibconsole.domain.clock import Clock
from ibconsole.journal import Journal
from ibconsole.journal.signal_log import SignalLog
from ibconsole.ui.background import BackgroundRunner
from ibconsole.ui.bridge import BrokerBridge


@dataclass(slots=True, eq=False)
class UiContext:
    broker: Broker
    bridge: BrokerBridge
    runner: BackgroundRunner
    # Replaced whole when the trader saves the Settings dialog (ui/settings/applying.py): read it
    # when a setting is needed, never keep a copy.
    settings: Settings
    clock: Clock
    credentials: CredentialStore
    gateways: GatewaySupervisor  # the gateway commands of the profiles that name one
    profile_name: str  # the connection profile selected at start-up
    inbox: SignalInbox  # signals from TradingView or scripts, waiting for a trader's click
    signal_secret: SignalSecretStore


def open_context(
    settings: Settings,
    endpoint: Endpoint,
    journal_path: Path,
    clock: Clock,
    profile_name: str,
    credentials: CredentialStore | None = None,
) -> UiContext:
    """Open the journal and build the broker and its Qt bridge; nothing connects yet."""
    journal = Journal(journal_path, clock)
    broker = Broker(
        endpoint,
        journal,
        clock,
        health=settings.health,
        limits=settings.risk,
        line_budget=settings.market_data.line_budget,
        depth_rows=settings.market_data.depth_rows,
    )
    broker.orders.spread_rolls.fill_timeout = settings.spread_roll.fill_timeout.total_seconds()
    broker.orders.rolls.fill_timeout = settings.rollover.fill_timeout.total_seconds()
    credentials = credentials or CredentialStore()
    inbox = signal_inbox(broker, settings, clock)
    broker.orders.fill_recorded += inbox.on_fill
    return UiContext(
        broker=broker,
        bridge=BrokerBridge(broker),
        runner=BackgroundRunner(),
        settings=settings,
        clock=clock,
        credentials=credentials,
        gateways=GatewaySupervisor(credentials),
        profile_name=profile_name,
        inbox=inbox,
        signal_secret=SignalSecretStore(),
    )


def signal_inbox(broker: Broker, settings: Settings, clock: Clock) -> SignalInbox:
    """The signal inbox over ``broker``, journalling its signals beside the broker's orders."""
    return SignalInbox(
        broker.entry,
        broker.contracts,
        broker.calendars,
        broker.market,
        broker.journal,
        SignalLog(broker.journal.path),
        clock,
        settings.signals,
        settings.rollover,
    )


async def close_context(context: UiContext) -> None:
    """Stop background work, detach the views, disconnect, end the gateway commands and close the
    journal, in that order."""
    await context.runner.cancel_all()
    context.bridge.detach()
    context.broker.orders.fill_recorded -= context.inbox.on_fill
    await context.inbox.close()
    await context.broker.stop()
    await context.gateways.stop()
    context.broker.journal.close()
