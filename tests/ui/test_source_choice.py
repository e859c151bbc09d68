"""The source p_init in the 2D explorer (issue 14, section 3), chosen through its combo as a user
does: the particles at t = 0 are drawn from it, the exact arrows are the bridge oracle's, the SDE
view says that it is undefined, and training from it starts and reports losses."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("PySide6")

from flowscope.core.data import load_target  # noqa: E402
from flowscope.core.metrics import energy_distance  # noqa: E402
from flowscope.state import AppState  # noqa: E402
from flowscope.ui.main_window import MainWindow  # noqa: E402


@pytest.fixture
def win(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWSCOPE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FLOWSCOPE_COMPUTE_PROCESS", "0")  # one process: quick to start in tests
    state = AppState(target_source="two_moons", n_particles=600, steps=12, width=32, depth=2,
                     batch_size=64, playing=False, t=0.4, field_source="exact")  # fmt: skip
    w = MainWindow(state, ask_to_save=False)
    qtbot.addWidget(w)
    w.resize(1300, 800)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.shutdown()


def _pick_source(win, name: str) -> None:
    combo = win.source_choice.combo
    combo.setCurrentIndex(win.source_choice.values.index(name))  # as a user picks it


def _x0_distances(win) -> tuple[float, float]:
    tr = win.view.traj
    x0 = torch.as_tensor(tr.ode[0]).double()
    src = load_target("eight_gaussians").exact.sample(4000, seed=11, dtype=torch.float64)
    gauss = torch.randn(4000, 2, generator=torch.Generator().manual_seed(11), dtype=torch.float64)
    return float(energy_distance(x0, src)), float(energy_distance(x0, gauss))


def test_eight_gaussians_source_moves_particles_arrows_and_the_sde_note(win, qtbot):
    assert win.state.source == "gaussian"
    assert not win.source_choice.cover.isVisible()
    qtbot.waitUntil(lambda: win.view.traj is not None, timeout=60_000)
    d_src, d_gauss = _x0_distances(win)
    assert d_gauss < d_src  # the default: X_0 ~ N(0, I)

    _pick_source(win, "eight_gaussians")
    assert win.state.source == "eight_gaussians"

    def drawn_from_source() -> bool:
        tr = win.view.traj
        return tr is not None and tr.ode.shape[1] == 600 and _x0_distances(win)[0] < 0.05

    qtbot.waitUntil(drawn_from_source, timeout=60_000)
    d_src, d_gauss = _x0_distances(win)
    assert d_src < 0.05 < 0.3 < d_gauss, (d_src, d_gauss)

    # the exact arrows at t = 0.4 are the bridge oracle's velocity at the grid points
    target = win.target.exact
    oracle = target.bridge(load_target("eight_gaussians").exact, target)

    def bridge_arrows() -> bool:
        f = win.view.field
        if f is None or abs(f.t - 0.4) > 1e-9:
            return False
        u = oracle.velocity(torch.as_tensor(f.origins).double(), 0.4).numpy()
        return bool(np.allclose(f.ode_field, u, atol=1e-4))

    qtbot.waitUntil(bridge_arrows, timeout=60_000)
    f = win.view.field
    plain = target.velocity(torch.as_tensor(f.origins).double(), 0.4).numpy()
    assert np.abs(f.ode_field - plain).max() > 0.5  # not the N(0, I) source's field
    origins, vectors, _ = win.explorer._sides["ode"].arrow_data["field"]
    np.testing.assert_allclose(vectors, f.ode_field, atol=1e-5)  # what is drawn

    # the SDE: covered by a note, the red line under the explorer says so, score arrows off
    assert win.source_choice.cover.isVisible()
    assert "only for a Gaussian source" in win.source_choice.cover.text.toPlainText()
    assert "eight gaussians" in win.source_choice.label.text()
    qtbot.waitUntil(lambda: "SDE undefined" in win.sde_warning_label.text(), timeout=10_000)
    assert win.sde_warning_label.isVisible()
    assert not win.state.show_score

    # back to N(0, I): the note goes, X_0 is Gaussian again
    _pick_source(win, "gaussian")
    assert not win.source_choice.cover.isVisible()
    qtbot.waitUntil(lambda: _x0_distances(win)[1] < _x0_distances(win)[0], timeout=60_000)


def test_training_from_a_non_gaussian_source_starts_and_reports_losses(win, qtbot):
    _pick_source(win, "eight_gaussians")
    win.training_panel.train_button.click()
    qtbot.waitUntil(lambda: len(win.session.history.losses) >= 5, timeout=120_000)
    assert win.session.source is not None
    assert win.session.source.n_components == 8
    assert np.isfinite(win.session.history.losses).all()
    assert win.session.trainer.error is None
    win.training_panel.train_button.click()  # pause


def test_run_steps_curve_measures_quality_per_euler_step_count(win, qtbot, menu_action):
    """Run > Steps curve: energy distance of the model's Euler samples for k = 1 ... 64, with
    the exact flow's curve beside it (which must reach the p_data floor with many steps)."""
    menu_action(win, "Steps curve…").trigger()
    assert "train first" in win.steps_curve.status.text()  # no model yet: said, no traceback
    _pick_source(win, "eight_gaussians")
    for _ in range(3):
        win._on_step_clicked()
    qtbot.waitUntil(lambda: win.sessions.snapshot is not None, timeout=60_000)
    menu_action(win, "Steps curve…").trigger()
    qtbot.waitUntil(lambda: len(win.steps_curve.results) == 1, timeout=180_000)
    res = win.steps_curve.results[0]
    assert res.steps == (1, 2, 4, 8, 16, 32, 64)
    assert np.isfinite(res.learned).all() and min(res.learned) > 0
    # the exact bridge flow: Euler converges to p_data (near the two-sample floor) as k grows
    assert res.exact[-1] < 0.02 < res.exact[0], res.exact
    assert res.floor < 0.01
    assert "independent, eight gaussians" in res.label
    assert "at 1 step" in win.steps_curve.status.text()
    assert len(win.steps_curve.plot.getPlotItem().listDataItems()) == 2
