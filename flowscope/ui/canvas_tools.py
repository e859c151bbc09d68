"""CanvasToolRow: the row of drawing tools above the target canvas.

Brush and eraser, the brush width, the class of new strokes (its colour) and Undo / Redo /
Clear. The row only shows the choices; :class:`~flowscope.ui.canvas.TargetCanvas` connects
its buttons and keeps the tool, width and class it draws with (and the keyboard shortcuts).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QButtonGroup, QFrame, QHBoxLayout, QToolButton, QWidget
from superqt import QLabeledDoubleSlider

from flowscope.core.data.drawing import LABEL_NAMES
from flowscope.ui.canvas_items import (
    CLASS_COLORS,
    paint_brush,
    paint_clear,
    paint_eraser,
    paint_undo,
    painted_icon,
    swatch_painter,
)

__all__ = ["BRUSH_WIDTH_RANGE", "TOOLS", "CanvasToolRow"]

TOOLS = ("brush", "eraser")
BRUSH_WIDTH_RANGE = (0.1, 2.0)
BRUSH_WIDTH_DECIMALS = 2
SLIDER_WIDTH_PX = 110
WIDTH_TOOLTIP = "brush width: each stroke becomes Gaussians of std width/4 along its path"


class CanvasToolRow(QWidget):
    """Tool buttons (ids = indices of TOOLS in ``tool_group``), the width slider, one swatch
    per class (ids = class in ``class_group``) and the undo / redo / clear buttons."""

    def __init__(self, brush_width: float, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(2, 2, 2, 0)
        row.setSpacing(1)
        self.tool_group = QButtonGroup(self)
        self.brush_button = self._tool_button(painted_icon(paint_brush), "Brush (B)")
        self.eraser_button = self._tool_button(
            painted_icon(paint_eraser), "Eraser (E): removes what was drawn under it"
        )
        for i, button in enumerate((self.brush_button, self.eraser_button)):
            self.tool_group.addButton(button, i)
            row.addWidget(button)
        self.brush_button.setChecked(True)
        row.addWidget(self._separator())

        self.width_slider = QLabeledDoubleSlider(Qt.Orientation.Horizontal, self)
        self.width_slider.setDecimals(BRUSH_WIDTH_DECIMALS)
        self.width_slider.setRange(*BRUSH_WIDTH_RANGE)
        self.width_slider.setValue(brush_width)
        self.width_slider.setToolTip(f"{WIDTH_TOOLTIP} ([ smaller, ] larger)")
        # the slider takes the row's spare width, the value label keeps room for "0.00"
        self.width_slider.setMinimumWidth(SLIDER_WIDTH_PX)
        row.addWidget(self.width_slider, 1)
        row.addWidget(self._separator())

        self.class_group = QButtonGroup(self)
        for k, color in enumerate(CLASS_COLORS):
            tip = (
                f"draw class {LABEL_NAMES[k]} (key {k + 1}): classes give a labelled target "
                "for guidance, y = its colour"
            )
            button = self._tool_button(painted_icon(swatch_painter(color)), tip)
            self.class_group.addButton(button, k)
            row.addWidget(button)
        self.class_group.button(0).setChecked(True)

        self.undo_button = self._tool_button(
            painted_icon(paint_undo), "Undo (Edit > Undo)", checkable=False
        )
        self.redo_button = self._tool_button(
            painted_icon(lambda p: paint_undo(p, mirror=True)), "Redo (Edit > Redo)", False
        )
        self.clear_button = self._tool_button(
            painted_icon(paint_clear), "Clear the drawing (undoable)", checkable=False
        )
        for button in (self.undo_button, self.redo_button, self.clear_button):
            row.addWidget(button)

    def _tool_button(self, icon: QIcon, tip: str, checkable: bool = True) -> QToolButton:
        button = QToolButton(self)
        button.setIcon(icon)
        button.setToolTip(tip)
        button.setCheckable(checkable)
        button.setAutoRaise(True)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        return button

    def _separator(self) -> QFrame:
        line = QFrame(self)
        line.setFrameShape(QFrame.Shape.VLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        return line
