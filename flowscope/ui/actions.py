"""Menu actions with a shortcut and a status tip, shared by the windows."""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence


def add_action(owner, menu, text, slot, shortcut=None, tip=None, checkable=False) -> QAction:
    """A QAction owned by ``owner``, added to ``menu``, calling ``slot`` when triggered.

    A plain action calls ``slot()`` with no argument: QAction.triggered carries a ``checked``
    flag that PySide would otherwise pass into a slot's first default parameter (``export(path=
    None)`` received False as the path). A checkable action calls ``slot(checked)``.
    """
    a = QAction(text, owner)
    if shortcut:
        a.setShortcut(QKeySequence(shortcut))
    if tip:
        a.setStatusTip(tip)
        a.setToolTip(tip)
    a.setCheckable(checkable)
    if checkable:
        a.triggered.connect(lambda checked=False: slot(bool(checked)))
    else:
        a.triggered.connect(lambda checked=False: slot())
    menu.addAction(a)
    return a
