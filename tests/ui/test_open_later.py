"""File > Open reads the project on a worker thread (the zip, the JSON, the safetensors and
building the network: 25-50 ms of CPU and file I/O the window's event loop used to wait for) and
applies it on the GUI thread once read, with the same result as opening it synchronously."""

import pytest

pytest.importorskip("PySide6")

import torch  # noqa: E402
from PySide6.QtGui import QAction  # noqa: E402
from PySide6.QtWidgets import QFileDialog  # noqa: E402

from flowscope.core.flow_model import FlowModel  # noqa: E402
from flowscope.core.models import ModelConfig, build_model  # noqa: E402
from flowscope.state import AppState  # noqa: E402
from flowscope.state.project import save_project  # noqa: E402
from flowscope.ui.main_window import MainWindow  # noqa: E402

MENU_TEXT = "&Open project…"


@pytest.fixture
def win(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWSCOPE_HOME", str(tmp_path / "home"))
    w = MainWindow(AppState(target_source="two_moons", n_particles=300), ask_to_save=False)
    qtbot.addWidget(w)
    yield w
    w.shutdown()


def _open_through_menu(win, monkeypatch, path) -> list[bool]:
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda *a, **k: (str(path), "")))  # fmt: skip
    results: list[bool] = []
    win.project.opened.connect(results.append)
    actions = [a for a in win.findChildren(QAction) if a.text() == MENU_TEXT]
    assert len(actions) == 1
    actions[0].trigger()
    return results


def test_file_open_reads_on_a_worker_and_applies_the_project(win, qtbot, tmp_path, monkeypatch):
    from flowscope.core.data import load_target

    cfg = ModelConfig(width=32, depth=2, num_classes=int(load_target("gaussian").num_classes or 0))
    model = FlowModel(build_model(cfg), cfg)
    settings = AppState(target_source="gaussian", sigma=1.3, steps=27, width=32, depth=2)
    path = save_project(tmp_path / "p.flowscope", settings.to_dict(), None, model)
    results = _open_through_menu(win, monkeypatch, path)
    # nothing is applied inside the menu's handler: the event loop keeps running meanwhile
    assert results == [] and win.state.sigma != 1.3 and win.state.target_source == "two_moons"
    qtbot.waitUntil(lambda: results == [True], timeout=60_000)
    assert win.state.sigma == 1.3 and win.state.steps == 27
    assert win.state.target_source == "gaussian" and win.target is not None
    assert win.project.path == path and not win.project.dirty
    x = torch.randn(10, 2)
    torch.testing.assert_close(win.current_model().velocity(x, 0.5), model.velocity(x, 0.5))


def test_a_file_that_is_not_a_project_gives_a_message(win, qtbot, tmp_path, monkeypatch):
    bad = tmp_path / "x.flowscope"
    bad.write_text("hello")
    before = win.target
    results = _open_through_menu(win, monkeypatch, bad)
    qtbot.waitUntil(lambda: results == [False], timeout=60_000)
    assert "not a flowscope project" in win.last_error and win.target is before


def test_a_later_open_replaces_one_still_being_read(win, qtbot, tmp_path):
    first = save_project(tmp_path / "a.flowscope", AppState(sigma=0.7).to_dict(), None, None)
    second = save_project(tmp_path / "b.flowscope", AppState(sigma=1.9).to_dict(), None, None)
    results: list[bool] = []
    win.project.opened.connect(results.append)
    win.project.open_project_later(first)
    win.project.open_project_later(second)
    qtbot.waitUntil(lambda: results == [True], timeout=60_000)
    # one reader thread: the first file was read before the second, and dropped
    assert results == [True] and win.state.sigma == 1.9 and win.project.path == second


def test_a_project_with_a_preset_target_and_a_drawing_keeps_its_preset(win, qtbot, tmp_path):
    """Opening sets the canvas's drawing; that is not a user's stroke, so the drawing's
    debounced switch of the target to "drawing" (300 ms later) must not follow."""
    import numpy as np

    from flowscope.core.data import Drawing, Stroke

    d = Drawing()
    d.add(Stroke(np.array([[0.0, 0.0], [1.0, 1.0]]), 0.5, 0))
    settings = AppState(target_source="circles").to_dict()
    path = save_project(tmp_path / "c.flowscope", settings, d.to_dict(), None)
    assert win.open_project(path)
    assert win.state.target_source == "circles" and len(win.canvas.drawing().strokes) == 1
    assert not win._drawing_timer.isActive()  # nothing will switch the target later
