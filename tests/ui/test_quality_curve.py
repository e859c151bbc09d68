"""Issue 11 item 7: the quality curve uses a fixed reference sampler, not the views' settings;
it survives class changes, and its axis is sensible with one point."""

import numpy as np
import pytest

pytest.importorskip("PySide6")

from flowscope.state import AppState  # noqa: E402
from flowscope.train.compute import (  # noqa: E402
    ComputeWorker,
    TrajectoryRequest,
    reference_quality,
)
from flowscope.ui.main_window import MainWindow  # noqa: E402


@pytest.fixture
def win(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWSCOPE_HOME", str(tmp_path / "home"))
    state = AppState(
        target_source="eight_gaussians", n_particles=300, steps=20, width=32, depth=2,
        batch_size=128, t=0.5, playing=False,
    )  # fmt: skip
    w = MainWindow(state, ask_to_save=False)
    qtbot.addWidget(w)
    w.show()
    yield w
    w.shutdown()


def _wait(qtbot, fn, timeout=120_000):
    qtbot.waitUntil(lambda: bool(fn()), timeout=timeout)


def test_quality_ignores_the_views_sampler_and_survives_class_changes(win, qtbot):
    assert win.sessions.train_steps(60, wait=lambda: qtbot.wait(50))
    # the GUI: a point per refresh from training, for the newest snapshot (paused)
    _wait(qtbot, lambda: not win.sessions.running)
    win.view.refresh_from_training(force=True)
    _wait(
        qtbot,
        lambda: len(win.quality[0]) >= 1 and win.quality[0][-1] == win.sessions.snapshot.step,
    )
    snap = win.sessions.snapshot
    # the compute side: the same snapshot gives the same quality whatever the views show
    worker = ComputeWorker()
    exact = win.target.exact
    a = worker.compute_now(TrajectoryRequest(0, exact, snap, 50, 50, "heun", score_quality=True))
    b = worker.compute_now(
        TrajectoryRequest(0, exact, snap, 50, 2, "euler", y=3, w=4.0, score_quality=True)
    )
    assert a.energy == b.energy and a.support == b.support and a.precision == b.precision
    model = worker.context.model_for(snap, "trajectory")
    assert reference_quality(model, exact)[0] == pytest.approx(a.energy, rel=1e-6)
    steps, values = (list(v) for v in win.quality)
    assert values[-1] == pytest.approx(a.energy, rel=1e-6)
    # the axis runs from 0 to a little above the curve, with one point too (no -400..400)
    (x0, x1), (y0, y1) = win.curves.quality_plot.getViewBox().viewRange()
    assert y0 == pytest.approx(0.0, abs=1e-9) and max(values) < y1 <= 1.2 * max(values)
    win.curves.set_quality([100], [0.05])
    (_, _), (y0, y1) = win.curves.quality_plot.getViewBox().viewRange()
    assert (y0, y1) == pytest.approx((0.0, 0.0575))
    win.curves.set_quality(steps, values, a.support, a.precision)
    assert x0 == pytest.approx(0.0, abs=1e-9) and x1 >= steps[-1]
    tip = win.curves.quality_plot.toolTip()
    assert "support" in tip and "precision" in tip and "Heun, 40 steps" in tip
    # what the user touches: solver, steps, class and w leave the curve alone
    panel = win.sampling_panel
    panel.solver.setCurrentIndex(panel.solver.findText("euler"))
    panel.steps.setValue(2)
    panel.label_combo.setCurrentIndex(3)
    assert win.state.solver == "euler" and win.state.steps == 2 and win.state.label == 2
    gen = win.requests.generation("trajectory")
    _wait(qtbot, lambda: win.requests.shown("trajectory") >= gen)
    assert list(win.quality[0]) == steps and list(win.quality[1]) == values
    # a new point after more training keeps the old ones and uses the reference sampler
    assert win.sessions.train_steps(120, wait=lambda: qtbot.wait(50))
    win.view.refresh_from_training(force=True)
    _wait(qtbot, lambda: len(win.quality[0]) >= 2)
    assert win.quality[0][: len(steps)] == steps and win.quality[1][: len(steps)] == values
    assert np.all(np.diff(win.quality[0]) > 0)
