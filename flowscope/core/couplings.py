"""Couplings of (x_0, x_1) for training: independent, minibatch optimal transport, reflow pairs.

- independent (the default): x_0 and x_1 drawn separately.
- minibatch OT: within each batch, x_0 is permuted to the exact assignment that minimizes
  sum_k ||x_0[k] - x_1[k]||^2 (scipy's linear_sum_assignment, O(B^3) on the CPU per step; the
  Trainer measures its time). The learned paths are straighter, so few Euler steps suffice.
- reflow (rectified flow): pairs (x_0, ODE(x_0)) from a trained model, on which a new model is
  trained; each reflow straightens the paths further.

The path objective then trains u_t on x_t = alpha_t x_1 + beta_t x_0 with the target
d_alpha_t x_1 + d_beta_t x_0; only the velocity objective stays valid (the score / noise targets
assume x_0 ~ N(0, I) independent of x_1).
"""

from __future__ import annotations

import numpy as np
import torch

COUPLINGS = ("independent", "ot")


def check_coupling(name: str) -> str:
    if name not in COUPLINGS:
        raise ValueError(f"unknown coupling {name!r}; use one of {', '.join(COUPLINGS)}")
    return name


def ot_assignment(x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
    """perm (B,) such that x0[perm[k]] is matched to x1[k] with the least total squared distance
    sum_k ||x0[perm[k]] - x1[k]||^2 (an exact assignment, not Sinkhorn)."""
    from scipy.optimize import linear_sum_assignment  # type: ignore[import-untyped]

    if x0.shape != x1.shape or x0.ndim != 2:
        raise ValueError(f"x0 and x1 must be (B, D) of one shape, got {x0.shape} and {x1.shape}")
    a = x0.detach().to("cpu", torch.float64).numpy()
    b = x1.detach().to("cpu", torch.float64).numpy()
    cost = (b * b).sum(1)[:, None] + (a * a).sum(1)[None, :] - 2.0 * b @ a.T
    rows, cols = linear_sum_assignment(cost)
    perm = np.empty(len(rows), dtype=np.int64)
    perm[rows] = cols
    return torch.from_numpy(perm).to(x0.device)


def ot_pair(x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
    """x0 reordered to its optimal-transport partners of x1 (row k pairs with x1[k])."""
    return x0[ot_assignment(x0, x1)]


class PairBank:
    """A fixed set of (x_0, x_1) pairs (e.g. from reflow) in data coordinates; a call draws n
    random pairs (with replacement) as (x_0, x_1, labels=None). The Trainer moves it into its
    network's coordinates with :meth:`to`."""

    def __init__(self, x0: torch.Tensor, x1: torch.Tensor):
        if x0.shape != x1.shape or x0.ndim != 2 or x0.shape[0] < 1:
            raise ValueError("x0 and x1 must be non-empty (N, D) tensors of one shape")
        if not (torch.isfinite(x0).all() and torch.isfinite(x1).all()):
            raise ValueError("the pairs contain NaN or Inf")
        self.x0, self.x1 = x0, x1

    def __len__(self) -> int:
        return self.x0.shape[0]

    def to(self, device, normalization=None) -> PairBank:
        """On ``device`` as float32, in the coordinates x' = (x - shift) / scale of
        ``normalization`` (a flow_model.Normalization; None keeps data coordinates)."""
        x0, x1 = self.x0.to(torch.float32), self.x1.to(torch.float32)
        if normalization is not None and not normalization.is_identity:
            shift = torch.tensor(normalization.shift, dtype=torch.float32)
            x0, x1 = (x0 - shift) / normalization.scale, (x1 - shift) / normalization.scale
        return PairBank(x0.to(device), x1.to(device))

    def __call__(self, n: int, generator: torch.Generator | None = None):
        idx = torch.randint(0, len(self), (int(n),), device=self.x0.device, generator=generator)
        return self.x0[idx], self.x1[idx], None


def reflow_pairs(model, n: int, steps: int = 50, solver: str = "heun", seed: int = 0) -> PairBank:
    """(x_0, ODE(x_0)) pairs of a trained FlowModel (unconditional sampling) in data
    coordinates: x_0 from the model's source, x_1 its ODE solution at t = 1."""
    if int(n) < 1:
        raise ValueError("n must be >= 1")
    x0n = model.source_sample(int(n), seed)
    with torch.no_grad():
        x1 = model.sample(int(n), steps=steps, solver=solver, x0=x0n, seed=seed)
    norm = model.normalization
    x0 = x0n if norm.is_identity else torch.tensor(norm.shift) + norm.scale * x0n
    return PairBank(x0.to(torch.float32), x1.to(torch.float32))
