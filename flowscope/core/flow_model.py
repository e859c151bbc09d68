"""FlowModel: a trained network seen as a field (velocity, score) and a sampler; ``load()``.

All inputs and outputs are in data coordinates. A model may have been trained on normalized data
x' = (x - shift) / scale (see :class:`Normalization`); the conversion happens here, at the boundary:
u(x) = scale * u'(x'), score(x) = score'(x') / scale, samples x = shift + scale * x'.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from .. import __version__
from .checkpoint import CheckpointError, read_checkpoint, save_checkpoint
from .models import ModelConfig, build_model
from .paths import convert, time_tensor
from .samplers import Trajectory, sample
from .schedules import Schedule, get_schedule


@dataclass(frozen=True)
class Normalization:
    """Data coordinates x = shift + scale * x' (x' is what the network sees)."""

    shift: tuple[float, ...] = (0.0, 0.0)
    scale: float = 1.0

    @property
    def is_identity(self) -> bool:
        return self.scale == 1.0 and all(s == 0.0 for s in self.shift)

    def to_dict(self) -> dict:
        return {"shift": list(self.shift), "scale": self.scale}

    @classmethod
    def from_dict(cls, d: dict | None) -> Normalization:
        if not d:
            return cls()
        return cls(tuple(float(v) for v in d["shift"]), float(d["scale"]))

    @classmethod
    def standardize(cls, points: torch.Tensor) -> Normalization:
        """Mean and overall std of (N, D) points."""
        return cls(tuple(points.mean(0).tolist()), float(points.std().clamp_min(1e-8)))


class FlowModel:
    """A network trained by flowscope, usable as a field and as a sampler.

    ``velocity(x, t, y=None)`` and ``score(x, t, y=None)``: x (N, D) tensor, t a float or (N,)
    tensor, y None (unconditional), an int class or an (N,) int tensor (-1 = no label).
    """

    def __init__(
        self,
        net: torch.nn.Module,
        config: ModelConfig,
        schedule: str | Schedule = "condot",
        normalization: Normalization | None = None,
        metadata: dict | None = None,
    ):
        self.net = net.eval()
        self.config = config
        self.schedule = get_schedule(schedule)
        self.normalization = normalization or Normalization(tuple([0.0] * config.dim))
        self.metadata = dict(metadata or {})
        self.device = next(net.parameters()).device
        self._shift = torch.tensor(self.normalization.shift, dtype=torch.float32)

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_state(
        cls,
        state_dict: dict,
        config: ModelConfig,
        schedule: str | Schedule = "condot",
        normalization: Normalization | None = None,
        metadata: dict | None = None,
        device: str | torch.device = "cpu",
    ) -> FlowModel:
        net = build_model(config)
        net.load_state_dict(state_dict)
        return cls(net.to(device), config, schedule, normalization, metadata)

    @property
    def class_names(self) -> list[str] | None:
        return self.metadata.get("class_names")

    @property
    def parameterization(self) -> str:
        return self.config.parameterization

    # ----------------------------------------------------------------- evaluation
    def _labels(self, y, n: int) -> torch.Tensor | None:
        if not self.config.conditional:
            if y is not None:
                raise ValueError("this model was trained without classes; call it without y")
            return None
        null = self.config.null_label
        if y is None:
            return torch.full((n,), null, dtype=torch.long, device=self.device)
        yy = torch.as_tensor(y, device=self.device).long()
        if yy.ndim == 0:
            yy = yy.expand(n)
        if yy.shape != (n,):
            raise ValueError(f"y must be an int or an ({n},) tensor, got shape {tuple(yy.shape)}")
        if ((yy >= null) | (yy < -1)).any():
            raise ValueError(f"class labels must be in 0..{null - 1} (or -1 for no label)")
        return torch.where(yy < 0, torch.full_like(yy, null), yy)

    def _raw(self, x: torch.Tensor, t, y) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(network output, normalized x', t) on the model's device, float32."""
        if x.ndim != 2 or x.shape[1] != self.config.dim:
            raise ValueError(f"x must be (N, {self.config.dim}), got shape {tuple(x.shape)}")
        xn = x.to(self.device, torch.float32)
        if not self.normalization.is_identity:
            xn = (xn - self._shift.to(self.device)) / self.normalization.scale
        tt = time_tensor(t, xn.shape[0], xn)
        with torch.no_grad():
            out = self.net(xn, tt, self._labels(y, xn.shape[0]))
        return out, xn, tt

    def predict(self, x: torch.Tensor, t, y=None, kind: str = "velocity") -> torch.Tensor:
        """velocity, score or noise at (x, t) in data coordinates, on x's device and dtype."""
        out, xn, tt = self._raw(x, t, y)
        val = convert(self.schedule, out, xn, tt, self.config.parameterization, kind)
        scale = self.normalization.scale
        if kind == "velocity":
            val = val * scale
        elif kind == "score":
            val = val / scale
        return val.to(x.device, x.dtype if x.is_floating_point() else torch.float32)

    def velocity_and_score(self, x: torch.Tensor, t, y=None):
        """(velocity, score) from one network evaluation."""
        out, xn, tt = self._raw(x, t, y)
        p, sc = self.config.parameterization, self.normalization.scale
        u = convert(self.schedule, out, xn, tt, p, "velocity") * sc
        s = convert(self.schedule, out, xn, tt, p, "score") / sc
        dt = x.dtype if x.is_floating_point() else torch.float32
        return u.to(x.device, dt), s.to(x.device, dt)

    def velocity(self, x: torch.Tensor, t, y=None) -> torch.Tensor:
        """Learned marginal vector field u_theta(x, t [| y]), shape (N, D)."""
        return self.predict(x, t, y, "velocity")

    def score(self, x: torch.Tensor, t, y=None) -> torch.Tensor:
        """Learned score s_theta(x, t [| y]) (via MATH.md's conversion if needed), shape (N, D)."""
        return self.predict(x, t, y, "score")

    # ----------------------------------------------------------------- sampling
    def source_sample(self, n: int, seed: int | None = None) -> torch.Tensor:
        """n draws of X_0 ~ N(0, I) in the network's coordinates, shape (n, D), on the CPU."""
        g = torch.Generator()
        g.manual_seed(int(seed)) if seed is not None else g.seed()
        return torch.randn((int(n), self.config.dim), generator=g)

    def sample(
        self,
        n: int,
        steps: int = 50,
        solver: str = "heun",
        sigma: float = 0.0,
        w: float = 1.0,
        y=None,
        seed: int | None = None,
        return_trajectory: bool = False,
        sigma_schedule: str = "constant",
        drop_score_term: bool = False,
        x0: torch.Tensor | None = None,
    ) -> torch.Tensor | Trajectory:
        """n samples at t = 1 as an (n, D) tensor, or a Trajectory if ``return_trajectory``.

        sigma > 0 uses the SDE (Euler-Maruyama) with sigma_t from ``sigma_schedule``; w is the
        guidance scale for class y (ignored without y). x0 overrides the N(0, I) start.
        """
        if int(n) < 1 and x0 is None:
            raise ValueError("n must be >= 1")
        start = self.source_sample(n, seed) if x0 is None else x0.to(torch.float32)
        field = _NormalizedField(self)
        traj = sample(
            field,
            start.to(self.device),
            steps,
            solver,
            sigma,
            sigma_schedule,
            drop_score_term,
            y,
            w,
            seed,
            return_trajectory,
        )
        traj = Trajectory(
            self._denormalize(traj.x).cpu(),
            traj.t.cpu(),
            None if traj.xs is None else self._denormalize(traj.xs).cpu(),
        )
        return traj if return_trajectory else traj.x

    def _denormalize(self, xn: torch.Tensor) -> torch.Tensor:
        if self.normalization.is_identity:
            return xn
        return self._shift.to(xn.device) + self.normalization.scale * xn

    # ----------------------------------------------------------------- saving
    def save(self, directory: str | Path, extra: dict | None = None) -> Path:
        """Write ``model.safetensors`` + ``model.json`` into ``directory``."""
        meta = dict(self.metadata)
        meta.update(extra or {})
        meta.update(
            {
                "flowscope_version": __version__,
                "model_config": self.config.to_dict(),
                "schedule": self.schedule.name,
                "parameterization": self.config.parameterization,
                "normalization": self.normalization.to_dict(),
            }
        )
        meta.setdefault("class_names", None)
        return save_checkpoint(directory, self.net.state_dict(), meta)


class _NormalizedField:
    """The network's own field in normalized coordinates (what the samplers integrate)."""

    def __init__(self, model: FlowModel):
        self.m = model

    def _get(self, x, t, y, kind):
        m = self.m
        tt = time_tensor(t, x.shape[0], x)
        out = m.net(x, tt, m._labels(y, x.shape[0]))
        return convert(m.schedule, out, x, tt, m.config.parameterization, kind)

    def velocity(self, x, t, y=None):
        return self._get(x, t, y, "velocity")

    def score(self, x, t, y=None):
        return self._get(x, t, y, "score")

    def velocity_and_score(self, x, t, y=None):
        m = self.m
        tt = time_tensor(t, x.shape[0], x)
        out = m.net(x, tt, m._labels(y, x.shape[0]))
        p = m.config.parameterization
        return convert(m.schedule, out, x, tt, p, "velocity"), convert(
            m.schedule, out, x, tt, p, "score"
        )


def load(path: str | Path, device: str | torch.device = "cpu") -> FlowModel:
    """Load a model directory (or its model.json / model.safetensors) written by flowscope."""
    state, meta = read_checkpoint(path)
    try:
        config = ModelConfig.from_dict(meta["model_config"])
        schedule = get_schedule(meta.get("schedule", "condot"))
        norm = Normalization.from_dict(meta.get("normalization"))
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: model.json is incomplete or invalid ({e})") from e
    try:
        return FlowModel.from_state(state, config, schedule, norm, meta, device)
    except RuntimeError as e:  # shape/key mismatch between json and weights
        raise CheckpointError(f"{path}: the weights do not match model.json ({e})") from e
