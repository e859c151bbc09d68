"""Pictures without a GUI: 2D samples as a density PNG, images as a grid (numpy + Pillow only)."""

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

    from .safeio import atomic_write

    out = Path(path).expanduser()
    img = Image.fromarray(density_image(points, bounds, size))
    return atomic_write(out, lambda tmp: img.save(tmp))


def to_rgb8(images, value_range: tuple[float, float] | None = None) -> np.ndarray:
    """Images (N, C, H, W) or (N, H, W), C = 1 or 3 -> (N, H, W, 3) uint8. value_range as in
    :func:`image_grid`."""
    x = np.asarray(images, dtype=np.float32)
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4 or x.shape[1] not in (1, 3) or x.shape[0] < 1:
        raise ValueError(f"images must be (N, C, H, W) with C = 1 or 3, got shape {x.shape}")
    if value_range is None:
        lo, hi = float(np.nanmin(x)), float(np.nanmax(x))
        value_range = (0.0, 1.0) if lo >= 0.0 and hi <= 1.0 else (lo, hi)
    lo, hi = value_range
    x = np.nan_to_num((x - lo) / max(hi - lo, 1e-12), nan=0.0).clip(0.0, 1.0)
    x = (x * 255.0 + 0.5).astype(np.uint8)
    if x.shape[1] == 1:
        x = np.repeat(x, 3, axis=1)
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


def image_grid(
    images,
    nrow: int | None = None,
    value_range: tuple[float, float] | None = None,
    pad: int = 1,
    scale: int = 1,
    pad_value: int = 255,
) -> np.ndarray:
    """Images (N, C, H, W), C = 1 or 3 (numpy or a CPU tensor) -> one (rows, cols, 3) uint8 grid.

    ``nrow`` images per row (default ceil(sqrt(N))). value_range (lo, hi) maps lo to black and hi
    to white (values outside are clamped); None: [0, 1] when the images lie within it, else their
    min and max. ``pad`` pixels of ``pad_value`` separate the cells; ``scale`` enlarges every pixel
    to a scale x scale block (8x8 digits are tiny).
    """
    x = to_rgb8(images, value_range).transpose(0, 3, 1, 2)  # (N, 3, H, W)
    n, _, h, w = x.shape
    if scale > 1:
        x = x.repeat(scale, axis=2).repeat(scale, axis=3)
        h, w = h * scale, w * scale
    cols = int(nrow) if nrow else int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    grid = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, 3), pad_value, np.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        y0, x0 = pad + r * (h + pad), pad + c * (w + pad)
        grid[y0 : y0 + h, x0 : x0 + w] = x[i].transpose(1, 2, 0)
    return grid


def save_image_grid(images, path: str | Path, nrow: int | None = None, **kw) -> Path:
    """Write :func:`image_grid` (same options) to a PNG file; returns the path."""
    from PIL import Image

    from .safeio import atomic_write

    out = Path(path).expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    img = Image.fromarray(image_grid(images, nrow, **kw))
    return atomic_write(out, lambda tmp: img.save(tmp))
