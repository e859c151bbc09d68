"""PairLayout: the explorer's two plots side by side, or stacked where that shows more."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from flowscope.ui.pair_layout import (  # noqa: E402
    PLOT_EXTRA_H,
    PLOT_EXTRA_W,
    STACK_GAIN,
    stacked_is_larger,
)


def _square(width, height, stacked, spacing=4):
    """The side of the data square one aspect-1 plot shows."""
    if stacked:
        return min(width - PLOT_EXTRA_W, (height - spacing) / 2 - PLOT_EXTRA_H)
    return min((width - spacing) / 2 - PLOT_EXTRA_W, height - PLOT_EXTRA_H)


@pytest.mark.parametrize(
    "size, stacked",
    [
        ((470, 671), True),  # the pane at 1366 x 768: side by side showed y -10..10
        ((706, 903), True),  # 1600 x 1000
        ((1025, 933), False),  # 1920 x 1080: side by side is as large
        ((800, 400), False),  # a wide pane
        ((600, 600), False),  # square: a gain below STACK_GAIN keeps the comparison
    ],
)
def test_stacks_only_for_a_clearly_larger_picture(size, stacked):
    assert stacked_is_larger(*size) is stacked
    gain = _square(*size, True) / _square(*size, False)
    assert (gain > STACK_GAIN) is stacked
