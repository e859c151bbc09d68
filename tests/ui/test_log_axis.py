"""Issue 11 item 15: the loss plot's log axis writes plain, uncrowded labels (it wrote every
minor tick as '9·10¹', '8·10¹', ... on top of each other)."""

import numpy as np
import pytest

pytest.importorskip("PySide6")

from flowscope.ui.log_axis import MINOR_GAP_PX, LogAxis, log_label  # noqa: E402
from flowscope.ui.panels import CurvesPanel  # noqa: E402


def test_log_label_is_plain():
    assert [log_label(v) for v in (100, 50, 2, 0.5, 0.02, 1e-5, 2e6)] == [
        "100", "50", "2", "0.5", "0.02", "1e-5", "2e6",
    ]  # fmt: skip


def _labels(axis):
    lo, hi = axis.range
    size = axis.size().height()
    out = []
    for spacing, values in axis.tickValues(lo, hi, size):
        out += [s for s in axis.tickStrings(values, axis.autoSIPrefixScale, spacing) if s]
    return out


@pytest.mark.parametrize("height", [150, 400])
def test_image_mode_loss_axis_labels(qtbot, height):
    panel = CurvesPanel(with_floor=False, with_quality=False)
    qtbot.addWidget(panel)
    panel.resize(360, height + 80)
    panel.show()
    steps = np.arange(150.0)
    panel.set_loss(steps, 110 * np.exp(-steps / 120), None)  # 110 -> 32: within one decade
    axis = panel.loss_plot.getAxis("left")
    assert isinstance(axis, LogAxis)
    qtbot.waitUntil(lambda: axis.range[1] - axis.range[0] < 1.0)
    labels = _labels(axis)
    assert labels and not any("·" in s or "10¹" in s for s in labels), labels
    assert set(labels) <= {"20", "50", "100", "200"}
    # labels are at least MINOR_GAP_PX apart, so they never overlap
    lo, hi = axis.range
    px = sorted(axis.size().height() * (np.log10(float(s)) - lo) / (hi - lo) for s in labels)
    assert len(px) < 2 or np.diff(px).min() >= MINOR_GAP_PX - 0.5


def test_a_range_without_a_decade_still_has_labels(qtbot):
    panel = CurvesPanel(with_floor=False, with_quality=False)
    qtbot.addWidget(panel)
    panel.resize(360, 230)
    panel.show()
    steps = np.arange(100.0)
    panel.set_loss(steps, 60 + 25 * np.exp(-steps / 30), None)  # 60 .. 85
    axis = panel.loss_plot.getAxis("left")
    qtbot.waitUntil(lambda: axis.range[1] - axis.range[0] < 0.3)
    labels = _labels(axis)
    assert labels and all("·" not in s for s in labels), labels
