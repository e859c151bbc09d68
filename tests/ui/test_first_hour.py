"""What a new user hit in the first hour (issue 11, items 8, 9, 12, 13), driven the way they
drive it: menu actions through QAction.trigger(), the canvas, the close button."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtWidgets import QMessageBox  # noqa: E402

from flowscope.core.data import Drawing, Stroke  # noqa: E402
from flowscope.state import AppState  # noqa: E402
from flowscope.ui.main_window import MainWindow  # noqa: E402

BIG = 120000  # ms: a bound on a hang, not a time budget (the trainer child imports torch)


@pytest.fixture
def home(tmp_path, monkeypatch):
    h = tmp_path / "home"
    monkeypatch.setenv("FLOWSCOPE_HOME", str(h))
    return h


def _window(qtbot, ask=False):
    state = AppState(target_source="gaussian", n_particles=300, steps=10, width=16, depth=1,
                     batch_size=64)  # fmt: skip
    w = MainWindow(state, ask_to_save=ask)
    qtbot.addWidget(w)
    w.show()
    return w


def test_title_names_the_project_and_marks_unsaved_changes(qtbot, home, tmp_path):
    win = _window(qtbot)
    try:
        assert win.windowTitle().replace("[*]", "").startswith("untitled")
        win.state.set(sigma=1.3)
        assert win.isWindowModified()
        assert win.project.save_to(tmp_path / "moons.flowscope")
        assert "moons.flowscope" in win.windowTitle() and not win.isWindowModified()
    finally:
        win.shutdown()


def test_new_project_leaves_no_status_of_the_old_run(qtbot, home, menu_action):
    win = _window(qtbot)
    try:
        win.training_panel.step_button.click()
        qtbot.waitUntil(lambda: win.snapshot() is not None, timeout=BIG)
        win._update_training_status()
        assert "step" in win.training_panel.status.text()
        menu_action(win, "New project").trigger()
        assert win.session is None
        assert win.training_panel.status.text() == "not trained yet"
        assert "exact" in win.status_label.text()
    finally:
        win.shutdown()


def test_classes_have_one_name_and_their_colour(qtbot, home):
    """'class class 0' in the menu, keys 1-4 against classes numbered from 0: now a drawing's
    classes are named by their colour, listed as y = <name> with a swatch."""
    win = _window(qtbot)
    try:
        d = Drawing()
        d.add(Stroke(np.array([[-1.0, 0.0], [-0.5, 0.5]]), 0.3, 0))
        d.add(Stroke(np.array([[1.0, 0.0], [0.5, -0.5]]), 0.3, 1))
        win.canvas.set_drawing(d)
        qtbot.waitUntil(lambda: win.state.target_source == "drawing", timeout=BIG)
        combo = win.sampling_panel.label_combo
        items = [combo.itemText(i) for i in range(combo.count())]
        assert items == ["none (unconditional)", "y = blue", "y = red"]
        assert not combo.itemIcon(1).isNull() and not combo.itemIcon(2).isNull()
        img = combo.itemIcon(2).pixmap(12, 12).toImage()
        assert img.pixelColor(6, 6).name() == "#d62728"  # the red brush
    finally:
        win.shutdown()


def test_discard_on_quit_discards(qtbot, home, monkeypatch):
    """Quit > Discard used to restore the drawing and weights on the next launch."""
    win = _window(qtbot, ask=True)
    d = Drawing()
    d.add(Stroke(np.array([[-1.0, -1.0], [1.0, 0.5]]), 0.3, 0))
    win.canvas.set_drawing(d)
    qtbot.waitUntil(lambda: win.state.target_source == "drawing", timeout=BIG)
    home.mkdir(parents=True, exist_ok=True)
    (home / "last-session.flowscope").write_bytes(b"an older autosave")
    monkeypatch.setattr(
        QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Discard)
    )
    assert win.dirty
    win.close()
    assert not (home / "last-session.flowscope").exists()
    kept = list(home.glob("last-session.flowscope.discarded-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == b"an older autosave"  # moved, not deleted


def test_excess_loss_is_reported_with_the_floors_noise(qtbot, home):
    """A negative 'excess loss' (-0.0051) came from a Monte Carlo floor without its error."""
    win = _window(qtbot)
    try:
        qtbot.waitUntil(lambda: win.floor is not None, timeout=BIG)
        assert win.floor_stderr is not None and win.floor_stderr > 0
        steps = np.arange(200.0)
        win.curves.set_loss(steps, np.full(200, win.floor - 0.5 * win.floor_stderr), win.floor)
        assert "within noise of the floor" in win.curves.excess_label.text()
        win.curves.set_loss(steps, np.full(200, win.floor + 1.0), win.floor)
        assert "excess 1.0000 ±" in win.curves.excess_label.text()
    finally:
        win.shutdown()


def test_the_floor_follows_the_objective_that_trains(qtbot, home):
    """Switching the objective while a model trains left the old loss curve over the new
    objective's floor; the floor now stays that of the running objective until Reset."""
    win = _window(qtbot)
    try:
        qtbot.waitUntil(lambda: win.floor is not None, timeout=BIG)
        velocity_floor = win.floor
        win.training_panel.step_button.click()
        qtbot.waitUntil(lambda: win.snapshot() is not None, timeout=BIG)
        win.state.set(objective="noise")
        qtbot.waitUntil(lambda: win.floor is not None, timeout=BIG)
        assert win.floor == pytest.approx(velocity_floor)  # still the velocity run
        win.training_panel.reset_button.click()
        qtbot.waitUntil(lambda: win.floor is not None, timeout=BIG)
        assert win.floor != pytest.approx(velocity_floor, rel=0.05)  # the noise objective's
    finally:
        win.shutdown()


def test_the_sde_view_says_when_it_explodes_and_which_equation_it_runs(qtbot, home):
    """At sigma = 3 with sigma_t = sigma the SDE blew up without a word, and with 'drop the
    score term' ticked the title still showed the score term (issue 11, item 10)."""
    from flowscope.ui.explorer import SDE_TITLE

    win = _window(qtbot)
    try:
        title = lambda: win.explorer.plots()[1].titleLabel.text  # noqa: E731
        warning = win.sde_warning_label
        assert win.set_target_source("two_moons")  # thin arcs: a large sigma overshoots them
        qtbot.waitUntil(lambda: win.traj is not None, timeout=BIG)
        assert not warning.isVisibleTo(win)
        win.sampling_panel.sigma.setValue(3.0)  # constant sigma_t = 3, 10 steps
        qtbot.waitUntil(lambda: "unstable" in warning.text(), timeout=BIG)
        assert warning.isVisibleTo(win) and "σ_t = σ(1-t)" in warning.text()  # what to change
        win.sampling_panel.sigma.setValue(0.8)
        qtbot.waitUntil(lambda: not warning.isVisibleTo(win), timeout=BIG)
        assert title() == SDE_TITLE
        win.sampling_panel.drop_score.setChecked(True)
        assert "without the score term" in title() and "∇log" not in title()
    finally:
        win.shutdown()
