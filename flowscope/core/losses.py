"""Training objectives: one network output, three parameterizations (MATH.md).

| objective | network predicts | regression target at x_t         |
|-----------|------------------|----------------------------------|
| velocity  | u_theta(x, t)    | d_alpha_t z + d_beta_t eps (CFM) |
| score     | s_theta(x, t)    | -eps / beta_t (DSM)              |
| noise     | eps_theta(x, t)  | eps                              |

Losses are squared norms summed over the data dimensions and averaged over the batch:
E || prediction - target ||^2, as written in MATH.md.
"""

from __future__ import annotations

import torch

from .paths import PARAMETERIZATIONS, PathSample
from .schedules import Schedule

#: largest training time per objective: DSM's target -eps/beta_t explodes as beta_t -> 0
T_EPS_TRAIN = {"velocity": 0.0, "score": 2e-2, "noise": 1e-3}


def check_parameterization(parameterization: str) -> str:
    if parameterization not in PARAMETERIZATIONS:
        raise ValueError(
            f"unknown objective {parameterization!r}; use one of {', '.join(PARAMETERIZATIONS)}"
        )
    return parameterization


def sample_training_times(
    n: int,
    schedule: Schedule,
    parameterization: str,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """t ~ Unif[0, t_max], with t_max = 1 - t_eps where the objective or schedule needs it."""
    check_parameterization(parameterization)
    t_max = min(1.0 - T_EPS_TRAIN[parameterization], schedule.t_max_finite)
    t = torch.rand(n, device=device, dtype=dtype, generator=generator)
    return t * t_max if t_max < 1.0 else t


def regression_target(path: PathSample, parameterization: str) -> torch.Tensor:
    """The conditional target the network regresses onto, shaped like path.z: (N, ...)."""
    check_parameterization(parameterization)
    if parameterization == "velocity":
        return path.velocity
    if parameterization == "score":
        return path.score
    return path.eps


def per_sample_loss(
    prediction: torch.Tensor, path: PathSample, parameterization: str
) -> torch.Tensor:
    """|| prediction - target ||^2 per sample, shape (N,) (summed over all non-batch dims)."""
    diff = prediction - regression_target(path, parameterization)
    return diff.pow(2).flatten(1).sum(dim=1)


def loss(prediction: torch.Tensor, path: PathSample, parameterization: str) -> torch.Tensor:
    """Batch mean of :func:`per_sample_loss` (a scalar)."""
    return per_sample_loss(prediction, path, parameterization).mean()
