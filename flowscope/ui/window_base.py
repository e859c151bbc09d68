"""What the 2D and the image window share: error reporting, menu actions, the cheat-sheet, the
Save / Discard / Cancel question, the scrolling control column, the size that fits a laptop
screen, and where the last session is kept for the next launch."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFrame, QMainWindow, QMessageBox, QScrollArea, QWidget

from .actions import add_action


class FlowscopeWindow(QMainWindow):
    """A top-level flowscope window. ``ask_to_save`` False (tests, scripted mode): no modal
    dialog ever opens; errors go to the status bar and ``last_error``."""

    #: which cheat-sheet F1 shows
    image_mode = False

    def __init__(self, ask_to_save: bool = True):
        super().__init__()
        self.ask_to_save = ask_to_save
        self.last_error: str | None = None

    def show_error(self, title: str, text: str) -> None:
        """In the status bar and in ``last_error``; also a dialog when interactive."""
        self.statusBar().showMessage(f"{title}: {text}", 8000)
        if self.ask_to_save:
            QMessageBox.warning(self, title, text)
        self.last_error = f"{title}: {text}"

    _error = show_error  # the name the windows' own code uses

    def _action(self, menu, text, slot, shortcut=None, tip=None, checkable=False) -> QAction:
        return add_action(self, menu, text, slot, shortcut, tip, checkable)

    def show_cheatsheet(self) -> None:
        from .help import cheatsheet_dialog

        cheatsheet_dialog(self, image_mode=self.image_mode).exec()

    def ask_save_or_discard(self, title: str, text: str) -> str:
        """'save', 'discard' or 'cancel', asked in a dialog (always 'discard' when not
        interactive: nothing may wait for a click that never comes)."""
        if not self.ask_to_save:
            return "discard"
        sb = QMessageBox.StandardButton
        ans = QMessageBox.question(self, title, text, sb.Save | sb.Discard | sb.Cancel)
        return {sb.Save: "save", sb.Cancel: "cancel"}.get(ans, "discard")


class ControlColumn(QScrollArea):
    """A column of controls that scrolls vertically on short screens and is never narrower than
    its content plus the scroll bar (so no control is cut on the right)."""

    def __init__(self, content: QWidget):
        super().__init__()
        self.setWidget(content)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

    def minimumSizeHint(self):  # noqa: N802 - Qt override
        hint = super().minimumSizeHint()
        bar = self.verticalScrollBar().sizeHint().width()
        hint.setWidth(self.widget().minimumSizeHint().width() + bar + 2)
        return hint


def fitted_size(win, width: int, height: int) -> tuple[int, int]:
    """(width, height), shrunk to the screen's available area (a laptop's 1366 x 768)."""
    screen = win.screen()
    if screen is None:
        return width, height
    geo = screen.availableGeometry()
    return min(width, geo.width()), min(height, geo.height())


def last_session_path() -> Path | None:
    """Where the last session is kept (FLOWSCOPE_HOME overrides; empty disables)."""
    home = os.environ.get("FLOWSCOPE_HOME")
    if home == "":
        return None
    base = Path(home) if home else Path.home() / ".local" / "share" / "flowscope"
    return base / "last-session.flowscope"


def last_image_model_path() -> Path | None:
    """Where image mode keeps its last trained model (beside the last session)."""
    base = last_session_path()
    return None if base is None else base.parent / "last-image-model"
