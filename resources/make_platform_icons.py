"""Pack the rendered PNG icons into the Windows .ico and macOS .icns the bundle uses.

Both containers embed the PNGs unchanged (ICO since Windows Vista, ICNS since OS X 10.7), so the
standard library is enough and the output is byte-for-byte reproducible. Run from the repository
root after ``resources/render_icons.py``: ``.venv/bin/python resources/make_platform_icons.py``
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Mapping
from pathlib import Path

ICONS = Path(__file__).resolve().parent / "icons"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# An ICO entry stores width and height in one byte each, 0 meaning 256: the largest it can hold.
ICO_MAX_SIZE = 256

# ICNS element types holding PNG data, and the pixel size each needs ("@2x" types hold twice
# the point size). The set Pillow writes, which Finder and the Dock read.
ICNS_TYPES: tuple[tuple[bytes, int], ...] = (
    (b"ic11", 32),  # 16 pt @2x
    (b"ic12", 64),  # 32 pt @2x
    (b"ic07", 128),
    (b"ic13", 256),  # 128 pt @2x
    (b"ic08", 256),
    (b"ic14", 512),  # 256 pt @2x
    (b"ic09", 512),
    (b"ic10", 1024),  # 512 pt @2x
)


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk; ValueError if ``data`` is not a PNG."""
    if len(data) < 24 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        raise ValueError("not a PNG file (no PNG signature followed by an IHDR chunk)")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def square_pngs(pngs: Mapping[int, bytes]) -> dict[int, bytes]:
    """The images keyed by size, each checked to be a square PNG of exactly that size."""
    checked: dict[int, bytes] = {}
    for size, data in sorted(pngs.items()):
        actual = png_size(data)
        if actual != (size, size):
            raise ValueError(f"the {size} px icon is {actual[0]}x{actual[1]} px")
        checked[size] = data
    if not checked:
        raise ValueError("no icon images given")
    return checked


def ico_bytes(pngs: Mapping[int, bytes]) -> bytes:
    """A Windows .ico holding every PNG up to 256 px, smallest first."""
    images = {size: data for size, data in square_pngs(pngs).items() if size <= ICO_MAX_SIZE}
    if not images:
        raise ValueError(f"an .ico needs at least one image of {ICO_MAX_SIZE} px or less")
    header = struct.pack("<HHH", 0, 1, len(images))
    offset = len(header) + 16 * len(images)
    entries = bytearray()
    payload = bytearray()
    for size, data in images.items():
        side = size % ICO_MAX_SIZE  # 256 is written as 0
        entries += struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(data), offset)
        payload += data
        offset += len(data)
    return header + bytes(entries) + bytes(payload)


def icns_bytes(pngs: Mapping[int, bytes]) -> bytes:
    """A macOS .icns with every element type a given size fills.

    No table of contents: it is optional, and Qt's reader rejects its last entry.
    """
    images = square_pngs(pngs)
    elements = [(kind, images[size]) for kind, size in ICNS_TYPES if size in images]
    if not elements:
        sizes = sorted({size for _, size in ICNS_TYPES})
        raise ValueError(f"an .icns needs an image of one of these sizes: {sizes}")
    body = b"".join(_icns_element(kind, data) for kind, data in elements)
    return _icns_element(b"icns", body)


def _icns_element(kind: bytes, data: bytes) -> bytes:
    return kind + struct.pack(">I", 8 + len(data)) + data


def rendered_pngs(folder: Path) -> dict[int, bytes]:
    """The ``ibconsole-<size>.png`` files in ``folder``, keyed by size."""
    pngs: dict[int, bytes] = {}
    for path in folder.glob("ibconsole-*.png"):
        size_text = path.stem.removeprefix("ibconsole-")
        if size_text.isdigit():
            pngs[int(size_text)] = path.read_bytes()
    if not pngs:
        raise SystemExit(f"no ibconsole-<size>.png in {folder}: run resources/render_icons.py")
    return pngs


def main() -> int:
    pngs = rendered_pngs(ICONS)
    (ICONS / "ibconsole.ico").write_bytes(ico_bytes(pngs))
    (ICONS / "ibconsole.icns").write_bytes(icns_bytes(pngs))
    print(f"wrote ibconsole.ico and ibconsole.icns from {len(pngs)} sizes in {ICONS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
