"""The canvas's second layer: the source p_init, drawn beside the target (issue 14, section 3).

:class:`LayeredCanvas` is the :class:`~flowscope.ui.canvas.TargetCanvas` with a "Draw: target |
source" switch above its tools. The brush, the eraser, the width slider, Undo / Redo and Clear act
on the layer being drawn; each layer keeps its own :class:`~flowscope.core.data.Drawing` and its
own QUndoStack, joined in one QUndoGroup whose active stack is the active layer's (Edit > Undo
follows it). Source strokes are orange areas with a dark outline (no classes: a source has
none); the layer not being drawn on is faded. The target API of TargetCanvas (``drawing()``,
``undo_stack()``, ``drawingChanged``) is unchanged; the source layer has its own
(``source_drawing()``, ``set_source_drawing()``, ``sourceDrawingChanged``, ``sourceEdited``).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QPen, QUndoGroup, QUndoStack
from PySide6.QtWidgets import (
    QButtonGroup,
    QGraphicsPathItem,
    QHBoxLayout,
    QLabel,
    QToolButton,
    QWidget,
)

from flowscope.core.data.drawing import Drawing, Stroke
from flowscope.ui.canvas import Z_STROKES, TargetCanvas
from flowscope.ui.canvas_items import (
    CLASS_COLORS,
    AddStrokeCommand,
    ClearCommand,
    painted_icon,
    stroke_item,
    stroke_shape,
    swatch_painter,
)

LAYERS = ("target", "source")
#: the source's colour (no class colour is orange) and its outline
SOURCE_COLOR, SOURCE_OUTLINE = "#f39c12", "#a04000"
SOURCE_ALPHA, SOURCE_LIVE_ALPHA = 120, 170
#: the layer not being drawn on
INACTIVE_OPACITY = 0.4
Z_SOURCE = Z_STROKES + 1
LAYER_TIPS = {
    "target": "draw the target p<sub>data</sub> (t = 1): strokes in the class colours",
    "source": (
        "draw the source p<sub>init</sub> (t = 0), X<sub>0</sub> ~ p<sub>init</sub>: orange "
        "strokes become a Gaussian mixture (pick <i>drawn source</i> in the training panel's "
        "source combo; drawing here picks it). Undo, Redo and Clear act on this layer only."
    ),
}


def source_stroke_item(
    points: np.ndarray, width: float, erase: bool, live: bool = False
) -> QGraphicsPathItem:
    """A source stroke: the area it covers, filled orange with a 1-px dark outline (an eraser
    stroke as on the target layer)."""
    if erase:
        return stroke_item(points, width, SOURCE_COLOR, 0, True, live)
    item = QGraphicsPathItem(stroke_shape(np.asarray(points, dtype=np.float64), width))
    fill = QColor(SOURCE_COLOR)
    fill.setAlpha(SOURCE_LIVE_ALPHA if live else SOURCE_ALPHA)
    item.setBrush(QBrush(fill))
    pen = QPen(QColor(SOURCE_OUTLINE), 1.2)
    pen.setCosmetic(True)  # a 1-px outline at any zoom (PITFALLS 15)
    item.setPen(pen)
    return item


class SourceLayer(QObject):
    """The source drawing, its undo stack and the items that show it in ``view_box``."""

    changed = Signal()  # any change: a user's edit or set_drawing
    edited = Signal()  # a user's edit: a stroke, an eraser stroke, Undo, Redo, Clear

    def __init__(self, view_box, parent: QObject | None = None):
        super().__init__(parent)
        self.drawing = Drawing()
        self.undo_stack = QUndoStack(self)
        self._view_box = view_box
        self._items: list[QGraphicsPathItem] = []
        self._opacity = INACTIVE_OPACITY

    def push(self, stroke: Stroke) -> None:
        self.undo_stack.push(AddStrokeCommand(self.drawing, stroke, self._on_edit))

    def clear(self) -> None:
        if self.drawing.strokes:
            self.undo_stack.push(ClearCommand(self.drawing, self._on_edit))

    def set_drawing(self, drawing: Drawing) -> None:
        """Replace the strokes (an opened project) and clear this layer's undo history."""
        self.undo_stack.clear()
        self.drawing.strokes[:] = list(drawing.strokes)
        self.render()
        self.changed.emit()

    def set_opacity(self, opacity: float) -> None:
        self._opacity = float(opacity)
        for item in self._items:
            item.setOpacity(self._opacity)

    def render(self) -> None:
        for item in self._items:
            self._view_box.removeItem(item)
        self._items = []
        for s in self.drawing.strokes:
            item = source_stroke_item(s.points, s.width, s.erase)
            item.setZValue(Z_SOURCE)
            item.setOpacity(self._opacity)
            self._view_box.addItem(item, ignoreBounds=True)
            self._items.append(item)

    def _on_edit(self) -> None:
        self.render()
        self.edited.emit()
        self.changed.emit()


class LayeredCanvas(TargetCanvas):
    """TargetCanvas + a source layer and the switch that picks which one the tools draw on."""

    sourceDrawingChanged = Signal()  # noqa: N815 - Qt signal naming
    sourceEdited = Signal()  # noqa: N815
    layerChanged = Signal(str)  # noqa: N815

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._layer = "target"
        self.source_layer = SourceLayer(self._view_box, self)
        self.source_layer.changed.connect(self.sourceDrawingChanged)
        self.source_layer.edited.connect(self.sourceEdited)
        self.source_layer.changed.connect(self._refresh_buttons)
        #: the active layer's undo stack (Edit > Undo / Redo act through it)
        self.undo_group = QUndoGroup(self)
        self.undo_group.addStack(self._undo_stack)
        self.undo_group.addStack(self.source_layer.undo_stack)
        self.undo_group.setActiveStack(self._undo_stack)
        # the tool row's Undo / Redo follow the active layer, not the target's stack alone
        self._undo_stack.canUndoChanged.disconnect(self._undo_button.setEnabled)
        self._undo_stack.canRedoChanged.disconnect(self._redo_button.setEnabled)
        self._undo_button.clicked.disconnect()
        self._redo_button.clicked.disconnect()
        self._undo_button.clicked.connect(self.undo_group.undo)
        self._redo_button.clicked.connect(self.undo_group.redo)
        self.undo_group.canUndoChanged.connect(self._undo_button.setEnabled)
        self.undo_group.canRedoChanged.connect(self._redo_button.setEnabled)
        self.layout().insertLayout(0, self._build_layer_row())
        self.set_layer("target")

    # ----------------------------------------------------------------- construction
    def _build_layer_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.setContentsMargins(2, 0, 2, 0)
        row.setSpacing(2)
        row.addWidget(QLabel("Draw:"))
        self._layer_group = QButtonGroup(self)
        self.layer_buttons: dict[str, QToolButton] = {}
        colors = {"target": CLASS_COLORS[0], "source": SOURCE_COLOR}
        texts = {"target": "target p_data", "source": "source p_init"}
        for i, name in enumerate(LAYERS):
            b = QToolButton(self)
            b.setText(texts[name])
            b.setIcon(painted_icon(swatch_painter(colors[name])))
            b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            b.setCheckable(True)
            b.setAutoRaise(True)
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            b.setToolTip(f"<p>{LAYER_TIPS[name]}</p>")
            self._layer_group.addButton(b, i)
            self.layer_buttons[name] = b
            row.addWidget(b)
        row.addStretch(1)
        self._layer_group.idClicked.connect(lambda i: self.set_layer(LAYERS[i]))
        return row

    # ----------------------------------------------------------------- public API
    def layer(self) -> str:
        """The layer the tools draw on: 'target' or 'source'."""
        return self._layer

    def set_layer(self, layer: str) -> None:
        """Draw on ``layer`` ('target' or 'source'); the other one is shown faded."""
        if layer not in LAYERS:
            raise ValueError(f"unknown layer {layer!r}; use one of {', '.join(LAYERS)}")
        self._cancel_live_stroke()
        changed = layer != self._layer
        self._layer = layer
        self.layer_buttons[layer].setChecked(True)
        source = layer == "source"
        self.undo_group.setActiveStack(self.source_layer.undo_stack if source else self._undo_stack)
        self.source_layer.set_opacity(1.0 if source else INACTIVE_OPACITY)
        self._fade_target_strokes()
        for b in self._class_group.buttons():
            b.setEnabled(not source)  # a source has no classes
        self._refresh_buttons()
        if changed:
            self.layerChanged.emit(layer)

    def source_drawing(self) -> Drawing:
        """A copy of the source layer's drawing."""
        return Drawing(list(self.source_layer.drawing.strokes))

    def set_source_drawing(self, drawing: Drawing) -> None:
        """Replace the source layer's strokes and clear its undo history."""
        if self._layer == "source":
            self._cancel_live_stroke()
        self.source_layer.set_drawing(drawing)

    def source_undo_stack(self) -> QUndoStack:
        return self.source_layer.undo_stack

    # ----------------------------------------------------------------- overrides
    def _push_stroke(self, points: np.ndarray) -> None:
        if self._layer != "source":
            super()._push_stroke(points)
            return
        erase = self._tool == "eraser"
        self.source_layer.push(Stroke(points, self._brush_width, 0, erase=erase))

    def _live_stroke_item(self):
        if self._layer != "source":
            return super()._live_stroke_item()
        points = np.asarray(self._live_points)
        return source_stroke_item(points, self._brush_width, self._tool == "eraser", live=True)

    def _on_clear_button_clicked(self) -> None:
        if self._layer == "source":
            self.source_layer.clear()
        else:
            super()._on_clear_button_clicked()

    def _on_drawing_modified(self) -> None:
        super()._on_drawing_modified()
        self._fade_target_strokes()

    def _fade_target_strokes(self) -> None:
        opacity = INACTIVE_OPACITY if getattr(self, "_layer", "target") == "source" else 1.0
        for item in self._stroke_items:
            item.setOpacity(opacity)

    def _refresh_buttons(self) -> None:
        layer = getattr(self, "source_layer", None)
        if layer is None or self._layer != "source":
            super()._refresh_buttons()
            return
        self._undo_button.setEnabled(layer.undo_stack.canUndo())
        self._redo_button.setEnabled(layer.undo_stack.canRedo())
        self._clear_button.setEnabled(bool(layer.drawing.strokes))
