"""Reflow (rectified flow) from the app: the pairs (x_0, ODE(x_0)) of the current model, drawn on
the compute side (the 'reflow' request kind; the GUI thread runs no torch). Qt-free.

One round: x_0 from the model's source p_init, x_1 = its ODE solution at t = 1 (Heun), the pairs
``core.couplings.reflow_pairs`` draws for ``flowscope reflow`` too; a new training session then
fits u_t on x_t = alpha_t x_1 + beta_t x_0 with the target d_alpha_t x_1 + d_beta_t x_0 over
these fixed pairs (``Trainer(pairs=...)``). Each round straightens the paths: the gap
KE - C between the kinetic energy int_0^1 E||u_t(X_t)||^2 dt and the transport cost
E||X_1 - X_0||^2 shrinks toward 0. The straightness before the round is measured here too, on
the same Euler pass as the straightness line (``core.straightness``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from ..core.couplings import PairBank, reflow_pairs
from ..core.straightness import straightness
from .trainer import Snapshot

#: pairs drawn per round, Heun steps of the ODE that draws them (the app's defaults)
PAIRS = 10_000
ODE_STEPS = 40


@dataclass(frozen=True)
class ReflowRequest:
    """Draw ``n`` pairs (x_0, ODE(x_0)) from ``snapshot``'s model (``ode_steps`` Heun steps)."""

    KIND = "reflow"
    generation: int
    snapshot: Snapshot
    n: int = PAIRS
    ode_steps: int = ODE_STEPS
    seed: int = 0

    def compute(self, ctx) -> ReflowResult:
        t0 = time.perf_counter()
        model = ctx.model_for(self.snapshot, slot="reflow")
        error = None
        if model.config.parameterization != "velocity":
            error = ("reflow trains the velocity only: choose the velocity objective, train, "
                     "then reflow")  # fmt: skip
            x0 = x1 = np.zeros((0, model.config.dim), np.float32)
            before: dict = {}
        else:
            bank = reflow_pairs(model, int(self.n), steps=int(self.ode_steps), seed=self.seed)
            x0, x1 = bank.x0.numpy().copy(), bank.x1.numpy().copy()
            before = straightness(model, 1000, 50, seed=self.seed)
        if error is None and not (np.isfinite(x0).all() and np.isfinite(x1).all()):
            error = "the model's ODE gave NaN or Inf samples; it cannot be reflowed"
        return ReflowResult(self.generation, self.snapshot.step, x0, x1, before, error,
                            time.perf_counter() - t0)  # fmt: skip


@dataclass(frozen=True)
class ReflowResult:
    generation: int
    step: int  # the training step of the model the pairs come from
    x0: np.ndarray  # (n, D) float32, data coordinates
    x1: np.ndarray  # (n, D) ODE(x0)
    before: dict  # transport_cost, kinetic_energy, gap of that model (1000 paths, 50 Euler)
    error: str | None
    seconds: float

    def pairs(self) -> PairBank:
        """The pairs as the Trainer takes them (raises ValueError if there are none)."""
        return PairBank(torch.from_numpy(self.x0), torch.from_numpy(self.x1))


__all__ = ["ODE_STEPS", "PAIRS", "ReflowRequest", "ReflowResult"]
