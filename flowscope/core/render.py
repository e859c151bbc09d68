"""Pictures without a GUI: 2D samples as a density PNG (numpy + Pillow only)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

# a compact perceptual colormap (dark blue -> teal -> yellow), interpolated
_STOPS = np.array(
    [
        [255, 255, 255],
        [198, 219, 239],
        [66, 146, 198],
        [8, 81, 156],
        [37, 37, 90],
    ],
    dtype=np.float64,
)


def colormap(v: np.ndarray) -> np.ndarray:
    """Values in [0, 1] -> uint8 RGB (white at 0 so empty space stays white)."""
    v = np.clip(v, 0.0, 1.0) * (len(_STOPS) - 1)
    lo = np.floor(v).astype(int).clip(0, len(_STOPS) - 2)
    f = (v - lo)[..., None]
    return (_STOPS[lo] * (1 - f) + _STOPS[lo + 1] * f).astype(np.uint8)


def density_image(
    points: np.ndarray,
    bounds: tuple[float, float, float, float] | None = None,
    size: int = 512,
) -> np.ndarray:
    """(N, 2) points -> (size, size, 3) uint8 histogram image, y pointing up, log-scaled."""
    pts = np.asarray(points, dtype=np.float64)
    pts = pts[np.isfinite(pts).all(axis=1)]
    if bounds is None:
        if len(pts):
            lo, hi = np.percentile(pts, 0.5, axis=0), np.percentile(pts, 99.5, axis=0)
        else:
            lo, hi = np.array([-3.0, -3.0]), np.array([3.0, 3.0])
        c, r = (lo + hi) / 2, max(float((hi - lo).max()) * 0.6, 1e-3)
        bounds = (c[0] - r, c[0] + r, c[1] - r, c[1] + r)
    x0, x1, y0, y1 = bounds
    hist, _, _ = np.histogram2d(pts[:, 0], pts[:, 1], bins=size, range=[[x0, x1], [y0, y1]])
    img = np.log1p(hist.T[::-1])  # rows from the top: y up
    if img.max() > 0:
        img = img / img.max()
    return colormap(img)


def save_density_png(points, path: str | Path, bounds=None, size: int = 512) -> Path:
    from PIL import Image

    out = Path(path).expanduser()
    Image.fromarray(density_image(points, bounds, size)).save(out)
    return out
