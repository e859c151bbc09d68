"""Menu actions with a shortcut and a status tip, shared by the windows."""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence


def add_action(owner, menu, text, slot, shortcut=None, tip=None, checkable=False) -> QAction:
    """A QAction owned by ``owner``, added to ``menu``, calling ``slot`` when triggered."""
    a = QAction(text, owner)
    if shortcut:
        a.setShortcut(QKeySequence(shortcut))
    if tip:
        a.setStatusTip(tip)
        a.setToolTip(tip)
    a.setCheckable(checkable)
    a.triggered.connect(slot)
    menu.addAction(a)
    return a
