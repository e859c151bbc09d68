"""Particle colours: by class when the target has classes (the class menu's and the brush's
colours), and faint over the histogram heatmap so that the heatmap they make stays visible."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QColor

__all__ = ["HISTOGRAM_ALPHA", "CLASS_ALPHA", "class_rgba", "particle_colors"]

#: particle opacity over the histogram heatmap: that heatmap is made of the particles, and at
#: full opacity they covered it
HISTOGRAM_ALPHA = 0.12
CLASS_ALPHA = 0.6


def class_rgba(n: int) -> np.ndarray:
    """(n, 4) float32 RGBA in 0..1 of classes 0..n-1 (panels.class_color)."""
    from .panels import class_color

    out = np.empty((max(n, 1), 4), np.float32)
    for k in range(len(out)):
        c = QColor(class_color(k))
        out[k] = (c.redF(), c.greenF(), c.blueF(), CLASS_ALPHA)
    return out


def particle_colors(
    classes: np.ndarray | None, n: int, default: tuple, histogram: bool = False
) -> np.ndarray | None:
    """(n, 4) colours for n particles: by class (``classes`` (n,) ints) or ``default`` RGBA;
    faint over the histogram heatmap. None: draw them in ``default`` (the cheap path)."""
    if classes is None or len(classes) != n:
        if not histogram:
            return None
        rgba = np.empty((n, 4), np.float32)
        rgba[:] = default
    else:
        table = class_rgba(int(np.max(classes)) + 1 if len(classes) else 1)
        rgba = table[np.clip(np.asarray(classes, np.int64), 0, len(table) - 1)]
    if histogram:
        rgba[:, 3] = HISTOGRAM_ALPHA
    return rgba
