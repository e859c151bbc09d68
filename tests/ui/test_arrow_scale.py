"""Issue 11 item 6 / 15: every arrow set on one absolute scale per view, with a legend; score
arrows between the field arrows; the arrow grid covers the plane the view shows."""

import numpy as np
import pytest

pytest.importorskip("PySide6")

import torch  # noqa: E402

from flowscope.state import AppState  # noqa: E402
from flowscope.train.compute import field_grids  # noqa: E402
from flowscope.ui.explorer import ExplorerView  # noqa: E402
from flowscope.ui.field_items import FILL, MAX_CELLS, grid_spacing  # noqa: E402
from flowscope.ui.main_window import MainWindow  # noqa: E402


def _lengths(arrows) -> np.ndarray:
    x, y = arrows.shafts.getData()
    seg = np.stack([x, y], 1).reshape(-1, 2, 2)
    return np.hypot(*(seg[:, 1] - seg[:, 0]).T)


def test_field_grids_have_square_cells_and_centred_score_points():
    pts, centres = field_grids((-1.5, 1.5, -6.0, 6.0), 7)  # 3 x 12: as many points as 7 x 7
    assert grid_spacing(pts.numpy()) == pytest.approx(1.0)
    assert len(pts) == 4 * 13 and len(centres) == 3 * 12
    square, _ = field_grids((-3.0, 3.0, -3.0, 3.0), 21)
    assert len(square) == 21 * 21 and grid_spacing(square.numpy()) == pytest.approx(0.3)
    # every centre is half a cell from its nearest grid point in x and in y
    d = (centres[:, None] - pts[None]).abs().amin(1)
    assert torch.allclose(d, torch.full_like(d, 0.5))


def test_one_scale_for_every_arrow_set_and_a_legend(qtbot):
    view = ExplorerView(use_gl=False)
    qtbot.addWidget(view)
    view.resize(800, 420)
    view.show()
    xs = np.linspace(-3, 3, 7)
    origins = np.stack(np.meshgrid(xs, xs), -1).reshape(-1, 2)
    big = np.tile([[2.0, 0.0]], (len(origins), 1))
    small = big * 0.05  # e.g. learned - exact: 20 times smaller, and it must look it
    view.set_field("ode", origins, small, "field", reference=2.0)
    view.set_field("ode", origins + 0.5, big, "score", reference=2.0)
    side = view._sides["ode"]
    lf, ls = _lengths(side.field), _lengths(side.score)
    assert ls == pytest.approx(np.full(len(origins), FILL * 1.0))  # reference fills FILL cell
    assert lf == pytest.approx(ls / 20)  # the same scale, not each set normalized to a cell
    legend = view.arrow_legend("ode")
    qtbot.waitUntil(lambda: legend.isVisible())
    px = side.plot.getViewBox().viewPixelSize()[0]
    scale = FILL / 2.0  # plane units per unit of |v|
    assert legend.length_px == pytest.approx(legend.value * scale / px)
    assert 24 <= legend.length_px <= 70
    assert f"of {legend.value:g}" in legend.text.text()
    # one very long arrow is capped, the others keep the scale
    huge = big.copy()
    huge[0] = [100.0, 0.0]
    view.set_field("ode", origins, huge, "field", reference=2.0)
    lf = _lengths(side.field)
    assert lf.max() == pytest.approx(MAX_CELLS * 1.0)
    assert lf[1:] == pytest.approx(np.full(len(origins) - 1, FILL))
    # hiding the score layer leaves the field's scale to the field alone
    view.set_field("ode", origins, small, "field", reference=0.0)
    view.set_layer_visible("score", False)
    assert np.median(_lengths(side.field)) == pytest.approx(FILL)


@pytest.fixture
def win(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWSCOPE_HOME", str(tmp_path / "home"))
    state = AppState(
        target_source="eight_gaussians", n_particles=400, steps=10, width=32, depth=2,
        batch_size=128, t=0.5, playing=False,
    )  # fmt: skip
    w = MainWindow(state, ask_to_save=False)
    qtbot.addWidget(w)
    w.resize(1366, 768)
    w.show()
    yield w
    w.shutdown()


def _shown_field(win, qtbot):
    gen = win.requests.generation("field")
    qtbot.waitUntil(
        lambda: win.field is not None and win.requests.shown("field") >= gen, timeout=120_000
    )
    return win.field


def test_difference_arrows_are_drawn_small_and_grids_cover_the_view(win, qtbot):
    win.sessions.train_steps(30, wait=lambda: qtbot.wait(50))
    panel = win.sampling_panel
    panel.field_source.setCurrentIndex(1)  # exact
    assert win.state.field_source == "exact"
    fr = _shown_field(win, qtbot)
    side = win.explorer._sides["ode"]
    legend = win.explorer.arrow_legend("ode")
    legend_exact = legend.length_px / legend.value
    # the arrows cover what the view shows (the aspect lock makes it wider or taller than the
    # target's square)
    x0, x1, y0, y1 = win.explorer.visible_bounds()
    o = fr.origins
    assert (o[:, 0].min(), o[:, 0].max()) == pytest.approx((x0, x1), abs=0.02)
    assert (o[:, 1].min(), o[:, 1].max()) == pytest.approx((y0, y1), abs=0.02)
    w, h = x1 - x0, y1 - y0
    assert max(w, h) > 1.2 * min(w, h)  # not square at 1366 x 768: the grid follows the view
    # the score arrows sit at the cell centres, never on a field arrow's origin
    gap = np.abs(fr.score_origins[:, None] - fr.origins[None]).min(1)
    assert np.allclose(gap, grid_spacing(fr.origins) / 2, rtol=0.05)
    panel.field_source.setCurrentIndex(2)  # learned - exact
    assert win.state.field_source == "difference"
    fr2 = _shown_field(win, qtbot)
    diff = np.hypot(*fr2.ode_field.T)
    # the scale still comes from the exact field: the drawn lengths are |diff| * the same scale
    drawn = np.median(_lengths(side.field))
    scale = FILL * grid_spacing(fr2.origins) / max(fr2.reference)
    cap = MAX_CELLS * grid_spacing(fr2.origins)
    assert drawn == pytest.approx(np.median(np.minimum(diff * scale, cap)), rel=0.05)
    # the same scale as the exact field's arrows (same t): the legend did not change
    assert legend.length_px / legend.value == pytest.approx(legend_exact, rel=1e-6)


def test_arrow_layers_set_in_a_batch_are_drawn_once_per_view(qtbot, monkeypatch):
    """A field result sets three arrow layers (ODE field, SDE field, score on both): inside
    ExplorerView.batch() each view redraws its arrows once, at the end, with the same scale
    and segments as when the layers are set one by one (the GUI thread's frame got shorter)."""
    import flowscope.ui.explorer_side as side_mod  # ExplorerSide.rescale draws

    view = ExplorerView(use_gl=False)
    qtbot.addWidget(view)
    view.resize(800, 420)
    xs = np.linspace(-3, 3, 7)
    origins = np.stack(np.meshgrid(xs, xs), -1).reshape(-1, 2)
    u = np.tile([[1.0, 0.5]], (len(origins), 1))
    calls: list[int] = []
    real = side_mod.draw_on_one_scale
    monkeypatch.setattr(side_mod, "draw_on_one_scale", lambda *a: (calls.append(1), real(*a))[1])

    def set_all(v):
        v.set_field("ode", origins, u, "field", reference=1.0)
        v.set_field("sde", origins, 2 * u, "field", reference=1.0)
        v.set_field("both", origins + 0.5, 3 * u, "score", reference=1.0)

    set_all(view)
    assert len(calls) == 4  # one by one: ode, sde, then both views again
    one_by_one = {n: _lengths(view._sides[n].score) for n in ("ode", "sde")}
    calls.clear()
    with view.batch():
        set_all(view)
        with view.batch():  # nested batches draw at the outermost end only
            view.set_layer_visible("score", True)
        assert calls == []  # nothing drawn before the batch ends
    assert len(calls) == 2  # one per view
    for n in ("ode", "sde"):
        assert _lengths(view._sides[n].score) == pytest.approx(one_by_one[n])
        assert len(_lengths(view._sides[n].field)) == len(origins)
    calls.clear()
    with view.batch():
        view.set_field("sde", None, None, "score")
    assert len(calls) == 1  # only the view that changed
    x, _ = view._sides["sde"].score.shafts.getData()
    assert x is None or len(x) == 0
