"""The gateway commands of the connection profiles: one launcher per profile, started with the login
the profile names in the OS keyring, restarted by its launcher after each exit (the daily
restart), ended at shutdown. The connection panel asks it for a running gateway before it
connects; it holds no Qt and no widget.

Events (eventkit, emitted on the loop thread), from whichever profile's launcher:
    ready()          a gateway's API port accepts connections
    exited(int)      a gateway command exited with this code; it is being started again
    failed(str)      a restart did not bring the port up; the sentence says why
"""

from __future__ import annotations

import logging

from ibconsole.broker.ib_client import Event
from ibconsole.broker.launcher import GatewayLauncher
from ibconsole.config import ConnectionProfile
from ibconsole.credentials import CredentialError, CredentialStore

log = logging.getLogger(__name__)


class GatewaySupervisor:
    """Starts and keeps the gateway command of each profile that names one."""

    def __init__(self, credentials: CredentialStore) -> None:
        self._credentials = credentials
        self._launchers: dict[str, GatewayLauncher] = {}
        self.ready = Event("ready")
        self.exited = Event("exited")
        self.failed = Event("failed")

    @property
    def launchers(self) -> dict[str, GatewayLauncher]:
        """The launcher of each profile started so far, by profile name."""
        return dict(self._launchers)

    async def ensure_running(self, profile: ConnectionProfile, host: str, port: int) -> None:
        """Return once ``profile``'s gateway command listens on host:port, starting it (again, if
        the endpoint moved) with the stored login in its environment.

        Raises ``CredentialError`` when the profile names a keyring entry that holds no login,
        ``LauncherError`` when the command cannot start or its port stays closed.
        """
        launcher = self._launchers.get(profile.name)
        if launcher is None or (launcher.host, launcher.port) != (host, port):
            if launcher is not None:
                await launcher.stop()
                del self._launchers[profile.name]
            launcher = self._launcher(profile, host, port)
            self._launchers[profile.name] = launcher
        if not launcher.is_ready:
            await launcher.start()

    def terminate(self) -> None:
        """End every gateway command now (SIGTERM, no waiting): for a closing window."""
        for launcher in self._launchers.values():
            launcher.terminate()
        self._launchers.clear()

    async def stop(self) -> None:
        """End every gateway command and wait for each to exit."""
        launchers = list(self._launchers.values())
        self._launchers.clear()
        for launcher in launchers:
            await launcher.stop()

    def _launcher(self, profile: ConnectionProfile, host: str, port: int) -> GatewayLauncher:
        login = self._credentials.get(profile) if profile.keyring_entry else None
        if profile.keyring_entry and login is None:
            raise CredentialError(
                f"No login is stored under keyring entry {profile.keyring_entry!r}: use "
                "Gateway login… to store it first."
            )
        launcher = GatewayLauncher(profile.gateway_command, host, port, login)
        launcher.ready += self.ready.emit
        launcher.exited += self.exited.emit
        launcher.failed += self.failed.emit
        log.info("gateway command of profile %s prepared for %s:%s", profile.name, host, port)
        return launcher
