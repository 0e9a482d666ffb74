"""Render resources/icons/ibconsole.svg to the PNG sizes the window and the desktop file use.

Run from the repository root after editing the SVG:
``QT_QPA_PLATFORM=offscreen .venv/bin/python resources/render_icons.py``
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

ICONS = Path(__file__).resolve().parent / "icons"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def render(svg: Path, size: int, target: Path) -> None:
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg} is not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    if not image.save(str(target)):
        raise SystemExit(f"could not write {target}")


def main() -> int:
    QGuiApplication(sys.argv[:1])
    svg = ICONS / "ibconsole.svg"
    for size in SIZES:
        render(svg, size, ICONS / f"ibconsole-{size}.png")
    print(f"rendered {len(SIZES)} sizes from {svg}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
