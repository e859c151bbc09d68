import os
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest  # noqa: E402
import torch  # noqa: E402

# parallel workers (pytest-xdist, scripts/test.sh) share the cores: torch threads beyond a
# worker's share would only wait for one another
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
torch.set_num_threads(max(1, min(2, (os.cpu_count() or 1) // _WORKERS)))

TESTS = Path(__file__).resolve().parent
# modules that make a test need Qt and a display (a QApplication, widgets, GL)
QT_MODULES = ("PySide6", "pyqtgraph", "pytestqt", "superqt", "flowscope.ui", "flowscope.app")


def _uses_qt(item: pytest.Item) -> bool:
    if "qtbot" in getattr(item, "fixturenames", ()) or "qapp" in getattr(item, "fixturenames", ()):
        return True
    module = getattr(item, "module", None)
    names = {getattr(v, "__name__", "") for v in vars(module).values()} if module else set()
    return any(n == m or n.startswith(m + ".") for n in names for m in QT_MODULES)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Test tiers: tests/ui and anything that uses Qt -> `gui` (needs a display: pytest-xvfb),
    the rest -> `core` (no Qt, no display). `slow` is set by hand on the long ones.
    `bash scripts/test.sh -m core` runs one tier; `-m "not slow"` skips the long ones."""
    for item in items:
        rel = Path(str(item.path)).resolve().relative_to(TESTS)
        if rel.parts[0] == "ui" or _uses_qt(item):
            item.add_marker(pytest.mark.gui)
        else:
            item.add_marker(pytest.mark.core)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def find_menu_action(win, text: str):
    """The QAction a user reaches through ``win``'s menu bar (submenus too) whose text is ``text``
    ('&' mnemonics ignored on both sides); fails with the count unless exactly one matches."""
    want = text.replace("&", "")
    found: list = []
    menus = [a.menu() for a in win.menuBar().actions() if a.menu() is not None]
    while menus:
        menu = menus.pop(0)
        for a in menu.actions():
            if a.menu() is not None:
                menus.append(a.menu())
            elif a.text().replace("&", "") == want and not any(a is b for b in found):
                found.append(a)
    assert len(found) == 1, f"{len(found)} menu actions named {text!r}"
    return found[0]


@pytest.fixture
def menu_action():
    """``menu_action(win, text)``: a window's menu action, found the way a user finds it (test
    menus through ``QAction.trigger()``, PITFALLS.md item 18)."""
    return find_menu_action
