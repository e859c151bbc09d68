"""ImageDataset: images scaled to [-1, 1] plus optional class labels (the data of image mode).

The network sees x' in [-1, 1]; the original pixel values x (e.g. 0..16 for sklearn's digits,
0..255 for PNG files) are x = lo + (x' + 1) / 2 (hi - lo) with ``value_range = (lo, hi)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from ..data.target import DataError


class ImageDataError(DataError):
    """An image dataset could not be loaded; the message says what to do about it."""


def to_unit(x: np.ndarray | torch.Tensor, value_range: tuple[float, float]):
    """Original values -> [-1, 1] (not clamped): 2 (x - lo) / (hi - lo) - 1."""
    lo, hi = value_range
    return (x - lo) * (2.0 / (hi - lo)) - 1.0


class ImageDataset:
    """N images of shape (C, H, W) in [-1, 1], with labels 0..K-1 (or none).

    Attributes:
        images: (N, C, H, W) float32 tensor with values in [-1, 1].
        labels: (N,) int64 tensor with values in 0..K-1, or None for an unlabelled set.
        class_names: one name per class (empty when unlabelled).
        value_range: (lo, hi), the range of the ORIGINAL data that [-1, 1] stands for.
        name: display name ('digits', a folder or file stem).
        source: what was loaded (a name or a path), or None.
        notes: remarks for the user (e.g. "no labels file found; loaded without classes").
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor | None = None,
        class_names: Sequence[str] | None = None,
        value_range: tuple[float, float] = (-1.0, 1.0),
        name: str = "images",
        source: str | None = None,
        notes: Sequence[str] = (),
    ):
        images = torch.as_tensor(images)
        if images.ndim != 4 or min(images.shape) < 1:
            raise ImageDataError(
                f"images must be a non-empty (N, C, H, W) array, got shape {tuple(images.shape)}"
            )
        if images.shape[1] not in (1, 3):
            raise ImageDataError(
                f"images must have 1 (grayscale) or 3 (RGB) channels, got {images.shape[1]}"
            )
        images = images.to(torch.float32).contiguous()
        if not bool(torch.isfinite(images).all()):
            raise ImageDataError("the images hold NaN or Inf values; clean the data first")
        if float(images.min()) < -1.0 - 1e-4 or float(images.max()) > 1.0 + 1e-4:
            raise ImageDataError(
                "ImageDataset expects images scaled to [-1, 1]; scale them with "
                "to_unit(x, value_range) first"
            )
        lo, hi = (float(v) for v in value_range)
        if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
            raise ImageDataError(f"value_range must be finite with lo < hi, got {value_range}")
        self.images = images.clamp_(-1.0, 1.0)
        self.value_range = (lo, hi)
        self.name = str(name)
        self.source = source
        self.notes = tuple(notes)
        if labels is None:
            if class_names:
                raise ImageDataError("class_names were given but there are no labels")
            self.labels, self.class_names = None, []
            return
        labels = torch.as_tensor(labels)
        if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
            raise ImageDataError(
                f"got {labels.reshape(-1).shape[0]} labels for {images.shape[0]} images; "
                "give exactly one integer label per image"
            )
        if labels.is_floating_point() and not bool((labels == labels.round()).all()):
            raise ImageDataError("labels must be integers (class indices)")
        labels = labels.to(torch.int64)
        k = int(labels.max()) + 1
        if int(labels.min()) < 0:
            raise ImageDataError("labels must be class indices >= 0")
        names = [str(i) for i in range(k)] if class_names is None else [str(c) for c in class_names]
        if len(names) < k:
            raise ImageDataError(f"got {len(names)} class names but labels go up to {k - 1}")
        self.labels, self.class_names = labels, names

    # ----------------------------------------------------------------- properties
    @property
    def num_classes(self) -> int:
        """K, the number of classes (0 when unlabelled)."""
        return len(self.class_names)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        c, h, w = self.images.shape[1:]
        return (int(c), int(h), int(w))

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __repr__(self) -> str:
        c, h, w = self.shape
        cls = f", classes={self.num_classes}" if self.num_classes else ""
        return f"ImageDataset({self.name!r}, n={len(self)}, shape=({c}, {h}, {w}){cls})"

    # ----------------------------------------------------------------- sampling
    def sample_batch(
        self,
        n: int,
        generator: torch.Generator | None = None,
        device: str | torch.device | None = None,
        y: int | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """n images drawn uniformly with replacement (of class y only, if given).

        Returns x: (n, C, H, W) float32 in [-1, 1] and labels: (n,) int64 or None, on ``device``
        (default: the generator's device, else the images' device).
        """
        if device is None:
            device = generator.device if generator is not None else self.images.device
        gdev = generator.device if generator is not None else self.images.device
        pool = None
        if y is not None:
            if self.labels is None or not 0 <= int(y) < self.num_classes:
                raise ImageDataError(
                    f"class {y} does not exist; classes are 0..{self.num_classes - 1}"
                )
            pool = torch.nonzero(self.labels == int(y)).reshape(-1)
            if pool.numel() == 0:
                raise ImageDataError(f"class {y} ({self.class_names[int(y)]}) has no images")
        size = len(self) if pool is None else pool.numel()
        idx = torch.randint(size, (int(n),), generator=generator, device=gdev)
        idx = idx.to(self.images.device)
        if pool is not None:
            idx = pool.to(idx.device)[idx]
        x = self.images[idx].to(device, non_blocking=True)
        lab = None if self.labels is None else self.labels[idx.to(self.labels.device)].to(device)
        return x, lab

    def to(self, device: str | torch.device) -> ImageDataset:
        """The same dataset with its tensors on ``device`` (self if already there)."""
        device = torch.device(device)
        if self.images.device == device:
            return self
        out = object.__new__(ImageDataset)
        out.__dict__.update(self.__dict__)
        out.images = self.images.to(device)
        out.labels = None if self.labels is None else self.labels.to(device)
        return out

    # ----------------------------------------------------------------- value range
    def to_original(self, x: torch.Tensor) -> torch.Tensor:
        """[-1, 1] -> the original value range (clamped to it); any shape."""
        lo, hi = self.value_range
        return (x.clamp(-1.0, 1.0) + 1.0) * (0.5 * (hi - lo)) + lo

    def from_original(self, x: torch.Tensor) -> torch.Tensor:
        """The original value range -> [-1, 1] (not clamped); any shape."""
        return to_unit(x, self.value_range)
