"""Fixtures of the packaging tests: the build scripts outside the package, loaded by path."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None, f"cannot load {path}"
    assert spec.loader is not None, f"cannot load {path}"
    module = importlib.util.module_from_spec(spec)
    # Dataclasses look their module up in sys.modules while the class is being built.
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def platform_icons() -> ModuleType:
    """resources/make_platform_icons.py, which packs the PNGs into .ico and .icns."""
    return _load("make_platform_icons", ROOT / "resources" / "make_platform_icons.py")


@pytest.fixture(scope="session")
def check_bundle() -> ModuleType:
    """packaging/check_bundle.py, the end-to-end check of a built bundle."""
    return _load("check_bundle", ROOT / "packaging" / "check_bundle.py")


@pytest.fixture(scope="session")
def rendered_pngs(platform_icons: ModuleType) -> dict[int, bytes]:
    """The committed icon PNGs keyed by size."""
    pngs: dict[int, bytes] = platform_icons.rendered_pngs(ROOT / "resources" / "icons")
    return pngs
