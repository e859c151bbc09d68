"""FlowModel: a trained network seen as a field (velocity, score) and a sampler; ``load()``.

All inputs and outputs are in data coordinates. A model may have been trained on normalized data
x' = (x - shift) / scale (see :class:`Normalization`); the conversion happens here, at the boundary:
u(x) = scale * u'(x'), score(x) = score'(x') / scale, samples x = shift + scale * x'.

Points models ('2d', ``metadata['kind']``) take x (N, D). Image models ('image') take x
(N, C, H, W) in the ORIGINAL value range (lo, hi) of their dataset, which the network sees as
[-1, 1]: shift = (lo + hi) / 2 and scale = (hi - lo) / 2 for every pixel; their samples are
clamped to (lo, hi).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch

from .._version import __version__
from .checkpoint import CheckpointError, read_checkpoint, save_checkpoint
from .exact import ExactMarginal
from .fields import EvaluatedField
from .models import ModelConfig, build_model
from .paths import evaluate_as, time_tensor
from .samplers import Trajectory, sample
from .schedules import Schedule, get_schedule
from .target_file import SOURCE_FILE, read_target, save_target


@dataclass(frozen=True)
class Normalization:
    """Data coordinates x = shift + scale * x' (x' is what the network sees).

    shift has one entry per dimension, or a single entry shared by all (image models)."""

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

    @classmethod
    def from_value_range(cls, lo: float, hi: float) -> Normalization:
        """[-1, 1] in the network <-> [lo, hi] in the data (image models)."""
        return cls(((float(lo) + float(hi)) / 2.0,), (float(hi) - float(lo)) / 2.0)

    @property
    def value_range(self) -> tuple[float, float]:
        """(lo, hi) that the network's [-1, 1] stands for (a single shared shift only)."""
        if len(self.shift) != 1:
            raise ValueError("value_range needs a normalization with one shared shift")
        return (self.shift[0] - self.scale, self.shift[0] + self.scale)


class FlowModel:
    """A network trained by flowscope, usable as a field and as a sampler.

    ``velocity(x, t, y=None)`` and ``score(x, t, y=None)``: x an (N, D) tensor (points) or
    (N, C, H, W) (images, see ``kind``), t a float or (N,) tensor, y None (unconditional), an int
    class or an (N,) int tensor (-1 = no label).
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
        default = Normalization((0.0,) if config.is_image else tuple([0.0] * config.dim))
        self.normalization = normalization or default
        self.metadata = dict(metadata or {})
        self.metadata["kind"] = self.kind
        self.device = next(net.parameters()).device
        self._shift = torch.tensor(self.normalization.shift, dtype=torch.float32)
        #: the data-space mixture the model was trained on (an ExactMarginal), or None; saved as
        #: target.safetensors beside the weights, so diagnostics need no --data
        self.target: ExactMarginal | None = None
        #: the mixture X_0 is drawn from (data coordinates) for a data-to-data bridge, None for
        #: N(0, I); saved as source.safetensors. Score and SDE need the Gaussian source.
        self.source: ExactMarginal | None = None

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

    @property
    def kind(self) -> str:
        """'image' for models of (N, C, H, W) images, '2d' for models of (N, D) points."""
        return "image" if self.config.is_image else "2d"

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """Shape of one sample: (C, H, W) for image models, (D,) for points."""
        shape = self.config.image_shape
        return shape if shape is not None else (self.config.dim,)

    @property
    def value_range(self) -> tuple[float, float] | None:
        """(lo, hi) of the data an image model was trained on (None for points models)."""
        if not self.config.is_image:
            return None
        return self.normalization.value_range

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

    def _evaluate(self, xn: torch.Tensor, t, y, kinds) -> dict[str, torch.Tensor]:
        """{kind: value} in the network's coordinates at normalized points xn (on the device).

        Each kind is evaluated and converted at one time (paths.evaluate_as): a score or noise
        network asked for a velocity at t < T_MIN_ALPHA is evaluated at T_MIN_ALPHA, never
        evaluated at t and converted with another time's coefficients."""
        tt = time_tensor(t, xn.shape[0], xn)
        labels = self._labels(y, xn.shape[0])
        p = self.config.parameterization
        return evaluate_as(self.schedule, lambda tc: self.net(xn, tc, labels), xn, tt, p, kinds)

    def _normalized(self, x: torch.Tensor) -> torch.Tensor:
        """x' = (x - shift) / scale on the model's device, float32."""
        if tuple(x.shape[1:]) != self.sample_shape:
            want = ", ".join(map(str, self.sample_shape))
            raise ValueError(f"x must be (N, {want}), got shape {tuple(x.shape)}")
        xn = x.to(self.device, torch.float32)
        if not self.normalization.is_identity:
            xn = (xn - self._shift.to(self.device)) / self.normalization.scale
        return xn

    def _to_data(self, values: dict[str, torch.Tensor], x: torch.Tensor) -> dict:
        sc = self.normalization.scale
        dt = x.dtype if x.is_floating_point() else torch.float32
        factor = {"velocity": sc, "score": 1.0 / sc, "noise": 1.0}
        return {k: (v * factor[k]).to(x.device, dt) for k, v in values.items()}

    def predict(self, x: torch.Tensor, t, y=None, kind: str = "velocity") -> torch.Tensor:
        """velocity, score or noise at (x, t) in data coordinates, on x's device and dtype."""
        if kind != "velocity":
            self._check_gaussian_source(f"the {kind}")
        with torch.no_grad():
            values = self._evaluate(self._normalized(x), t, y, (kind,))
        return self._to_data(values, x)[kind]

    def _check_gaussian_source(self, what: str) -> None:
        if self.source is not None:
            raise ValueError(
                f"{what} is only defined for the N(0, I) source; this model was trained from a "
                "mixture source (a data-to-data bridge): use its velocity and the ODE (sigma = 0)"
            )

    def velocity_and_score(self, x: torch.Tensor, t, y=None):
        """(velocity, score) from one network evaluation (two near the ends of [0, 1] for
        parameterizations whose conversion is singular there)."""
        self._check_gaussian_source("the score")
        with torch.no_grad():
            values = self._evaluate(self._normalized(x), t, y, ("velocity", "score"))
        out = self._to_data(values, x)
        return out["velocity"], out["score"]

    def source_log_prob(self, x0: torch.Tensor) -> torch.Tensor:
        """log p_0(x0) (N,) of the model's source in data coordinates: X_0 = shift + scale eps
        with eps ~ N(0, I), so log N((x0 - shift) / scale; 0, I) - D log scale (or the source
        mixture's density, whose components must have widths > 0)."""
        if self.source is not None:
            return self.source.log_prob(x0.to(torch.float64), 1.0).to(x0.dtype)
        x = x0.reshape(x0.shape[0], -1)
        sc = self.normalization.scale
        shift = self._shift.to(x.device, x.dtype)
        z = (x - shift) / sc if not self.normalization.is_identity else x
        d = x.shape[1]
        return -0.5 * z.square().sum(1) - 0.5 * d * math.log(2 * math.pi) - d * math.log(sc)

    def velocity(self, x: torch.Tensor, t, y=None) -> torch.Tensor:
        """Learned marginal vector field u_theta(x, t [| y]), shaped like x."""
        return self.predict(x, t, y, "velocity")

    def score(self, x: torch.Tensor, t, y=None) -> torch.Tensor:
        """Learned score s_theta(x, t [| y]) (via MATH.md's conversion if needed), shaped like x."""
        return self.predict(x, t, y, "score")

    # ----------------------------------------------------------------- sampling
    def source_sample(self, n: int, seed: int | None = None) -> torch.Tensor:
        """n draws of X_0 ~ N(0, I) (or of the source mixture) in the network's coordinates,
        shape (n, *sample_shape), float32 on the CPU."""
        g = torch.Generator()
        g.manual_seed(int(seed)) if seed is not None else g.seed()
        if self.source is not None:
            x = self.source.sample(int(n), generator=g, dtype=torch.float64)
            if not self.normalization.is_identity:
                x = (x - self._shift.to(torch.float64)) / self.normalization.scale
            return x.to(torch.float32)
        return torch.randn((int(n), *self.sample_shape), generator=g)

    def sample(
        self,
        n: int,
        steps: int = 50,
        solver: str = "heun",
        sigma: float = 0.0,
        w: float = 1.0,
        y=None,
        seed: int | None = None,
        sigma_schedule: str = "constant",
        drop_score_term: bool = False,
        x0: torch.Tensor | None = None,
        chunk_size: int | None = None,
        clip: bool = True,
    ) -> torch.Tensor:
        """n samples at t = 1 as an (n, D) tensor (points) or (n, C, H, W) (images, in the
        original value range, clamped to it unless ``clip=False``). The path they took:
        :meth:`sample_trajectories` (same arguments, same samples for the same seed).

        sigma > 0 uses the SDE (Euler-Maruyama) with sigma_t from ``sigma_schedule``; w is the
        guidance scale for class y (ignored without y). x0 overrides the N(0, I) start (in the
        network's coordinates). chunk_size bounds the rows integrated at once (default: all
        points, or a few hundred images).
        """
        return self._integrate(
            n, steps, solver, sigma, w, y, seed, sigma_schedule, drop_score_term, x0,
            chunk_size, clip, trajectory=False, save_every=1,
        ).x  # fmt: skip

    def sample_trajectories(
        self,
        n: int,
        steps: int = 50,
        solver: str = "heun",
        sigma: float = 0.0,
        w: float = 1.0,
        y=None,
        seed: int | None = None,
        sigma_schedule: str = "constant",
        drop_score_term: bool = False,
        x0: torch.Tensor | None = None,
        chunk_size: int | None = None,
        clip: bool = True,
        save_every: int = 1,
    ) -> Trajectory:
        """As :meth:`sample`, with the path: a Trajectory whose ``xs`` (F, n, ...) holds x_t at
        the saved times ``t`` (F,) (every ``save_every`` steps, always t = 0 and t = 1), in data
        coordinates, and whose ``x`` equals ``xs[-1]`` (what :meth:`sample` returns)."""
        return self._integrate(
            n, steps, solver, sigma, w, y, seed, sigma_schedule, drop_score_term, x0,
            chunk_size, clip, trajectory=True, save_every=save_every,
        )  # fmt: skip

    def _integrate(
        self, n, steps, solver, sigma, w, y, seed, sigma_schedule, drop_score_term, x0,
        chunk_size, clip, trajectory: bool, save_every: int,
    ) -> Trajectory:  # fmt: skip
        if int(n) < 1 and x0 is None:
            raise ValueError("n must be >= 1")
        if float(sigma) != 0.0:
            self._check_gaussian_source("the SDE (sigma > 0)")
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
            trajectory,
            save_every=save_every,
            chunk_size=chunk_size or self._default_chunk(),
        )
        clip = clip and self.config.is_image
        return Trajectory(
            self._denormalize(traj.x, clip).cpu(),
            traj.t.cpu(),
            None if traj.xs is None else self._denormalize(traj.xs, clip).cpu(),
        )

    def _default_chunk(self) -> int | None:
        if self.config.image_shape is None:
            return None
        _, h, w = self.config.image_shape
        return max(16, min(1024, 2**18 // (h * w)))

    def _denormalize(self, xn: torch.Tensor, clip: bool = False) -> torch.Tensor:
        x = xn
        if not self.normalization.is_identity:
            x = self._shift.to(xn.device) + self.normalization.scale * xn
        if clip:
            x = x.clamp(*self.normalization.value_range)
        return x

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
                "kind": self.kind,
            }
        )
        if self.config.image_shape is not None:  # an image model
            meta["value_range"] = list(self.normalization.value_range)
            meta["image_shape"] = list(self.config.image_shape)
        meta.setdefault("class_names", None)
        meta["source"] = None if self.source is None else {"components": self.source.n_components}
        out = save_checkpoint(directory, self.net.state_dict(), meta)
        save_target(out, self.target, (meta.get("data") or {}).get("name", ""))
        save_target(out, self.source, "source", file=SOURCE_FILE)
        return out


class _NormalizedField(EvaluatedField):
    """The network's own field in normalized coordinates (what the samplers integrate)."""

    def __init__(self, model: FlowModel):
        self.m = model

    def _evaluate(self, x, t, y, kinds):
        return self.m._evaluate(x, t, y, kinds)


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
        model = FlowModel.from_state(state, config, schedule, norm, meta, device)
    except RuntimeError as e:  # shape/key mismatch between json and weights
        raise CheckpointError(f"{path}: the weights do not match model.json ({e})") from e
    model.target = read_target(path, schedule, meta.get("save_id"))
    model.source = read_target(path, schedule, meta.get("save_id"), file=SOURCE_FILE)
    if meta.get("source") and model.source is None:
        raise CheckpointError(f"{path}: model.json names a source; source.safetensors is missing")
    return model
