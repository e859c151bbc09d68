"""ExplorerColumn: the main window's centre column.

The ODE / SDE explorer, the time bar under it, one status line (which field the particles
follow) and a red line that appears when the SDE's particles blew up (what to change).
"""

from __future__ import annotations

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
        self.sde_warning_label = QLabel("")
        self.sde_warning_label.setStyleSheet("color:#c0392b;")
        self.sde_warning_label.setWordWrap(True)
        self.sde_warning_label.setVisible(False)
        column.addWidget(self.sde_warning_label)

    def show_sde_warning(self, text: str) -> None:
        """The red line under the explorer; "" hides it."""
        self.sde_warning_label.setText(text)
        self.sde_warning_label.setVisible(bool(text))
