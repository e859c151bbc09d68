"""ExplorerSide: one plot of the explorer (ui/explorer.py) and its layer items.

Bottom to top: the density heatmap, the u_t and score arrows, the trails and the particles,
with the t label and the arrows' scale legend pinned to the view box.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from flowscope.ui.cached_axis import cached_axes
from flowscope.ui.field_items import (
    ArrowField,
    DensityImage,
    ScaleLegend,
    draw_on_one_scale,
    segment_lines,
)
from flowscope.ui.gl_points import GLPointsItem, GLViewport
from flowscope.ui.plot_title import fit_title

__all__ = ["FIELD_COLOR", "PARTICLE_COLORS", "SCORE_COLOR", "ExplorerSide"]

PARTICLE_COLORS = {"ode": (0.12, 0.40, 0.80, 0.5), "sde": (0.90, 0.40, 0.02, 0.5)}
FIELD_COLOR = (45, 45, 45, 200)
SCORE_COLOR = (20, 140, 70, 210)


class ExplorerSide:
    """One plot and its layer items."""

    def __init__(self, name: str, title: str, use_gl: bool, point_size: float) -> None:
        self.name = name
        self.widget = pg.PlotWidget(background="w", axisItems=cached_axes())  # twins share
        if use_gl:
            # (PlotWidget(useOpenGL=True) would be swallowed by PlotItem(**kwargs).)
            # GLViewport: pyqtgraph's GL viewport whose grabFramebuffer() shows the scene
            self.widget.setViewport(GLViewport())
            # redraw the whole FBO each frame: partial updates of a GL viewport are unreliable
            self.widget.setViewportUpdateMode(
                QtWidgets.QGraphicsView.ViewportUpdateMode.FullViewportUpdate
            )
        self.widget.setMinimumSize(120, 120)
        # a few dozen items, some moving every frame: a BSP index only costs re-indexing
        self.widget.scene().setItemIndexMethod(QtWidgets.QGraphicsScene.ItemIndexMethod.NoIndex)
        self.plot: pg.PlotItem = self.widget.getPlotItem()
        fit_title(self.plot)  # a long title shrinks instead of widening this plot only
        self.plot.setTitle(title, color="#222222", size="10pt")
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        for name_ax in ("left", "bottom"):
            axis = self.plot.getAxis(name_ax)
            axis.setPen(pg.mkPen(120, 120, 120))
            axis.setTextPen(pg.mkPen(70, 70, 70))
        self.plot.showGrid(x=True, y=True, alpha=0.12)
        vb = self.plot.getViewBox()
        vb.disableAutoRange()
        vb.setAspectLocked(True, ratio=1.0)

        self.density = DensityImage()  # its scale: the pair's one colour bar (ExplorerView)
        self.field = ArrowField(FIELD_COLOR, z=10)
        self.score = ArrowField(SCORE_COLOR, z=11)
        r, g, b, _ = (int(255 * c) for c in PARTICLE_COLORS[name])
        self.trails = segment_lines(pen=pg.mkPen(r, g, b, 70))
        self.trails.setZValue(20)
        self.particles = GLPointsItem(size=point_size, color=PARTICLE_COLORS[name])
        self.particles.setZValue(30)
        for item in (self.density, *self.field.items(), *self.score.items(), self.trails):
            self.plot.addItem(item, ignoreBounds=True)
        self.plot.addItem(self.particles, ignoreBounds=True)
        if not use_gl:
            # Slow static layers repaint as cached pixmaps while particles move every frame:
            # redrawing the axes with their grid, and scaling the heatmap, each frame cost more
            # than keeping them (bench/gui_soak.py). The arrows are cheap 1-px lines: drawn.
            cache = QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache
            for item in self.cached_items():
                item.setCacheMode(cache)

        # pinned to the ViewBox (not its child group), so it ignores pan and zoom
        self.label_box = QtWidgets.QGraphicsRectItem(vb)
        self.label_box.setPen(QtGui.QPen(QtCore.Qt.PenStyle.NoPen))
        self.label_box.setBrush(QtGui.QBrush(QtGui.QColor(255, 255, 255, 210)))
        self.label_box.setPos(4, 4)
        self.label_box.setZValue(1000)
        self.label = QtWidgets.QGraphicsSimpleTextItem("", self.label_box)
        font = QtGui.QFont()
        font.setPointSizeF(10.5)
        self.label.setFont(font)
        self.label.setBrush(QtGui.QBrush(QtGui.QColor(30, 30, 30)))
        self.label.setPos(4, 1)
        self.legend = ScaleLegend(vb)
        #: layer -> (origins, vectors, reference length): redrawn on one scale by rescale()
        self.arrow_data: dict[str, tuple[np.ndarray, np.ndarray, float]] = {}

    def rescale(self, visible: dict[str, bool]) -> None:
        """All arrow layers on one scale, with the legend (field_items.draw_on_one_scale)."""
        draw_on_one_scale(
            self.arrow_data, {"field": self.field, "score": self.score}, self.legend, visible
        )

    def cached_items(self) -> tuple[QtWidgets.QGraphicsItem, ...]:
        """The static layers that raster views keep as device pixmaps (QPixmapCache)."""
        return self.density, self.plot.getAxis("left"), self.plot.getAxis("bottom")

    def set_label(self, text: str) -> None:
        self.label.setText(text)
        r = self.label.boundingRect()
        self.label_box.setRect(0, 0, r.width() + 8, r.height() + 2)

    def line_items(self) -> list[pg.PlotCurveItem]:
        """The segment-pair items (arrows, trails), drawn under the particles."""
        return [*self.field.items(), *self.score.items(), self.trails]

    def layer_items(self, layer: str) -> list:
        return {
            "density": [self.density, self.density.scale.bar],
            "field": list(self.field.items()),
            "score": list(self.score.items()),
            "trails": [self.trails],
            "particles": [self.particles],
        }[layer]
