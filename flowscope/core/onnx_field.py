"""OnnxField: a velocity field v(x, t[, y]) exported by flowscope to ONNX, run by onnxruntime.

An ONNX file is a graph of tensor operations: opening one never executes Python code. The graph
takes x (N, D) float32, t (N,) or (1,) float32 and, for class-conditional models, y (N,) int64
(``num_classes`` = the null label) as ``core.export`` writes them, and returns the velocity in
data coordinates with t = 0 noise, t = 1 data. The metadata_props that export writes
(time_convention, dim, num_classes, schedule, normalization, ...) are read back; a file without
them is taken as an unconditional velocity field on the condot path with identity normalization.

    >>> field = OnnxField("moons.onnx")
    >>> x1 = field.sample(1000, steps=50, seed=0)        # (1000, 2) at t = 1
    >>> u = field.velocity(x1, 0.5)                      # a Field: velocity, score, both
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .export import TIME_CONVENTION
from .fields import EvaluatedField
from .paths import evaluate_as, time_tensor
from .samplers import sample as integrate
from .schedules import Schedule, get_schedule


class OnnxField(EvaluatedField):
    """A flowscope-exported ONNX velocity as a Field (velocity, score, velocity_and_score) and a
    sampler. The score comes from MATH.md's velocity -> score conversion on the model's
    Gaussian path, in the network's normalized coordinates."""

    def __init__(self, path: str | Path, num_threads: int | None = 1):
        try:
            import onnxruntime as ort
        except ImportError as e:
            raise ValueError(
                "opening ONNX models needs the optional packages: pip install 'flowscope[onnx]'"
            ) from e
        self.path = Path(path).expanduser()
        if not self.path.is_file():
            raise FileNotFoundError(2, "No such file", str(self.path))
        opts = ort.SessionOptions()
        if num_threads:
            opts.intra_op_num_threads = int(num_threads)
            opts.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(
                str(self.path), opts, providers=["CPUExecutionProvider"]
            )
        except Exception as e:  # onnxruntime raises its own exception types for bad files
            first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
            raise ValueError(f"{self.path.name} is not a readable ONNX model: {first}") from None
        self._inputs = [i.name for i in self._session.get_inputs()]
        if self._inputs[:2] != ["x", "t"]:
            raise ValueError(
                f"{self.path.name} takes inputs {self._inputs}; expected x, t[, y] as "
                "`flowscope export` writes them"
            )
        self.metadata: dict[str, str] = dict(self._session.get_modelmeta().custom_metadata_map)
        meta = self.metadata
        convention = meta.get("time_convention", TIME_CONVENTION)
        if convention != TIME_CONVENTION:
            raise ValueError(f"{self.path.name} uses time convention {convention!r}; expected "
                             f"{TIME_CONVENTION!r} (t = 0 noise, t = 1 data)")  # fmt: skip
        if meta.get("output", "velocity") != "velocity":
            raise ValueError(f"{self.path.name} outputs {meta['output']!r}, not a velocity")
        self.schedule: Schedule = get_schedule(meta.get("schedule", "condot"))
        self.num_classes = int(meta.get("num_classes", 0))
        if self.num_classes and "y" not in self._inputs:
            raise ValueError(f"{self.path.name}: metadata says classes but the graph has no y")
        shape = self._session.get_inputs()[0].shape
        default_shape = [shape[1]] if len(shape) == 2 and isinstance(shape[1], int) else [2]
        self.sample_shape: tuple[int, ...] = tuple(
            int(v) for v in json.loads(meta.get("sample_shape", json.dumps(default_shape)))
        )
        self.dim = int(meta.get("dim", int(np.prod(self.sample_shape))))
        self.kind = meta.get("kind", "2d")
        norm = json.loads(meta.get("normalization", "null")) or {"shift": [0.0], "scale": 1.0}
        self.shift = torch.tensor([float(v) for v in norm["shift"]], dtype=torch.float32)
        self.scale = float(norm["scale"])
        self.class_names: list[str] | None = json.loads(meta.get("class_names", "null"))

    @property
    def conditional(self) -> bool:
        return self.num_classes > 0

    # ----------------------------------------------------------------- evaluation
    def _labels(self, y: Any, n: int) -> np.ndarray | None:
        if not self.conditional:
            if y is not None:
                raise ValueError("this model was exported without classes; call it without y")
            return None
        if y is None:
            return np.full((n,), self.num_classes, dtype=np.int64)
        yy = torch.as_tensor(y).long().cpu()
        if yy.ndim == 0:
            yy = yy.expand(n)
        if yy.shape != (n,) or bool(((yy >= self.num_classes) | (yy < -1)).any()):
            raise ValueError(f"y must be an int in 0..{self.num_classes - 1} or an ({n},) tensor")
        return torch.where(yy < 0, self.num_classes, yy).numpy().astype(np.int64)

    def _run(self, x: torch.Tensor, t: torch.Tensor, labels: np.ndarray | None) -> torch.Tensor:
        feed = {
            "x": x.detach().to("cpu", torch.float32).contiguous().numpy(),
            "t": t.detach().to("cpu", torch.float32).reshape(-1).numpy(),
        }
        if labels is not None:
            feed["y"] = labels
        (u,) = self._session.run(None, feed)
        return torch.from_numpy(np.asarray(u)).to(x.device, x.dtype)

    def _shift_like(self, x: torch.Tensor) -> torch.Tensor:
        shape = (1, -1) + (1,) * (x.ndim - 2) if self.shift.numel() > 1 else (1,)
        return self.shift.to(x.device, x.dtype).reshape(shape)

    def _evaluate(self, x: torch.Tensor, t, y, kinds) -> dict[str, torch.Tensor]:
        if tuple(x.shape[1:]) != self.sample_shape:
            want = ", ".join(map(str, self.sample_shape))
            raise ValueError(f"x must be (N, {want}), got shape {tuple(x.shape)}")
        labels = self._labels(y, x.shape[0])
        tt = time_tensor(t, x.shape[0], x)
        xn = (x - self._shift_like(x)) / self.scale
        # the graph returns the data-space velocity scale * u'(x'); convert in x' coordinates
        out = evaluate_as(
            self.schedule, lambda tc: self._run(x, tc, labels) / self.scale, xn, tt, "velocity",
            kinds,
        )  # fmt: skip
        factor = {"velocity": self.scale, "score": 1.0 / self.scale, "noise": 1.0}
        return {k: v * factor[k] for k, v in out.items()}

    # ----------------------------------------------------------------- sampling
    def source_sample(self, n: int, seed: int | None = None) -> torch.Tensor:
        """n draws of X_0 = shift + scale * eps, eps ~ N(0, I) (the model's source)."""
        g = torch.Generator()
        g.manual_seed(int(seed)) if seed is not None else g.seed()
        eps = torch.randn((int(n), *self.sample_shape), generator=g)
        return self._shift_like(eps) + self.scale * eps

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
    ) -> torch.Tensor:
        """n samples at t = 1: the ODE with ``solver`` (sigma = 0) or the SDE (sigma > 0),
        integrated in the network's coordinates x' = (x - shift) / scale as FlowModel.sample
        does (so sigma means the same for both)."""
        if int(n) < 1:
            raise ValueError("n must be >= 1")
        g = torch.Generator()
        g.manual_seed(int(seed)) if seed is not None else g.seed()
        eps = torch.randn((int(n), *self.sample_shape), generator=g)
        traj = integrate(_Normalized(self), eps, steps, solver, sigma, sigma_schedule, False, y, w,
                         seed)  # fmt: skip
        return self._shift_like(traj.x) + self.scale * traj.x


class _Normalized:
    """An OnnxField seen in the network's coordinates x' (what the samplers integrate)."""

    def __init__(self, field: OnnxField):
        self.f = field

    def _x(self, xn: torch.Tensor) -> torch.Tensor:
        return self.f._shift_like(xn) + self.f.scale * xn

    def velocity(self, xn, t, y=None):
        return self.f.velocity(self._x(xn), t, y) / self.f.scale

    def score(self, xn, t, y=None):
        return self.f.score(self._x(xn), t, y) * self.f.scale

    def velocity_and_score(self, xn, t, y=None):
        u, s = self.f.velocity_and_score(self._x(xn), t, y)
        return u / self.f.scale, s * self.f.scale
