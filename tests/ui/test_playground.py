"""The SDE playground window (issue 14, item 5), opened from the View menu: its OU run reaches
the stationary N(0, sigma^2 / 2 theta) it draws, and Langevin with the exact score reaches the
target. Simulations run on the window's worker thread; the test waits for their results."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")

from flowscope.core.data import load_target  # noqa: E402
from flowscope.core.metrics import energy_distance  # noqa: E402
from flowscope.state import AppState  # noqa: E402
from flowscope.train.playground import PlaygroundRequest, simulate  # noqa: E402
from flowscope.ui.main_window import MainWindow  # noqa: E402


@pytest.fixture
def win(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWSCOPE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FLOWSCOPE_COMPUTE_PROCESS", "0")
    w = MainWindow(AppState(target_source="eight_gaussians", n_particles=300), ask_to_save=False)
    qtbot.addWidget(w)
    w.show()
    yield w
    w.shutdown()


def test_ou_reaches_its_stationary_variance_in_the_window(win, qtbot):
    action = next(a for a in win.findChildren(type(win.menuBar().actions()[0]))
                  if a.text() == "SDE playground…")  # fmt: skip
    action.trigger()
    pw = win.playground
    qtbot.addWidget(pw)
    pw.n.setValue(4000)
    pw.theta.setValue(2.0)
    pw.sigma.setValue(1.5)
    pw.duration.setValue(6.0)
    pw.steps.setValue(600)
    qtbot.waitUntil(lambda: pw.result is not None and pw.result.xs.shape[1] == 4000
                    and pw._future is None and pw.result.generation == pw._generation,
                    timeout=60_000)  # fmt: skip
    res = pw.result
    var = 1.5**2 / (2 * 2.0)
    assert res.stationary_var == pytest.approx(var)
    np.testing.assert_allclose(res.xs[-1].var(0), var, rtol=0.08)
    # the drawn circles: radius 1 and 2 stationary standard deviations
    x, y = pw.circles[0].getData()
    np.testing.assert_allclose(np.hypot(x, y), np.sqrt(var), rtol=1e-6)
    # the histogram against N(0, var) once the animation has reached the end
    qtbot.waitUntil(lambda: pw.frame == len(res.t) - 1, timeout=30_000)
    edges, dens = pw.hist.getData()
    mids = 0.5 * (edges[:-1] + edges[1:]) if len(edges) == len(dens) + 1 else edges
    ref = np.exp(-0.5 * mids**2 / var) / np.sqrt(2 * np.pi * var)
    assert np.abs(dens[: len(ref)] - ref).max() < 0.12
    pw.close()


def test_langevin_with_the_exact_score_reaches_the_target():
    ex = load_target("eight_gaussians").exact
    res = simulate(PlaygroundRequest(1, "langevin", n=600, steps=300, duration=6.0, sigma=1.0,
                                     exact=ex))  # fmt: skip
    ref = ex.sample(600, seed=3).numpy()
    ref2 = ex.sample(600, seed=4).numpy()
    floor = energy_distance(ref, ref2)
    import torch

    ed = energy_distance(torch.as_tensor(res.xs[-1]), torch.as_tensor(ref))
    start = energy_distance(torch.as_tensor(res.xs[0]), torch.as_tensor(ref))
    assert ed < 0.25 * start and ed < floor + 0.1
