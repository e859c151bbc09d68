"""ExplorerColumn: the main window's centre column.

The ODE / SDE explorer, the time bar under it, one status line (which field the particles
follow) and a red line that appears when the SDE's particles blew up (what to change).

The red line floats over the explorer's bottom edge instead of taking a row of the layout: a row
that appeared and went (a fresh network's SDE blows up, then settles) shrank and grew the whole
explorer by a line, and both plots and the colour bar repainted at their new size in one
stretch of the GUI thread (35-50 ms on 2 cores: bench/gui_latency.py), while the plots jumped.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from ..state import AppState
from .explorer import ExplorerView
from .steady_label import ElidedLabel
from .time_bar import TimeBar

__all__ = ["ExplorerColumn"]


class ExplorerColumn(QWidget):
    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 6, 0, 0)
        self.explorer = ExplorerView()
        column.addWidget(self.explorer, 1)
        self.time_bar = TimeBar(state)
        column.addWidget(self.time_bar)
        # on its own line: a long status beside the slider squeezed it to nothing at 1024 px
        self.status_label = ElidedLabel("")  # its text's width must not resize the explorer
        self.status_label.setStyleSheet("color:#555;")
        column.addWidget(self.status_label)
        # not in the layout (see the module docstring); opaque, so that showing it repaints
        # nothing beneath it
        self.sde_warning_label = QLabel("", self)
        self.sde_warning_label.setStyleSheet(
            "color:#c0392b; background-color:#fdecea; border-top:1px solid #f5c6c0;padding:2px 6px;"
        )
        self.sde_warning_label.setAutoFillBackground(True)
        self.sde_warning_label.setWordWrap(True)
        self.sde_warning_label.setVisible(False)
        self.explorer.installEventFilter(self)  # the line follows the explorer's bottom edge

    def show_sde_warning(self, text: str) -> None:
        """The red line over the explorer's bottom edge; "" hides it."""
        label = self.sde_warning_label
        if text == label.text() and bool(text) == label.isVisibleTo(self):
            return
        label.setText(text)
        self._place_warning()
        label.setVisible(bool(text))
        label.raise_()

    def _place_warning(self) -> None:
        box = self.explorer.geometry()
        height = self.sde_warning_label.heightForWidth(box.width())  # the lines it wraps to
        self.sde_warning_label.setGeometry(box.x(), box.bottom() + 1 - height, box.width(), height)

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt override
        if watched is self.explorer and event.type() in (QEvent.Type.Resize, QEvent.Type.Move):
            self._place_warning()
        return False
