"""A 2D training target: a named Gaussian mixture (MATH.md, "The exact marginal oracle").

Every target, whatever it came from (a preset, an image, a point file, a drawing), is an
:class:`~flowscope.core.exact.ExactMarginal` p_data(z) = sum_i pi_i N(z; mu_i, h_i^2 I). All
sampling goes through that mixture, so training samples and the exact oracle agree by construction.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
import torch

from ..exact import ExactMarginal

#: where a target came from
KINDS = ("preset", "image", "points", "drawing")

#: the viewing box always contains [-NOISE_HALF, NOISE_HALF]^2 (most of N(0, I))
NOISE_HALF = 3.0


class DataError(ValueError):
    """A target could not be built; the message says what to do about it."""


class LabelledSamples(NamedTuple):
    """Samples of a labelled target: points (n, 2) float32 and labels (n,) int64."""

    points: torch.Tensor
    labels: torch.Tensor


def view_bounds(
    means: np.ndarray | torch.Tensor,
    widths: np.ndarray | torch.Tensor | None = None,
    margin: float = 0.08,
    step: float = 0.5,
) -> tuple[float, float, float, float]:
    """A square viewing box (xmin, xmax, ymin, ymax) around a 2D mixture.

    means: (K, 2); widths: (K,) std per component (3 std are kept in view). The box contains every
    mean +- 3 h_i and [-3, 3]^2 (so the noise N(0, I) is visible too), plus ``margin`` (a fraction
    of the side) on each side; its centre and half side are multiples of ``step``.
    """
    mu = np.asarray(means, dtype=np.float64).reshape(-1, 2)
    h = np.zeros(len(mu)) if widths is None else np.asarray(widths, dtype=np.float64).reshape(-1)
    h = np.broadcast_to(h, (len(mu),))
    lo = np.minimum((mu - 3 * h[:, None]).min(0), -NOISE_HALF)
    hi = np.maximum((mu + 3 * h[:, None]).max(0), NOISE_HALF)
    c = np.round((lo + hi) / 2 / step) * step
    half = float(np.maximum(hi - c, c - lo).max()) * (1 + 2 * margin)
    half = math.ceil(half / step - 1e-9) * step
    cx, cy = c.tolist()
    return (cx - half, cx + half, cy - half, cy + half)


class Target:
    """A named 2D target distribution backed by an exact Gaussian mixture.

    Attributes:
        name: display name ("eight_gaussians", an image's file stem, ...).
        exact: the mixture; ``exact.log_prob(x, 1.0)`` is log p_data(x).
        kind: one of ``KINDS`` ('preset' | 'image' | 'points' | 'drawing').
        bounds: (xmin, xmax, ymin, ymax), a square box holding the data and most of N(0, I).
        class_names: one name per class 0..C-1, or None when the target has no classes.
        source: what was loaded (preset name or file path), or None.
        options: the loader options used (to rebuild the target, e.g. from a project file).
    """

    def __init__(
        self,
        name: str,
        exact: ExactMarginal,
        kind: str,
        class_names: list[str] | None = None,
        bounds: tuple[float, float, float, float] | None = None,
        source: str | None = None,
        options: dict[str, Any] | None = None,
    ):
        if kind not in KINDS:
            raise DataError(f"unknown target kind {kind!r}; use one of {', '.join(KINDS)}")
        if exact.dim != 2:
            raise DataError(f"a target must be 2D, got a {exact.dim}D mixture")
        self.name = str(name)
        self.notes: tuple[str, ...] = ()  # remarks for the user (e.g. "subsampled to ...")
        self.exact = exact
        self.kind = kind
        n_cls = exact.num_classes
        if n_cls == 0:
            if class_names:
                raise DataError("class_names were given but the mixture has no labels")
            self.class_names: list[str] | None = None
        elif class_names is None:
            self.class_names = [str(i) for i in range(n_cls)]
        else:
            if len(class_names) != n_cls:
                raise DataError(
                    f"got {len(class_names)} class names for {n_cls} classes; give one per class"
                )
            self.class_names = [str(c) for c in class_names]
        if bounds is None:
            bounds = view_bounds(exact.means, exact.widths)
        self.bounds = tuple(float(b) for b in bounds)
        self.source = source
        self.options = dict(options or {})

    @property
    def num_classes(self) -> int:
        """Number of classes C (labels are 0..C-1); 0 when the target has none."""
        return 0 if self.class_names is None else len(self.class_names)

    @property
    def n_components(self) -> int:
        """Number of mixture components K."""
        return self.exact.n_components

    def sample(
        self,
        n: int,
        seed: int | None = None,
        y: int | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor | LabelledSamples:
        """n samples of p_data (of class y only, if given).

        Returns an (n, 2) float32 tensor for a target without classes, else
        ``LabelledSamples(points (n, 2) float32, labels (n,) int64)``.
        """
        if int(n) < 0:
            raise DataError(f"n must be >= 0, got {n}")
        pts, lab = self.exact.sample(
            int(n), seed=seed, y=y, generator=generator, return_labels=True, dtype=torch.float32
        )
        if self.num_classes == 0:
            return pts
        return LabelledSamples(pts, lab.long())

    def __repr__(self) -> str:
        cls = f", classes={self.class_names}" if self.class_names else ""
        return f"Target({self.name!r}, kind={self.kind!r}, K={self.n_components}{cls})"
