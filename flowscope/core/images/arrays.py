"""Arrays -> ImageDataset: layout, channels, value range, resizing and labels, all checked.

Shared by the digits, NPZ and IDX loaders (the folder loader builds arrays and ends here too).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .dataset import ImageDataError, ImageDataset, to_unit

#: channel counts accepted in array data: gray, gray + alpha, RGB, RGBA
_CHANNELS = (1, 2, 3, 4)
#: ITU-R 601 luma weights, as Pillow's "L" conversion
LUMA = (0.299, 0.587, 0.114)
#: the largest image side and C x H x W a dataset may have (resize with size=N below that)
MAX_SIDE = 512
MAX_IMAGE_VALUES = 3 * 128 * 128
#: values (N x C x H x W) kept in memory; more images are subsampled (with a note)
MAX_DATASET_VALUES = 2**27


def size_tuple(size: int | tuple[int, int] | None) -> tuple[int, int] | None:
    """None, an int (square) or (H, W) -> (H, W) of positive ints, or None."""
    if size is None:
        return None
    hw = (size, size) if isinstance(size, int | np.integer) else tuple(size)
    if len(hw) != 2 or any(int(v) < 1 for v in hw):
        raise ImageDataError(f"size must be a positive int or (height, width), got {size!r}")
    return int(hw[0]), int(hw[1])


def infer_value_range(arr: np.ndarray) -> tuple[float, float]:
    """The original range [-1, 1] will stand for: uint8 -> (0, 255); bool -> (0, 1); numbers
    within [0, 1] -> (0, 1), within [-1, 1] -> (-1, 1); otherwise (min, max)."""
    if arr.dtype == np.uint8:
        return (0.0, 255.0)
    if arr.dtype == np.bool_:
        return (0.0, 1.0)
    lo, hi = float(arr.min()), float(arr.max())
    if lo >= 0.0 and hi <= 1.0:
        return (0.0, 1.0)
    if lo >= -1.0 and hi <= 1.0:
        return (-1.0, 1.0)
    if hi <= lo:
        raise ImageDataError(
            f"every pixel has the same value ({lo:g}); there is nothing to learn from these images"
        )
    return (lo, hi)


def _nchw(arr: np.ndarray, what: str) -> np.ndarray:
    """(N, H, W), (N, H, W, C) or (N, C, H, W) -> (N, C, H, W)."""
    if arr.ndim == 3:
        return arr[:, None]
    if arr.ndim == 4:
        if arr.shape[-1] in _CHANNELS:
            return np.moveaxis(arr, -1, 1)
        if arr.shape[1] in _CHANNELS:
            return arr
    raise ImageDataError(
        f"{what} has shape {arr.shape}; images must be (N, H, W), (N, H, W, C) or (N, C, H, W) "
        "with C = 1 (gray), 3 (RGB) or 4 (RGBA)"
    )


def _pair(value_range) -> tuple[float, float]:
    lo, hi = value_range
    return float(lo), float(hi)


def _drop_alpha(x: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    """(N, 2 or 4, H, W) -> composite over white (the top of the value range)."""
    lo, hi = value_range
    a = np.clip((x[:, -1:] - lo) / (hi - lo), 0.0, 1.0)
    return x[:, :-1] * a + hi * (1.0 - a)


def set_channels(x: np.ndarray, grayscale: bool | None) -> np.ndarray:
    """(N, 1 or 3, H, W): grayscale=True -> 1 channel (luma), False -> 3, None -> unchanged."""
    if grayscale is True and x.shape[1] == 3:
        w = np.asarray(LUMA, dtype=x.dtype).reshape(1, 3, 1, 1)
        return (x * w).sum(axis=1, keepdims=True)
    if grayscale is False and x.shape[1] == 1:
        return np.repeat(x, 3, axis=1)
    return x


def resize_unit(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(N, C, H, W) in [-1, 1] -> (N, C, *size), bilinear with antialiasing, clamped."""
    if tuple(images.shape[-2:]) == size:
        return images
    out = []
    for chunk in torch.split(images, 4096):
        out.append(F.interpolate(chunk, size=size, mode="bilinear", antialias=True))
    return torch.cat(out).clamp_(-1.0, 1.0)


def remap_labels(
    labels: np.ndarray, n: int, what: str, names: dict[int, str] | None = None
) -> tuple[np.ndarray, list[str]]:
    """Integer labels (n,) -> (0..K-1 indices in sorted order of the values, class names)."""
    lab = np.asarray(labels)
    if lab.ndim != 1:
        lab = lab.reshape(-1) if lab.size == n else lab
    if lab.ndim != 1 or lab.shape[0] != n:
        raise ImageDataError(
            f"{what}: {lab.size} labels for {n} images; give exactly one label per image "
            "(check that the labels belong to these images)"
        )
    if lab.dtype.kind not in "biuf":
        raise ImageDataError(f"{what}: labels have dtype {lab.dtype}; they must be integers")
    if lab.dtype.kind == "f":
        if not np.isfinite(lab).all() or (lab != np.round(lab)).any():
            raise ImageDataError(f"{what}: labels must be integer class indices (found fractions)")
    values, idx = np.unique(lab.astype(np.int64), return_inverse=True)
    names = names or {}
    return idx.astype(np.int64), [names.get(int(v), str(int(v))) for v in values]


def _cap(x: np.ndarray, labels, size, what: str, notes: tuple[str, ...]):
    """Refuse images too large to train on (a 1 x 70000 image needed 21 GB) and subsample a
    dataset holding more than MAX_DATASET_VALUES values, with a note saying so."""
    _, c, h, w = x.shape
    hw = size_tuple(size) or (h, w)
    if max(h, w) > 8 * MAX_SIDE or max(hw) > MAX_SIDE or c * hw[0] * hw[1] > MAX_IMAGE_VALUES:
        raise ImageDataError(
            f"{what}: images of {c} x {h} x {w} are too large to train on here (at most "
            f"{MAX_IMAGE_VALUES} values per image, sides <= {MAX_SIDE}); resize them, e.g. "
            "--size 32"
        )
    per = c * h * w
    if x.shape[0] * per > MAX_DATASET_VALUES:
        n = max(1, MAX_DATASET_VALUES // per)
        keep = np.sort(np.random.default_rng(0).choice(x.shape[0], n, replace=False))
        notes = (*notes, f"{what}: {x.shape[0]} images are more than fit; using {n} of them")
        if labels is not None and len(np.asarray(labels)) == x.shape[0]:
            labels = np.asarray(labels)[keep]  # (a length mismatch is reported later)
        x = x[keep]
    return x, labels, notes


def dataset_from_array(
    images: np.ndarray,
    labels: np.ndarray | None = None,
    name: str = "images",
    source: str | None = None,
    size: int | tuple[int, int] | None = None,
    grayscale: bool | None = None,
    value_range: tuple[float, float] | None = None,
    class_names: dict[int, str] | None = None,
    notes: tuple[str, ...] = (),
) -> ImageDataset:
    """Images (N, H, W), (N, H, W, C) or (N, C, H, W) of numbers -> ImageDataset.

    value_range: the original range (see :func:`infer_value_range` when None). Alpha channels
    are composited over white; ``grayscale`` as in :func:`set_channels`; ``size`` resizes.
    class_names maps label values to names (default: the values as text).
    """
    arr = np.asarray(images)
    what = source or name
    if arr.dtype.kind not in "biuf":
        raise ImageDataError(f"{what}: images have dtype {arr.dtype}; they must be numbers")
    if arr.size == 0 or arr.shape[0] == 0:
        raise ImageDataError(f"{what}: there are no images (shape {arr.shape})")
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr.reshape(arr.shape[0], -1)).all(axis=1)
        if bad.any():
            raise ImageDataError(
                f"{what}: image {int(np.flatnonzero(bad)[0])} holds NaN or Inf "
                f"({int(bad.sum())} such image(s) in all); fix or drop them"
            )
    x = _nchw(arr, what)
    x, labels, notes = _cap(x, labels, size, what, notes)
    arr = x
    vr = infer_value_range(arr) if value_range is None else _pair(value_range)
    x = x.astype(np.float32)
    if x.shape[1] in (2, 4):
        x = _drop_alpha(x, vr)
    x = set_channels(x, grayscale)
    unit = torch.from_numpy(np.ascontiguousarray(to_unit(x, vr), dtype=np.float32)).clamp_(-1, 1)
    hw = size_tuple(size)
    if hw is not None:
        unit = resize_unit(unit, hw)
    lab = names = None
    if labels is not None:
        idx, names = remap_labels(labels, unit.shape[0], what, class_names)
        lab = torch.from_numpy(idx)
    return ImageDataset(unit, lab, names, vr, name=name, source=source, notes=notes)
