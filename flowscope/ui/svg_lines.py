"""Segment-pair items (arrows, trails) painted in page units, for vector (SVG) export.

The plots draw their 1-px lines with a cosmetic pen under the view's ~50x plane-to-pixel
transform; QSvgGenerator writes that as a transform group with ``vector-effect:
non-scaling-stroke``, which librsvg and ImageMagick ignore: every arrow became a black blob
50 px wide. Here the segments are mapped to page coordinates first and stroked with a plain
pen of LINE_WIDTH page units, clipped to the plot's ViewBox.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

__all__ = ["LINE_WIDTH", "page_segments", "paint_page_lines"]

LINE_WIDTH = 1.0  # page units (SVG user units = widget pixels)


def page_segments(
    item: pg.PlotCurveItem, target: QtCore.QRectF, source: QtCore.QRectF
) -> np.ndarray:
    """(K, 4) finite segments x0, y0, x1, y1 of a pairs item in page units: plane -> scene
    by the item's scene transform, scene -> page as QGraphicsScene.render maps source to
    target."""
    x, y = item.getData()
    if x is None or len(x) < 2:
        return np.zeros((0, 4))
    tr = item.sceneTransform()
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    sx = tr.m11() * x + tr.m21() * y + tr.dx()
    sy = tr.m12() * x + tr.m22() * y + tr.dy()
    kx = target.width() / source.width() if source.width() > 0 else 1.0
    ky = target.height() / source.height() if source.height() > 0 else 1.0
    px = target.left() + (sx - source.left()) * kx
    py = target.top() + (sy - source.top()) * ky
    n = len(px) // 2 * 2
    seg = np.stack([px[:n:2], py[:n:2], px[1:n:2], py[1:n:2]], 1)
    return seg[np.isfinite(seg).all(1)]


def paint_page_lines(
    painter: QtGui.QPainter,
    items: list[pg.PlotCurveItem],
    view_box: pg.ViewBox,
    target: QtCore.QRectF,
    source: QtCore.QRectF,
) -> None:
    """Stroke each item's segments in page units with its pen's colour, clipped to the
    ViewBox's area (mapped the same way)."""
    vb = view_box.sceneBoundingRect()
    kx = target.width() / source.width() if source.width() > 0 else 1.0
    ky = target.height() / source.height() if source.height() > 0 else 1.0
    clip = QtCore.QRectF(
        target.left() + (vb.left() - source.left()) * kx,
        target.top() + (vb.top() - source.top()) * ky,
        vb.width() * kx,
        vb.height() * ky,
    )
    painter.save()
    painter.setClipRect(clip)
    for item in sorted(items, key=lambda it: it.zValue()):
        seg = page_segments(item, target, source)
        if len(seg) == 0:
            continue
        pen = QtGui.QPen(pg.mkPen(item.opts["pen"]).color(), LINE_WIDTH)
        pen.setCosmetic(False)
        painter.setPen(pen)
        painter.drawLines([QtCore.QLineF(*s) for s in seg.tolist()])
    painter.restore()
