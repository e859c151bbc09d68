"""Every menu action of both windows, reached the way a user does: QAction.trigger().

File dialogs answer with a path in tmp_path (save / export) or cancel (open); message boxes
return at once. No exception may escape a slot, and every path a save dialog handed out must
hold a file afterwards (PITFALLS 18: QAction.triggered(bool) once reached export(path=None) as
path=False, so no export from a menu ever worked).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtGui import QAction  # noqa: E402
from PySide6.QtWidgets import QDialog, QFileDialog, QMessageBox, QTextBrowser  # noqa: E402

from flowscope.state import AppState, ImageState  # noqa: E402
from flowscope.ui.image_window import ImageWindow  # noqa: E402
from flowscope.ui.main_window import MainWindow  # noqa: E402


class Dialogs:
    """Stand-ins for the modal dialogs; records what was asked and what it answered."""

    def __init__(self, folder: Path, monkeypatch):
        self.folder = folder
        self.handed_out: list[Path] = []  # save / export targets that must exist afterwards
        self.boxes: list[str] = []
        self._n = 0
        mp = monkeypatch
        mp.setattr(QFileDialog, "getSaveFileName", staticmethod(self.save))
        mp.setattr(QFileDialog, "getExistingDirectory", staticmethod(self.directory))
        mp.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: ("", "")))
        mp.setattr(QMessageBox, "exec", lambda box: self.exec_box(box))
        mp.setattr(QDialog, "exec", lambda dialog: self.exec_box(dialog))
        cancel = QMessageBox.StandardButton.Cancel
        for name in ("question", "warning", "information", "critical"):
            mp.setattr(QMessageBox, name, staticmethod(lambda *a, **k: cancel))
        mp.setattr(QMessageBox, "about", staticmethod(lambda *a, **k: None))

    def _fresh(self, name: str) -> Path:
        self._n += 1
        return self.folder / f"{self._n:02d}-{name}"

    def save(self, parent, title="", default="", filters="", *a, **k):
        path = self._fresh(Path(default).name or "out.bin")
        self.handed_out.append(path)
        return str(path), filters.split(";;")[0]

    def directory(self, parent, title="", *a, **k):
        if "export" not in title.lower():  # opening a model: cancel
            return ""
        path = self._fresh("model")
        path.mkdir()
        self.handed_out.append(path)
        return str(path)

    def exec_box(self, box):
        if isinstance(box, QMessageBox):
            self.boxes.append(box.text())
        else:  # a dialog with a text browser (the cheat-sheet)
            self.boxes += [t.toPlainText() for t in box.findChildren(QTextBrowser)]
        return int(QMessageBox.StandardButton.Cancel.value)


def menu_actions(window) -> list[tuple[str, QAction]]:
    """(menu path, action) for every action in the window's menus, submenus included."""
    out = []

    def walk(menu, prefix):
        for a in menu.actions():
            if a.isSeparator():
                continue
            if a.menu() is not None:
                walk(a.menu(), f"{prefix}{a.menu().title().replace('&', '')} > ")
            else:
                out.append((prefix + a.text().replace("&", ""), a))

    for top in window.menuBar().actions():
        walk(top.menu(), top.text().replace("&", "") + " > ")
    return out


def trigger_all(window, qtbot, dialogs, before_each, last=("Quit", "Close")):
    """Trigger each action (closing ones last); returns {menu path: files written by it}."""
    actions = menu_actions(window)
    actions.sort(key=lambda pa: pa[0].split(" > ")[-1] in last)
    written = {}
    for path, action in actions:
        before_each()
        n = len(dialogs.handed_out)
        checked = action.isChecked()
        with qtbot.captureExceptions() as errors:
            action.trigger()
            qtbot.wait(1)
        assert not errors, f"{path} raised: {errors[0][1]!r}"
        if action.isCheckable():
            assert action.isChecked() != checked, f"{path} did not toggle"
        new = dialogs.handed_out[n:]
        for p in new:
            assert p.exists(), f"{path}: nothing was written to {p.name} (last error: " + str(
                getattr(window, "last_error", None)
            )
            assert p.is_file() and p.stat().st_size > 0 or any(p.iterdir()), p
        written[path] = new
    return written


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWSCOPE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FLOWSCOPE_TRAIN_PROCESS", "0")  # a thread: no child start-up here
    monkeypatch.setenv("FLOWSCOPE_COMPUTE_PROCESS", "0")
    out = tmp_path / "out"
    out.mkdir()
    return Dialogs(out, monkeypatch)


def test_every_main_window_menu_action(env, qtbot):
    state = AppState(
        target_source="gaussian", n_particles=300, steps=10, width=16, depth=2, batch_size=64
    )
    win = MainWindow(state, ask_to_save=False)
    win.exports.animation_frames = 3
    qtbot.addWidget(win)
    win.show()
    try:
        qtbot.waitUntil(lambda: win.traj is not None, timeout=120000)

        def have_a_model():
            if win.current_model() is None:
                win._on_step_clicked()
                qtbot.waitUntil(lambda: win.current_model() is not None, timeout=120000)

        written = trigger_all(win, qtbot, env, have_a_model)
        assert not win.isVisible()  # File > Quit closed it
    finally:
        win.shutdown()

    wrote = {p.split(" > ")[-1]: [f.name for f in fs] for p, fs in written.items() if fs}
    kinds = sorted(f.rsplit(".", 1)[-1] for fs in wrote.values() for f in fs if "." in f)
    # save + save as (New project forgets the path), the model, samples, views, animation and
    # the run as a Python script
    expected = ["flowscope", "flowscope", "pt2", "onnx", "npy", "png", "svg", "gif", "py"]
    assert kinds == sorted(expected), wrote
    folder = next(p for fs in written.values() for p in fs if p.is_dir())
    assert (folder / "model.safetensors").exists() and (folder / "model.json").exists()
    assert any("Gaussian path" in t for t in env.boxes)  # the cheat-sheet showed
    from PIL import Image

    gif = next(p for fs in written.values() for p in fs if p.suffix == ".gif")
    with Image.open(gif) as img:
        assert img.n_frames == 3


def test_every_image_window_menu_action(env, qtbot):
    state = ImageState(channels=8, batch_size=16, steps=3, ws="0, 2", solver="euler")
    win = ImageWindow(state, ask_to_save=False)
    qtbot.addWidget(win)
    win.show()
    try:

        def have_samples():
            if win.result is None or win.current_model() is None:
                win._on_step_clicked()
                qtbot.waitUntil(lambda: win.snapshot() is not None, timeout=120000)
                win._request_images(force=True)
                qtbot.waitUntil(lambda: win.result is not None, timeout=30000)

        written = trigger_all(win, qtbot, env, have_samples)
        assert not win.isVisible()  # File > Close closed it
    finally:
        win.shutdown()
    by_name = {p.split(" > ")[-1]: fs for p, fs in written.items() if fs}
    model = by_name["Model (safetensors + json)…"][0]  # Ctrl+Shift+E: did nothing before
    assert (model / "model.safetensors").exists()
    assert np.load(by_name["Samples as npy…"][0]).ndim == 4
    assert len(by_name) == 4, by_name


@pytest.mark.skipif(
    not __import__("flowscope.ui.animation", fromlist=["x"]).mp4_available(),
    reason="imageio-ffmpeg is not installed",
)
def test_animation_menu_writes_mp4_when_that_filter_is_chosen(env, qtbot, monkeypatch):
    win = MainWindow(AppState(target_source="gaussian", n_particles=200), ask_to_save=False)
    win.exports.animation_frames = 3
    qtbot.addWidget(win)
    win.show()
    out = env.folder / "movie"  # no suffix typed: the chosen filter decides
    asked = []

    def save(parent, title="", default="", filters="", *a, **k):
        asked.append(filters)
        return str(out), next(f for f in filters.split(";;") if f.startswith("MP4"))

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(save))
    try:
        qtbot.waitUntil(lambda: win.traj is not None, timeout=120000)
        action = next(a for p, a in menu_actions(win) if "Animation" in p)
        with qtbot.captureExceptions() as errors:
            action.trigger()
        assert not errors
    finally:
        win.shutdown()
    assert "GIF (*.gif)" in asked[0] and "MP4 (*.mp4)" in asked[0]
    assert (env.folder / "movie.mp4").stat().st_size > 1000
