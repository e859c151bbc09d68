"""Training objectives: one network output, three parameterizations (MATH.md).

| objective | network predicts | regression target at x_t         |
|-----------|------------------|----------------------------------|
| velocity  | u_theta(x, t)    | d_alpha_t z + d_beta_t eps (CFM) |
| score     | s_theta(x, t)    | -eps / beta_t (DSM)              |
| noise     | eps_theta(x, t)  | eps                              |

Losses are squared norms summed over the data dimensions and averaged over the batch:
E lambda(t) || prediction - target ||^2 with lambda(t) = 1, except for the score objective, which
by default uses the usual DSM weighting lambda(t) = beta_t^2 (MATH.md, "Score-matching weight"):
E || beta_t s_theta + eps ||^2. Unweighted, the target's size ~ 1 / beta_t lets late times dominate,
early times are fitted poorly, and the score -> velocity conversion multiplies that error by about
1 / alpha_t, so the ODE samples of a score model were ~20x worse (energy distance) than a velocity
model's. ``weighting='none'`` keeps the plain E || s_theta + eps / beta_t ||^2 for comparison.
"""

from __future__ import annotations

import torch

from .paths import PARAMETERIZATIONS, PathSample
from .schedules import Schedule

#: largest training time per objective: DSM's target -eps/beta_t explodes as beta_t -> 0
T_EPS_TRAIN = {"velocity": 0.0, "score": 2e-2, "noise": 1e-3}

#: score-loss weightings: lambda(t) = beta_t^2 (default) or 1 ('none')
SCORE_WEIGHTINGS = ("beta2", "none")
#: how each objective's loss is written, for tooltips, the CLI and model metadata
LOSS_FORMULAS = {
    "velocity": "E || u_theta(x_t, t) - (d_alpha_t z + d_beta_t eps) ||^2",
    "score": "E || beta_t s_theta(x_t, t) + eps ||^2  (DSM weighted by lambda(t) = beta_t^2)",
    "score/none": "E || s_theta(x_t, t) + eps / beta_t ||^2  (unweighted DSM)",
    "noise": "E || eps_theta(x_t, t) - eps ||^2",
}


def check_weighting(weighting: str) -> str:
    if weighting not in SCORE_WEIGHTINGS:
        raise ValueError(
            f"unknown score weighting {weighting!r}; use one of {', '.join(SCORE_WEIGHTINGS)}"
        )
    return weighting


def loss_formula(parameterization: str, weighting: str = "beta2") -> str:
    """The loss as a formula in MATH.md notation."""
    check_parameterization(parameterization)
    if parameterization == "score" and check_weighting(weighting) == "none":
        return LOSS_FORMULAS["score/none"]
    return LOSS_FORMULAS[parameterization]


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


def weighted_residual(
    prediction: torch.Tensor, path: PathSample, parameterization: str, weighting: str = "beta2"
) -> torch.Tensor:
    """sqrt(lambda(t)) (prediction - target), shaped like path.z.

    Weighted score: beta_t s + eps, written without dividing by beta_t (finite at beta_t = 0)."""
    if parameterization == "score" and check_weighting(weighting) == "beta2":
        b = path.beta.reshape(path.beta.shape + (1,) * (path.z.ndim - 1)).to(prediction.dtype)
        return b * prediction + path.eps
    return prediction - regression_target(path, parameterization)


def per_sample_loss(
    prediction: torch.Tensor, path: PathSample, parameterization: str, weighting: str = "beta2"
) -> torch.Tensor:
    """lambda(t) || prediction - target ||^2 per sample, shape (N,) (summed over non-batch dims);
    lambda(t) = beta_t^2 for the score objective with weighting 'beta2', else 1."""
    diff = weighted_residual(prediction, path, parameterization, weighting)
    return diff.pow(2).flatten(1).sum(dim=1)


def loss(
    prediction: torch.Tensor, path: PathSample, parameterization: str, weighting: str = "beta2"
) -> torch.Tensor:
    """Batch mean of :func:`per_sample_loss` (a scalar)."""
    return per_sample_loss(prediction, path, parameterization, weighting).mean()
