"""ExplorerView: the ODE and SDE sampling views side by side, linked in x and y.

Each plot stacks five layers, bottom to top: "density" (heatmap), "field" (u_t arrows),
"score" (score arrows), "trails" (recent particle paths) and "particles" (GLPointsItem): one
ExplorerSide each (ui/explorer_side.py).
Every setter takes precomputed numpy arrays and only hands them to the items: no math beyond
O(N) reshaping runs here, and nothing here imports torch.

OpenGL: the plots use QOpenGLWidget viewports when a GL context can be created (not on the
"offscreen"/"minimal" platforms, and not when FLOWSCOPE_OPENGL=0); otherwise they stay raster
and GLPointsItem falls back to QPainter (correct, but slow beyond ~10k particles).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from flowscope.ui import formulas
from flowscope.ui.cached_axis import CachedAxis
from flowscope.ui.colorbar import ScaleStrip, sequential_colormap
from flowscope.ui.explorer_side import PARTICLE_COLORS, ExplorerSide
from flowscope.ui.field_items import ScaleLegend, density_lut, trail_pairs
from flowscope.ui.gl_points import GLPointsItem
from flowscope.ui.gl_support import gl_available, gl_preferred, gl_renderer
from flowscope.ui.paint_turns import hold_paint, run_first
from flowscope.ui.pair_layout import PairLayout

__all__ = ["LAYERS", "ExplorerView", "gl_available", "gl_preferred", "gl_renderer"]

LAYERS = ("density", "field", "score", "trails", "particles")
SIDES = ("ode", "sde")
DEFAULT_BOUNDS = (-3.5, 3.5, -3.5, 3.5)
# two lines: the SDE's formula on one line was cut off in plots narrower than ~480 px
ODE_TITLE = "<b>ODE</b><br><span style='font-size:9pt'>" + formulas.ODE + "</span>"
SDE_TITLE = "<b>SDE</b><br><span style='font-size:9pt'>" + formulas.SDE + "</span>"
#: with "drop the score term" ticked the SDE view shows the equation it integrates (the bug)
_NO_SCORE = "<b>SDE without the score term</b> (wrong marginals)<br><span style='font-size:9pt'>"
SDE_TITLE_NO_SCORE = _NO_SCORE + formulas.SDE_NO_SCORE + "</span>"
TRAIL_MAX_PARTICLES = 500  # trails of more particles are subsampled (evenly, deterministic)
PIXMAP_CACHE_MARGIN = 1.5  # room beyond the cached layers (Qt caches other pixmaps too)


class ExplorerView(QtWidgets.QWidget):
    """Two linked plots: ODE sampling (left) and SDE sampling (right).

    use_gl: None picks OpenGL viewports when ``gl_preferred()`` (a hardware renderer);
    True forces them where a context exists; False forces raster.
    point_size: particle diameter in logical pixels.
    """

    #: the visible plane rectangle changed (pan, zoom, resize): arrows should cover it
    visibleRangeChanged = QtCore.Signal()  # noqa: N815 - Qt signal naming

    def __init__(
        self,
        parent: QtWidgets.QWidget | None = None,
        use_gl: bool | None = None,
        point_size: float = 2.5,
    ) -> None:
        super().__init__(parent)
        self._use_gl = gl_preferred() if use_gl is None else bool(use_gl) and gl_available()
        self._sides = {
            "ode": ExplorerSide("ode", ODE_TITLE, self._use_gl, point_size),
            "sde": ExplorerSide("sde", SDE_TITLE, self._use_gl, point_size),
        }
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        self.pair_layout = PairLayout()  # side by side, or stacked in a tall pane
        layout.addLayout(self.pair_layout, 1)
        for side in self._sides.values():
            self.pair_layout.addWidget(side.widget)
        # one colour bar right of the pair (ui/colorbar.ScaleStrip): both plots keep one size
        self.scale_strip = ScaleStrip(sequential_colormap(density_lut()))
        layout.addWidget(self.scale_strip)
        for side in self._sides.values():
            side.density.scale = self.scale_strip.member(side.density)
        pal = self.palette()
        pal.setColor(QtGui.QPalette.ColorRole.Window, QtGui.QColor("white"))
        self.setPalette(pal)
        self.setAutoFillBackground(True)

        left, right = self.plots()
        right.setXLink(left)
        right.setYLink(left)
        self._visible = dict.fromkeys(LAYERS, True)
        self._playing, self._t = False, 0.5
        self._batching, self._rescale_due = 0, set()  # see batch()
        left.getViewBox().sigRangeChanged.connect(lambda *_: self.visibleRangeChanged.emit())
        for vb in (left.vb, right.vb):  # the bar spans from the ODE's top to the SDE's bottom
            vb.sigResized.connect(lambda *_: self.scale_strip.align_to(left.vb, right.vb))
        self.set_bounds(DEFAULT_BOUNDS)
        self.set_time(0.5)

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._fit_pixmap_cache()

    def _fit_pixmap_cache(self) -> None:
        """Make room in QPixmapCache for every cached layer of both plots, at full plot size.

        Each cached layer (density, axes with their grid) is a pixmap the size of its plot.
        Qt's default cache (10 MB) held only part of them at ~650 x 650 (with the arrows, then
        cached too): the layers evicted each other and were re-rendered every frame, the fills
        on Qt's thread pool (measured: 80 -> 45 ms of GUI thread and 30 -> 1.6 ms of pool
        threads a frame)."""
        if self._use_gl:
            return
        dpr = self.devicePixelRatioF()
        need = (
            sum(
                len(side.cached_items()) * side.widget.width() * side.widget.height()
                for side in self._sides.values()
            )
            * dpr
            * dpr
            * 4
            * PIXMAP_CACHE_MARGIN
        )
        need_kb = int(need // 1024)
        if QtGui.QPixmapCache.cacheLimit() < need_kb:
            QtGui.QPixmapCache.setCacheLimit(need_kb)

    # ----------------------------------------------------------------- access
    def uses_gl(self) -> bool:
        """Whether the plots draw through QOpenGLWidget viewports."""
        return self._use_gl

    bounds = property(lambda self: self._bounds, doc="(xmin, xmax, ymin, ymax) of set_bounds")

    def sides(self) -> list:
        """The ODE and SDE sides (plot, widget, items), in that order (the exports)."""
        return list(self._sides.values())

    def plots(self) -> tuple[pg.PlotItem, pg.PlotItem]:
        """(ODE PlotItem, SDE PlotItem)."""
        return self._sides["ode"].plot, self._sides["sde"].plot

    def widgets(self) -> tuple[pg.PlotWidget, pg.PlotWidget]:
        """(ODE PlotWidget, SDE PlotWidget)."""
        return self._sides["ode"].widget, self._sides["sde"].widget

    def particles_item(self, which: str) -> GLPointsItem:
        return self._select(which, both=False)[0].particles

    def _select(self, which: str, both: bool = True) -> list[ExplorerSide]:
        if which in SIDES:
            return [self._sides[which]]
        if both and which == "both":
            return list(self._sides.values())
        allowed = "'ode', 'sde'" + (" or 'both'" if both else "")
        raise ValueError(f"which must be {allowed}, got {which!r}")

    def _changing(self, which: str) -> list[ExplorerSide]:
        """_select for a setter: each plot changed repaints in a turn of its own, the ODE plot
        first (paint_turns: Qt repaints every changed view of the window in one pass, so a plot
        not held would repaint in the same pass as one released then)."""
        sides = self._select(which)
        for side in sides:
            hold_paint(side.widget)
        return sides

    # ---------------------------------------------------------------- setters
    def set_particles(self, which: str, xy: np.ndarray, colors: np.ndarray | None = None) -> None:
        """xy: (N, 2) float32; colors: (N, 4) float32 RGBA in 0..1, or None for the side colour."""
        for side in self._changing(which):
            side.particles.setData(xy, colors)

    def particle_color(self, which: str) -> tuple[float, float, float, float]:
        """The side's particle colour (RGBA 0..1) when they are not coloured by class."""
        return PARTICLE_COLORS[self._select(which, both=False)[0].name]

    def set_point_size(self, size: float) -> None:
        for side in self._sides.values():
            side.particles.setPointSize(size)

    def set_trails(self, which: str, positions: np.ndarray | None) -> None:
        """positions: (L, N, 2) over the last L frames, oldest first: L-1 segments per particle
        (field_items.trail_pairs: at most TRAIL_MAX_PARTICLES); None or L < 2 clears them."""
        pairs = None if positions is None else trail_pairs(positions, TRAIL_MAX_PARTICLES)
        for side in self._changing(which):
            if pairs is None:
                side.trails.clear()
            else:
                side.trails.setData(x=pairs[:, 0], y=pairs[:, 1], connect="pairs")

    def set_computing(self, on: bool) -> None:
        """Show the "computing…" tag in both plots while what they draw is older than the
        settings (ExplorerController.show_computing)."""
        from .computing_hint import ComputingHint

        if "_hints" not in self.__dict__:
            self._hints = [ComputingHint(s.plot.getViewBox()) for s in self._sides.values()]
        for hint in self._hints:
            hint.set_visible(on)

    def computing_shown(self) -> bool:
        return any(h.visible() for h in self.__dict__.get("_hints", ()))

    def set_field(
        self,
        which: str,
        origins: np.ndarray | None,
        vectors: np.ndarray | None,
        layer: str = "field",
        color=None,
        reference: float = 0.0,
    ) -> None:
        """Arrows origins (M, 2) -> origins + s * vectors (M, 2) on layer 'field' or 'score'.

        One scale s per view for all its arrow sets: the largest typical length of the visible
        layers (``reference``: the exact field's, so that learned - exact shows small; the
        median |v| when it is 0) fills ~0.8 grid cell; a legend in the view
        says which |v| an arrow of its length has. Heads are 30% of an arrow, capped; zero
        vectors draw nothing. origins None clears the layer. color: anything pg.mkColor
        takes, or None to keep the current one.
        """
        if layer not in ("field", "score"):
            raise ValueError(f"layer must be 'field' or 'score', got {layer!r}")
        for side in self._changing(which):
            arrows = side.field if layer == "field" else side.score
            if color is not None:
                arrows.set_color(color)
            if origins is None or vectors is None:
                side.arrow_data.pop(layer, None)
                arrows.set_segments(np.zeros((0, 2)), np.zeros((0, 2)))
            else:
                o = np.asarray(origins, dtype=np.float64).reshape(-1, 2)
                v = np.asarray(vectors, dtype=np.float64).reshape(-1, 2)
                if o.shape != v.shape:
                    raise ValueError(
                        f"origins {o.shape} and vectors {v.shape} must both have shape (M, 2)"
                    )
                side.arrow_data[layer] = (o, v, float(reference))
            self._rescale(side)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Setters called inside redraw each view's arrows once, at the end, instead of once
        per call: a field result sets three arrow layers (ODE, SDE, score on both), and each
        set redrew every arrow layer of its view (8 segment sets instead of 4). Synchronous, so
        the next paint shows all layers of the result together."""
        self._batching += 1
        try:
            yield
        finally:
            self._batching -= 1
            if not self._batching:
                due, self._rescale_due = self._rescale_due, set()
                for name in SIDES:
                    if name in due:
                        self._sides[name].rescale(self._visible)

    def _rescale(self, side: ExplorerSide) -> None:
        if self._batching:
            self._rescale_due.add(side.name)
        else:
            side.rescale(self._visible)

    def arrow_legend(self, which: str) -> ScaleLegend:
        """The view's arrow-scale legend ('ode' or 'sde')."""
        return self._select(which, both=False)[0].legend

    def set_density(
        self,
        which: str,
        image: np.ndarray | None,
        bounds: tuple[float, float, float, float] | None = None,
        log: bool = False,
        label: str | None = None,
    ) -> None:
        """image: (H, W) >= 0 with row 0 = TOP; bounds (xmin, xmax, ymin, ymax); None clears.
        label: what the colour bar measures."""
        for side in self._changing(which):
            if image is None:
                side.density.clear()
                continue
            if bounds is None:
                raise ValueError("set_density needs bounds=(xmin, xmax, ymin, ymax)")
            side.density.set_density(image, bounds, log=log, label=label)

    def set_heatmap(self, which: str, values, bounds, levels, cmap=None, label=None) -> None:
        """Any (H, W) values (row 0 = TOP) with colour scale ``levels`` (lo, hi), ``cmap`` (a
        pg.ColorMap; None: the density map) and the colour bar's ``label``."""
        for side in self._changing(which):
            side.density.set_values(values, bounds, levels, cmap, label)

    def set_sde_title(self, drop_score_term: bool) -> None:
        """The SDE view's title: the equation integrated (without the score term when that
        bug demo is on). Two lines either way, so both plots keep the same size and axes."""
        title = SDE_TITLE_NO_SCORE if drop_score_term else SDE_TITLE
        self._sides["sde"].plot.setTitle(title, color="#222222", size="10pt")

    def set_time(self, t: float) -> None:
        self._t = float(t)
        text = f"t = {t:.2f}  ▶" if self._playing else f"t = {t:.2f}"
        for side in self._changing("both"):
            side.set_label(text)

    def set_playing(self, playing: bool) -> None:
        """Whether t plays: the views' t label shows ▶ while it does (the button says Play /
        Pause)."""
        self._playing = bool(playing)
        self.set_time(self._t)

    def set_bounds(self, bounds: tuple[float, float, float, float]) -> None:
        """Show (xmin, xmax, ymin, ymax) in both plots (aspect stays 1: one axis may grow)."""
        xmin, xmax, ymin, ymax = (float(b) for b in bounds)
        self._bounds = (xmin, xmax, ymin, ymax)
        self._changing("both")  # both repaint: the SDE plot's range is linked to the ODE's
        self._sides["ode"].plot.getViewBox().setRange(
            xRange=(xmin, xmax), yRange=(ymin, ymax), padding=0.0
        )
        # the new range's axis pictures in a turn of their own, before the plots repaint:
        # drawing them inside the first plot's repaint made it a 25 ms turn (paint_turns)
        run_first(self._prepare_axes)

    def _prepare_axes(self) -> None:
        for side in self._sides.values():  # the second plot finds the first one's pictures
            for name in ("left", "bottom"):
                axis = side.plot.getAxis(name)
                if isinstance(axis, CachedAxis) and axis.isVisible():
                    axis.prepare()

    def visible_bounds(self) -> tuple[float, float, float, float]:
        """(xmin, xmax, ymin, ymax) of the plane the plots show now (the aspect lock makes it
        wider or taller than the bounds asked by set_bounds): the arrows and heatmap cover it."""
        (x0, x1), (y0, y1) = self._sides["ode"].plot.getViewBox().viewRange()
        return float(x0), float(x1), float(y0), float(y1)

    def set_layer_visible(self, name: str, visible: bool) -> None:
        if name not in LAYERS:
            raise ValueError(f"layer must be one of {LAYERS}, got {name!r}")
        self._visible[name] = bool(visible)
        for side in self._sides.values():
            for item in side.layer_items(name):
                item.setVisible(bool(visible))
            if name in ("field", "score"):
                self._rescale(side)

    def layer_visible(self, name: str) -> bool:
        return self._visible[name]

    # ----------------------------------------------------------------- export
    def render_image(self, source: str = "auto") -> QtGui.QImage:
        """Both plots as one QImage (device pixels, devicePixelRatio set).

        source "gl": QOpenGLWidget.grabFramebuffer() of each viewport (what is on screen;
        needs a shown view with GL viewports). "raster": each scene painted by QPainter into
        the image (GLPointsItem draws through its QPainter fallback; works hidden too).
        "auto": "gl" when the view uses GL and is visible, else "raster".
        """
        from flowscope.ui.explorer_export import render_image

        return render_image(self, source)

    def export_svg(self, path: str) -> None:
        """Vector export via QSvgGenerator (pyqtgraph's SVGExporter fails on current Qt), with
        the arrows, trails and particles in page units. Particles become one SVG point each:
        large files for many particles."""
        from flowscope.ui.explorer_export import export_svg

        export_svg(self, path)
