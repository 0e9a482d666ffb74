"""Which alert kinds notify and sound: every kind has a choice, and the master switch wins."""

from __future__ import annotations

import pytest

from ibconsole.domain.alert_kinds import AlertKind, AlertSettings


def test_every_kind_notifies_by_default_and_the_urgent_ones_sound() -> None:
    settings = AlertSettings()
    assert all(settings.wants_notification(kind) for kind in AlertKind)
    assert settings.wants_sound(AlertKind.REJECT)
    assert not settings.wants_sound(AlertKind.CONNECTION_RESTORED)


def test_the_master_switch_silences_every_kind() -> None:
    settings = AlertSettings(sound_enabled=False)
    assert not any(settings.wants_sound(kind) for kind in AlertKind)


def test_a_kind_without_a_choice_is_refused() -> None:
    with pytest.raises(ValueError, match=r"alerts\.sound has no choice for price"):
        AlertSettings(sound={kind: True for kind in AlertKind if kind is not AlertKind.PRICE})
