"""What the canvas produces: brush strokes in plane coordinates -> a Gaussian mixture.

A stroke of brush diameter w is resampled every ~w/4 along its polyline; each sample is one
component N(c, (w/4)^2 I) whose weight is the stroke length it stands for (a stroke of length L
has total weight L + w, so a single click, a dot, weighs ~w). Eraser strokes remove the components
drawn before them whose centre lies within w/2 of the eraser's polyline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..exact import ExactMarginal
from .target import DataError, Target

#: brush colours / classes offered by the canvas
MAX_LABELS = 4
#: a drawing's classes are named by the colour they are drawn in (keys 1-4 on the canvas)
LABEL_NAMES = ("blue", "red", "green", "purple")

_EMPTY = "the drawing is empty: draw something or pick a preset"


@dataclass
class Stroke:
    """One brush stroke: points (M, 2) in plane coordinates, brush diameter ``width`` > 0,
    class ``label`` in 0..3, and ``erase`` (True for an eraser stroke)."""

    points: np.ndarray
    width: float
    label: int = 0
    erase: bool = False

    def __post_init__(self) -> None:
        pts = np.asarray(self.points, dtype=np.float64)
        if pts.ndim == 1 and pts.shape == (2,):
            pts = pts[None, :]
        if pts.ndim != 2 or pts.shape[1] != 2 or pts.shape[0] < 1:
            raise DataError(f"stroke points must be an (M, 2) array with M >= 1, got {pts.shape}")
        if not np.isfinite(pts).all():
            raise DataError("stroke points contain NaN or Inf; drop those points")
        if not (math.isfinite(self.width) and self.width > 0):
            raise DataError(f"brush width must be a positive number, got {self.width}")
        if int(self.label) != self.label or not 0 <= int(self.label) < MAX_LABELS:
            raise DataError(f"stroke label must be an int in 0..{MAX_LABELS - 1}, got {self.label}")
        self.points = pts
        self.width = float(self.width)
        self.label = int(self.label)
        self.erase = bool(self.erase)

    def to_dict(self) -> dict[str, Any]:
        return {
            "points": self.points.tolist(),
            "width": self.width,
            "label": self.label,
            "erase": self.erase,
        }


def _polyline(points: np.ndarray) -> np.ndarray:
    """Drop repeated consecutive points: (M, 2) -> (M', 2), M' >= 1."""
    keep = np.ones(len(points), dtype=bool)
    keep[1:] = np.linalg.norm(np.diff(points, axis=0), axis=1) > 0
    return points[keep]


def resample_stroke(stroke: Stroke) -> tuple[np.ndarray, np.ndarray]:
    """Centres (S, 2) every ~width/4 along a stroke, weights (S,) summing to length + width."""
    pts = _polyline(stroke.points)
    spacing = stroke.width / 4.0
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    length = float(seg.sum())
    n = max(1, math.ceil(length / spacing))
    if len(pts) == 1:
        return pts.copy(), np.array([stroke.width])
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    s = (np.arange(n) + 0.5) * (length / n)  # midpoints of n equal pieces
    centres = np.stack([np.interp(s, cum, pts[:, 0]), np.interp(s, cum, pts[:, 1])], axis=1)
    return centres, np.full(n, (length + stroke.width) / n)


def distance_to_polyline(x: np.ndarray, line: np.ndarray, chunk: int = 1 << 20) -> np.ndarray:
    """Euclidean distance (N,) from points x (N, 2) to the polyline ``line`` (M, 2)."""
    line = _polyline(line)
    if len(line) == 1:
        return np.linalg.norm(x - line[0], axis=1)
    a, b = line[:-1], line[1:]
    ab = b - a
    ab2 = (ab**2).sum(1)
    out = np.empty(len(x))
    rows = max(1, chunk // len(a))
    for r0 in range(0, len(x), rows):
        xb = x[r0 : r0 + rows, None, :]
        u = np.clip(((xb - a) * ab).sum(-1) / ab2, 0.0, 1.0)
        d2 = ((xb - a - u[..., None] * ab) ** 2).sum(-1)
        out[r0 : r0 + rows] = np.sqrt(d2.min(1))
    return out


def thin_components(
    mu: np.ndarray, w: np.ndarray, h: np.ndarray, lab: np.ndarray, max_components: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Merge components on a square grid (per class) until at most max_components remain.

    Each cell's components become one, matching its total weight, mean and isotropic spread:
    h'^2 = sum w (h^2 + |mu - mu'|^2 / 2) / sum w. Deterministic; keeps the density shape.
    """
    if len(mu) <= max_components:
        return mu, w, h, lab
    span = float(np.ptp(mu, axis=0).max())
    cell = max(float(np.median(h)), span / math.sqrt(max_components) / 4, 1e-9)
    origin = mu.min(0)
    n_lab = int(lab.max()) + 1
    while True:
        ij = np.floor((mu - origin) / cell).astype(np.int64)
        keys = (ij[:, 0] * (int(ij[:, 1].max()) + 1) + ij[:, 1]) * n_lab + lab
        uniq, inv = np.unique(keys, return_inverse=True)
        if len(uniq) <= max_components:
            break
        if cell > 2 * span + 1.0:  # one cell per class already
            raise DataError(
                f"max_components={max_components} is below the number of classes drawn "
                f"({len(uniq)}); allow at least that many components"
            )
        cell *= 1.15
    inv = inv.reshape(-1)
    m = len(uniq)
    ws = np.bincount(inv, weights=w, minlength=m)
    mx = np.bincount(inv, weights=w * mu[:, 0], minlength=m) / ws
    my = np.bincount(inv, weights=w * mu[:, 1], minlength=m) / ws
    new_mu = np.stack([mx, my], axis=1)
    spread = h**2 + ((mu - new_mu[inv]) ** 2).sum(1) / 2
    new_h = np.sqrt(np.bincount(inv, weights=w * spread, minlength=m) / ws)
    return new_mu, ws, new_h, uniq % n_lab


@dataclass
class Drawing:
    """An ordered list of strokes (drawn and erased) that becomes a Gaussian mixture."""

    strokes: list[Stroke] = field(default_factory=list)

    def add(self, stroke: Stroke) -> None:
        """Append a stroke (drawn or eraser)."""
        if not isinstance(stroke, Stroke):
            raise DataError(f"expected a Stroke, got {type(stroke).__name__}")
        self.strokes.append(stroke)

    def undo(self) -> Stroke | None:
        """Remove and return the last stroke (None when there is none)."""
        return self.strokes.pop() if self.strokes else None

    def clear(self) -> None:
        """Remove every stroke."""
        self.strokes.clear()

    def components(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """All surviving components: means (K, 2), weights (K,), widths (K,), labels (K,)."""
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        for st in self.strokes:
            if not st.erase:
                c, cw = resample_stroke(st)
                parts.append((c, cw, np.full(len(c), st.width / 4.0), np.full(len(c), st.label)))
            elif parts:
                mu, w, h, lab = (np.concatenate(a) for a in zip(*parts))
                lo, hi = st.points.min(0) - st.width / 2, st.points.max(0) + st.width / 2
                near = np.flatnonzero(((mu >= lo) & (mu <= hi)).all(1))
                hit = near[distance_to_polyline(mu[near], st.points) <= st.width / 2]
                keep = np.ones(len(mu), dtype=bool)
                keep[hit] = False
                parts = [(mu[keep], w[keep], h[keep], lab[keep])] if keep.any() else []
        if not parts:
            return np.zeros((0, 2)), np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int64)
        mu, w, h, lab = (np.concatenate(a) for a in zip(*parts))
        return mu, w, h, lab.astype(np.int64)

    @property
    def is_empty(self) -> bool:
        """True when nothing drawn survives the erasers."""
        if not any(not s.erase for s in self.strokes):
            return True
        return len(self.components()[0]) == 0

    def to_mixture(self, max_components: int = 4000, schedule: str = "condot") -> ExactMarginal:
        """The drawing as an ExactMarginal of at most max_components components.

        Labels are the stroke labels (0..3) when more than one class was drawn, else None.
        """
        if int(max_components) < 1:
            raise DataError(f"max_components must be >= 1, got {max_components}")
        mu, w, h, lab = self.components()
        if len(mu) == 0:
            raise DataError(_EMPTY)
        mu, w, h, lab = thin_components(mu, w, h, lab, int(max_components))
        labels = lab if len(np.unique(lab)) > 1 else None
        return ExactMarginal(mu, weights=w, widths=h, labels=labels, schedule=schedule)

    def to_target(
        self, name: str = "drawing", max_components: int = 4000, schedule: str = "condot"
    ) -> Target:
        """The drawing as a Target (kind 'drawing'; classes named by their colour, 'blue',
        'red', ..., when several labels)."""
        exact = self.to_mixture(max_components=max_components, schedule=schedule)
        names = None
        if exact.labels is not None:
            names = list(LABEL_NAMES[: exact.num_classes])
        opts = {"max_components": int(max_components), "drawing": self.to_dict()}
        return Target(name, exact, "drawing", class_names=names, options=opts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form for project files: {"version": 1, "strokes": [...]}."""
        return {"version": 1, "strokes": [s.to_dict() for s in self.strokes]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Drawing:
        """Inverse of :meth:`to_dict`; raises DataError on malformed input."""
        if not isinstance(d, dict) or not isinstance(d.get("strokes"), list):
            raise DataError("a drawing must be a dict with a 'strokes' list (see Drawing.to_dict)")
        if d.get("version", 1) != 1:
            raise DataError(f"unsupported drawing version {d.get('version')}; expected 1")
        out = cls()
        for i, s in enumerate(d["strokes"]):
            try:
                out.add(
                    Stroke(
                        points=np.asarray(s["points"], dtype=np.float64),
                        width=float(s["width"]),
                        label=int(s.get("label", 0)),
                        erase=bool(s.get("erase", False)),
                    )
                )
            except (KeyError, TypeError, ValueError) as e:
                raise DataError(f"stroke {i} of the drawing is malformed: {e}") from e
        return out
