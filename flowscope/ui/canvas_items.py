"""The drawing canvas's pieces: its ViewBox (left drag draws), undo commands, painted tool icons
and the path items that show strokes. Split from canvas.py, which keeps the widget."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QIcon,
    QPainter,
    QPainterPath,
    QPainterPathStroker,
    QPen,
    QPixmap,
    QTransform,
    QUndoCommand,
)
from PySide6.QtWidgets import QGraphicsPathItem

from flowscope.core.data.drawing import Drawing, Stroke

__all__ = [
    "CLASS_COLORS",
    "AddStrokeCommand",
    "ClearCommand",
    "StrokeViewBox",
    "painted_icon",
    "stroke_item",
]

#: one colour per class 0..3 (matplotlib's tab10 blue, red, green, purple)
CLASS_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")
ICON_PX = 20
#: an eraser stroke shows the area it removes: a light grey veil (what is under it shows through,
#: faded) inside a dashed outline, continuous along the path (a dashed thick pen drew it as grey
#: blocks with gaps, which read as several strokes)
ERASE_FILL = (200, 200, 200, 150)
ERASE_OUTLINE = "#555555"
LIVE_ERASE_FILL = (190, 190, 190, 180)


class StrokeViewBox(pg.ViewBox):
    """A ViewBox whose left button draws (plane coordinates) instead of panning."""

    penPressed = Signal(QPointF)
    penMoved = Signal(QPointF)
    penReleased = Signal(QPointF)
    penClicked = Signal(QPointF)
    hoverMoved = Signal(object)  # QPointF in plane coordinates, or None when the mouse left

    def mouseDragEvent(self, ev, axis=None) -> None:
        """Left drag -> pen signals; other buttons keep pyqtgraph's pan/zoom."""
        if ev.button() != Qt.MouseButton.LeftButton or axis is not None:
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        if ev.isStart():
            self.penPressed.emit(self.mapSceneToView(ev.buttonDownScenePos()))
        pos = self.mapSceneToView(ev.scenePos())
        (self.penReleased if ev.isFinish() else self.penMoved).emit(pos)

    def mouseClickEvent(self, ev) -> None:
        """A left click (no drag) -> penClicked; the right-click menu is kept."""
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            if not ev.double():
                self.penClicked.emit(self.mapSceneToView(ev.scenePos()))
            return
        super().mouseClickEvent(ev)

    def hoverEvent(self, ev) -> None:
        """Report the hovered plane point (for the brush outline)."""
        self.hoverMoved.emit(None if ev.isExit() else self.mapToView(ev.pos()))


class AddStrokeCommand(QUndoCommand):
    """Append one stroke to the drawing; undo removes it."""

    def __init__(self, drawing: Drawing, stroke: Stroke, on_change: Callable[[], None]):
        super().__init__("Erase" if stroke.erase else "Draw stroke")
        self._drawing, self._stroke, self._on_change = drawing, stroke, on_change

    def redo(self) -> None:
        self._drawing.add(self._stroke)
        self._on_change()

    def undo(self) -> None:
        self._drawing.undo()
        self._on_change()


class ClearCommand(QUndoCommand):
    """Remove every stroke; undo puts them back."""

    def __init__(self, drawing: Drawing, on_change: Callable[[], None]):
        super().__init__("Clear drawing")
        self._drawing, self._on_change = drawing, on_change
        self._saved = list(drawing.strokes)

    def redo(self) -> None:
        self._drawing.clear()
        self._on_change()

    def undo(self) -> None:
        self._drawing.strokes[:] = self._saved
        self._on_change()


def painted_icon(paint: Callable[[QPainter], None]) -> QIcon:
    """An ICON_PX square icon drawn by ``paint`` on a transparent pixmap."""
    pix = QPixmap(ICON_PX, ICON_PX)
    pix.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pix)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    paint(painter)
    painter.end()
    return QIcon(pix)


def paint_brush(p: QPainter) -> None:
    path = QPainterPath(QPointF(3, 16))
    path.cubicTo(QPointF(7, 4), QPointF(12, 18), QPointF(17, 4))
    pen = QPen(QColor("#333333"), 3.5, c=Qt.PenCapStyle.RoundCap)
    p.strokePath(path, pen)


def paint_eraser(p: QPainter) -> None:
    p.translate(10, 10)
    p.rotate(-40)
    p.setPen(QPen(QColor("#333333"), 1.5))
    p.setBrush(QColor("#f4a6b4"))
    p.drawRoundedRect(QRectF(-7, -4, 8, 8), 1.5, 1.5)
    p.setBrush(QColor("#dddddd"))
    p.drawRoundedRect(QRectF(1, -4, 6, 8), 1.5, 1.5)


def paint_undo(p: QPainter, mirror: bool = False) -> None:
    if mirror:
        p.setTransform(QTransform(-1, 0, 0, 1, ICON_PX, 0))
    path = QPainterPath(QPointF(5, 8))
    path.cubicTo(QPointF(10, 3), QPointF(18, 5), QPointF(16, 14))
    p.strokePath(path, QPen(QColor("#333333"), 2, c=Qt.PenCapStyle.RoundCap))
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor("#333333"))
    p.drawPolygon([QPointF(2, 4), QPointF(9, 5), QPointF(4, 11)])


def paint_clear(p: QPainter) -> None:
    p.setPen(QPen(QColor("#333333"), 2.2, c=Qt.PenCapStyle.RoundCap))
    p.drawLine(QPointF(5, 5), QPointF(15, 15))
    p.drawLine(QPointF(15, 5), QPointF(5, 15))


def swatch_painter(color: str) -> Callable[[QPainter], None]:
    def paint(p: QPainter) -> None:
        p.setPen(QPen(QColor("#333333"), 1))
        p.setBrush(QColor(color))
        p.drawEllipse(QRectF(3, 3, ICON_PX - 6, ICON_PX - 6))

    return paint


def stroke_shape(points: np.ndarray, width: float) -> QPainterPath:
    """The area a stroke covers (plane units): its path widened by ``width`` with round caps
    and joins, or a disc of diameter ``width`` for a dot."""
    path = QPainterPath(QPointF(*points[0]))
    if len(points) == 1 or not np.ptp(points, axis=0).any():
        disc = QPainterPath()
        disc.addEllipse(QPointF(*points[0]), width / 2, width / 2)
        return disc
    for x, y in points[1:]:
        path.lineTo(x, y)
    stroker = QPainterPathStroker()
    stroker.setWidth(width)
    stroker.setCapStyle(Qt.PenCapStyle.RoundCap)
    stroker.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    return stroker.createStroke(path).simplified()


def stroke_item(
    points: np.ndarray, width: float, color: str, alpha: int, erase: bool, live: bool = False
) -> QGraphicsPathItem:
    """A path item (plane units) for a stroke: a thick round line in the class colour, or a
    disc for a dot; an eraser stroke as one continuous light area with a dashed outline."""
    item = QGraphicsPathItem()
    if erase:
        item.setPath(stroke_shape(points, width))
        item.setBrush(QBrush(QColor(*(LIVE_ERASE_FILL if live else ERASE_FILL))))
        pen = QPen(QColor(ERASE_OUTLINE), 1.2, Qt.PenStyle.DashLine)
        pen.setCosmetic(True)  # a 1-px outline at any zoom
        item.setPen(pen)
        return item
    qcolor = QColor(color)
    qcolor.setAlpha(alpha)
    path = QPainterPath(QPointF(*points[0]))
    if len(points) == 1 or not np.ptp(points, axis=0).any():
        path.addEllipse(QPointF(*points[0]), width / 2, width / 2)
        item.setPen(QPen(Qt.PenStyle.NoPen))
        item.setBrush(QBrush(qcolor))
    else:
        for x, y in points[1:]:
            path.lineTo(x, y)
        item.setPen(QPen(qcolor, width, c=Qt.PenCapStyle.RoundCap, j=Qt.PenJoinStyle.RoundJoin))
    item.setPath(path)
    return item


def reserve_pixmap_cache(plot, had_kb: int, layers: int = 3) -> int:
    """Grow QPixmapCache by room for ``layers`` cached plot-sized pixmaps (the canvas's axes,
    grid and heatmap) on top of what the explorer sized it for, and return the KiB now
    reserved (pass it back next time): an evicted layer is re-rendered at every repaint."""
    from PySide6.QtGui import QPixmapCache

    dpr = plot.devicePixelRatioF()
    need = int(layers * plot.width() * plot.height() * dpr * dpr * 4 * 1.5 // 1024)
    if need > had_kb:
        QPixmapCache.setCacheLimit(QPixmapCache.cacheLimit() + need - had_kb)
        return need
    return had_kb
