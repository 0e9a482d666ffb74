"""The resource finder: bundle first, then the checkout, then installed data; clear misses."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ibconsole.resources_path import (
    ResourceLocator,
    ResourceNotFoundError,
    default_locator,
    resource_path,
)


def test_roots_are_bundle_then_checkout_then_prefix(tmp_path: Path) -> None:
    locator = ResourceLocator.for_layout(
        bundle_dir=tmp_path / "bundle",
        package_dir=tmp_path / "src" / "ibconsole",
        prefix=tmp_path / "venv",
    )

    assert locator.roots == (
        tmp_path / "bundle" / "resources",
        tmp_path / "src" / "resources",
        tmp_path / "venv" / "share" / "ibconsole" / "resources",
    )


def test_a_frozen_package_beside_its_resources_gives_one_root(tmp_path: Path) -> None:
    # In a PyInstaller bundle the package's __file__ lies in sys._MEIPASS itself.
    locator = ResourceLocator.for_layout(
        bundle_dir=tmp_path, package_dir=tmp_path / "ibconsole", prefix=tmp_path / "p"
    )

    assert locator.roots.count(tmp_path / "resources") == 1
    assert len(locator.roots) == 2


def test_the_first_root_holding_the_file_wins(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    (second / "icons").mkdir(parents=True)
    (second / "icons" / "x.png").write_bytes(b"second")
    (second / "only.txt").write_text("second")
    (first / "icons").mkdir(parents=True)
    (first / "icons" / "x.png").write_bytes(b"first")
    locator = ResourceLocator((first, second))

    assert locator.find("icons/x.png") == first / "icons" / "x.png"
    assert locator.find("only.txt") == second / "only.txt"


def test_a_missing_resource_names_every_place_looked(tmp_path: Path) -> None:
    locator = ResourceLocator((tmp_path / "a", tmp_path / "b"))

    with pytest.raises(ResourceNotFoundError, match=r"'icons/none\.png' is in none of") as error:
        locator.find("icons/none.png")
    assert str(tmp_path / "a") in str(error.value)
    assert str(tmp_path / "b") in str(error.value)


@pytest.mark.parametrize("name", ["/etc/passwd", "../pyproject.toml", "icons/../../x", ""])
def test_names_outside_the_resources_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="relative paths inside resources/"):
        ResourceLocator((tmp_path,)).find(name)


def test_the_checkout_resources_are_found() -> None:
    for name in (
        "icons/ibconsole-64.png",
        "icons/ibconsole.svg",
        "ibconsole.desktop",
        "io.github.ibconsole.metainfo.xml",
    ):
        assert resource_path(name).is_file(), name


def test_a_bundle_folder_is_searched_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "resources" / "icons").mkdir(parents=True)
    bundled = tmp_path / "resources" / "icons" / "ibconsole-64.png"
    bundled.write_bytes(b"bundled")
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)

    assert default_locator().roots[0] == tmp_path / "resources"
    assert resource_path("icons/ibconsole-64.png") == bundled
