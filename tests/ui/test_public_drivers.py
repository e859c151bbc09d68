"""The public methods that scripted mode, the exports and the benchmarks drive (issue 10: never
private window attributes): a finished stroke on the canvas, the session controller's
``trained`` signal that shows the training status, the compute thread's id."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")

from flowscope.train.compute import ComputeWorker  # noqa: E402
from flowscope.ui.canvas import TargetCanvas  # noqa: E402


def test_add_stroke_is_one_undoable_stroke_with_the_current_tool(qtbot):
    canvas = TargetCanvas()
    qtbot.addWidget(canvas)
    changes: list[int] = []
    canvas.drawingChanged.connect(lambda: changes.append(1))
    canvas.set_class(2)
    canvas.set_brush_width(0.7)
    canvas.add_stroke([[0.0, 0.0], [1.0, 0.5], [1.5, 1.0]])
    (stroke,) = canvas.drawing().strokes
    np.testing.assert_allclose(stroke.points, [[0.0, 0.0], [1.0, 0.5], [1.5, 1.0]])
    assert stroke.label == 2 and stroke.width == pytest.approx(0.7) and not stroke.erase
    assert changes == [1]
    canvas.set_tool("eraser")
    canvas.add_stroke(np.array([[0.5, 0.5]]))
    assert len(canvas.drawing().strokes) == 2 and canvas.drawing().strokes[-1].erase
    canvas.undo_stack().undo()
    canvas.undo_stack().undo()
    assert canvas.drawing().strokes == [] and len(changes) == 4


def test_compute_thread_ident_is_the_running_thread():
    import threading

    w = ComputeWorker()
    assert w.thread_ident is None
    w.start()
    try:
        names = {t.ident: t.name for t in threading.enumerate()}
        assert names.get(w.thread_ident) == "flowscope-compute"
    finally:
        w.stop()
