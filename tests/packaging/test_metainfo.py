"""The AppStream metainfo and the Linux installer agree with the project they describe."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ibconsole import __version__

ROOT = Path(__file__).resolve().parents[2]
METAINFO = ROOT / "resources" / "io.github.ibconsole.metainfo.xml"


@pytest.fixture(scope="module")
def component() -> ET.Element:
    return ET.parse(METAINFO).getroot()


def test_the_component_is_a_desktop_application_named_by_its_file(component: ET.Element) -> None:
    assert component.tag == "component"
    assert component.get("type") == "desktop-application"
    assert f"{component.findtext('id')}.metainfo.xml" == METAINFO.name
    for required in ("metadata_license", "project_license", "name", "summary", "description"):
        assert component.findtext(required) or list(component.iterfind(required)), required


def test_it_launches_the_desktop_entry_the_app_names(component: ET.Element) -> None:
    launchable = component.find("launchable[@type='desktop-id']")

    assert launchable is not None
    assert launchable.text == "ibconsole.desktop"
    assert (ROOT / "resources" / "ibconsole.desktop").is_file()


def test_it_provides_the_commands_the_package_installs(component: ET.Element) -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]

    assert {binary.text for binary in component.iterfind("provides/binary")} == set(scripts)


def test_its_newest_release_is_the_package_version(component: ET.Element) -> None:
    releases = component.findall("releases/release")

    assert releases, "no <release> in the metainfo"
    assert releases[0].get("version") == __version__, "add a <release> for the new version"


@pytest.mark.skipif(shutil.which("appstreamcli") is None, reason="appstreamcli is not installed")
def test_appstream_accepts_it() -> None:
    result = subprocess.run(
        ["appstreamcli", "validate", "--no-net", "--pedantic", str(METAINFO)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("sh") is None, reason="no POSIX shell")
def test_the_linux_installer_is_valid_shell() -> None:
    script = ROOT / "packaging" / "linux" / "install.sh"
    result = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True, check=False)

    assert result.returncode == 0, result.stderr
