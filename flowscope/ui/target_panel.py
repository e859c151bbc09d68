"""The 2D window's left column: the target p_data (t = 1) as a preset, an imported file or your
own drawing on the canvas, and the source p_init (t = 0)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ..core.data import PRESETS
from . import formulas as F
from .canvas_layers import LayeredCanvas

#: the last entry of the preset list: the drawing on the canvas
DRAWING_ENTRY = "my drawing"
#: the hint under the canvas, for the layer being drawn
HINTS = {
    "target": "Draw with the left mouse button: your drawing becomes the target, even "
    "while training. Colours are classes (for guidance).",
    "source": "Drawing the source p<sub>init</sub> (orange): it becomes the source X<sub>0</sub>"
    " is drawn from (training starts over). Undo and Clear act on this layer only.",
}


class TargetPanel(QWidget):
    """Preset list + Import…, the drawing canvas and a hint. The window decides what a choice
    does (``presetActivated(index)``: an index into PRESETS, or the last entry, the drawing)."""

    presetActivated = Signal(int)  # noqa: N815 - Qt signal naming
    importClicked = Signal()  # noqa: N815

    def __init__(self, parent=None):
        super().__init__(parent)
        lv = QVBoxLayout(self)
        lv.setContentsMargins(6, 6, 6, 6)
        lv.addWidget(QLabel("<b>Target p<sub>data</sub></b> (t = 1)"))
        row = QHBoxLayout()
        self.preset_combo = QComboBox()
        self.preset_combo.addItems([p.replace("_", " ") for p in PRESETS] + [DRAWING_ENTRY])
        self.preset_combo.setToolTip("a preset target, or your own drawing (draw below)")
        self.preset_combo.activated.connect(self.presetActivated)
        row.addWidget(self.preset_combo, 1)
        imp = QPushButton("Import…")
        imp.setToolTip("an image (density ∝ darkness) or a point file (csv/npy, optional label)")
        imp.clicked.connect(self.importClicked)
        row.addWidget(imp)
        lv.addLayout(row)
        self.canvas = LayeredCanvas()  # the target and, as a second layer, the source
        self.canvas.setMinimumSize(240, 240)  # a laptop screen (1280 x 720) must fit the window
        lv.addWidget(self.canvas, 1)
        self.hint = hint = QLabel(HINTS["target"])
        hint.setWordWrap(True)
        hint.setStyleSheet("color:#555;")
        lv.addWidget(hint)
        self.canvas.layerChanged.connect(lambda layer: hint.setText(HINTS[layer]))
        source = QLabel("Source p<sub>init</sub> (t = 0): standard Gaussian N(0, I)")
        source.setToolTip(F.tooltip(f"{F.sub('X', '0')} ~ N(0, I); the path is {F.PATH}"))
        lv.addWidget(source)

    def show_target(self, name: str, is_drawing: bool) -> None:
        """Select ``name`` in the preset list (the drawing entry for a drawing; an imported
        file leaves the selection as it is)."""
        idx = self.preset_combo.findText(name.replace("_", " "))
        if idx < 0 and is_drawing:
            idx = self.preset_combo.count() - 1
        if idx >= 0:
            self.preset_combo.setCurrentIndex(idx)
