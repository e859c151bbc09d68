"""The loss plot's axes move in coarse steps: while training, the curve grows every second, and
each range change re-draws both axes (a 10-20 ms repaint on the GUI thread). The curve stays
inside the view."""

import numpy as np
import pytest

pytest.importorskip("PySide6")

from flowscope.ui.curves import CurvesPanel  # noqa: E402


def test_a_growing_loss_curve_moves_its_axes_rarely_and_stays_in_view(qtbot):
    panel = CurvesPanel()
    qtbot.addWidget(panel)
    panel.resize(360, 300)
    vb = panel.loss_plot.getViewBox()
    changes: list[int] = []
    vb.sigRangeChanged.connect(lambda *_: changes.append(1))
    rng = np.random.default_rng(0)
    n_updates = 0
    for n in range(1100, 2000, 100):  # ten seconds of training at ~100 steps/s
        steps = np.arange(n, dtype=float)
        losses = 2.0 * np.exp(-steps / 3000) + 0.05 * rng.random(n)
        panel.set_loss(steps, losses, 0.5)
        n_updates += 1
        (x0, x1), (y0, y1) = vb.viewRange()
        assert x0 <= 0 and x1 >= steps[-1]
        assert y0 <= np.log10(losses.min()) and y1 >= np.log10(losses.max())
    assert n_updates == 9 and len(changes) == 1  # autorange moved them on every update
    # past the coarse step (2000 steps) the x axis moves once more
    steps = np.arange(2100, dtype=float)
    panel.set_loss(steps, 2.0 * np.exp(-steps / 3000), 0.5)
    assert len(changes) == 2 and vb.viewRange()[0][1] >= 2100
    # no data: the empty, readable ranges again
    panel.set_loss(np.zeros(0), np.zeros(0), None)
    (x0, x1), _ = vb.viewRange()
    assert (x0, x1) == pytest.approx((0, 1000))
