"""Issue 11 items 12 and 15: particles coloured by class when the target has classes; faint
over the histogram heatmap; the exact heatmap light enough for blue particles."""

import numpy as np
import pytest

pytest.importorskip("PySide6")

from flowscope.state import AppState  # noqa: E402
from flowscope.ui.field_items import density_lut  # noqa: E402
from flowscope.ui.main_window import MainWindow  # noqa: E402
from flowscope.ui.particle_colors import HISTOGRAM_ALPHA, class_rgba  # noqa: E402


@pytest.fixture
def win(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWSCOPE_HOME", str(tmp_path / "home"))
    state = AppState(
        target_source="eight_gaussians", n_particles=400, steps=30, t=1.0, playing=False
    )
    w = MainWindow(state, ask_to_save=False)
    qtbot.addWidget(w)
    w.show()
    yield w
    w.shutdown()


def _shown_traj(win, qtbot):
    gen = win.requests.generation("trajectory")
    qtbot.waitUntil(
        lambda: win.traj is not None
        and win.requests.shown("trajectory") >= gen
        and win.traj.ode.shape[1] == 400,
        timeout=120_000,
    )
    win.view.show_frame()
    return win.traj


def test_particles_take_their_class_colour(win, qtbot):
    exact = win.target.exact
    assert exact.labels is not None and len(exact.classes) == 8
    tr = _shown_traj(win, qtbot)
    # unguided: each particle has the class of the mode it ends at (exact field, t = 1)
    x1 = tr.ode[-1]
    nearest = np.argmin(((x1[:, None] - exact.means.numpy()[None]) ** 2).sum(-1), 1)
    expected = exact.labels.numpy()[nearest]
    assert (tr.ode_class == expected).mean() > 0.98
    assert len(set(tr.ode_class.tolist())) == 8
    table = class_rgba(8)
    _, colors = win.explorer.particles_item("ode").data()
    np.testing.assert_allclose(colors, table[tr.ode_class])
    # the class menu: sampling class 2 colours every particle with class 2's colour
    win.sampling_panel.label_combo.setCurrentIndex(3)
    assert win.state.label == 2
    tr = _shown_traj(win, qtbot)
    assert (tr.ode_class == 2).all() and (tr.sde_class == 2).all()
    _, colors = win.explorer.particles_item("sde").data()
    np.testing.assert_allclose(colors, np.tile(table[2], (400, 1)))
    # the histogram heatmap is made of the particles: they turn faint over it
    panel = win.sampling_panel
    from flowscope.ui.panels import DENSITY_SOURCES

    panel.density_source.setCurrentIndex(DENSITY_SOURCES.index("histogram"))
    assert win.state.density_source == "histogram"
    _, colors = win.explorer.particles_item("ode").data()
    assert np.allclose(colors[:, 3], HISTOGRAM_ALPHA)


def test_heatmap_stays_light_behind_blue_particles():
    lut = density_lut().astype(float)
    blue = np.array([0.12, 0.40, 0.80]) * 255
    # the darkest heatmap colour differs from the ODE particles' blue by a clear margin
    assert lut[:, :3].min() > 140 and np.abs(lut[-1, :3] - blue).sum() > 200
