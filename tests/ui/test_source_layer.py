"""The source p_init drawn on the canvas's second layer or read from a point file (issue 14,
section 3), touched as a user touches it: the "Draw: source p_init" switch, mouse drags on the
canvas, Edit > Undo, File > Source from point file… (the dialog stood in for), the source combo,
File > New / Save / Open; and the bridge oracle of a drawn source against numpy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

pytest.importorskip("PySide6")

from PySide6.QtCore import QEvent, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QAction, QMouseEvent  # noqa: E402
from PySide6.QtWidgets import QApplication, QFileDialog  # noqa: E402

from flowscope.core.data import Drawing, load_target  # noqa: E402
from flowscope.core.data.drawing import Stroke  # noqa: E402
from flowscope.state import AppState  # noqa: E402
from flowscope.state.project import load_project, save_project  # noqa: E402
from flowscope.ui.main_window import MainWindow  # noqa: E402
from flowscope.ui.source_choice import source_mixture  # noqa: E402
from flowscope.ui.source_inputs import SOURCE_MAX_COMPONENTS, drawn_source  # noqa: E402

LEFT, NO_BUTTON = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
MOVE_INTERVAL_MS = 15  # pyqtgraph drops mouse moves closer than 10 ms apart
T = 0.4


@pytest.fixture
def win(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWSCOPE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FLOWSCOPE_COMPUTE_PROCESS", "0")  # one process: quick to start
    # eight gaussians (8 components): the bridge's K_src x K_tgt pairs stay cheap
    state = AppState(target_source="eight_gaussians", n_particles=400, steps=8, width=32,
                     depth=2, batch_size=64, playing=False, t=T, field_source="exact")  # fmt: skip
    w = MainWindow(state, ask_to_save=False)
    qtbot.addWidget(w)
    w.resize(1300, 800)
    w.show()
    qtbot.waitExposed(w)
    yield w  # each test ends with _settled(): no bridge left computing when the worker stops
    w.shutdown()


# ----------------------------------------------------------------------------- helpers
def _settled(win, qtbot) -> None:
    """Wait until the explorer shows the current source's arrows (the worker is idle)."""
    qtbot.waitUntil(lambda: _arrows_match(win), timeout=120_000)


def _oracle(win):
    mix = source_mixture(win.state.source)
    target = win.target.exact
    return target if mix is None else target.bridge(mix, target)


_CHECKED: dict = {}


def _arrows_match(win) -> bool:
    """Whether the shown arrows are the current oracle's (each field result is checked once:
    evaluating the bridge on every poll would hold the GIL the compute thread needs)."""
    f = win.view.field
    if f is None or abs(f.t - win.state.t) > 1e-9:
        return False
    oracle = _oracle(win)
    key = (id(f), f.generation, getattr(oracle, "fingerprint", None))
    if key not in _CHECKED:
        _CHECKED.clear()
        u = oracle.velocity(torch.as_tensor(f.origins).double(), f.t).numpy()
        _CHECKED[key] = bool(np.allclose(f.ode_field, u, atol=1e-4))
    return _CHECKED[key]


def _viewport_pos(canvas, x: float, y: float) -> QPointF:
    plot = canvas.plot_widget()
    return QPointF(plot.mapFromScene(plot.getViewBox().mapViewToScene(QPointF(x, y))))


def _send_mouse(canvas, kind, pos: QPointF, button, buttons) -> None:
    viewport = canvas.plot_widget().viewport()
    event = QMouseEvent(
        kind, pos, viewport.mapToGlobal(pos), button, buttons, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(viewport, event)


def _drag(qtbot, canvas, start, end, steps: int = 8) -> None:
    """A left-button drag along start -> end (plane coordinates), as a user draws."""
    path = np.linspace(start, end, steps + 1)
    _send_mouse(canvas, QEvent.Type.MouseButtonPress, _viewport_pos(canvas, *path[0]), LEFT, LEFT)
    for x, y in path[1:]:
        qtbot.wait(MOVE_INTERVAL_MS)
        _send_mouse(canvas, QEvent.Type.MouseMove, _viewport_pos(canvas, x, y), NO_BUTTON, LEFT)
    qtbot.wait(MOVE_INTERVAL_MS)
    end = _viewport_pos(canvas, *path[-1])
    _send_mouse(canvas, QEvent.Type.MouseButtonRelease, end, LEFT, NO_BUTTON)


def _action(win, text: str) -> QAction:
    found = [a for a in win.findChildren(QAction) if a.text().replace("&", "") == text]
    assert found, f"no menu action {text!r}"
    return found[0]


def _step(win, qtbot) -> None:
    """The training panel's Step: one training step (a session is made if there is none)."""
    win.training_panel.step_button.click()
    qtbot.waitUntil(lambda: win.session is not None and win.session.step_count >= 1, timeout=60_000)


def _x0(win) -> np.ndarray:
    return np.asarray(win.view.traj.ode[0], dtype=np.float64)


# ----------------------------------------------------------------------------- drawing
def test_drawing_on_the_source_layer_sets_the_source_and_not_the_target(win, qtbot):
    canvas = win.canvas
    _settled(win, qtbot)
    _step(win, qtbot)  # a training session exists: a new source must restart it
    old_session = win.session
    assert old_session.source is None  # N(0, I)

    canvas.layer_buttons["source"].click()  # "Draw: source p_init"
    assert canvas.layer() == "source"
    assert "source" in win.target_panel.hint.text()  # the hint under the canvas says so
    _drag(qtbot, canvas, (-2.0, -2.0), (2.0, -2.0))  # a horizontal bar at y = -2
    assert len(canvas.source_drawing().strokes) == 1
    assert canvas.drawing().strokes == []  # the target drawing is untouched
    qtbot.waitUntil(lambda: win.state.source == "drawing", timeout=10_000)
    assert win.state.target_source == "eight_gaussians" and win.target.name == "eight_gaussians"

    mix = source_mixture("drawing")
    assert mix is not None and 1 < mix.n_components <= SOURCE_MAX_COMPONENTS
    assert win.source_choice.mixture() is mix  # one object per drawing (views cache on it)
    means = mix.means.numpy()
    assert np.abs(means[:, 1] + 2.0).max() < 0.1 and np.ptp(means[:, 0]) > 3.0
    assert win.source_choice.combo.currentText().startswith("drawn source")
    assert "drawn source" in win.source_choice.label.text()
    assert win.source_choice.cover.isVisible()  # the SDE is undefined for this source

    # the weights learned from N(0, I) are dropped; the next step trains from the drawn source
    qtbot.waitUntil(lambda: win.session is not old_session, timeout=30_000)
    _step(win, qtbot)
    assert win.session.source.fingerprint == mix.fingerprint

    def x0_on_the_bar() -> bool:
        tr = win.view.traj
        if tr is None or tr.ode.shape[1] != 400:
            return False
        x0 = _x0(win)
        return bool(np.abs(x0[:, 1] + 2.0).max() < 0.8 and np.abs(x0[:, 0]).max() < 2.8)

    qtbot.waitUntil(x0_on_the_bar, timeout=120_000)
    _settled(win, qtbot)  # the exact arrows are the drawn source's bridge
    plain = win.target.exact.velocity(torch.as_tensor(win.view.field.origins).double(), T)
    assert np.abs(win.view.field.ode_field - plain.numpy()).max() > 0.5  # not N(0, I)'s

    # a second stroke changes the source again: a new mixture, a new session
    session = win.session
    _drag(qtbot, canvas, (-2.0, 2.0), (2.0, 2.0))
    qtbot.waitUntil(lambda: win.session is not session, timeout=30_000)
    _step(win, qtbot)
    mix2 = source_mixture("drawing")
    assert mix2.fingerprint != mix.fingerprint
    assert win.session.source.fingerprint == mix2.fingerprint
    assert (mix2.means.numpy()[:, 1] > 1.5).any() and (mix2.means.numpy()[:, 1] < -1.5).any()
    assert canvas.drawing().strokes == []
    _settled(win, qtbot)


def test_undo_and_clear_act_on_the_active_layer_only(win, qtbot):
    canvas = win.canvas
    edit = next(a.menu() for a in win.menuBar().actions() if a.text() == "&Edit")
    undo = edit.actions()[0]  # Edit > Undo: follows the layer being drawn
    assert undo.text().replace("&", "").startswith("Undo")
    _drag(qtbot, canvas, (-2.0, 0.0), (2.0, 0.0))  # target layer (the default)
    qtbot.waitUntil(lambda: win.state.target_source == "drawing", timeout=10_000)
    canvas.layer_buttons["source"].click()
    _drag(qtbot, canvas, (-2.0, -2.0), (2.0, -2.0))
    _drag(qtbot, canvas, (-2.0, 2.0), (2.0, 2.0))
    qtbot.waitUntil(lambda: win.state.source == "drawing", timeout=10_000)
    assert (len(canvas.drawing().strokes), len(canvas.source_drawing().strokes)) == (1, 2)

    undo.trigger()  # the last source stroke goes, the target keeps its stroke
    assert (len(canvas.drawing().strokes), len(canvas.source_drawing().strokes)) == (1, 1)
    qtbot.waitUntil(
        lambda: (source_mixture("drawing").means.numpy()[:, 1] < 0).all(), timeout=10_000
    )
    canvas._redo_button.click()  # the tool row's Redo: the same layer
    assert len(canvas.source_drawing().strokes) == 2
    canvas._clear_button.click()  # clears the source layer only (undoable)
    assert (len(canvas.drawing().strokes), len(canvas.source_drawing().strokes)) == (1, 0)
    qtbot.waitUntil(lambda: win.state.source == "gaussian", timeout=10_000)  # empty: N(0, I)
    assert source_mixture("drawing") is None

    canvas.layer_buttons["target"].click()
    undo.trigger()  # now the target's stroke goes; the source's Clear stays done
    assert (len(canvas.drawing().strokes), len(canvas.source_drawing().strokes)) == (0, 0)
    canvas.layer_buttons["source"].click()
    undo.trigger()  # undoes the Clear: both source strokes are back, and so is the source
    assert len(canvas.source_drawing().strokes) == 2
    qtbot.waitUntil(lambda: win.state.source == "drawing", timeout=10_000)
    _settled(win, qtbot)


def test_the_drawn_source_entry_without_strokes_asks_to_draw(win, qtbot):
    combo = win.source_choice.combo
    combo.setCurrentIndex(win.source_choice.values.index("drawing"))  # as a user picks it
    assert win.state.source == "gaussian"  # nothing drawn: not silently N(0, I) named "drawn"
    assert combo.currentText() == "N(0, I)"
    assert win.canvas.layer() == "source"  # ready to draw it
    assert "source layer is empty" in win.statusBar().currentMessage()
    _settled(win, qtbot)


# ----------------------------------------------------------------------------- point files
def _ring_file(path, n: int = 300, radius: float = 2.0):
    a = np.linspace(0, 2 * math.pi, n, endpoint=False)
    pts = np.stack([radius * np.cos(a), radius * np.sin(a)], 1)
    np.savetxt(path, pts, delimiter=",", header="x,y", comments="")
    return pts


def _dialog_returns(monkeypatch, path) -> None:
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda *a, **k: (str(path), "")))  # fmt: skip


def test_a_point_file_becomes_the_source_through_the_menu(win, qtbot, monkeypatch, tmp_path):
    ring = tmp_path / "ring.csv"
    pts = _ring_file(ring)
    _dialog_returns(monkeypatch, ring)
    _action(win, "Source from point file…").trigger()
    assert win.state.source == "file" and win.state.source_file == str(ring)
    assert win.source_choice.combo.currentText() == "file: ring.csv"
    assert "ring.csv" in win.source_choice.label.text()
    mix = source_mixture("file")
    assert mix.n_components <= SOURCE_MAX_COMPONENTS
    # the CLI's loader (flowscope train --source FILE) read the same points: merging keeps the
    # total mass, the mean and the radius of the ring
    cli = load_target(str(ring)).exact
    assert cli.n_components == len(pts)
    w = mix.weights.numpy()
    np.testing.assert_allclose(w.sum(), 1.0, atol=1e-9)
    np.testing.assert_allclose(w @ mix.means.numpy(), pts.mean(0), atol=1e-9)
    radii = np.linalg.norm(mix.means.numpy(), axis=1)
    assert np.abs(radii - 2.0).max() < 0.2

    def x0_on_the_ring() -> bool:
        tr = win.view.traj
        if tr is None or tr.ode.shape[1] != 400:
            return False
        r = np.linalg.norm(_x0(win), axis=1)
        return bool(abs(np.median(r) - 2.0) < 0.15 and np.abs(r - 2.0).max() < 1.0)

    qtbot.waitUntil(x0_on_the_ring, timeout=120_000)
    _settled(win, qtbot)


@pytest.mark.parametrize(
    "content, expect",
    [
        ("x,y\n1,2\nfoo,bar\n", "line"),  # not numbers
        (None, "not found"),  # a file that is not there
        ("x\n1\n2\n3\n", "column"),  # one column
    ],
)
def test_a_bad_point_file_says_why_and_changes_nothing(
    win, qtbot, monkeypatch, tmp_path, content, expect
):
    good = tmp_path / "ring.csv"
    _ring_file(good)
    assert win.source_choice.inputs.load_file(good)
    before = source_mixture("file").fingerprint
    bad = tmp_path / "bad.csv"
    if content is not None:
        bad.write_text(content)
    _dialog_returns(monkeypatch, bad)
    _action(win, "Source from point file…").trigger()  # no exception escapes
    assert win.last_error.startswith("Cannot use this file as the source")
    assert expect in win.last_error.lower(), win.last_error
    assert win.state.source == "file" and win.state.source_file == str(good)  # nothing lost
    assert source_mixture("file").fingerprint == before
    assert win.source_choice.combo.currentText() == "file: ring.csv"
    _settled(win, qtbot)


def test_the_combo_file_entry_opens_the_dialog_and_cancel_keeps_the_source(
    win, qtbot, monkeypatch, tmp_path
):
    combo = win.source_choice.combo
    _dialog_returns(monkeypatch, "")  # the user cancels
    combo.setCurrentIndex(win.source_choice.values.index("file"))
    assert win.state.source == "gaussian" and combo.currentText() == "N(0, I)"
    ring = tmp_path / "ring.csv"
    _ring_file(ring)
    _dialog_returns(monkeypatch, ring)
    combo.setCurrentIndex(win.source_choice.values.index("file"))
    assert win.state.source == "file" and combo.currentText() == "file: ring.csv"
    _settled(win, qtbot)


# ----------------------------------------------------------------------------- projects
def test_a_project_keeps_the_source_drawing(win, qtbot, tmp_path):
    canvas = win.canvas
    canvas.set_layer("source")
    _drag(qtbot, canvas, (-2.0, -2.0), (2.0, 1.0))
    qtbot.waitUntil(lambda: win.state.source == "drawing", timeout=10_000)
    strokes = canvas.source_drawing().to_dict()
    fingerprint = source_mixture("drawing").fingerprint
    path = tmp_path / "bridge.flowscope"
    assert win.project.save_to(path)
    assert load_project(path).source_drawing == strokes

    _action(win, "New project").trigger()
    assert canvas.source_drawing().strokes == []
    qtbot.waitUntil(lambda: win.state.source == "gaussian", timeout=10_000)

    assert win.project.open_project(path)
    assert canvas.source_drawing().to_dict() == strokes
    assert win.state.source == "drawing"
    assert source_mixture("drawing").fingerprint == fingerprint
    assert "drawn source" in win.source_choice.label.text()
    qtbot.wait(500)  # past the source layer's settle time: it must not fall back
    assert win.state.source == "drawing"
    assert not canvas.source_undo_stack().canUndo()  # an opened drawing starts a new history
    _settled(win, qtbot)


def test_a_project_whose_source_file_is_gone_opens_with_n01(win, qtbot, tmp_path):
    ring = tmp_path / "ring.csv"
    _ring_file(ring)
    assert win.source_choice.inputs.load_file(ring)
    path = tmp_path / "file-source.flowscope"
    assert win.project.save_to(path)
    assert load_project(path).settings["source_file"] == str(ring)
    win.source_choice.combo.setCurrentIndex(0)  # N(0, I) meanwhile
    ring.unlink()
    win.source_choice.inputs.file_path = ""  # a fresh window: nothing loaded yet
    win.source_choice.inputs.custom.pop("file", None)
    assert win.project.open_project(path)  # the project opens; the source says why it cannot
    assert "Cannot use the source point file ring.csv" in win.last_error
    assert "not found" in win.last_error
    qtbot.waitUntil(lambda: win.state.source == "gaussian", timeout=10_000)
    assert win.source_choice.combo.currentText() == "N(0, I)"
    _settled(win, qtbot)


def test_an_older_project_without_a_source_layer_opens(win, qtbot, tmp_path):
    path = tmp_path / "old.flowscope"
    old = Drawing([Stroke(np.array([[0.0, 0.0], [1.0, 1.0]]), 0.3)])
    save_project(path, {"target_source": "drawing", "source": "gaussian"}, old.to_dict())
    assert load_project(path).source_drawing is None
    assert win.project.open_project(path)
    assert win.state.target_source == "drawing" and win.state.source == "gaussian"
    assert win.canvas.source_drawing().strokes == []
    assert len(win.canvas.drawing().strokes) == 1
    _settled(win, qtbot)


def test_a_damaged_source_layer_is_refused_with_a_message(tmp_path):
    from flowscope.state.project import ProjectError

    path = tmp_path / "bad.flowscope"
    bad = {"version": 1, "strokes": [{"points": [[1e9, 0.0]], "width": 0.3}]}
    save_project(path, {"source": "drawing"}, None, source_drawing=bad)
    with pytest.raises(ProjectError, match="stroke 0 has a point"):
        load_project(path)


# ----------------------------------------------------------------------------- the oracle
def _schedule(name: str, t: float) -> tuple[float, float, float, float]:
    if name == "condot":
        return t, 1.0 - t, 1.0, -1.0
    c, s = math.cos(math.pi * t / 2), math.sin(math.pi * t / 2)
    return s, c, math.pi / 2 * c, -math.pi / 2 * s  # cosine


def _numpy_bridge(src, tgt, x, a, b, da, db):
    """MATH.md, "Posterior and bridges", one pair (i, j) at a time: log p_t, u_t, score."""
    nu, rho, g = (v.numpy() for v in (src.means, src.weights, src.widths))
    mu, pi_, h = (v.numpy() for v in (tgt.means, tgt.weights, tgt.widths))
    logw, vel, score = [], [], []
    for i in range(len(nu)):
        for j in range(len(mu)):
            m = a * mu[j] + b * nu[i]
            s2 = a * a * h[j] ** 2 + b * b * g[i] ** 2
            e1 = mu[j] + a * h[j] ** 2 / s2 * (x - m)
            e0 = nu[i] + b * g[i] ** 2 / s2 * (x - m)
            logw.append(
                math.log(rho[i] * pi_[j]) - ((x - m) ** 2).sum(1) / (2 * s2)
                - math.log(2 * math.pi * s2)
            )  # fmt: skip
            vel.append(da * e1 + db * e0)
            score.append(-(x - m) / s2)
    logw = np.stack(logw, 1)
    top = logw.max(1, keepdims=True)
    p = np.exp(logw - top)
    logp = top[:, 0] + np.log(p.sum(1))
    p /= p.sum(1, keepdims=True)
    return (
        logp,
        np.einsum("np,pnd->nd", p, np.stack(vel)),
        np.einsum("np,pnd->nd", p, np.stack(score)),
    )


@pytest.mark.parametrize("schedule", ["condot", "cosine"])
def test_the_bridge_from_a_drawn_source_agrees_with_numpy(schedule):
    drawing = Drawing([
        Stroke(np.array([[-2.0, -1.0], [0.0, -2.0], [2.0, -1.0]]), 0.5),
        Stroke(np.array([[1.0, 2.0]]), 0.8),  # a dot
        Stroke(np.array([[-0.5, -1.5], [0.5, -1.5]]), 0.6, erase=True),  # erases a piece
    ])  # fmt: skip
    src = drawn_source(drawing)
    assert src is not None and src.n_components <= SOURCE_MAX_COMPONENTS
    tgt = load_target("two_moons").exact.with_schedule(schedule)
    oracle = tgt.bridge(src, tgt)
    x = np.random.default_rng(3).normal(scale=1.5, size=(7, 2))
    for t in (0.05, 0.4, 0.8):
        a, b, da, db = _schedule(schedule, t)
        logp, u, s = _numpy_bridge(src, tgt, x, a, b, da, db)
        xt = torch.as_tensor(x)
        np.testing.assert_allclose(oracle.log_prob(xt, t).numpy(), logp, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(oracle.velocity(xt, t).numpy(), u, rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(oracle.score(xt, t).numpy(), s, rtol=1e-7, atol=1e-9)
    # at t = 0 the path is the source itself: p_0 is the drawn mixture's density
    x0 = torch.as_tensor(x)
    np.testing.assert_allclose(oracle.log_prob(x0, 0.0).numpy(), src.log_prob(x0, 1.0).numpy(),
                               rtol=1e-9)  # fmt: skip


def test_a_drawn_source_keeps_the_mass_and_mean_of_its_strokes():
    drawing = Drawing([Stroke(np.array([[-3.0, 0.0], [3.0, 0.5], [3.0, 3.0]]), 0.3)])
    mu, w, _, _ = drawing.components()
    assert len(mu) > SOURCE_MAX_COMPONENTS  # so it is merged
    src = drawn_source(drawing)
    assert src.n_components <= SOURCE_MAX_COMPONENTS
    np.testing.assert_allclose(src.weights.numpy() @ src.means.numpy(), w @ mu / w.sum())
    # the merged mixture's second moment matches the drawing's (spread kept)
    m2_drawn = (w * ((mu**2).sum(1) + 2 * drawing.components()[2] ** 2)).sum() / w.sum()
    sw, sm, sh = (v.numpy() for v in (src.weights, src.means, src.widths))
    m2_src = (sw * ((sm**2).sum(1) + 2 * sh**2)).sum()
    np.testing.assert_allclose(m2_src, m2_drawn, rtol=1e-9)
