"""The .ico and .icns writers: container layout, embedded PNGs unchanged, readable by Qt."""

from __future__ import annotations

import struct
from pathlib import Path
from types import ModuleType

import pytest
from PySide6.QtGui import QImageReader


def _ico_entries(data: bytes) -> list[tuple[int, int, bytes]]:
    reserved, kind, count = struct.unpack_from("<HHH", data)
    assert (reserved, kind) == (0, 1)
    entries = []
    for index in range(count):
        width, height, colours, _, planes, bits, size, offset = struct.unpack_from(
            "<BBBBHHII", data, 6 + 16 * index
        )
        assert (colours, planes, bits) == (0, 1, 32)
        entries.append((width or 256, height or 256, data[offset : offset + size]))
    return entries


def _icns_elements(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:4] == b"icns"
    assert struct.unpack_from(">I", data, 4)[0] == len(data)
    elements, position = [], 8
    while position < len(data):
        kind = data[position : position + 4]
        (length,) = struct.unpack_from(">I", data, position + 4)
        elements.append((kind, data[position + 8 : position + length]))
        position += length
    assert position == len(data)
    return elements


def test_ico_holds_each_png_up_to_256_px_unchanged(
    platform_icons: ModuleType, rendered_pngs: dict[int, bytes]
) -> None:
    entries = _ico_entries(platform_icons.ico_bytes(rendered_pngs))

    sizes = [width for width, _, _ in entries]
    assert sizes == sorted(size for size in rendered_pngs if size <= 256)
    for width, height, png in entries:
        assert width == height
        assert png == rendered_pngs[width]


def test_icns_fills_every_type_whose_size_exists(
    platform_icons: ModuleType, rendered_pngs: dict[int, bytes]
) -> None:
    elements = _icns_elements(platform_icons.icns_bytes(rendered_pngs))

    expected = [(k, s) for k, s in platform_icons.ICNS_TYPES if s in rendered_pngs]
    assert [kind for kind, _ in elements] == [kind for kind, _ in expected]
    for (kind, png), (_, size) in zip(elements, expected, strict=True):
        assert platform_icons.png_size(png) == (size, size), kind
        assert png == rendered_pngs[size]


@pytest.mark.parametrize("suffix", ["ico", "icns"])
def test_qt_reads_every_image_of_the_containers(
    platform_icons: ModuleType, rendered_pngs: dict[int, bytes], tmp_path: Path, suffix: str
) -> None:
    writer = platform_icons.ico_bytes if suffix == "ico" else platform_icons.icns_bytes
    path = tmp_path / f"ibconsole.{suffix}"
    path.write_bytes(writer(rendered_pngs))
    reader = QImageReader(str(path))

    sizes = []
    for index in range(reader.imageCount()):
        assert reader.jumpToImage(index)
        image = reader.read()
        assert not image.isNull(), reader.errorString()
        sizes.append(image.width())

    largest = 256 if suffix == "ico" else max(rendered_pngs)
    assert max(sizes) == largest
    assert set(sizes) <= set(rendered_pngs)


def test_the_committed_containers_are_complete(platform_icons: ModuleType) -> None:
    icons = Path(platform_icons.ICONS)
    ico = _ico_entries((icons / "ibconsole.ico").read_bytes())
    icns = _icns_elements((icons / "ibconsole.icns").read_bytes())

    assert {width for width, _, _ in ico} >= {16, 32, 48, 256}
    assert {kind for kind, _ in icns} >= {b"ic07", b"ic08", b"ic09"}


def test_a_png_of_the_wrong_size_is_refused(
    platform_icons: ModuleType, rendered_pngs: dict[int, bytes]
) -> None:
    with pytest.raises(ValueError, match="the 64 px icon is 32x32 px"):
        platform_icons.ico_bytes({64: rendered_pngs[32]})


def test_data_that_is_not_a_png_is_refused(platform_icons: ModuleType) -> None:
    with pytest.raises(ValueError, match="not a PNG"):
        platform_icons.icns_bytes({16: b"GIF89a" + bytes(40)})


def test_sizes_no_container_can_hold_are_refused(
    platform_icons: ModuleType, rendered_pngs: dict[int, bytes]
) -> None:
    with pytest.raises(ValueError, match="256 px or less"):
        platform_icons.ico_bytes({512: rendered_pngs[512]})
    with pytest.raises(ValueError, match="one of these sizes"):
        platform_icons.icns_bytes({16: rendered_pngs[16]})
