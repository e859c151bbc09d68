"""The app runs Qt's raster fills on the GUI thread (QT_NO_GUI_THREADPOOL, app.make_app): with
the trainer and the compute child on the cores, Qt's fill threads waited for a core while the
GUI thread slept on them (bench/gui_latency.py). Checked in fresh processes, where Qt creates
its pool on the first large fill: the threads it starts are counted by name."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.gui

SCRIPT = """
import os, sys
if sys.argv[1] == "app":
    from flowscope.app import make_app
    app = make_app()
else:
    from PySide6.QtWidgets import QApplication
    app = QApplication(sys.argv[:1])
from PySide6.QtCore import QPointF
from PySide6.QtGui import QColor, QImage, QPainter, QPolygonF
img = QImage(1600, 1600, QImage.Format.Format_ARGB32_Premultiplied)
img.fill(0)
painter = QPainter(img)
painter.setBrush(QColor(200, 30, 30, 128))
for k in range(4):  # large fills and a scaled image: what Qt hands to its pool
    corners = [(0, 0), (1600, 10 * k), (1500, 1600), (10, 1500)]
    painter.drawPolygon(QPolygonF([QPointF(x, y) for x, y in corners]))
    painter.drawImage(0, 0, img.scaled(1500, 1500))
painter.end()
tasks = os.listdir("/proc/self/task")
names = [open(f"/proc/self/task/{t}/comm").read().strip() for t in tasks]
print(os.environ.get("QT_NO_GUI_THREADPOOL"), sum(n == "Thread (pooled)" for n in names))
"""


def _run(mode: str, **env: str) -> tuple[str, int]:
    base = {k: v for k, v in os.environ.items() if k != "QT_NO_GUI_THREADPOOL"}
    base.update(QT_QPA_PLATFORM="offscreen", **env)
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode], env=base, capture_output=True, text=True,
        timeout=120, check=True,
    ).stdout.split()  # fmt: skip
    return out[-2], int(out[-1])


@pytest.mark.skipif(
    not os.path.exists("/proc/self/task") or (os.cpu_count() or 1) < 2,
    reason="thread names are read from Linux /proc; with one core Qt need not start a pool",
)
def test_the_app_fills_without_qt_threads_and_plain_qt_would_use_them():
    value, pooled = _run("app")
    assert value == "1" and pooled == 0
    _, pooled_plain = _run("plain")  # the control: the same drawing in plain Qt
    assert pooled_plain > 0


def test_a_value_the_user_set_is_kept():
    value, _ = _run("app", QT_NO_GUI_THREADPOOL="0")
    assert value == "0"
