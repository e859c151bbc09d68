"""TargetCanvas: draw a 2D target with a brush, over the current target's density.

Left-drag draws a stroke in plane coordinates (right/middle drag and the wheel still pan and zoom);
a click makes a dot. Every finished stroke and every Clear is a QUndoCommand on the canvas's
QUndoStack, so the main window can build Edit > Undo/Redo from :meth:`TargetCanvas.undo_stack`.
The canvas only edits a :class:`~flowscope.core.data.Drawing`; turning it into a target is the
caller's job (listen to ``drawingChanged``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QKeySequence, QPainter, QPen, QShortcut, QUndoStack
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsPathItem,
    QVBoxLayout,
    QWidget,
)

from flowscope.core.data.drawing import MAX_LABELS, Drawing, Stroke
from flowscope.ui.cached_axis import cached_axes
from flowscope.ui.canvas_items import (
    CLASS_COLORS,
    AddStrokeCommand,
    ClearCommand,
    StrokeViewBox,
    reserve_pixmap_cache,
    stroke_item,
)
from flowscope.ui.canvas_tools import BRUSH_WIDTH_RANGE, TOOLS, CanvasToolRow
from flowscope.ui.paint_turns import hold_paint

Bounds = tuple[float, float, float, float]

DEFAULT_BOUNDS: Bounds = (-3.5, 3.5, -3.5, 3.5)
DEFAULT_BRUSH_WIDTH = 0.4
#: [ and ] divide / multiply the brush width by this factor
BRUSH_WIDTH_FACTOR = 1.25
#: a new stroke point is kept once it is this many brush widths from the previous one
POINT_SPACING = 0.1
STROKE_ALPHA, LIVE_ALPHA = 150, 200
POINTS_COLOR = (90, 90, 90, 110)
POINT_SIZE_PX = 3
GRID_ALPHA = 0.15
#: density colormap, white at 0 so strokes stay readable
DENSITY_COLORS = ("#ffffff", "#e4ebf3", "#b9c9dc", "#8aa3c0")
Z_DENSITY, Z_POINTS, Z_STROKES, Z_LIVE, Z_OUTLINE = -20, -10, 10, 20, 30


class TargetCanvas(QWidget):
    """The Target panel's drawing canvas: a tool row above a pyqtgraph plot.

    Shortcuts (active while the canvas has focus): B brush, E eraser, 1-4 class, [ ] brush width.
    """

    drawingChanged = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._drawing = Drawing()
        self._undo_stack = QUndoStack(self)
        self._tool = "brush"
        self._class = 0
        self._brush_width = DEFAULT_BRUSH_WIDTH
        self._live_points: list[tuple[float, float]] = []
        self._live_item: QGraphicsPathItem | None = None
        self._stroke_items: list[QGraphicsPathItem] = []
        self._hover_pos: QPointF | None = None
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.tool_row = row = CanvasToolRow(self._brush_width, self)
        layout.addWidget(row)
        layout.addWidget(self._build_plot(), 1)
        # the row's controls, as the canvas (and canvas_layers' subclass) drives them
        self._tool_group, self._class_group = row.tool_group, row.class_group
        self._brush_button, self._eraser_button = row.brush_button, row.eraser_button
        self._width_slider = row.width_slider
        self._undo_button, self._redo_button = row.undo_button, row.redo_button
        self._clear_button = row.clear_button
        self._tool_group.idClicked.connect(self._on_tool_group_clicked)
        self._class_group.idClicked.connect(self._on_class_group_clicked)
        self._width_slider.valueChanged.connect(self._on_width_slider_changed)
        self._undo_button.clicked.connect(self._undo_stack.undo)
        self._redo_button.clicked.connect(self._undo_stack.redo)
        self._clear_button.clicked.connect(self._on_clear_button_clicked)
        self._build_shortcuts()
        self._undo_stack.canUndoChanged.connect(self._undo_button.setEnabled)
        self._undo_stack.canRedoChanged.connect(self._redo_button.setEnabled)
        self._refresh_buttons()

    # ----------------------------------------------------------------- construction
    def _build_plot(self) -> pg.PlotWidget:
        self._view_box = StrokeViewBox()
        axes = cached_axes()  # a box seen before is replayed (ui/cached_axis.py)
        self._plot = pg.PlotWidget(self, background="w", viewBox=self._view_box, axisItems=axes)
        item = self._plot.getPlotItem()
        item.hideButtons()
        item.showGrid(x=True, y=True, alpha=GRID_ALPHA)
        self._view_box.setAspectLocked(True)
        self._view_box.disableAutoRange()
        for name in ("left", "bottom"):
            # grow for wider tick labels but never shrink back: each change of width re-laid
            # the plot out and repainted it whole, two or three times per new target
            item.getAxis(name).setStyle(autoReduceTextSpace=False)
        self._plot.viewport().setCursor(Qt.CursorShape.CrossCursor)
        self._plot.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)  # smooth density

        self._density_item = pg.ImageItem(axisOrder="row-major")
        self._density_item.setColorMap(
            pg.ColorMap(np.linspace(0, 1, len(DENSITY_COLORS)), list(DENSITY_COLORS))
        )
        self._density_item.setZValue(Z_DENSITY)
        self._density_item.hide()
        self._view_box.addItem(self._density_item)
        from .colorbar import HeatmapScale  # the heatmap's scale, right of the plot

        cmap = pg.ColorMap(np.linspace(0, 1, len(DENSITY_COLORS)), list(DENSITY_COLORS))
        self.density_scale = HeatmapScale(item, self._density_item, cmap, "p_data(x)")
        # The bar keeps its place while hidden (a new target's heatmap is computing) and its
        # axis does not shrink back: each change of its width re-laid the plot out, rescaled
        # the aspect-locked view and repainted it whole, two or three times per new target.
        bar = self.density_scale.bar
        policy = bar.sizePolicy()
        policy.setRetainSizeWhenHidden(True)
        bar.setSizePolicy(policy)
        bar.axis.setStyle(autoReduceTextSpace=False)
        self._points_item = pg.ScatterPlotItem(
            size=POINT_SIZE_PX, pen=None, brush=pg.mkBrush(POINTS_COLOR), pxMode=True
        )
        self._points_item.setZValue(Z_POINTS)
        self._view_box.addItem(self._points_item)
        self._outline_item = QGraphicsEllipseItem()
        outline_pen = QPen(QColor("#444444"), 1)
        outline_pen.setCosmetic(True)
        self._outline_item.setPen(outline_pen)
        self._outline_item.setZValue(Z_OUTLINE)
        self._outline_item.hide()
        self._view_box.addItem(self._outline_item, ignoreBounds=True)
        # The static layers (the axes with their grid, the smoothly scaled heatmap) repaint as
        # cached device pixmaps: the brush outline moves with the mouse and strokes grow while
        # drawing, and each of those repaints re-drew the grid and re-scaled the heatmap.
        cache = QGraphicsItem.CacheMode.DeviceCoordinateCache
        for cached in (self._density_item, item.getAxis("left"), item.getAxis("bottom")):
            cached.setCacheMode(cache)

        self._view_box.penPressed.connect(self._on_view_pen_pressed)
        self._view_box.penMoved.connect(self._on_view_pen_moved)
        self._view_box.penReleased.connect(self._on_view_pen_released)
        self._view_box.penClicked.connect(self._on_view_pen_clicked)
        self._view_box.hoverMoved.connect(self._on_view_hover_moved)
        self.set_bounds(DEFAULT_BOUNDS)
        return self._plot

    def _build_shortcuts(self) -> None:
        keys: list[tuple[str, Callable[[], None]]] = [
            ("B", lambda: self.set_tool("brush")),
            ("E", lambda: self.set_tool("eraser")),
            ("[", lambda: self.set_brush_width(self._brush_width / BRUSH_WIDTH_FACTOR)),
            ("]", lambda: self.set_brush_width(self._brush_width * BRUSH_WIDTH_FACTOR)),
        ]
        keys += [(str(k + 1), lambda k=k: self.set_class(k)) for k in range(MAX_LABELS)]
        self._shortcuts = []
        for key, slot in keys:
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)
            self._shortcuts.append(shortcut)

    # ----------------------------------------------------------------- public API
    def drawing(self) -> Drawing:
        """A copy of the current drawing (its strokes, in drawing order)."""
        return Drawing(list(self._drawing.strokes))

    def set_drawing(self, drawing: Drawing) -> None:
        """Replace the contents with ``drawing``'s strokes and clear the undo history."""
        self._cancel_live_stroke()
        self._undo_stack.clear()
        self._drawing.strokes[:] = list(drawing.strokes)
        self._on_drawing_modified()

    def undo_stack(self) -> QUndoStack:
        """The stack of drawing edits (for Edit > Undo/Redo actions)."""
        return self._undo_stack

    def tool(self) -> str:
        """The active tool: 'brush' or 'eraser'."""
        return self._tool

    def set_tool(self, tool: str) -> None:
        """Choose the tool: 'brush' or 'eraser'."""
        if tool not in TOOLS:
            raise ValueError(f"unknown tool {tool!r}; use one of {', '.join(TOOLS)}")
        self._tool = tool
        self._tool_group.button(TOOLS.index(tool)).setChecked(True)

    def brush_width(self) -> float:
        """Brush diameter in plane units."""
        return self._brush_width

    def set_brush_width(self, width: float) -> None:
        """Set the brush diameter (plane units), clamped to BRUSH_WIDTH_RANGE."""
        width = float(np.clip(width, *BRUSH_WIDTH_RANGE))
        self._width_slider.setValue(width)
        self._brush_width = width
        self._update_outline()

    def current_class(self) -> int:
        """The class (0..3) that new strokes get."""
        return self._class

    def set_class(self, k: int) -> None:
        """Choose the class (0..3) of new strokes."""
        if int(k) != k or not 0 <= int(k) < MAX_LABELS:
            raise ValueError(f"class must be an int in 0..{MAX_LABELS - 1}, got {k}")
        self._class = int(k)
        self._class_group.button(self._class).setChecked(True)

    def set_bounds(self, bounds: Sequence[float]) -> None:
        """Show the plane box (xmin, xmax, ymin, ymax)."""
        xmin, xmax, ymin, ymax = (float(b) for b in bounds)
        self._view_box.setRange(xRange=(xmin, xmax), yRange=(ymin, ymax), padding=0)

    def set_density(self, image: np.ndarray | None, bounds: Sequence[float] | None = None) -> None:
        """Show a density (H, W) >= 0, row 0 at the TOP, filling ``bounds``; None hides it."""
        if image is None:
            self._density_item.hide()
            self.density_scale.hide()
            return
        image = np.asarray(image, dtype=np.float64)
        if image.ndim != 2 or not np.isfinite(image).all() or (image < 0).any():
            raise ValueError("the density must be a finite (H, W) array >= 0 (row 0 at the top)")
        if bounds is None:
            raise ValueError("give the density's bounds (xmin, xmax, ymin, ymax)")
        xmin, xmax, ymin, ymax = (float(b) for b in bounds)
        shown = getattr(self, "_density_shown", None)
        if (
            shown is not None
            and self._density_item.isVisible()
            and shown[0] == (xmin, xmax, ymin, ymax)
            and np.array_equal(shown[1], image)
        ):
            return  # the same heatmap again (an objective change re-sends it): no re-render
        self._density_shown = ((xmin, xmax, ymin, ymax), image.copy())
        hold_paint(self)  # a new heatmap repaints in a turn of its own (ui/paint_turns.py)
        top = float(image.max())
        self._density_item.setImage(
            np.ascontiguousarray(image[::-1]), autoLevels=False, levels=(0.0, top or 1.0)
        )
        self._density_item.setRect(QRectF(xmin, ymin, xmax - xmin, ymax - ymin))
        self._density_item.show()
        self.density_scale.show((0.0, top or 1.0))

    def set_points(self, xy: np.ndarray | None) -> None:
        """Show faint sample points (N, 2) of the target; None removes them."""
        if xy is None:
            self._points_item.clear()
            return
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        self._points_item.setData(x=xy[:, 0], y=xy[:, 1])

    def add_stroke(self, points: np.ndarray) -> None:
        """Add one finished stroke through ``points`` (K, 2) with the current tool, width and
        class, as a mouse drag does (undoable): scripts and benchmarks draw with it."""
        self._push_stroke(np.asarray(points, dtype=np.float64).reshape(-1, 2))

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._reserve_pixmap_cache()

    def _reserve_pixmap_cache(self) -> None:
        self._cache_kb = reserve_pixmap_cache(self._plot, getattr(self, "_cache_kb", 0))

    def plot_widget(self) -> pg.PlotWidget:
        """The pyqtgraph PlotWidget (to add overlays or read the view range)."""
        return self._plot

    # ----------------------------------------------------------------- handlers
    def _on_tool_group_clicked(self, button_id: int) -> None:
        self._tool = TOOLS[button_id]

    def _on_class_group_clicked(self, button_id: int) -> None:
        self._class = button_id

    def _on_width_slider_changed(self, value: float) -> None:
        self._brush_width = float(value)
        self._update_outline()

    def _on_clear_button_clicked(self) -> None:
        if self._drawing.strokes:
            self._undo_stack.push(ClearCommand(self._drawing, self._on_drawing_modified))

    def _on_view_pen_pressed(self, pos: QPointF) -> None:
        self._cancel_live_stroke()
        self._live_points = [(pos.x(), pos.y())]

    def _on_view_pen_moved(self, pos: QPointF) -> None:
        if not self._live_points:
            return
        last = np.asarray(self._live_points[-1])
        if np.hypot(*(np.asarray((pos.x(), pos.y())) - last)) < POINT_SPACING * self._brush_width:
            return
        self._live_points.append((pos.x(), pos.y()))
        self._show_live_stroke()

    def _on_view_pen_released(self, pos: QPointF) -> None:
        if not self._live_points:
            return
        self._live_points.append((pos.x(), pos.y()))
        points = np.asarray(self._live_points)
        self._cancel_live_stroke()
        self._push_stroke(points)

    def _on_view_pen_clicked(self, pos: QPointF) -> None:
        self._push_stroke(np.array([[pos.x(), pos.y()]]))

    def _on_view_hover_moved(self, pos: QPointF | None) -> None:
        self._hover_pos = pos
        self._update_outline()

    def _on_drawing_modified(self) -> None:
        """Re-render the strokes from the drawing and tell listeners."""
        for item in self._stroke_items:
            self._view_box.removeItem(item)
        self._stroke_items = []
        for stroke in self._drawing.strokes:
            color = CLASS_COLORS[stroke.label]
            item = stroke_item(stroke.points, stroke.width, color, STROKE_ALPHA, stroke.erase)
            item.setZValue(Z_STROKES)
            self._view_box.addItem(item, ignoreBounds=True)
            self._stroke_items.append(item)
        self._refresh_buttons()
        self.drawingChanged.emit()

    # ----------------------------------------------------------------- helpers
    def _push_stroke(self, points: np.ndarray) -> None:
        stroke = Stroke(points, self._brush_width, self._class, erase=self._tool == "eraser")
        self._undo_stack.push(AddStrokeCommand(self._drawing, stroke, self._on_drawing_modified))

    def _live_stroke_item(self):
        """The item drawing the stroke in progress (a layer may draw it its own way)."""
        erase = self._tool == "eraser"
        return stroke_item(np.asarray(self._live_points), self._brush_width,
                           CLASS_COLORS[self._class], LIVE_ALPHA, erase, live=True)  # fmt: skip

    def _show_live_stroke(self) -> None:
        item = self._live_stroke_item()
        if self._live_item is None:
            self._live_item = item
            item.setZValue(Z_LIVE)
            self._view_box.addItem(item, ignoreBounds=True)
        else:
            self._live_item.setPath(item.path())
            self._live_item.setPen(item.pen())
            self._live_item.setBrush(item.brush())

    def _cancel_live_stroke(self) -> None:
        self._live_points = []
        if self._live_item is not None:
            self._view_box.removeItem(self._live_item)
            self._live_item = None

    def _update_outline(self) -> None:
        pos = self._hover_pos
        if pos is None:
            self._outline_item.hide()
            return
        r = self._brush_width / 2
        self._outline_item.setRect(QRectF(pos.x() - r, pos.y() - r, 2 * r, 2 * r))
        self._outline_item.show()

    def _refresh_buttons(self) -> None:
        self._undo_button.setEnabled(self._undo_stack.canUndo())
        self._redo_button.setEnabled(self._undo_stack.canRedo())
        self._clear_button.setEnabled(bool(self._drawing.strokes))
