"""Where the console's resources (icons, desktop entry, AppStream metainfo) are on disk.

The same relative name (``icons/ibconsole-64.png``) is found in a PyInstaller bundle
(``sys._MEIPASS/resources``), in a source checkout or editable install (``resources/`` beside the
package) and in an installed wheel that carries them as data files
(``<prefix>/share/ibconsole/resources``), tried in that order.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

__all__ = ["ResourceLocator", "ResourceNotFoundError", "default_locator", "resource_path"]

RESOURCES_DIRNAME = "resources"
APP_NAME = "ibconsole"
_PACKAGE_DIR = Path(__file__).resolve().parent


class ResourceNotFoundError(FileNotFoundError):
    """A resource is in none of the places looked at; the message lists them."""


@dataclass(frozen=True, slots=True)
class ResourceLocator:
    """Resource folders in the order they are searched (duplicates removed)."""

    roots: tuple[Path, ...]

    @classmethod
    def for_layout(
        cls, *, bundle_dir: str | Path | None, package_dir: Path, prefix: Path
    ) -> ResourceLocator:
        """The folders for a bundle (``sys._MEIPASS``, None when not frozen), a package, a prefix."""
        candidates: list[Path] = []
        if bundle_dir is not None:
            candidates.append(Path(bundle_dir) / RESOURCES_DIRNAME)
        candidates.append(package_dir.parent / RESOURCES_DIRNAME)
        candidates.append(prefix / "share" / APP_NAME / RESOURCES_DIRNAME)
        return cls(_unique(candidates))

    def find(self, relative: str) -> Path:
        """The first existing ``root / relative``; ``ResourceNotFoundError`` names every root."""
        parts = PurePosixPath(relative)
        if parts.is_absolute() or ".." in parts.parts or not parts.parts:
            raise ValueError(
                f"resource names are relative paths inside resources/, got {relative!r}"
            )
        for root in self.roots:
            candidate = root.joinpath(*parts.parts)
            if candidate.exists():
                return candidate
        looked = ", ".join(str(root) for root in self.roots)
        raise ResourceNotFoundError(f"resource {relative!r} is in none of: {looked}")


def _unique(paths: Iterable[Path]) -> tuple[Path, ...]:
    seen: dict[Path, None] = {}
    for path in paths:
        seen.setdefault(path, None)
    return tuple(seen)


def default_locator() -> ResourceLocator:
    """The locator for the running interpreter: frozen bundle, checkout, then installed data."""
    return ResourceLocator.for_layout(
        bundle_dir=getattr(sys, "_MEIPASS", None),
        package_dir=_PACKAGE_DIR,
        prefix=Path(sys.prefix),
    )


def resource_path(relative: str) -> Path:
    """The file or folder ``relative`` (POSIX separators) under the first resources root holding it."""
    return default_locator().find(relative)
