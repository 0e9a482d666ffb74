"""The lock, constraints.txt, covers every dependency of pyproject.toml within its ranges, and the
environment running the tests holds exactly the versions it pins."""

from __future__ import annotations

import importlib.metadata
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "constraints.txt"


def _pins(text: str) -> dict[str, Version]:
    """Package → version pinned for this interpreter and platform (markers evaluated here)."""
    pins: dict[str, Version] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        requirement = Requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        (specifier,) = requirement.specifier
        if specifier.operator != "==":
            raise ValueError(f"the lock pins with ==, not {line!r}")
        pins[canonicalize_name(requirement.name)] = Version(specifier.version)
    return pins


def _declared() -> list[Requirement]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        project = tomllib.load(file)["project"]
    lines = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        lines.extend(extra)
    return [Requirement(line) for line in lines]


def test_every_dependency_is_pinned_within_its_range() -> None:
    pins = _pins(LOCK.read_text(encoding="utf-8"))
    applicable = [r for r in _declared() if r.marker is None or r.marker.evaluate()]
    assert len(applicable) > 10
    unpinned = [str(r) for r in applicable if canonicalize_name(r.name) not in pins]
    assert unpinned == [], "make lock after editing pyproject.toml"
    outside = [
        f"{r} (locked {pins[canonicalize_name(r.name)]})"
        for r in applicable
        if not r.specifier.contains(pins[canonicalize_name(r.name)], prereleases=True)
    ]
    assert outside == [], "make lock after editing pyproject.toml"


def test_the_environment_holds_the_locked_versions() -> None:
    pins = _pins(LOCK.read_text(encoding="utf-8"))
    installed = {
        canonicalize_name(dist.metadata["Name"]): Version(dist.version)
        for dist in importlib.metadata.distributions()
    }
    assert {"pytest", "mypy", "numpy", "pyside6-essentials"} <= installed.keys() & pins.keys()
    # venv seeds Python 3.11's environments with setuptools, which only make package needs
    drift = {
        name: f"installed {installed[name]}, locked {version}"
        for name, version in pins.items()
        if name in installed and installed[name] != version and name != "setuptools"
    }
    assert drift == {}, "make installs the lock: run make (or make clean) again"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("numpy==2.4.6\n    # via pandas\n", {"numpy": Version("2.4.6")}),
        (
            "foo==1.0 ; python_full_version < '3.0'\nfoo==2.0 ; python_full_version >= '3.0'\n",
            {"foo": Version("2.0")},
        ),
        ("bar==3 ; sys_platform == 'no-such-platform'\n", {}),
    ],
)
def test_pins_follow_their_markers(text: str, expected: dict[str, Version]) -> None:
    assert _pins(text) == expected


def test_a_range_in_the_lock_is_refused() -> None:
    with pytest.raises(ValueError, match="pins with =="):
        _pins("numpy>=2\n")
