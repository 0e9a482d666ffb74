"""Gateway logins kept in the OS keyring, looked up by a profile's ``keyring_entry``, and the
signal inbox's shared secret (entry ``SIGNAL_SECRET_ENTRY``; ``IBCONSOLE_SIGNAL_SECRET`` stands
in for it where there is no keyring).

The secret never passes through the config file, a log record or a repr: ``Login`` hides its
password, and errors name the entry, not its contents.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from ibconsole.config import SIGNAL_SECRET_VARIABLE, ConnectionProfile

__all__ = [
    "MIN_SIGNAL_SECRET",
    "SERVICE",
    "SIGNAL_SECRET_ENTRY",
    "SIGNAL_SECRET_VARIABLE",
    "CredentialError",
    "CredentialStore",
    "Login",
    "SignalSecretStore",
    "find_keyring",
]

_log = logging.getLogger(__name__)

# keyring is imported where it is used, never at start-up: it and the plugin machinery it loads
# are a tenth of a second the console's first paint does without (app.Console.start finds the
# backend just after that paint, so no click pays for it).

SERVICE = "ibconsole"
# The keyring item (of SERVICE) that holds the signal inbox's shared secret.
SIGNAL_SECRET_ENTRY = "signal-inbox:secret"


def find_keyring() -> None:
    """Choose the OS keyring's backend now: the first read does it otherwise, a few hundred
    milliseconds (every installed package's entry points are scanned) on whatever click asks."""
    import keyring  # imported on use: see the note above

    keyring.get_keyring()


class CredentialError(RuntimeError):
    """The keyring is unavailable or refused; the message names the entry, never the secret."""


@dataclass(frozen=True, slots=True)
class Login:
    """An IB username and password for a gateway launcher; the password stays out of reprs."""

    username: str
    password: str = field(repr=False)

    def __repr__(self) -> str:
        return f"Login(username={self.username!r}, password=<hidden>)"

    __str__ = __repr__


def _entry(profile: ConnectionProfile) -> str:
    if not profile.keyring_entry:
        raise CredentialError(
            f"Profile {profile.name!r} names no keyring_entry, so it has no stored login"
        )
    return profile.keyring_entry


class CredentialStore:
    """Get, set and delete a profile's login in the keyring chosen by ``keyring.set_keyring``.

    Each entry is two keyring items of the service ``ibconsole``: ``<entry>:username`` and
    ``<entry>:password``.
    """

    def __init__(self, service: str = SERVICE) -> None:
        self._service = service

    def get(self, profile: ConnectionProfile) -> Login | None:
        import keyring.errors  # imported on use: see the note above

        entry = _entry(profile)
        try:
            username = keyring.get_password(self._service, f"{entry}:username")
            password = keyring.get_password(self._service, f"{entry}:password")
        except keyring.errors.KeyringError as error:
            raise CredentialError(
                f"The OS keyring could not be read for entry {entry!r}: {type(error).__name__}"
            ) from None
        if username is None or password is None:
            return None
        return Login(username, password)

    def set(self, profile: ConnectionProfile, login: Login) -> None:
        import keyring.errors  # imported on use: see the note above

        entry = _entry(profile)
        if not login.username or not login.password:
            raise CredentialError(f"A login for entry {entry!r} needs a username and a password")
        try:
            keyring.set_password(self._service, f"{entry}:username", login.username)
            keyring.set_password(self._service, f"{entry}:password", login.password)
        except keyring.errors.KeyringError as error:
            raise CredentialError(
                f"The OS keyring refused to store entry {entry!r}: {type(error).__name__}"
            ) from None
        _log.info("stored the login of keyring entry %r", entry)

    def delete(self, profile: ConnectionProfile) -> bool:
        """Remove the login; False when there was none."""
        import keyring.errors  # imported on use: see the note above

        entry = _entry(profile)
        removed = False
        for item in (f"{entry}:username", f"{entry}:password"):
            try:
                keyring.delete_password(self._service, item)
                removed = True
            except keyring.errors.PasswordDeleteError:
                continue
            except keyring.errors.KeyringError as error:
                raise CredentialError(
                    f"The OS keyring could not delete entry {entry!r}: {type(error).__name__}"
                ) from None
        if removed:
            _log.info("deleted the login of keyring entry %r", entry)
        return removed


# Shorter secrets are guessable by anyone who can reach the endpoint (through the reverse proxy).
MIN_SIGNAL_SECRET = 16


class SignalSecretStore:
    """The signal inbox's shared secret: the environment variable ``IBCONSOLE_SIGNAL_SECRET``
    (headless use, tests) when set, else the keyring item ``SIGNAL_SECRET_ENTRY`` of the service
    ``ibconsole``, set from the inbox dock or the settings dialog. Never the config file, argv or a log."""

    def __init__(self, environ: Mapping[str, str] | None = None, service: str = SERVICE) -> None:
        self._environ = os.environ if environ is None else environ
        self._service = service

    @property
    def from_environment(self) -> bool:
        return bool(self._environ.get(SIGNAL_SECRET_VARIABLE))

    def get(self) -> str | None:
        """The secret, or None when none is set anywhere."""
        value = self._environ.get(SIGNAL_SECRET_VARIABLE)
        if value:
            return value
        import keyring.errors  # imported on use: see the note above

        try:
            return keyring.get_password(self._service, SIGNAL_SECRET_ENTRY)
        except keyring.errors.KeyringError as error:
            raise CredentialError(
                f"The OS keyring could not be read for the signal secret: {type(error).__name__}"
            ) from None

    def set(self, secret: str) -> None:
        """Keep ``secret`` in the keyring (the environment variable, when set, still wins)."""
        import keyring.errors  # imported on use: see the note above

        if len(secret) < MIN_SIGNAL_SECRET or not secret.isprintable() or secret != secret.strip():
            raise CredentialError(
                f"A signal secret needs at least {MIN_SIGNAL_SECRET} printable characters, "
                "without spaces at either end"
            )
        try:
            keyring.set_password(self._service, SIGNAL_SECRET_ENTRY, secret)
        except keyring.errors.KeyringError as error:
            raise CredentialError(
                f"The OS keyring refused to store the signal secret: {type(error).__name__}"
            ) from None
        _log.info("stored the signal inbox's secret in the keyring")
