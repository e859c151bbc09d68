"""The Diagnostics tab and the diagnostic heatmaps in the main window (issue 13), driven the way
a user does: train, open the tab, pick a heatmap in the combo box. Every heatmap shows a colour
bar whose levels are the data's; the continuity residual's is symmetric around 0."""

import numpy as np
import pytest

pytest.importorskip("PySide6")

from flowscope.state import AppState  # noqa: E402
from flowscope.train.compute import DENSITY_SOURCES, DIAGNOSTIC_SOURCES  # noqa: E402
from flowscope.ui.controllers.diagnostics import SnapshotRing, log_spaced_keep  # noqa: E402
from flowscope.ui.main_window import MainWindow  # noqa: E402


@pytest.fixture
def win(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWSCOPE_HOME", str(tmp_path / "home"))
    # the compute side as a thread: a compute process at idle priority gets no CPU at all on
    # a machine shared with other work (PITFALLS 16), and these tests wait on its answers
    monkeypatch.setenv("FLOWSCOPE_COMPUTE_PROCESS", "0")
    state = AppState(
        target_source="two_moons",
        n_particles=500,
        steps=10,
        width=32,
        depth=2,
        batch_size=128,
        playing=False,
    )
    w = MainWindow(state, ask_to_save=False)
    qtbot.addWidget(w)
    w.diagnostics.sizes = {"error_n": 600, "decompose_n": 300, "nll_n": 80, "nll_steps": 8}
    w.show()
    yield w
    w.shutdown()


def _wait(qtbot, fn, timeout=240_000):
    """Wait until fn() is true (the timeout only bounds a hang: the children import torch)."""
    qtbot.waitUntil(lambda: bool(fn()), timeout=timeout)


def _train(win, qtbot, steps):
    assert win.sessions.train_steps(steps, wait=lambda: qtbot.wait(50))


def _curve(item):
    """The data given to a curve (not its log10 display values)."""
    x, y = item.xData, item.yData
    return np.asarray([] if x is None else x), np.asarray([] if y is None else y)


def test_panel_shows_error_decomposition_and_nll_after_training(win, qtbot):
    tabs, panel = win.curve_tabs, win.diagnostics_panel
    tabs.setCurrentWidget(panel)
    _train(win, qtbot, 150)
    diag = win.diagnostics

    def done():  # the panel follows the snapshots; the one published after the pause comes last
        r = diag.last_result
        return r is not None and r.nll is not None and r.step == win.sessions.snapshot.step

    _wait(qtbot, done)
    final = diag.last_result.step
    assert final >= 150
    t, mse = _curve(panel.mse_curve)
    assert len(t) == 20 and np.isfinite(mse).sum() >= 15 and np.nanmin(mse) > 0
    _, excess = _curve(panel.excess_curve)
    assert np.isfinite(excess).sum() >= 10  # velocity objective: the training-loss estimate
    heights = panel.bars.opts["height"]
    assert len(heights) == 4 and (np.asarray(heights) > 0).all()
    steps, nll = _curve(panel.nll_model)
    assert steps[-1] == final and np.isfinite(nll).all()
    assert "NLL" in panel.summary.text()
    # the decomposition follows the steps slider (throttled, the decomposition only)
    win.state.set(steps=4)
    _wait(qtbot, lambda: diag.last_result.decomposition["steps"] == 4)
    assert "4 heun steps" in panel.decomp_plot.getPlotItem().titleLabel.text
    assert panel.scrub.maximum() >= 1 and panel.scrub_label.text() == "live"


def test_every_heatmap_choice_has_a_colour_bar_with_the_datas_levels(win, qtbot):
    combo = win.sampling_panel.density_source
    assert combo.count() == len(DENSITY_SOURCES)
    scales = [s.density.scale for s in win.explorer._sides.values()]
    # the exact p_t: levels (0, max p_t) of the grid shown
    _wait(qtbot, lambda: win.field is not None and scales[0].visible)
    assert scales[0].levels == pytest.approx((0.0, float(win.field.density.max())), rel=1e-5)
    canvas_scale = win.canvas.density_scale
    _wait(qtbot, lambda: canvas_scale.visible)
    assert canvas_scale.levels[0] == 0.0 and canvas_scale.levels[1] > 0
    _train(win, qtbot, 100)
    diag = win.diagnostics
    for kind in DIAGNOSTIC_SOURCES:
        combo.setCurrentIndex(DENSITY_SOURCES.index(kind))
        assert win.state.density_source == kind
        _wait(qtbot, lambda k=kind: diag.last_map is not None and diag.last_map.kind == k)
        res = diag.last_map
        shown = scales[0].image.image  # what the plot shows (flipped rows)
        np.testing.assert_allclose(shown[::-1], res.values)
        for s in scales:
            assert s.visible and s.levels == pytest.approx(res.levels)
            assert s.label == res.label
        lo, hi = res.levels
        v = res.values
        if kind == "continuity":
            assert lo == -hi and hi == pytest.approx(float(np.abs(v).max()), rel=1e-5)
            lut = scales[0].image.lut
            mid = np.asarray(lut[len(lut) // 2][:3], int)
            assert (mid >= 250).all()  # white at 0: a diverging map centred at zero
        elif kind.startswith("error"):
            assert lo == 0.0 and hi == pytest.approx(float(v.max()), rel=1e-5) and hi > 0
        else:
            assert hi == pytest.approx(float(v.max()), rel=1e-5) and v.min() >= lo - 1e-4
        assert res.summary and win.statusBar().currentMessage()
    # the particle histogram: counts on a log scale
    combo.setCurrentIndex(DENSITY_SOURCES.index("histogram"))
    qtbot.waitUntil(lambda: scales[0].label.startswith("log"), timeout=30_000)
    # log10(1 + count), one colour bar for the pair: levels (0, the larger of the two maxima)
    peak = max(float(s.image.image.max()) for s in scales)
    assert scales[0].levels == pytest.approx((0.0, peak)) and peak > 0.1
    assert all(s.image.levels is not None and tuple(s.image.levels) == pytest.approx((0.0, peak))
               for s in scales)  # fmt: skip


def test_snapshot_ring_keeps_64_log_spaced_steps():
    class S:
        def __init__(self, step):
            self.step = step

    ring = SnapshotRing(64)
    for step in range(1, 5001, 7):
        ring.add(S(step))
    steps = ring.steps()
    assert 30 <= len(steps) <= 65 and steps[0] == 1 and steps[-1] == 4999  # bounded memory
    s = np.asarray(steps)
    gaps = np.diff(np.log(s))[s[1:] > 100]
    assert gaps.max() < 0.5  # spread over log(step): early steps are kept densely
    assert (s < 500).sum() > (s >= 2500).sum()
    assert log_spaced_keep(list(range(10)), 64) == list(range(10))


def test_point_set_memorization_view_and_training_scrub(win, qtbot, tmp_path):
    pts = np.array([[np.cos(a), np.sin(a)] for a in np.linspace(0, 2 * np.pi, 12, False)]) * 1.5
    path = tmp_path / "ring.csv"
    np.savetxt(path, pts, delimiter=",", header="x,y", comments="")
    assert win.set_target_source(str(path)) and win.target.kind == "points"
    panel, diag = win.diagnostics_panel, win.diagnostics
    win.curve_tabs.setCurrentWidget(panel)
    _train(win, qtbot, 120)

    def memorized():
        r = diag.last_result
        snap = win.sessions.snapshot
        return r is not None and r.step == snap.step and r.memorization is not None

    _wait(qtbot, memorized)
    final = diag.last_result.step
    m = diag.last_result.memorization
    assert 0.0 <= m["share"] <= 1.0 and m["spacing"] > 0
    assert panel.memo_plot.isVisible()
    assert len(panel.memo_train.data) == 12 and len(panel.memo_samples.data) == 300
    assert "memorized" in panel.summary.text()
    # replay the first kept snapshot: the particles and the diagnostics are of that step
    steps = diag.ring.steps()
    assert len(steps) >= 2 and steps[-1] == final
    panel.scrub.setValue(0)
    assert panel.scrub_label.text() == f"step {steps[0]}"
    _wait(qtbot, lambda: win.traj is not None and win.traj.step == steps[0])
    _wait(qtbot, lambda: diag.last_result is not None and diag.last_result.step == steps[0])
    panel.scrub.setValue(panel.scrub.maximum())  # back to live
    assert panel.scrub_label.text() == "live" and diag.scrub_snapshot() is None
    _wait(qtbot, lambda: win.traj is not None and win.traj.step == final)
