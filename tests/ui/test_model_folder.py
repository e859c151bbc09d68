"""Issue 11 item 15: File > Export > Model accepts a folder that does not exist yet (both
windows), and creates it."""

import pytest

pytest.importorskip("PySide6")

from PySide6.QtWidgets import QFileDialog  # noqa: E402

import flowscope  # noqa: E402
from flowscope.state import AppState, ImageState  # noqa: E402
from flowscope.ui.image_window import ImageWindow  # noqa: E402
from flowscope.ui.main_window import MainWindow  # noqa: E402


def _answer(monkeypatch, path):
    asked = []

    def save(parent, title="", default="", filters="", *a, **k):
        asked.append(title)
        return str(path), filters

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(save))
    monkeypatch.setattr(
        QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: pytest.fail("dir"))
    )
    return asked


def test_main_window_exports_into_a_new_folder(qtbot, tmp_path, monkeypatch, menu_action):
    monkeypatch.setenv("FLOWSCOPE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FLOWSCOPE_TRAIN_PROCESS", "0")
    state = AppState(target_source="gaussian", width=16, depth=2, batch_size=64)
    win = MainWindow(state, ask_to_save=False)
    qtbot.addWidget(win)
    win.show()
    try:
        assert win.sessions.train_steps(5, wait=lambda: qtbot.wait(20))
        target = tmp_path / "not" / "yet" / "model"
        assert not target.parent.exists()
        asked = _answer(monkeypatch, target)
        menu_action(win, "Model (safetensors + json)…").trigger()
        assert asked and "created if new" in asked[0]
        assert (target / "model.safetensors").is_file() and (target / "model.json").is_file()
        assert flowscope.load(target).config.width == 16
    finally:
        win.shutdown()


def test_image_window_exports_into_a_new_folder(qtbot, tmp_path, monkeypatch, menu_action):
    monkeypatch.setenv("FLOWSCOPE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FLOWSCOPE_TRAIN_PROCESS", "0")
    win = ImageWindow(ImageState(channels=8, batch_size=16, steps=3), ask_to_save=False)
    qtbot.addWidget(win)
    win.show()
    try:
        win._on_step_clicked()
        qtbot.waitUntil(lambda: win.snapshot() is not None, timeout=120_000)
        target = tmp_path / "fresh" / "digits-model"
        _answer(monkeypatch, target)
        menu_action(win, "Model (safetensors + json)…").trigger()
        assert (target / "model.safetensors").is_file()
        assert flowscope.load(target).kind == "image"
    finally:
        win.shutdown()
