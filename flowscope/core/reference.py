"""The exact answer for a field's own probability path, in data coordinates (and small helpers
to evaluate any field against it).

A FlowModel trained on normalized data x' = (x - shift) / scale learns the marginal field of the
path from N(0, I) to the normalized data; in data coordinates that path starts from
N(shift, scale^2 I), not from N(0, I), so its exact field is scale * u'_t((x - shift) / scale) of
``exact.affine(shift, scale)``, not ``exact.velocity(x)``. :class:`PathReference` is that oracle
(for an identity normalization it is ``exact`` itself, under the field's schedule), so a perfect
network has zero error against it. :func:`reference_for` builds it for any field.
"""

from __future__ import annotations

import math

import torch

from .exact import ExactFields, ExactMarginal
from .schedules import get_schedule

#: rows evaluated at once when a field is called on many points
CHUNK = 8192


def model_of(field):
    """The FlowModel behind ``field`` (itself, or the ``.field`` of a guided wrapper), or None."""
    from .flow_model import FlowModel

    seen = 0
    while field is not None and seen < 8:
        if isinstance(field, FlowModel):
            return field
        field, seen = getattr(field, "field", None), seen + 1
    return None


class PathReference:
    """Closed-form p_t, u_t and score of the path X_t = alpha_t X_1 + beta_t (shift + scale eps),
    X_1 ~ ``exact`` (data coordinates), eps ~ N(0, I). ``inner`` is the same mixture in the
    network's coordinates x' = (x - shift) / scale (an ExactMarginal: the training loss and its
    floor live there). x: (N, D), t: float or (N,), y: None, an int or (N,) labels."""

    def __init__(self, exact: ExactMarginal, shift=None, scale: float = 1.0, schedule=None):
        if not isinstance(exact, ExactMarginal):
            raise TypeError(f"exact must be an ExactMarginal, got {type(exact).__name__}")
        if schedule is not None and get_schedule(schedule).name != exact.schedule.name:
            exact = exact.with_schedule(schedule)
        d = exact.dim
        shift = [0.0] * d if shift is None else [float(s) for s in shift]
        if len(shift) == 1 and d > 1:
            shift = shift * d
        scale = float(scale)
        if len(shift) != d or not (math.isfinite(scale) and scale > 0):
            raise ValueError(f"need a shift of {d} numbers and a scale > 0, got {shift}, {scale}")
        self.exact, self.scale = exact, scale
        self.shift = torch.tensor(shift, dtype=torch.float64)
        self.identity = scale == 1.0 and all(s == 0.0 for s in shift)
        self.inner = exact if self.identity else exact.affine(self.shift, scale)

    @property
    def schedule(self):
        return self.exact.schedule

    @property
    def dim(self) -> int:
        return self.exact.dim

    @property
    def labels(self):
        return self.exact.labels

    @property
    def classes(self) -> list[int]:
        return self.exact.classes

    def _in(self, x: torch.Tensor) -> torch.Tensor:
        if self.identity:
            return x
        return (x - self.shift.to(x.device, x.dtype)) / self.scale

    def _out(self, xn: torch.Tensor) -> torch.Tensor:
        if self.identity:
            return xn
        return self.shift.to(xn.device, xn.dtype) + self.scale * xn

    def evaluate(self, x: torch.Tensor, t, y=None) -> ExactFields:
        f = self.inner.evaluate(self._in(x), t, y)
        logdet = self.dim * math.log(self.scale)
        return ExactFields(f.log_prob - logdet, f.velocity * self.scale, f.score / self.scale)

    def velocity(self, x, t, y=None):
        return self.evaluate(x, t, y).velocity

    def score(self, x, t, y=None):
        return self.evaluate(x, t, y).score

    def velocity_and_score(self, x, t, y=None):
        f = self.evaluate(x, t, y)
        return f.velocity, f.score

    def log_prob(self, x, t, y=None):
        return self.evaluate(x, t, y).log_prob

    def source_log_prob(self, x0: torch.Tensor) -> torch.Tensor:
        """log p_0(x0): N(shift, scale^2 I)."""
        z = self._in(x0)
        d = x0.shape[1]
        return -0.5 * z.square().sum(1) - 0.5 * d * math.log(2 * math.pi) - d * math.log(self.scale)

    def source_sample(self, n: int, generator: torch.Generator, dtype=torch.float64):
        """n draws of X_0 = shift + scale eps, (n, D)."""
        return self._out(torch.randn((int(n), self.dim), dtype=dtype, generator=generator))

    def sample(self, n: int, seed: int | None = None, y=None, generator=None, dtype=torch.float32):
        """n draws of p_data (X_1), (n, D)."""
        return self.exact.sample(n, seed=seed, y=y, generator=generator, dtype=dtype)

    def sample_t(self, t: torch.Tensor, generator: torch.Generator, y=None) -> torch.Tensor:
        """One draw of X_t ~ p_t per entry of t ((N,) float64), (N, D) float64."""
        n = t.shape[0]
        z = self.inner.sample(n, y=y, generator=generator, dtype=torch.float64)
        eps = torch.randn(z.shape, dtype=torch.float64, generator=generator)
        v = self.schedule(t.to(torch.float64))
        return self._out(v.alpha[:, None] * z + v.beta[:, None] * eps)


def reference_for(field, exact) -> PathReference:
    """The oracle to hold ``field`` against: ``exact`` (an ExactMarginal in data coordinates, or
    a PathReference, used as is) on the path of the field's model (its schedule and
    normalization) when the field is or wraps a FlowModel, else ``exact`` on its own path."""
    if isinstance(exact, PathReference):
        return exact
    if not isinstance(exact, ExactMarginal):
        raise TypeError(
            "exact must be the target's ExactMarginal (e.g. load_target(...).exact or "
            f"model.target), got {type(exact).__name__}"
        )
    model = model_of(field)
    if model is None:
        return PathReference(exact)
    if model.kind != "2d":
        raise ValueError("image models have no exact oracle; diagnostics need a 2D model")
    if model.config.dim != exact.dim:
        raise ValueError(f"the model is {model.config.dim}-D but the target is {exact.dim}-D")
    norm = model.normalization
    return PathReference(exact, norm.shift, norm.scale, model.schedule)


# ----------------------------------------------------------------------------- fields


def check_field(field) -> None:
    if not callable(getattr(field, "velocity", None)):
        raise ValueError(
            "field needs a velocity(x, t, y=None) method (a FlowModel, an ExactMarginal or a "
            f"guided wrapper); got {type(field).__name__}"
        )


def check_int(value, name: str, lo: int = 1) -> int:
    if isinstance(value, bool) or int(value) != value or int(value) < lo:
        raise ValueError(f"{name} must be an integer >= {lo}, got {value!r}")
    return int(value)


def field_dtype(field) -> torch.dtype:
    """float32 for networks (their precision; finite differences sized for it), else float64."""
    return torch.float32 if model_of(field) is not None else torch.float64


def velocity_of(field, x: torch.Tensor, t, y=None) -> torch.Tensor:
    """field.velocity at x (any float dtype) in the field's own dtype, chunked; float64 out."""
    dt = field_dtype(field)
    tt = torch.as_tensor(t, dtype=torch.float64)
    tt = tt.expand(x.shape[0]) if tt.ndim == 0 else tt
    out = torch.empty(x.shape, dtype=torch.float64)
    with torch.no_grad():
        for r0 in range(0, x.shape[0], CHUNK):
            r1 = min(x.shape[0], r0 + CHUNK)
            yb = y[r0:r1] if isinstance(y, torch.Tensor) and y.ndim > 0 else y
            out[r0:r1] = field.velocity(x[r0:r1].to(dt), tt[r0:r1].to(dt), yb).to(torch.float64)
    return out
