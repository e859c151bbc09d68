"""The network's side of the posterior lens: u_theta(x) (and its score) at ONE point, computed on
the compute side (the window's GUI thread never runs the network). Qt-free.

``LensRequest.compute(ctx)`` is called by ``train.render.render`` (its 'lens' renderer); the child
answers the 'lens' kind first (``compute_process.PRIORITY``): one point costs ~1 ms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..core.samplers import guided
from .trainer import Snapshot


@dataclass(frozen=True)
class LensRequest:
    """u_theta(x, t) and s_theta(x, t) of ``snapshot``'s weights at one point x (D,)."""

    KIND = "lens"
    generation: int
    snapshot: Snapshot
    x: tuple[float, ...]
    t: float
    y: int | None = None
    w: float = 1.0

    def compute(self, ctx) -> LensResult:
        from .render.fields import DataField as _Data

        model = ctx.model_for(self.snapshot, slot="lens")
        field = guided(_Data(model), self.y, self.w)
        x = torch.tensor([self.x], dtype=torch.float32)
        tt = torch.full((1,), float(self.t))
        u = field.velocity(x, tt)[0].double().numpy()
        if getattr(self.snapshot, "source", None) is None:
            s = field.score(x, tt)[0].double().numpy()
        else:  # a non-Gaussian source p_init: the score conversion is undefined (NaN)
            s = np.full_like(u, np.nan)
        return LensResult(self.generation, np.asarray(self.x), float(self.t), u, s,
                          self.snapshot.step)  # fmt: skip


@dataclass(frozen=True)
class LensResult:
    generation: int
    x: np.ndarray  # (D,)
    t: float
    velocity: np.ndarray  # (D,) u_theta(x, t)
    score: np.ndarray  # (D,) s_theta(x, t) (converted from the velocity for that objective)
    step: int  # the snapshot's training step
