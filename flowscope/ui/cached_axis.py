"""CachedAxis: a pyqtgraph axis that draws a given range at a given size once.

pyqtgraph's AxisItem builds its picture (tick positions, tick strings, their text boxes, the
grid lines) in Python whenever its range or size changes: 1-3 ms per axis on the 2-core CPU,
and a new target changes the range of six of them at once (the canvas and the ODE and SDE
plots), in one turn of the event loop (bench/gui_latency.py). Two things make most of that work
repeat work:

- the ODE and SDE plots are linked: their axes show the same range at the same size, so the
  second one can play the first one's picture (the axes share one store, ``SHARED``);
- targets share bounds (most presets are the same box): switching back finds the picture of
  the last few (range, size) pairs.

A picture is reused only when everything it was drawn from is the same (range, the axis's and
the grid's rectangles, pens, fonts, style, tick settings); anything else draws a new one,
exactly as pyqtgraph would. Without a label pyqtgraph's SI prefix is always none, so such an
axis skips re-setting the (hidden) label's HTML on each range change.
"""

from __future__ import annotations

from collections import OrderedDict

import pyqtgraph as pg
from PySide6 import QtGui

__all__ = ["SHARED", "AxisPictures", "CachedAxis", "cached_axes"]


class AxisPictures:
    """The last ``size`` pictures drawn by the axes that share this store."""

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._pictures: OrderedDict[tuple, tuple[QtGui.QPicture, float | None]] = OrderedDict()
        self.hits = 0  # (tests and benchmarks read these)
        self.misses = 0

    def get(self, key: tuple) -> tuple[QtGui.QPicture, float | None] | None:
        found = self._pictures.get(key)
        if found is not None:
            self._pictures.move_to_end(key)
            self.hits += 1
        else:
            self.misses += 1
        return found

    def put(self, key: tuple, picture: QtGui.QPicture, text_size: float | None) -> None:
        self._pictures[key] = (picture, text_size)
        self._pictures.move_to_end(key)
        while len(self._pictures) > self.size:
            self._pictures.popitem(last=False)


#: the pictures of every CachedAxis given no store of its own: a key names everything a picture
#: is drawn from, so any two axes with one key draw the same picture (the linked ODE and SDE
#: plots; a plot back at a range it showed before)
SHARED = AxisPictures(32)


def cached_axes(*names: str, pictures: AxisPictures | None = None) -> dict[str, CachedAxis]:
    """``axisItems`` for a PlotWidget / PlotItem: CachedAxis for ``names`` (default: left and
    bottom, the ones flowscope's plots show). A plot whose ranges keep changing (a training
    curve) gives its own ``pictures``: in SHARED it would push out the boxes of the targets."""
    return {name: CachedAxis(name, pictures) for name in names or ("left", "bottom")}


def _rect(r) -> tuple[float, float, float, float] | None:
    return None if r is None else (r.x(), r.y(), r.width(), r.height())


def _pen(pen) -> tuple | None:
    if pen is None:
        return None
    return (pen.color().rgba(), pen.widthF(), int(pen.style().value), pen.isCosmetic())


def _plain(value):
    """A hashable stand-in for a style value (fonts, pens and lists are not hashable)."""
    if isinstance(value, QtGui.QFont):
        return ("font", value.toString())
    if isinstance(value, QtGui.QPen):
        return ("pen", _pen(value))
    if isinstance(value, (list, tuple)):
        return tuple(_plain(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _plain(v)) for k, v in value.items()))
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


class CachedAxis(pg.AxisItem):
    """An AxisItem whose pictures are kept in ``pictures`` (default: ``SHARED``)."""

    def __init__(self, orientation: str, pictures: AxisPictures | None = None, **kwargs) -> None:
        self.pictures = pictures if pictures is not None else SHARED
        self._text_size: float | None = None
        self._rect_now = None  # boundingRect() while a picture is drawn (see paint)
        super().__init__(orientation, **kwargs)

    def _picture_key(self) -> tuple:
        view = self.linkedView()
        grid_rect = None
        if view is not None and self.grid is not False:
            grid_rect = _rect(view.mapRectToItem(self, view.boundingRect()))
        return (
            type(self).__name__, self.orientation, tuple(self.range), self.logMode,
            self.scale, self.autoSIPrefixScale, self.grid, self.textWidth, self.textHeight,
            _rect(self.mapRectFromParent(self.geometry())), grid_rect,
            _pen(self.pen()), _pen(self.textPen()), _pen(self.tickPen()),
            _plain(self.style), _plain(getattr(self, "_tickLevels", None)),
            _plain(self._tickSpacing),
            self._tickDensity,
        )  # fmt: skip

    def _updateMaxTextSize(self, x) -> None:  # noqa: N802 - pyqtgraph's name
        self._text_size = x  # what generateDrawSpecs measured: replayed with a reused picture
        self._rect_now = None  # the size may change now
        super()._updateMaxTextSize(x)

    def boundingRect(self):  # noqa: N802 - Qt override
        return self._rect_now if self._rect_now is not None else super().boundingRect()

    def paint(self, p, opt, widget) -> None:
        self.prepare()
        self.picture.play(p)

    def prepare(self) -> None:
        """Have the picture of the current range and size ready (drawn, or found in the store):
        called before a repaint, in a turn of its own (ui/paint_turns.run_first), it takes the
        axis drawing out of the repaint's turn; paint finds the picture made."""
        if self.picture is not None:
            return
        key = self._picture_key()
        found = self.pictures.get(key)
        if found is None:
            picture = QtGui.QPicture()
            painter = QtGui.QPainter(picture)
            try:
                if self.style["tickFont"]:
                    painter.setFont(self.style["tickFont"])
                self._text_size = None
                # generateDrawSpecs asks for the bounding rect once per tick label (each
                # maps the linked view's rect): it is the same until the text size is set
                self._rect_now = super().boundingRect()
                try:
                    specs = self.generateDrawSpecs(painter)
                finally:
                    self._rect_now = None
                if specs is not None:
                    self.drawPicture(painter, *specs)
            finally:
                painter.end()
            self.pictures.put(key, picture, self._text_size)
        else:
            picture, text_size = found
            if text_size is not None:  # the side effect generateDrawSpecs would have had
                super()._updateMaxTextSize(text_size)
        self.picture = picture

    def updateAutoSIPrefix(self) -> None:  # noqa: N802 - pyqtgraph's name
        if self.label.isVisible() or self.autoSIPrefixScale != 1.0 or self.labelUnitPrefix:
            super().updateAutoSIPrefix()
            return
        # no label: pyqtgraph's scale stays 1 and its prefix empty (see AxisItem), so only the
        # picture is stale (not the hidden label's HTML and the size measured from it)
        self.picture = None
        self.update()
