"""A log-scale axis whose labels stay readable: plain numbers ('100', '50', '0.02'), and
between decades only the 2s and 5s - pyqtgraph wrote every minor tick as '9·10¹', '8·10¹', ...
which crowded into each other on a 150-px loss plot."""

from __future__ import annotations

import math

from .cached_axis import CachedAxis

__all__ = ["LogAxis", "log_label"]

#: 2s and 5s are labelled when neighbouring labels (log10(2) of a decade apart) are at least
#: this many pixels apart; otherwise only the decades are
MINOR_GAP_PX = 24
LABELLED = (1, 2, 5)


def log_label(value: float) -> str:
    """A plain, short number for a tick of a log axis: 100, 20, 5, 0.5, 0.02, 1e-05."""
    if value <= 0 or not math.isfinite(value):
        return ""
    if 1e-3 <= value < 1e5:
        return f"{value:.4g}"
    return f"{value:.0e}".replace("e-0", "e-").replace("e+0", "e").replace("e+", "e")


class LogAxis(CachedAxis):
    """AxisItem for setLogMode(..., True) axes: labels as :func:`log_label`, only 1 (and 2, 5
    when a decade has room for them) of each decade."""

    def logTickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph override
        lo, hi = self.range if self.range else (0.0, 1.0)
        length = self.size().height() if self.orientation in ("left", "right") else (
            self.size().width()
        )
        decades = max(abs(hi - lo), 1e-9)
        roomy = length / decades * math.log10(2.0) >= MINOR_GAP_PX
        xs = [10.0 ** float(v) * float(scale) for v in values]
        ok = [x > 0 and math.isfinite(x) for x in xs]
        mantissa = [
            round(x / 10.0 ** math.floor(math.log10(x) + 1e-9), 6) if good else 0.0
            for x, good in zip(xs, ok)
        ]
        for wanted in ((1,) if not roomy else LABELLED, LABELLED):  # no decade in view: 2s, 5s
            keep = [m in wanted for m in mantissa]
            if any(keep):
                break
        else:  # not even a 2 or 5 in view: the middle tick
            keep = [i == len(xs) // 2 and ok[i] for i in range(len(xs))]
        return [log_label(x) if k else "" for x, k in zip(xs, keep)]
