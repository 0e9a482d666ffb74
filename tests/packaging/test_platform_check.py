"""The check before Qt starts: which platform Qt will try, and what it says when one cannot load."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ibconsole.platform_check import (
    EXIT_QT_CANNOT_START,
    GUI_LIBRARIES,
    OPTIONAL_LIBRARIES,
    PLATFORM_LIBRARIES,
    diagnose,
    exit_if_qt_cannot_start,
    library_loads,
    platform_candidates,
)

X11 = {"DISPLAY": ":0"}
WAYLAND = {"WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland", "DISPLAY": ":0"}


def loads_all_but(*absent: str) -> Callable[[str], bool]:
    return lambda soname: soname not in absent


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, ("xcb",)),
        (X11, ("xcb",)),
        (WAYLAND, ("wayland", "xcb")),
        ({"XDG_SESSION_TYPE": "wayland"}, ("wayland", "xcb")),
        ({"QT_QPA_PLATFORM": "offscreen", **WAYLAND}, ("offscreen",)),
        ({"QT_QPA_PLATFORM": "wayland;xcb"}, ("wayland", "xcb")),
        ({"QT_QPA_PLATFORM": "xcb:nomitshm; wayland-egl"}, ("xcb", "wayland-egl")),
    ],
)
def test_platform_candidates_follow_qt(environ: dict[str, str], expected: tuple[str, ...]) -> None:
    assert platform_candidates(environ) == expected


def test_nothing_is_reported_when_every_library_loads() -> None:
    assert diagnose(X11, loads_all_but(), system="linux") is None


def test_windows_and_macos_are_not_checked() -> None:
    for system in ("win32", "darwin"):
        assert diagnose({}, loads_all_but("libxcb-cursor.so.0"), system=system) is None


def test_missing_xcb_libraries_are_named_with_their_packages() -> None:
    message = diagnose(
        X11, loads_all_but("libxcb-icccm.so.4", "libxcb-keysyms.so.1"), system="linux"
    )

    assert message is not None
    assert "X11 platform (xcb) needs system libraries that are not installed" in message
    assert "libxcb-icccm.so.4, libxcb-keysyms.so.1." in message
    assert "sudo apt install libxcb-icccm4 libxcb-keysyms1" in message
    assert "sudo dnf install xcb-util-wm xcb-util-keysyms" in message
    assert "libxcb-cursor" not in message
    assert "QT_QPA_PLATFORM=offscreen" in message


def test_xcb_without_a_display_says_so() -> None:
    message = diagnose({"QT_QPA_PLATFORM": "xcb"}, loads_all_but(), system="linux")

    assert message is not None
    assert "needs a display, but DISPLAY is not set" in message
    assert "apt install" not in message


def test_wayland_that_loads_makes_missing_xcb_libraries_harmless() -> None:
    assert diagnose(WAYLAND, loads_all_but("libxcb-cursor.so.0"), system="linux") is None


def test_xcb_is_the_fallback_when_wayland_cannot_load() -> None:
    fallback_works = diagnose(WAYLAND, loads_all_but("libwayland-cursor.so.0"), system="linux")
    both_fail = diagnose(
        WAYLAND, loads_all_but("libwayland-cursor.so.0", "libxcb-cursor.so.0"), system="linux"
    )

    assert fallback_works is None
    assert both_fail is not None
    assert "Wayland platform needs system libraries that are not installed" in both_fail
    assert "X11 platform (xcb) needs" in both_fail
    assert "sudo apt install libwayland-cursor0 libxcb-cursor0" in both_fail


def test_packages_shared_by_several_libraries_are_listed_once() -> None:
    message = diagnose(X11, loads_all_but("libxcb-shm.so.0", "libxcb-sync.so.1"), system="linux")

    assert message is not None
    assert re.search(r"sudo dnf install libxcb$", message, re.MULTILINE)


def test_platforms_without_system_libraries_are_assumed_to_load() -> None:
    environ = {"QT_QPA_PLATFORM": "offscreen"}

    assert diagnose(environ, loads_all_but("libxcb-cursor.so.0"), system="linux") is None


def test_a_library_qt_itself_needs_is_reported_before_any_platform() -> None:
    environ = {"QT_QPA_PLATFORM": "offscreen"}
    message = diagnose(environ, loads_all_but("libEGL.so.1"), system="linux")

    assert message is not None
    assert message.startswith("ibconsole cannot start Qt")
    assert "libEGL.so.1" in message
    assert "sudo apt install libegl1" in message


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the check runs on Linux only")
def test_the_console_exits_with_the_message_instead_of_starting_qt(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as stopped:
        exit_if_qt_cannot_start({"QT_QPA_PLATFORM": "xcb"})

    assert stopped.value.code == EXIT_QT_CANNOT_START
    assert capsys.readouterr().err.startswith("ibconsole cannot open its window.\n")


def test_offscreen_passes_the_check_here() -> None:
    exit_if_qt_cannot_start({"QT_QPA_PLATFORM": "offscreen"})


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="sonames are Linux names")
def test_library_loads_asks_the_dynamic_linker_and_the_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "libbundled-only.so.1").write_bytes(b"")

    assert library_loads("libc.so.6")
    assert not library_loads("libbundled-only.so.1")
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert library_loads("libbundled-only.so.1")


# The C and C++ runtimes every Linux system has; Qt and ICU come with PySide6.
_BASE = re.compile(r"^(libc|libm|libstdc\+\+|libgcc_s|ld-linux.*|libQt6\w+|libicu\w+)\.so")


def _needed(binary: Path) -> set[str]:
    dynamic = subprocess.run(
        ["readelf", "-d", str(binary)], capture_output=True, text=True, check=True
    ).stdout
    return set(re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", dynamic))


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or shutil.which("readelf") is None,
    reason="reads the ELF dependencies of the installed PySide6 with readelf",
)
def test_the_tables_match_what_the_installed_qt_links_against() -> None:
    import PySide6

    qt = Path(PySide6.__file__).parent / "Qt"
    gui = {lib.soname for lib in GUI_LIBRARIES}
    optional = {lib.soname for lib in OPTIONAL_LIBRARIES}
    groups = {
        "gui": (
            [qt / "lib" / f"libQt6{m}.so.6" for m in ("Core", "Gui", "Widgets", "DBus", "Svg")],
            gui,
        ),
        "xcb": (
            [qt / "plugins" / "platforms" / "libqxcb.so", qt / "lib" / "libQt6XcbQpa.so.6"],
            gui | {lib.soname for lib in PLATFORM_LIBRARIES["xcb"]},
        ),
        "wayland": (
            [qt / "plugins" / "platforms" / "libqwayland.so"],
            gui | {lib.soname for lib in PLATFORM_LIBRARIES["wayland"]},
        ),
        "plugins the bundle keeps": (
            [
                plugin
                for kind in (
                    "xcbglintegrations",
                    "wayland-graphics-integration-client",
                    "wayland-decoration-client",
                    "wayland-shell-integration",
                    "platformthemes",
                    "platforminputcontexts",
                    "iconengines",
                )
                for plugin in sorted((qt / "plugins" / kind).glob("*.so"))
                if "gtk3" not in plugin.name
            ],
            gui | optional | {lib.soname for libs in PLATFORM_LIBRARIES.values() for lib in libs},
        ),
    }
    for group, (binaries, known) in groups.items():
        assert binaries, group
        for binary in binaries:
            unknown = {n for n in _needed(binary) if not _BASE.match(n)} - known
            assert not unknown, f"{binary.name} ({group}) needs undocumented {sorted(unknown)}"
