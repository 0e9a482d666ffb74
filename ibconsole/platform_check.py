"""Before Qt starts on Linux: can it load, and can the display platform it will pick load?

When a system library is missing, Qt prints a misleading hint (it blames libxcb-cursor0 for any
missing xcb library) and aborts with a core dump. This check runs first and says, in plain words,
which libraries are missing and which packages provide them.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

__all__ = [
    "EXIT_QT_CANNOT_START",
    "GUI_LIBRARIES",
    "OPTIONAL_LIBRARIES",
    "PLATFORM_LIBRARIES",
    "PlatformProblem",
    "SystemLibrary",
    "diagnose",
    "exit_if_qt_cannot_start",
    "library_loads",
    "platform_candidates",
]

EXIT_QT_CANNOT_START = 3


@dataclass(frozen=True, slots=True)
class SystemLibrary:
    """A shared library Qt needs from the system, and the packages that install it."""

    soname: str
    debian: str  # Debian and Ubuntu (apt)
    fedora: str  # Fedora and RHEL (dnf)


def _libraries(*rows: tuple[str, str, str]) -> tuple[SystemLibrary, ...]:
    return tuple(SystemLibrary(*row) for row in rows)


# What QtCore, QtGui, QtDBus, QtWidgets and QtSvg of the PySide6 wheels link against and do not
# ship (readelf -d on PySide6/Qt/lib/*.so.6); without one of them `import PySide6.QtGui` fails.
GUI_LIBRARIES = _libraries(
    ("libEGL.so.1", "libegl1", "libglvnd-egl"),
    ("libGL.so.1", "libgl1", "libglvnd-glx"),
    ("libX11.so.6", "libx11-6", "libX11"),
    ("libxkbcommon.so.0", "libxkbcommon0", "libxkbcommon"),
    ("libfontconfig.so.1", "libfontconfig1", "fontconfig"),
    ("libfreetype.so.6", "libfreetype6", "freetype"),
    ("libglib-2.0.so.0", "libglib2.0-0", "glib2"),
    ("libgthread-2.0.so.0", "libglib2.0-0", "glib2"),
    ("libdbus-1.so.3", "libdbus-1-3", "dbus-libs"),
    ("libz.so.1", "zlib1g", "zlib"),
    ("libzstd.so.1", "libzstd1", "libzstd"),
)

# What each Linux platform plugin adds (readelf -d on plugins/platforms/libqxcb.so with
# libQt6XcbQpa.so.6, and on libqwayland.so with libQt6WaylandClient.so.6).
PLATFORM_LIBRARIES: Mapping[str, tuple[SystemLibrary, ...]] = MappingProxyType(
    {
        "xcb": _libraries(
            ("libxcb.so.1", "libxcb1", "libxcb"),
            ("libX11-xcb.so.1", "libx11-xcb1", "libX11-xcb"),
            ("libxcb-cursor.so.0", "libxcb-cursor0", "xcb-util-cursor"),
            ("libxcb-icccm.so.4", "libxcb-icccm4", "xcb-util-wm"),
            ("libxcb-image.so.0", "libxcb-image0", "xcb-util-image"),
            ("libxcb-keysyms.so.1", "libxcb-keysyms1", "xcb-util-keysyms"),
            ("libxcb-randr.so.0", "libxcb-randr0", "libxcb"),
            ("libxcb-render.so.0", "libxcb-render0", "libxcb"),
            ("libxcb-render-util.so.0", "libxcb-render-util0", "xcb-util-renderutil"),
            ("libxcb-shape.so.0", "libxcb-shape0", "libxcb"),
            ("libxcb-shm.so.0", "libxcb-shm0", "libxcb"),
            ("libxcb-sync.so.1", "libxcb-sync1", "libxcb"),
            ("libxcb-util.so.1", "libxcb-util1", "xcb-util"),
            ("libxcb-xfixes.so.0", "libxcb-xfixes0", "libxcb"),
            ("libxcb-xkb.so.1", "libxcb-xkb1", "libxcb"),
            ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0", "libxkbcommon-x11"),
        ),
        "wayland": _libraries(
            ("libwayland-client.so.0", "libwayland-client0", "libwayland-client"),
            ("libwayland-cursor.so.0", "libwayland-cursor0", "libwayland-cursor"),
        ),
    }
)

# Loaded only by OpenGL integration plugins (xcb GLX, Wayland EGL); without them Qt draws the
# widgets in software, so their absence stops nothing and is not reported.
OPTIONAL_LIBRARIES = _libraries(
    ("libxcb-glx.so.0", "libxcb-glx0", "libxcb"),
    ("libwayland-egl.so.1", "libwayland-egl1", "libwayland-egl"),
)

_PLATFORM_TITLES = MappingProxyType({"xcb": "X11 platform (xcb)", "wayland": "Wayland platform"})
_HEADLESS_HINT = "To run without a screen (with --screenshot), set QT_QPA_PLATFORM=offscreen."


@dataclass(frozen=True, slots=True)
class PlatformProblem:
    """Why one platform plugin will not load: libraries it lacks, or no X11 display to open."""

    platform: str
    missing: tuple[SystemLibrary, ...] = ()
    no_display: bool = False


def platform_candidates(environ: Mapping[str, str]) -> tuple[str, ...]:
    """The platform plugins Qt 6 tries on Linux, in order, each without its ``:options``.

    ``QT_QPA_PLATFORM`` decides when set (``wayland;xcb`` means try both); otherwise Qt puts
    Wayland first in a Wayland session and falls back to its default, xcb.
    """
    requested = environ.get("QT_QPA_PLATFORM", "").strip()
    if requested:
        names = (entry.split(":", 1)[0].strip() for entry in requested.split(";"))
        return tuple(name for name in names if name)
    wayland = bool(environ.get("WAYLAND_DISPLAY")) or environ.get("XDG_SESSION_TYPE") == "wayland"
    return ("wayland", "xcb") if wayland else ("xcb",)


def _family(platform: str) -> str:
    # wayland-egl and wayland-brcm are variants of the Wayland plugin with its libraries.
    return "wayland" if platform.startswith("wayland") else platform


def library_loads(soname: str) -> bool:
    """Whether ``soname`` is in the bundle (when frozen) or loads as the dynamic linker finds it."""
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle is not None and (Path(bundle) / soname).is_file():
        return True
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def diagnose(
    environ: Mapping[str, str],
    can_load: Callable[[str], bool] = library_loads,
    *,
    system: str = sys.platform,
) -> str | None:
    """What stops Qt from opening a window here, in plain words; None when nothing is known to.

    Only Linux is checked: Qt ships its platform plugin's libraries on Windows and macOS. A
    platform this check does not know (offscreen, eglfs, ...) is assumed to load.
    """
    if not system.startswith("linux"):
        return None
    missing_gui = tuple(lib for lib in GUI_LIBRARIES if not can_load(lib.soname))
    if missing_gui:
        return (
            "ibconsole cannot start Qt: it needs system libraries that are not installed: "
            f"{_sonames(missing_gui)}.\n{_install_advice(missing_gui)}"
        )
    problems: list[PlatformProblem] = []
    for platform in platform_candidates(environ):
        family = _family(platform)
        libraries = PLATFORM_LIBRARIES.get(family)
        if libraries is None:
            return None
        missing = tuple(lib for lib in libraries if not can_load(lib.soname))
        no_display = family == "xcb" and not environ.get("DISPLAY")
        if not missing and not no_display:
            return None
        problems.append(PlatformProblem(platform, missing, no_display))
    return _explain(problems)


def _explain(problems: Iterable[PlatformProblem]) -> str:
    lines = ["ibconsole cannot open its window."]
    missing: list[SystemLibrary] = []
    displays: list[str] = []
    for problem in problems:
        title = _PLATFORM_TITLES.get(_family(problem.platform), f"{problem.platform} platform")
        if problem.missing:
            lines.append(
                f"Qt's {title} needs system libraries that are not installed: "
                f"{_sonames(problem.missing)}."
            )
            missing.extend(problem.missing)
        if problem.no_display:
            displays.append(
                f"Qt's {title} needs a display, but DISPLAY is not set: start ibconsole from "
                "a desktop session."
            )
    if missing:
        lines.append(_install_advice(missing))
    lines += displays
    lines.append(_HEADLESS_HINT)
    return "\n".join(lines)


def _sonames(libraries: Iterable[SystemLibrary]) -> str:
    return ", ".join(lib.soname for lib in libraries)


def _install_advice(libraries: Iterable[SystemLibrary]) -> str:
    chosen = tuple(libraries)
    debian = " ".join(dict.fromkeys(lib.debian for lib in chosen))
    fedora = " ".join(dict.fromkeys(lib.fedora for lib in chosen))
    return (
        "Install them, then start ibconsole again:\n"
        f"  Debian, Ubuntu:  sudo apt install {debian}\n"
        f"  Fedora:          sudo dnf install {fedora}"
    )


def exit_if_qt_cannot_start(environ: Mapping[str, str] | None = None) -> None:
    """Print why Qt cannot open a window and exit with status 3, before Qt aborts on its own."""
    message = diagnose(os.environ if environ is None else environ)
    if message is not None:
        print(message, file=sys.stderr)
        raise SystemExit(EXIT_QT_CANNOT_START)
