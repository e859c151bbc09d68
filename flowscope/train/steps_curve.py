"""Sample quality against the number of Euler steps (issue 14, section 4), computed on the compute
side ('steps' requests, on demand). Qt-free.

For k in STEP_COUNTS the current model's ODE is integrated with k Euler steps from the same X_0
(drawn from the model's source: N(0, I) or the bridge's p_init), and the energy distance of X_1 to
samples of p_data is measured. A straight flow (OT coupling, reflow) reaches a small distance with
far fewer steps than the curved independent-coupling flow; the exact flow's curve (the
independent coupling, closed form) is measured beside it from the same X_0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ..core.metrics import energy_distance
from ..core.samplers import sample_ode
from .trainer import Snapshot

STEP_COUNTS = (1, 2, 4, 8, 16, 32, 64)


@dataclass(frozen=True)
class StepsCurveRequest:
    KIND = "steps"
    generation: int
    snapshot: Snapshot
    exact: Any  # the target's ExactMarginal (data coordinates)
    n: int = 2000
    seed: int = 0
    steps: tuple[int, ...] = STEP_COUNTS
    label: str = ""  # what the curve stands for (the coupling), shown in the legend

    def compute(self, ctx) -> StepsCurveResult:
        from .render.fields import DataField as _Data
        from .render.fields import with_source

        model = ctx.model_for(self.snapshot, slot="steps")
        source = self.snapshot.source
        g = torch.Generator().manual_seed(int(self.seed))
        x0 = torch.randn((int(self.n), 2), generator=g)
        if source is not None:
            x0 = source.sample(int(self.n), generator=g, dtype=x0.dtype)
        exact = with_source(self.exact.with_schedule(self.snapshot.schedule), source)
        ref = self.exact.sample(int(self.n), seed=int(self.seed) + 1, dtype=torch.float64)
        learned, truth = [], []
        for k in self.steps:
            x1 = sample_ode(_Data(model), x0, int(k), "euler").x
            learned.append(float(energy_distance(x1.double(), ref)))
            xe = sample_ode(exact, x0.double(), int(k), "euler").x
            truth.append(float(energy_distance(xe.double(), ref)))
        floor = float(energy_distance(self.exact.sample(int(self.n), seed=int(self.seed) + 2,
                                                        dtype=torch.float64), ref))  # fmt: skip
        return StepsCurveResult(
            self.generation, self.snapshot.step, tuple(self.steps), tuple(learned),
            tuple(truth), floor, self.label,
        )  # fmt: skip


@dataclass(frozen=True)
class StepsCurveResult:
    generation: int
    step: int  # the training step of the model measured
    steps: tuple[int, ...]
    learned: tuple[float, ...]  # energy distance of the network's Euler samples per step count
    exact: tuple[float, ...]  # the same for the exact (independent-coupling) flow
    floor: float  # two independent samples of p_data: the distance no sampler gets below
    label: str
