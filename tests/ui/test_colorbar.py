"""ScaleStrip: one colour bar for the explorer's ODE/SDE heatmaps (model -> widget -> assert)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pyqtgraph")

from PySide6.QtWidgets import QApplication  # noqa: E402

from flowscope.ui.colorbar import ScaleStrip, diverging_colormap, sequential_colormap  # noqa: E402
from flowscope.ui.field_items import DensityImage, density_lut  # noqa: E402

pytestmark = pytest.mark.gui

BOUNDS = (-1.0, 1.0, -1.0, 1.0)


@pytest.fixture
def pair(qtbot):
    strip = ScaleStrip(sequential_colormap(density_lut()))
    qtbot.addWidget(strip)
    images = [DensityImage(), DensityImage()]
    for img in images:
        img.scale = strip.member(img)
    strip.resize(80, 300)
    strip.show()  # (no events processed before the first heatmap: the order that failed)
    return strip, images


def test_levels_are_the_union_and_follow_what_is_shown(pair):
    strip, (ode, sde) = pair
    assert not strip.visible  # nothing shown yet
    ode.set_density(np.full((4, 4), 2.0), BOUNDS, label="p_t(x)")
    sde.set_density(np.full((4, 4), 3.0), BOUNDS, label="p_t(x)")
    assert strip.visible and strip.levels == (0.0, 3.0)
    assert tuple(ode.levels) == tuple(sde.levels) == (0.0, 3.0)
    assert ode.scale.levels == sde.scale.levels == (0.0, 3.0)
    # another quantity: the old levels of the other image no longer count
    cmap = diverging_colormap()
    ode.set_values(np.full((4, 4), 0.5), BOUNDS, (-0.5, 0.5), cmap, "residual")
    assert strip.levels == (-0.5, 0.5) and strip.label == "residual" and strip.cmap is cmap
    assert tuple(sde.levels) == (-0.5, 0.5)  # drawn with the bar's scale until its update
    sde.set_values(np.full((4, 4), 0.1), BOUNDS, (-0.2, 0.2), cmap, "residual")
    assert strip.levels == (-0.5, 0.5)
    # the white centre of the diverging map sits at 0 in both images
    lut = ode.lut
    assert (np.asarray(lut[len(lut) // 2][:3], int) >= 250).all()
    # a cleared image leaves the scale; both cleared hide the bar
    ode.clear()
    assert strip.levels == (-0.2, 0.2) and strip.visible
    sde.clear()
    assert not strip.visible


def test_the_label_sits_beside_the_colours_and_the_strip_fits_the_bar(pair):
    strip, (ode, _) = pair
    axis = strip.bar.getAxis("left")

    def settle() -> None:
        for _ in range(5):
            QApplication.processEvents()

    ode.set_density(np.ones((4, 4)), BOUNDS, label="p_t(x)")
    settle()
    assert axis.maximumWidth() >= 10 and axis.geometry().width() >= 10
    # a new quantity while the bar is hidden: pyqtgraph measures the label's axis at 0 px
    # then, and the label was drawn over the colours once the bar came back
    ode.clear()
    ode.set_density(np.ones((4, 4)), BOUNDS, label="log10(1 + count)")
    settle()
    assert strip.visible and strip.label == "log10(1 + count)"
    assert axis.maximumWidth() >= 10 and axis.geometry().width() >= 10
    assert strip.bar.geometry().right() <= strip.width()
    assert strip.bar.geometry().height() > 200
