"""ExternalField: bring your own field. Any callable or nn.Module f(x, t[, y]) as a flowscope Field.

flowscope's Field protocol is ``velocity(x, t, y=None)``, ``score(x, t, y=None)`` and
``velocity_and_score(x, t, y=None)`` with t = 0 noise, t = 1 data (MATH.md). Your function may
use the other time convention and predict a velocity, a score or the noise eps; the wrapper
converts at the boundary:

- ``time_convention="t1_noise"`` (diffusion-style libraries, t = 1 noise): it is called at
  t' = 1 - t, and a velocity it returns is negated (u = -u', since dt' = -dt); a score or noise
  prediction is the same quantity in both conventions.
- ``parameterization="score" | "noise"``: the velocity (and score) come from MATH.md's
  conversions on the Gaussian path of ``schedule``, evaluated and converted at one time
  (paths.evaluate_as; near t = 0 a score or noise model is evaluated at t = 0.01).

    >>> field = ExternalField(my_net, schedule="condot")           # v(x, t) with t = 0 noise
    >>> traj = sample_ode(field, torch.randn(1000, 2), steps=50)    # any flowscope sampler

Meta's ``flow_matching`` library uses t = 0 noise, t = 1 data like flowscope: its velocity models
need no flip (``time_convention="t0_noise"``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from .fields import EvaluatedField
from .paths import PARAMETERIZATIONS, evaluate_as, time_tensor
from .schedules import Schedule, get_schedule

TIME_CONVENTIONS = ("t0_noise", "t1_noise")


class ExternalField(EvaluatedField):
    """A user's f(x, t[, y]) as a flowscope Field (velocity, score, velocity_and_score).

    fn: called as ``fn(x, t)`` (or ``fn(x, t, y)`` when a label is given) with x an (N, D) or
    (N, C, H, W) tensor and t an (N,) tensor in fn's own time convention; returns a tensor (or
    array) shaped like x. classes: None, the number of classes, or their names (for labels y).
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        schedule: str | Schedule = "condot",
        parameterization: str = "velocity",
        time_convention: str = "t0_noise",
        classes: int | Sequence[str] | None = None,
    ):
        if not callable(fn):
            raise TypeError(f"fn must be callable as fn(x, t[, y]), got {type(fn).__name__}")
        if parameterization not in PARAMETERIZATIONS:
            raise ValueError(
                f"unknown parameterization {parameterization!r}; use one of "
                f"{', '.join(PARAMETERIZATIONS)}"
            )
        if time_convention not in TIME_CONVENTIONS:
            raise ValueError(
                f"unknown time_convention {time_convention!r}; use 't0_noise' (t = 0 noise, "
                "t = 1 data, as flowscope and Meta's flow_matching) or 't1_noise' (diffusion)"
            )
        self.fn = fn
        self.schedule: Schedule = get_schedule(schedule)
        self.parameterization = parameterization
        self.time_convention = time_convention
        if classes is None or isinstance(classes, int):
            self.class_names: list[str] | None = None
            self.num_classes = int(classes or 0)
        else:
            self.class_names = [str(c) for c in classes]
            self.num_classes = len(self.class_names)

    def __repr__(self) -> str:
        name = getattr(self.fn, "__name__", type(self.fn).__name__)
        return (
            f"ExternalField({name}, schedule={self.schedule.name!r}, "
            f"parameterization={self.parameterization!r}, "
            f"time_convention={self.time_convention!r})"
        )

    def _call(self, x: torch.Tensor, t: torch.Tensor, y) -> torch.Tensor:
        """fn's output at flowscope time t, as the same quantity in flowscope's convention."""
        flip = self.time_convention == "t1_noise"
        t_fn = 1.0 - t if flip else t
        with torch.no_grad():
            out = self.fn(x, t_fn) if y is None else self.fn(x, t_fn, self._labels(y, x))
        value = torch.as_tensor(out).to(x.device, x.dtype)
        if value.shape != x.shape:
            raise ValueError(
                f"the field returned shape {tuple(value.shape)} for x of shape {tuple(x.shape)}"
            )
        if flip and self.parameterization == "velocity":
            value = -value  # d/dt = -d/dt' when t' = 1 - t
        return value

    def _labels(self, y, x: torch.Tensor) -> torch.Tensor:
        yy = torch.as_tensor(y, device=x.device).long()
        return yy.expand(x.shape[0]) if yy.ndim == 0 else yy

    def _evaluate(self, x: torch.Tensor, t, y, kinds) -> dict[str, torch.Tensor]:
        tt = time_tensor(t, x.shape[0], x)
        return evaluate_as(
            self.schedule, lambda tc: self._call(x, tc, y), x, tt, self.parameterization, kinds
        )



def as_field(
    obj: Any,
    schedule: str | Schedule = "condot",
    parameterization: str = "velocity",
    time_convention: str = "t0_noise",
    classes: int | Sequence[str] | None = None,
):
    """``obj`` as a flowscope Field: a Field already (a FlowModel, an OnnxField, an
    ExternalField, anything with velocity / score / velocity_and_score) is returned as it is;
    a callable f(x, t[, y]) (a function, a torch module) is wrapped in an ExternalField. A module
    whose parameters live on another device (a GPU) is called there and answered on the CPU."""
    if all(callable(getattr(obj, m, None)) for m in ("velocity", "score", "velocity_and_score")):
        return obj
    fn = obj
    if isinstance(obj, torch.nn.Module):
        param = next(iter(obj.parameters()), None)
        if param is not None and (param.device.type != "cpu" or param.dtype != torch.float32):
            fn = _OnDevice(obj, param.device, param.dtype)
    return ExternalField(fn, schedule, parameterization, time_convention, classes)


class _OnDevice:
    """Calls a module with x, t (and y) moved to its parameters' device and dtype."""

    def __init__(self, module: torch.nn.Module, device: torch.device, dtype: torch.dtype):
        self.module, self.device, self.dtype = module, device, dtype
        self.__name__ = type(module).__name__

    def __call__(self, x: torch.Tensor, t: torch.Tensor, *y) -> torch.Tensor:
        args = [x.to(self.device, self.dtype), t.to(self.device, self.dtype)]
        args += [v.to(self.device) for v in y]
        return self.module(*args).to("cpu", x.dtype)
