"""TargetCanvas: real mouse events on the plot draw strokes; undo/redo/clear; density placement."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pyqtgraph")

from PySide6.QtCore import QEvent, QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QMouseEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from flowscope.core.data.drawing import Drawing, Stroke  # noqa: E402
from flowscope.ui.canvas import BRUSH_WIDTH_RANGE, DEFAULT_BRUSH_WIDTH, TargetCanvas  # noqa: E402

pytestmark = pytest.mark.gui

#: pyqtgraph drops mouse moves closer than 10 ms apart (its 100 Hz rate limit)
MOVE_INTERVAL_MS = 15
LEFT = Qt.MouseButton.LeftButton


@pytest.fixture
def canvas(qtbot) -> TargetCanvas:
    widget = TargetCanvas()
    qtbot.addWidget(widget)
    widget.resize(600, 600)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def _viewport_pos(canvas: TargetCanvas, x: float, y: float) -> QPointF:
    """Plane point -> pixel position in the plot's viewport."""
    plot = canvas.plot_widget()
    scene_pos = plot.getViewBox().mapViewToScene(QPointF(x, y))
    return QPointF(plot.mapFromScene(scene_pos))


def _send_mouse(canvas: TargetCanvas, kind: QEvent.Type, pos: QPointF, button, buttons) -> None:
    viewport = canvas.plot_widget().viewport()
    event = QMouseEvent(
        kind, pos, viewport.mapToGlobal(pos), button, buttons, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(viewport, event)


def _drag(qtbot, canvas: TargetCanvas, start, end, steps: int = 8) -> None:
    """Left-button drag along the straight line start -> end (plane coordinates)."""
    path = np.linspace(start, end, steps + 1)
    no_button = Qt.MouseButton.NoButton
    _send_mouse(canvas, QEvent.Type.MouseButtonPress, _viewport_pos(canvas, *path[0]), LEFT, LEFT)
    for x, y in path[1:]:
        qtbot.wait(MOVE_INTERVAL_MS)
        _send_mouse(canvas, QEvent.Type.MouseMove, _viewport_pos(canvas, x, y), no_button, LEFT)
    qtbot.wait(MOVE_INTERVAL_MS)
    end_pos = _viewport_pos(canvas, *path[-1])
    _send_mouse(canvas, QEvent.Type.MouseButtonRelease, end_pos, LEFT, no_button)


def _click(canvas: TargetCanvas, x: float, y: float) -> None:
    pos = _viewport_pos(canvas, x, y)
    _send_mouse(canvas, QEvent.Type.MouseButtonPress, pos, LEFT, LEFT)
    _send_mouse(canvas, QEvent.Type.MouseButtonRelease, pos, LEFT, Qt.MouseButton.NoButton)


def _stroke(x0: float, x1: float, label: int = 0) -> Stroke:
    return Stroke(np.array([[x0, 0.0], [x1, 0.0]]), 0.3, label)


def test_defaults(canvas):
    assert canvas.tool() == "brush"
    assert canvas.current_class() == 0
    assert canvas.brush_width() == pytest.approx(DEFAULT_BRUSH_WIDTH)
    assert canvas.drawing().strokes == []
    (xmin, xmax), (ymin, ymax) = canvas.plot_widget().getViewBox().viewRange()
    assert xmin <= -3.4 and xmax >= 3.4 and ymin <= -3.4 and ymax >= 3.4


def test_drag_draws_stroke_with_width_and_class(qtbot, canvas):
    changes: list[int] = []
    canvas.drawingChanged.connect(lambda: changes.append(1))
    canvas.set_brush_width(0.7)
    canvas.set_class(2)
    _drag(qtbot, canvas, (-2.0, 0.0), (2.0, 0.0))

    strokes = canvas.drawing().strokes
    assert len(strokes) == 1
    stroke = strokes[0]
    assert np.abs(stroke.points[:, 1]).max() < 0.3
    assert stroke.points[:, 0].min() == pytest.approx(-2.0, abs=0.15)
    assert stroke.points[:, 0].max() == pytest.approx(2.0, abs=0.15)
    assert len(stroke.points) >= 3
    assert stroke.width == pytest.approx(0.7)
    assert stroke.label == 2 and not stroke.erase
    assert changes == [1]


def test_click_makes_dot_and_eraser_strokes_erase(qtbot, canvas):
    _click(canvas, 1.0, 1.0)
    canvas.set_tool("eraser")
    assert canvas.tool() == "eraser"
    _drag(qtbot, canvas, (0.0, -2.0), (0.0, 2.0))
    dot, eraser = canvas.drawing().strokes
    assert dot.points.shape == (1, 2)
    np.testing.assert_allclose(dot.points[0], [1.0, 1.0], atol=0.05)
    assert not dot.erase and eraser.erase
    assert np.abs(eraser.points[:, 0]).max() < 0.3


def test_right_drag_does_not_draw(qtbot, canvas):
    right, none = Qt.MouseButton.RightButton, Qt.MouseButton.NoButton
    start, end = _viewport_pos(canvas, 0, 0), _viewport_pos(canvas, 1, 1)
    _send_mouse(canvas, QEvent.Type.MouseButtonPress, start, right, right)
    qtbot.wait(MOVE_INTERVAL_MS)
    _send_mouse(canvas, QEvent.Type.MouseMove, end, none, right)
    _send_mouse(canvas, QEvent.Type.MouseButtonRelease, end, right, none)
    assert canvas.drawing().strokes == []


def test_undo_redo_clear(canvas):
    changes: list[int] = []
    canvas.drawingChanged.connect(lambda: changes.append(1))
    stack = canvas.undo_stack()
    canvas.set_drawing(Drawing([_stroke(-1, 1)]))
    assert stack.count() == 0 and len(changes) == 1

    canvas._push_stroke(np.array([[0.0, 1.0], [1.0, 1.0]]))
    assert len(canvas.drawing().strokes) == 2
    stack.undo()
    assert len(canvas.drawing().strokes) == 1
    stack.redo()
    assert len(canvas.drawing().strokes) == 2

    canvas._clear_button.click()
    assert canvas.drawing().strokes == []
    stack.undo()
    restored = canvas.drawing().strokes
    assert len(restored) == 2
    np.testing.assert_allclose(restored[0].points, [[-1, 0], [1, 0]])
    assert len(changes) == 6  # set_drawing, stroke, undo, redo, clear, undo


def test_set_drawing_resets_undo_stack(canvas):
    canvas._push_stroke(np.array([[0.0, 0.0]]))
    assert canvas.undo_stack().canUndo()
    canvas.set_drawing(Drawing([_stroke(0, 1, label=3)]))
    assert not canvas.undo_stack().canUndo()
    assert [s.label for s in canvas.drawing().strokes] == [3]
    assert len(canvas._stroke_items) == 1


def test_setters_validate_and_clamp(canvas):
    canvas.set_brush_width(100.0)
    assert canvas.brush_width() == pytest.approx(BRUSH_WIDTH_RANGE[1])
    canvas.set_brush_width(0.0)
    assert canvas.brush_width() == pytest.approx(BRUSH_WIDTH_RANGE[0])
    with pytest.raises(ValueError):
        canvas.set_tool("pencil")
    with pytest.raises(ValueError):
        canvas.set_class(4)
    with pytest.raises(ValueError):
        canvas.set_density(-np.ones((4, 4)), (-1, 1, -1, 1))


def test_shortcuts(qtbot, canvas):
    canvas.activateWindow()
    qtbot.waitActive(canvas)
    canvas.plot_widget().setFocus()
    qtbot.waitUntil(lambda: bool(canvas.plot_widget().hasFocus()))
    qtbot.keyClick(canvas.plot_widget(), Qt.Key.Key_E)
    assert canvas.tool() == "eraser"
    qtbot.keyClick(canvas.plot_widget(), Qt.Key.Key_3)
    assert canvas.current_class() == 2
    qtbot.keyClick(canvas.plot_widget(), Qt.Key.Key_BracketRight)
    assert canvas.brush_width() > DEFAULT_BRUSH_WIDTH
    qtbot.keyClick(canvas.plot_widget(), Qt.Key.Key_B)
    assert canvas.tool() == "brush"


def test_density_is_right_way_up(qtbot, canvas):
    image = np.zeros((32, 32))
    image[:4] = 1.0  # row 0 is the TOP: bright band near y = +2
    canvas.set_density(image, (-2.0, 2.0, -2.0, 2.0))
    item = canvas._density_item
    rect = item.mapRectToView(item.boundingRect())
    assert (rect.left(), rect.right()) == pytest.approx((-2.0, 2.0))
    assert (rect.top(), rect.bottom()) == pytest.approx((-2.0, 2.0))
    top_local, bottom_local = item.mapFromView(QPointF(0, 1.9)), item.mapFromView(QPointF(0, -1.9))
    assert item.image[int(top_local.y()), int(top_local.x())] == 1.0
    assert item.image[int(bottom_local.y()), int(bottom_local.x())] == 0.0

    qtbot.wait(50)
    shot = canvas.plot_widget().grab().toImage()
    dpr = shot.devicePixelRatio()

    def lightness(y: float) -> int:
        p: QPoint = _viewport_pos(canvas, 0.0, y).toPoint() * dpr
        return shot.pixelColor(p).lightness()

    assert lightness(1.8) < lightness(-1.8) - 20  # bright density = darker than white


def test_points_and_bounds(canvas):
    canvas.set_points(np.random.default_rng(0).normal(size=(100, 2)))
    assert len(canvas._points_item.data) == 100
    canvas.set_points(None)
    assert len(canvas._points_item.data) == 0
    canvas.set_bounds((0.0, 10.0, 0.0, 10.0))
    (xmin, xmax), (ymin, ymax) = canvas.plot_widget().getViewBox().viewRange()
    assert xmin <= 0.05 and xmax >= 9.95 and ymin <= 0.05 and ymax >= 9.95


def test_eraser_stroke_shows_as_one_continuous_area(qtbot, canvas):
    """Issue 11 item 15: the eraser drew dashed grey blocks with white gaps between them."""
    canvas._eraser_button.click()  # the tool row's eraser
    assert canvas.tool() == "eraser"
    canvas.set_brush_width(0.8)
    _drag(qtbot, canvas, (0.0, -2.0), (0.0, 2.0), steps=5)
    (eraser,) = canvas.drawing().strokes
    assert eraser.erase
    qtbot.wait(50)
    shot = canvas.plot_widget().grab().toImage()
    dpr = shot.devicePixelRatio()
    ys = np.linspace(-1.5, 1.5, 120)  # off the brush outline's rim (radius 0.4 around (0, 2))
    light = np.array(
        [shot.pixelColor((_viewport_pos(canvas, 0.0, y) * dpr).toPoint()).lightness() for y in ys]
    )
    # one veil along the whole path: no white gaps, no dark blocks
    assert light.max() < 245 and light.min() > 170, light
    assert np.ptp(light) < 25
    # outside the stroke the canvas stays white
    outside = shot.pixelColor((_viewport_pos(canvas, 1.5, 0.5) * dpr).toPoint()).lightness()
    assert outside > 245
