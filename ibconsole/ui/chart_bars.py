"""The chart's bars as graphics items: the closed history, recorded once and cached as pixels, and
the forming bar, the only one drawn again on a tick.

A bar is a row of (x in seconds from the item's position, open, high, low, close, volume); the
item sits at the first bar's start, so recorded pictures never hold epoch-sized numbers. The
history is recorded in pictures of ``CHUNK`` bars: a bar closing re-records only the last chunk,
a new history (reset, other contract or timeframe) all of them. Its pixels are cached by Qt
(device-coordinate cache), so a tick that moves the forming bar or a quote line over it repaints
that strip from the cache instead of replaying the history.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPen, QPicture
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from ibconsole.domain.bars import Bar

# One bar per row: x (relative seconds), open, high, low, close, volume.
Rows = npt.NDArray[np.float64]
X, OPEN, HIGH, LOW, CLOSE, VOLUME = range(6)
CHUNK = 128  # bars per recorded picture of the history

UP = QColor("#26a69a")
DOWN = QColor("#ef5350")


def no_rows() -> Rows:
    return np.empty((0, 6))


def bar_rows(bars: Sequence[Bar], origin: datetime | None) -> Rows:
    """Bars as rows of (seconds since ``origin``, open, high, low, close, volume)."""
    if origin is None or not bars:
        return no_rows()
    return np.array(
        [
            ((b.start - origin).total_seconds(), b.open, b.high, b.low, b.close, b.volume)
            for b in bars
        ],
        dtype=np.float64,
    )


def _draw_candles(painter: QPainter, rows: Rows, width: float) -> None:
    """Green (up) and red (down) candles with wicks."""
    half = width / 2
    for up, color in ((True, UP), (False, DOWN)):
        chosen = rows[(rows[:, CLOSE] >= rows[:, OPEN]) == up]
        if not len(chosen):
            continue
        pen = QPen(color)
        pen.setCosmetic(True)
        pen.setWidthF(1.0)
        painter.setPen(pen)
        painter.setBrush(QBrush(color))
        for x, open_, high, low, close, _ in chosen:
            painter.drawLine(QPointF(x, low), QPointF(x, high))
            bottom, top = min(open_, close), max(open_, close)
            if top > bottom:
                painter.drawRect(QRectF(x - half, bottom, width, top - bottom))
            else:
                painter.drawLine(QPointF(x - half, close), QPointF(x + half, close))


def _draw_volumes(painter: QPainter, rows: Rows, width: float) -> None:
    """Volume bars, tinted like their candle."""
    half = width / 2
    painter.setPen(Qt.PenStyle.NoPen)
    for up, color in ((True, UP), (False, DOWN)):
        tint = QColor(color)
        tint.setAlpha(150)
        painter.setBrush(QBrush(tint))
        for x, *_, volume in rows[(rows[:, CLOSE] >= rows[:, OPEN]) == up]:
            painter.drawRect(QRectF(x - half, 0.0, width, volume))


@dataclass(frozen=True, slots=True)
class BarLook:
    """What a bar looks like (``draw``) and which values it spans vertically (``span``)."""

    draw: Callable[[QPainter, Rows, float], None]
    span: Callable[[Rows], tuple[float, float]]


CANDLES = BarLook(
    _draw_candles, lambda rows: (float(np.min(rows[:, LOW])), float(np.max(rows[:, HIGH])))
)
VOLUMES = BarLook(_draw_volumes, lambda rows: (0.0, max(float(np.max(rows[:, VOLUME])), 1.0)))


class _BarsItem(pg.GraphicsObject):
    """Rows drawn in one look, with the bounds protocol pyqtgraph's auto-range reads."""

    def __init__(self, look: BarLook) -> None:
        super().__init__()
        self._look = look
        self._rows = no_rows()
        self._width = 1.0
        self._bounds = QRectF()
        self._y_bounds: tuple[tuple[float, float] | None, tuple[float, float] | None] = (None, None)

    @property
    def rows(self) -> Rows:
        return self._rows

    def _take(self, rows: Rows, width: float, *, ranges: bool = True) -> None:
        """Show ``rows``; ``ranges=False`` when they cannot change the view's auto-range, which
        then redraws only this item's area instead of the whole plot."""
        self.prepareGeometryChange()
        self._rows = rows
        self._width = width
        self._bounds = self._rect(rows)
        self._y_bounds = (None, None)
        if ranges:
            self.informViewBoundsChanged()
        self.update()

    def _rect(self, rows: Rows) -> QRectF:
        if not len(rows):
            return QRectF()
        low, high = self._look.span(rows)
        half = self._width / 2
        left, right = float(rows[0, X]) - half, float(rows[-1, X]) + half
        return QRectF(left, low, right - left, max(high - low, 1e-9))

    def boundingRect(self) -> QRectF:
        return QRectF(self._bounds)

    def dataBounds(
        self,
        ax: int,
        frac: float = 1.0,
        orthoRange: Sequence[float] | None = None,
    ) -> tuple[float, float] | None:
        rows = self._rows
        if not len(rows):
            return None
        if ax == 0:
            return self._bounds.left(), self._bounds.right()
        if orthoRange is None:
            return self._bounds.top(), self._bounds.bottom()
        # The auto-range asks on every repaint with the same visible span: answer from memory.
        seen = (float(orthoRange[0]), float(orthoRange[1]))
        if self._y_bounds[0] == seen:
            return self._y_bounds[1]
        offset = float(self.pos().x())
        x = rows[:, X]
        shown = rows[(x >= seen[0] - offset) & (x <= seen[1] - offset)]
        span = self._look.span(shown) if len(shown) else None
        self._y_bounds = (seen, span)
        return span


class HistoryItem(_BarsItem):
    """The closed bars: pictures of ``CHUNK`` bars, replayed only where exposed, pixels cached."""

    def __init__(self, look: BarLook) -> None:
        super().__init__(look)
        self._pictures: list[QPicture] = []
        self._recorded = 0  # pictures recorded since the item was made (what tests count)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption)

    @property
    def pictures(self) -> tuple[QPicture, ...]:
        return tuple(self._pictures)

    @property
    def recorded(self) -> int:
        """How many chunk pictures were recorded so far: a tick records none."""
        return self._recorded

    def set_bars(self, rows: Rows, width: float) -> None:
        """Show ``rows``; when they extend the rows shown, only the chunks that changed are
        recorded again."""
        kept = len(self._rows)
        extends = (
            width == self._width and len(rows) >= kept and np.array_equal(rows[:kept], self._rows)
        )
        first = kept // CHUNK if extends else 0
        if extends and len(rows) == kept:
            return
        self._take(rows, width)
        del self._pictures[first:]
        for start in range(first * CHUNK, len(rows), CHUNK):
            picture = QPicture()
            painter = QPainter(picture)
            self._look.draw(painter, rows[start : start + CHUNK], width)
            painter.end()
            self._pictures.append(picture)
            self._recorded += 1

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionGraphicsItem | None = None,
        widget: QWidget | None = None,
    ) -> None:
        exposed = option.exposedRect if option is not None else QRectF()
        half = self._width / 2
        for index, picture in enumerate(self._pictures):
            chunk = self._rows[index * CHUNK : (index + 1) * CHUNK]
            left, right = float(chunk[0, X]) - half, float(chunk[-1, X]) + half
            if exposed.isValid() and (right < exposed.left() or left > exposed.right()):
                continue  # scrolled out of view
            painter.drawPicture(0, 0, picture)


class LiveItem(_BarsItem):
    """The forming bar, drawn directly on every repaint (it is one bar).

    While the bar stays within the vertical range the plot shows, the view's settled auto-range
    (``chart_range``) keeps still, so a tick redraws only the bar's own area.
    """

    def set_bar(self, rows: Rows, width: float) -> None:
        view = self.getViewBox()
        shown = view.viewRange()[1] if isinstance(view, pg.ViewBox) else None
        same_place = (
            width == self._width
            and len(rows) == len(self._rows) == 1
            and rows[0, X] == self._rows[0, X]
        )
        inside = (
            shown is not None
            and same_place
            and all(min(shown) <= low and high <= max(shown) for low, high in self._spans(rows))
        )
        self._take(rows, width, ranges=not inside)

    def _spans(self, rows: Rows) -> tuple[tuple[float, float], ...]:
        """The vertical spans of the bar shown and of ``rows``."""
        return self._look.span(self._rows), self._look.span(rows)

    def paint(self, painter: QPainter, *args: object) -> None:
        if len(self._rows):
            self._look.draw(painter, self._rows, self._width)
