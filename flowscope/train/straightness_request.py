"""Straightness of the learned flow against the exact (independent-coupling) one, computed on the
compute side (the 'straightness' request kind, answered after everything else). Qt-free.

transport cost C = E||X_1 - X_0||^2 and kinetic energy KE = int_0^1 E||u_t(X_t)||^2 dt along an
Euler pass of the ODE (``flowscope.core.straightness``); KE >= C with equality iff the paths are
straight lines at constant speed, so KE - C is what OT couplings and reflow shrink.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ..core.straightness import straightness
from .trainer import Snapshot


@dataclass(frozen=True)
class StraightnessRequest:
    KIND = "straightness"
    generation: int
    snapshot: Snapshot
    exact: Any  # the ExactMarginal (its schedule is set to the snapshot's here)
    n: int = 1000
    steps: int = 50
    seed: int = 0

    def compute(self, ctx) -> StraightnessResult:
        from .render.fields import DataField as _Data

        model = ctx.model_for(self.snapshot, slot="straightness")
        g = torch.Generator().manual_seed(int(self.seed))
        x0 = torch.randn((int(self.n), 2), generator=g)
        learned = straightness(_Data(model), steps=self.steps, x0=x0)
        exact = self.exact.with_schedule(self.snapshot.schedule)
        ref = straightness(_Exact(exact), steps=self.steps, x0=x0)
        return StraightnessResult(self.generation, self.snapshot.step, learned, ref)


class _Exact:
    def __init__(self, exact):
        self.exact = exact

    def velocity(self, x, t):
        return self.exact.velocity(x.double(), t.double()).float()


@dataclass(frozen=True)
class StraightnessResult:
    generation: int
    step: int
    learned: dict  # transport_cost, kinetic_energy, gap of the network's ODE
    exact: dict  # the same for the exact independent-coupling flow from the same x_0
