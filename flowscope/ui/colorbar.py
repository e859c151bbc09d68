"""Colour bars for the heatmaps: every heatmap shows its scale (pyqtgraph ColorBarItem).

:class:`ScaleStrip` is one bar for a pair of plots drawn on one scale (the explorer).

A :class:`HeatmapScale` sits at the right of a PlotItem and mirrors what an image item shows:
the colour map and the levels (lo, hi) the image's values are mapped with, and a short label
saying what is measured. It is display only (not interactive): the levels follow the data.
Diverging maps (a signed quantity such as the continuity residual) are centred at zero.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from .paint_turns import hold_paint

__all__ = ["HeatmapScale", "ScaleStrip", "diverging_colormap", "sequential_colormap"]

#: blue (negative) - white (0) - red (positive): ColorBrewer RdBu reversed without its dark
#: ends, so that the particles (blue and red for two classes) stay visible on it everywhere
DIVERGING_COLORS = ("#5e9ccb", "#a9cde4", "#ffffff", "#f7bca4", "#e2806a")
BAR_WIDTH_PX = 12


@functools.lru_cache(maxsize=1)
def diverging_colormap() -> pg.ColorMap:
    """White at the centre of the levels: use with symmetric levels (-a, a). One object (the
    bar rebuilds its colours only when the map changes)."""
    return pg.ColorMap(np.linspace(0.0, 1.0, len(DIVERGING_COLORS)), list(DIVERGING_COLORS))


def sequential_colormap(lut: np.ndarray) -> pg.ColorMap:
    """A ColorMap from an (n, 4) uint8 lookup table (white at 0); the same object for the same
    table, so a heatmap refreshed 5 times a second does not rebuild its bar's colours."""
    lut = np.ascontiguousarray(lut, dtype=np.uint8)
    key = (lut.shape, lut.tobytes())
    cmap = _SEQUENTIAL.get(key)
    if cmap is None:
        cmap = _SEQUENTIAL[key] = pg.ColorMap(np.linspace(0.0, 1.0, len(lut)), lut)
    return cmap


_SEQUENTIAL: dict = {}


def _color_bar(levels: tuple[float, float], cmap: pg.ColorMap, label: str) -> pg.ColorBarItem:
    bar = pg.ColorBarItem(
        values=levels, width=BAR_WIDTH_PX, colorMap=cmap, label=label,
        interactive=False, rounding=1e-12, colorMapMenu=False,
    )  # fmt: skip
    bar.axis.setTextPen(pg.mkPen(70, 70, 70))
    bar.axis.setPen(pg.mkPen(120, 120, 120))
    # labels on the major ticks only (4-8 of them), not a column of numbers every 25 px
    bar.axis.setStyle(maxTextLevel=0)
    bar.axis.setTickDensity(1.2)
    # the label's axis at a fixed width (see _set_visible)
    left = bar.getAxis("left")
    left.setLabel(label or " ")
    left.setWidth(int(math.ceil(0.8 * left.label.boundingRect().height())) + 1)
    _keep_fixed_width(left)
    return bar


def _keep_fixed_width(axis: pg.AxisItem) -> None:
    """The label's axis keeps its fixed width hidden or shown. pyqtgraph re-measures an axis
    as 0 px whenever something updates it while it is hidden (a label or levels set before the
    first heatmap), and only a later setWidth restores it: now and then (1 run in 3 of
    test_laptop_screens) a shown bar kept a 0 px label axis, its label drawn over the colours."""

    def update_width() -> None:
        width = axis.fixedWidth or 0
        axis.setMaximumWidth(width)
        axis.setMinimumWidth(width)
        axis.picture = None

    axis._updateWidth = update_width  # type: ignore[method-assign]


def _set_visible(bar: pg.ColorBarItem, visible: bool) -> None:
    """Show or hide ``bar``. pyqtgraph sizes an axis measured while hidden to 0 px, even at a
    fixed width, and never again once shown: the label was drawn over the colours. Showing
    the bar applies the axes' fixed widths again."""
    if visible and not bar.isVisible():
        bar.setVisible(True)
        for axis in (bar.getAxis("left"), bar.axis):
            if axis.fixedWidth is not None:  # (its geometry may not show the 0 px yet)
                axis.setWidth(axis.fixedWidth)
    elif not visible:
        bar.setVisible(False)


def _finite_levels(levels) -> tuple[float, float]:
    """(lo, hi) with lo < hi, both finite (a flat or empty image still gets a scale)."""
    lo, hi = float(levels[0]), float(levels[1])
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        lo, hi = (lo, lo + 1.0) if math.isfinite(lo) else (0.0, 1.0)
    return lo, hi


class HeatmapScale:
    """A colour bar at the right of ``plot`` (a pg.PlotItem) for ``image`` (a pg.ImageItem).

    ``show(levels, cmap, label)`` sets the image's colour map and levels and the bar's, so
    the bar always states the scale of what the image shows; ``hide()`` when the image is
    cleared. ``levels`` and ``label`` read back what is shown (tests, exports)."""

    def __init__(self, plot: pg.PlotItem, image: pg.ImageItem, cmap: pg.ColorMap, label: str = ""):
        self.plot, self.image = plot, image
        self.cmap = cmap
        self.label = label
        self.levels: tuple[float, float] = (0.0, 1.0)
        self.bar = _color_bar(self.levels, cmap, label)
        plot.layout.addItem(self.bar, 2, 5)  # right of the ViewBox (row 2, column 1)
        self.bar.setVisible(False)

    @property
    def visible(self) -> bool:
        return self.bar.isVisible()

    def show(self, levels: tuple[float, float], cmap: pg.ColorMap | None = None,
             label: str | None = None) -> None:  # fmt: skip
        lo, hi = _finite_levels(levels)
        if cmap is not None and cmap is not self.cmap:
            self.cmap = cmap
            self.bar.setColorMap(cmap)
        if label is not None and label != self.label:
            self.label = label
            self.bar.getAxis("left").setLabel(label)  # where ColorBarItem puts its label
        self.image.setLookupTable(self.cmap.getLookupTable(0.0, 1.0, 256, alpha=True))
        self.image.setLevels((lo, hi))
        if (lo, hi) != self.levels:
            self.levels = (lo, hi)
            self.bar.setLevels((lo, hi), update_items=False)
        _set_visible(self.bar, self.image.isVisible())  # the density layer may be hidden

    def hide(self) -> None:
        self.bar.setVisible(False)


class ScaleStrip(pg.GraphicsLayoutWidget):
    """One colour bar for several images drawn on one scale (the explorer's ODE/SDE pair), in a
    narrow widget of its own right of the plots.

    A bar inside each plot's layout took its width from that plot only: with the SDE plot's
    longer title the pair got different view boxes (x -3..3 beside -4..4) and the SDE bar was
    pushed past the pane's edge. One bar for the pair also says what the two heatmaps share:
    one colour is one value in both plots, so the levels are the union of what each image asks.

    ``member(image)`` gives each image a :class:`HeatmapScale`-like handle (``show``, ``hide``,
    ``levels``, ``label``, ``visible``, ``bar``); ``align_to(top, bottom)`` keeps the bar level
    with the plots' view boxes (side by side or stacked). The widget is as wide as the bar."""

    def __init__(self, cmap: pg.ColorMap, label: str = "") -> None:
        super().__init__()
        self.setBackground("w")
        self.cmap, self.label = cmap, label
        self.levels: tuple[float, float] = (0.0, 1.0)
        self.bar = _color_bar(self.levels, cmap, label)
        # a hidden item leaves the layout empty, and the view then sized the layout to its
        # margins for good (the bar came back 2 px tall): keep its place while hidden
        policy = self.bar.sizePolicy()
        policy.setRetainSizeWhenHidden(True)
        self.bar.setSizePolicy(policy)
        self.addItem(self.bar)
        self.ci.setContentsMargins(0, 0, 0, 0)
        self.ci.layout.setContentsMargins(0, 0, 0, 0)
        self.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        policy = QtWidgets.QSizePolicy.Policy
        self.setSizePolicy(policy.Fixed, policy.Expanding)
        self.setMinimumHeight(60)
        self.bar.setVisible(False)
        self._members: list[_StripMember] = []
        self._luts: dict[int, np.ndarray] = {}
        self._margins = (0.0, 0.0)
        self.bar.geometryChanged.connect(self._fit_width)
        self._fit_width()

    def member(self, image: pg.ImageItem) -> _StripMember:
        """A handle for ``image``: its ``show(levels, cmap, label)`` sets the shared scale."""
        m = _StripMember(self, image)
        self._members.append(m)
        return m

    @property
    def visible(self) -> bool:
        return self.bar.isVisible()

    def align_to(self, top: pg.ViewBox, bottom: pg.ViewBox | None = None) -> None:
        """Put the bar's top level with view box ``top``'s and its bottom with ``bottom``'s
        (default: ``top``'s); the view boxes' widgets share this widget's window."""
        y0 = self._y_of(top, lambda r: r.top())
        y1 = self._y_of(bottom or top, lambda r: r.bottom())
        if y0 is None or y1 is None:
            return
        margins = (max(0, y0), max(0, self.height() - y1 - 1))
        if margins != self._margins:
            self._margins = margins
            self.ci.layout.setContentsMargins(0, margins[0], 0, margins[1])

    def _y_of(self, view_box: pg.ViewBox, edge) -> int | None:
        view = view_box.getViewWidget()
        if view is None or view.window() is not self.window():
            return None
        r = view.mapFromScene(view_box.sceneBoundingRect()).boundingRect()
        point = view.mapTo(self.window(), QtCore.QPoint(0, edge(r)))
        return self.mapFrom(self.window(), point).y()

    def _fit_width(self, *_args) -> None:
        """As wide as the bar needs (its axes have fixed widths; the label's axis may change
        when it is measured again): never wider, so the widget cannot feed its own growth."""
        self.bar.layout.invalidate()  # its cached hint may predate an axis's new width
        hint = self.bar.layout.effectiveSizeHint(QtCore.Qt.SizeHint.MinimumSize).width()
        need = max(int(math.ceil(hint)), BAR_WIDTH_PX + 40) + 4
        if need != self.width() or self.minimumWidth() != self.maximumWidth():
            self.setFixedWidth(need)

    def _lut(self, cmap: pg.ColorMap) -> np.ndarray:
        lut = self._luts.get(id(cmap))
        if lut is None:
            lut = self._luts[id(cmap)] = cmap.getLookupTable(0.0, 1.0, 256, alpha=True)
        return lut

    def _show(self, member: _StripMember, levels, cmap: pg.ColorMap | None,
              label: str | None) -> None:  # fmt: skip
        lo, hi = _finite_levels(levels)
        changed = False
        if cmap is not None and cmap is not self.cmap:
            self.cmap, changed = cmap, True
            self.bar.setColorMap(cmap)
        if label is not None and label != self.label:
            self.label, changed = label, True
            self.bar.getAxis("left").setLabel(label)
        if changed:  # what the other images showed was another quantity: not part of the scale
            hold_paint(self)
            for m in self._members:
                m.own = None
        member.own = (lo, hi)
        self._apply()

    def _apply(self) -> None:
        shown = [m for m in self._members if m.own is not None]
        if shown:
            lo = min(m.own[0] for m in shown)  # type: ignore[index]
            hi = max(m.own[1] for m in shown)  # type: ignore[index]
            lut = self._lut(self.cmap)
            for m in self._members:
                if m.image.image is None:
                    continue
                if m.lut is not lut:
                    m.lut = lut
                    m.image.setLookupTable(lut)
                m.image.setLevels((lo, hi))
            if (lo, hi) != self.levels:
                self.levels = (lo, hi)
                self.bar.setLevels((lo, hi), update_items=False)
                # new tick labels (~8 ms of axis drawing): in a turn of their own, not in the
                # plots' (ui/paint_turns.py; a new target's gap had both, bench/gui_latency.py)
                hold_paint(self)
        _set_visible(self.bar, any(m.image.isVisible() for m in shown))


class _StripMember:
    """One image's handle on a :class:`ScaleStrip` (the interface of :class:`HeatmapScale`)."""

    def __init__(self, strip: ScaleStrip, image: pg.ImageItem) -> None:
        self.strip, self.image = strip, image
        self.own: tuple[float, float] | None = None  # the levels this image's data asked for
        self.lut: np.ndarray | None = None

    bar = property(lambda self: self.strip.bar)
    cmap = property(lambda self: self.strip.cmap)
    label = property(lambda self: self.strip.label)
    levels = property(lambda self: self.strip.levels)
    visible = property(lambda self: self.strip.visible)

    def show(self, levels: tuple[float, float], cmap: pg.ColorMap | None = None,
             label: str | None = None) -> None:  # fmt: skip
        self.strip._show(self, levels, cmap, label)

    def hide(self) -> None:
        self.own = None
        self.strip._apply()
