"""2D targets: presets, images, point files and drawings, each an exact Gaussian mixture.

>>> from flowscope.core.data import load_target
>>> target = load_target("two moons")          # or a path: "cat.png", "points.csv", "pts.npy"
>>> x1, y = target.sample(1000, seed=0)        # labelled presets give LabelledSamples
>>> target.exact.log_prob(x1, 1.0)             # the exact oracle of the same mixture
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from .drawing import Drawing, Stroke
from .image import IMAGE_SUFFIXES, target_from_image
from .points import POINT_SUFFIXES, target_from_array, target_from_points
from .presets import PRESETS, find_asset, is_preset, list_presets, load_preset
from .target import DataError, LabelledSamples, Target, view_bounds

__all__ = [
    "DataError",
    "Drawing",
    "IMAGE_SUFFIXES",
    "LabelledSamples",
    "POINT_SUFFIXES",
    "PRESETS",
    "Stroke",
    "Target",
    "find_asset",
    "list_presets",
    "load_preset",
    "load_target",
    "target_from_array",
    "target_from_image",
    "target_from_points",
    "view_bounds",
]


def _call(fn, first, options: dict[str, Any]) -> Target:
    params = list(inspect.signature(fn).parameters)[1:]
    unknown = sorted(set(options) - set(params))
    if unknown:
        raise DataError(
            f"unknown option(s) {', '.join(unknown)} for {fn.__name__}; "
            f"valid options: {', '.join(params)}"
        )
    return fn(first, **options)


def load_target(name_or_path: str | Path, **options: Any) -> Target:
    """A preset name (case-insensitive; '-', '_' and spaces alike) or a file path -> Target.

    Files: images (.png .jpg .jpeg .bmp .gif .webp; options max_pixels, box, invert) and point
    files (.csv .txt .npy; option width). Every loader also takes ``schedule``. Raises DataError
    for an unknown name, a missing file or an unreadable one.
    """
    text = str(name_or_path)
    if not isinstance(name_or_path, Path) and is_preset(text):
        return _call(load_preset, text, options)
    path = Path(text).expanduser()
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return _call(target_from_image, path, options)
    if suffix in POINT_SUFFIXES:
        return _call(target_from_points, path, options)
    if path.is_file():
        raise DataError(
            f"unsupported file type {suffix or '(none)'!r} for {path.name}; use an image "
            f"({' '.join(IMAGE_SUFFIXES)}) or a point file ({' '.join(POINT_SUFFIXES)})"
        )
    if isinstance(name_or_path, Path) or suffix or "/" in text or "\\" in text:
        raise DataError(f"file not found: {path}")
    raise DataError(f"unknown preset {text!r}; choose one of: {', '.join(PRESETS)}")
