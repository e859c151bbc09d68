"""Conditional mode (issue 14, item 1): View > Conditional path shows p_t(x | z) in the explorer.

Read from the items: the heatmap peaks at alpha_t z, the ODE particles are alpha_t z + beta_t X_0
from the marginal view's own noise X_0, the SDE particles have the conditional path's marginals
and end at z, and toggling back shows the marginal particles again."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6 import QtCore  # noqa: E402

from flowscope.state import AppState  # noqa: E402
from flowscope.ui.conditional import conditional_paths  # noqa: E402
from flowscope.ui.main_window import MainWindow  # noqa: E402


@pytest.fixture
def win(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWSCOPE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FLOWSCOPE_COMPUTE_PROCESS", "0")
    state = AppState(target_source="two_moons", n_particles=2000, steps=40, playing=False)
    w = MainWindow(state, ask_to_save=False)
    qtbot.addWidget(w)
    w.resize(1300, 800)
    w.show()
    qtbot.waitExposed(w)
    qtbot.waitUntil(lambda: w.view.traj is not None and len(w.view.traj.ode[0]) == 2000,
                    timeout=60_000)  # fmt: skip
    yield w
    w.shutdown()


def _peak(win, side=0):
    """The data coordinates of the heatmap's brightest pixel in one plot."""
    item = win.explorer._sides[("ode", "sde")[side]].density
    img = item.image  # row 0 = smallest y (flipped for display)
    r = item.mapRectToParent(item.boundingRect())  # in data coordinates
    row, col = np.unravel_index(np.argmax(img), img.shape)
    x = r.left() + (col + 0.5) * r.width() / img.shape[1]
    y = r.top() + (row + 0.5) * r.height() / img.shape[0]
    return np.array([x, y])


@pytest.mark.parametrize("schedule,alpha", [("condot", 0.6), ("cosine", np.sin(0.3 * np.pi))])
def test_conditional_mode_heatmap_particles_and_back(win, qtbot, schedule, alpha, menu_action):
    win.state.set(schedule=schedule, t=0.6)
    marginal = win.view.current_positions()[0].copy()
    menu_action(win, "Conditional path p_t(x | z)").trigger()
    assert win.conditional.active
    win.conditional.set_z([1.5, -0.8])
    z = np.array([1.5, -0.8])
    pix = 7.0 / 96
    np.testing.assert_allclose(_peak(win), alpha * z, atol=1.5 * pix)
    np.testing.assert_allclose(_peak(win, 1), alpha * z, atol=1.5 * pix)
    # the ODE particles: alpha_t z + beta_t X_0 with X_0 the marginal view's noise
    x0 = win.view.traj.ode[0]
    beta = {"condot": 0.4, "cosine": np.cos(0.3 * np.pi)}[schedule]
    ode, _ = win.explorer.particles_item("ode").data()
    np.testing.assert_allclose(ode, alpha * z + beta * x0, atol=1e-4)
    sde, _ = win.explorer.particles_item("sde").data()
    np.testing.assert_allclose(sde.mean(0), alpha * z, atol=4 * beta / np.sqrt(2000))
    np.testing.assert_allclose(sde.std(0), beta, rtol=0.08)
    # the arrows at t: u_t(x | z) = d_alpha z + d_beta eps, from one grid origin
    shafts = win.explorer._sides["ode"].field.shafts.getData()
    assert shafts[0] is not None and len(shafts[0]) > 100
    win.state.set(t=1.0)
    sde1, _ = win.explorer.particles_item("sde").data()
    np.testing.assert_allclose(sde1, np.broadcast_to(z, sde1.shape), atol=1e-3)  # ends at z
    # back to the marginal: the same particles as before
    win.state.set(t=0.6)
    menu_action(win, "Conditional path p_t(x | z)").trigger()
    assert not win.conditional.active
    back, _ = win.explorer.particles_item("ode").data()
    np.testing.assert_allclose(back, marginal, atol=1e-6)


def test_click_and_key_choose_z(win, qtbot, menu_action):
    win.state.set(t=0.5)
    menu_action(win, "New random z (conditional path)").trigger()  # Z: a random z turns it on
    assert win.conditional.active and win.conditional.z is not None
    widget = win.explorer.widgets()[0]
    vb = win.explorer.plots()[0].getViewBox()

    def clicked() -> bool:
        p = widget.mapFromScene(vb.mapViewToScene(QtCore.QPointF(-1.0, 1.0)))
        qtbot.mouseClick(widget.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=p)
        return bool(np.allclose(win.conditional.z, [-1.0, 1.0], atol=0.06))

    qtbot.waitUntil(clicked, timeout=10_000)
    np.testing.assert_allclose(_peak(win), 0.5 * win.conditional.z, atol=0.12)


def test_conditional_sde_keeps_the_path_marginals_for_any_sigma():
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal((6000, 2))
    z = np.array([0.7, 2.0])
    ts = np.linspace(0, 1, 41)
    for sigma, sched in ((0.0, "constant"), (1.0, "constant"), (2.0, "linear")):
        ode, sde = conditional_paths("vp", z, x0, ts, sigma, sched, seed=1)
        k = 20  # t = 0.5: vp alpha = 0.5, beta = sqrt(0.75)
        np.testing.assert_allclose(sde[k].mean(0), 0.5 * z, atol=0.06)
        np.testing.assert_allclose(sde[k].std(0), np.sqrt(0.75), rtol=0.05)
        np.testing.assert_allclose(sde[-1], np.broadcast_to(z, sde[-1].shape), atol=1e-3)
