"""Trajectory requests: particles from fixed seeds along the ODE and the SDE of the learned or
the exact field, every frame kept, and the sample quality of the fixed reference sampler.
Qt-free."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch

from ...core.bridge import is_standard_gaussian
from ...core.exact import ExactMarginal
from ...core.flow_model import FlowModel
from ...core.metrics import energy_distance
from ...core.samplers import sample_ode, sample_sde
from ...core.support import support_report
from .context import RenderContext
from .fields import DataField, PausingField, with_source
from .requests import TrajectoryRequest, TrajectoryResult

#: particles per sampler chunk with a learned field: the MLP's activations then stay in cache
#: (10k particles: 3.0 s in chunks of 1024 against 4.1 s in one; the oracle prefers one chunk)
LEARNED_CHUNK = 1024

#: the quality curve's fixed sampler: what the views show (solver, steps, class, w) must not move
#: it. Heun with 40 steps: on the exact checkerboard field its energy distance is within 0.1% of
#: 200 steps' (0.00667 vs 0.00666, below the 1500-sample noise), at a fifth of the cost.
QUALITY_SOLVER, QUALITY_STEPS, QUALITY_N, QUALITY_SEED = "heun", 40, 1500, 1234


def render_trajectory(
    r: TrajectoryRequest, ctx: RenderContext, pause: Callable[[], None] | None = None
) -> TrajectoryResult:
    """ODE and SDE particles (K, N, 2) from the same x_0. ``pause`` is called before every field
    evaluation (~10-40 ms of CPU apart with 10k particles)."""
    t0 = time.perf_counter()
    model = ctx.field_for(with_source(r.exact, r.source), r.snapshot, slot="trajectory")
    field: ExactMarginal | DataField | PausingField
    if not isinstance(model, FlowModel):
        field, chunk = model, None
    else:
        field, chunk = DataField(model), LEARNED_CHUNK
    if pause is not None:
        field = PausingField(field, pause)
    y = None if r.y is None or r.y < 0 else int(r.y)
    g = torch.Generator().manual_seed(int(r.seed))
    x0 = torch.randn((int(r.n), 2), generator=g)
    if not is_standard_gaussian(r.source):
        x0 = r.source.sample(int(r.n), generator=g, dtype=x0.dtype)  # type: ignore[union-attr]
    ode = sample_ode(field, x0, r.steps, r.solver, y=y, w=r.w, return_trajectory=True,
                     chunk_size=chunk)  # fmt: skip
    sde = ode if not is_standard_gaussian(r.source) else sample_sde(
        field, x0, r.steps, r.sigma, r.sigma_schedule, r.drop_score_term, y=y, w=r.w,
        seed=r.seed + 1, return_trajectory=True, chunk_size=chunk,
    )  # fmt: skip
    if ode.xs is None or sde.xs is None:  # cannot happen: return_trajectory=True
        raise RuntimeError("the samplers returned no trajectory")
    energy = support = precision = None
    if r.score_quality and isinstance(model, FlowModel):
        energy, support, precision = reference_quality(model, r.exact, chunk)
    return TrajectoryResult(
        r.generation,
        ode.t.numpy().astype(np.float32),
        ode.xs.float().numpy(),
        sde.xs.float().numpy(),
        "exact" if r.snapshot is None else "learned",
        0 if r.snapshot is None else r.snapshot.step,
        time.perf_counter() - t0,
        energy,
        support,
        precision,
        *particle_classes(r.exact, y, ode.x, sde.x),
    )


def particle_classes(exact: ExactMarginal, y, *finals: torch.Tensor) -> list:
    """For each (N, 2) set of final positions: (N,) int8 classes - all y when sampled for
    class y, else argmax_c pi_c p(x_1 | c) under the exact target - or None without classes."""
    if exact.labels is None:
        return [None] * len(finals)
    out = []
    classes = exact.classes
    prior = torch.stack([exact.weights[exact.labels == c].sum() for c in classes]).double()
    for x in finals:
        if y is not None:
            out.append(np.full(len(x), int(y), np.int8))
            continue
        x = x.double()
        score = torch.stack(
            [prior[i].log() + exact.log_prob(x, 1.0, c) for i, c in enumerate(classes)], 1
        )
        best = torch.nan_to_num(score, nan=-torch.inf).argmax(1)
        out.append(np.asarray(classes, np.int8)[best.numpy()])
    return out


def reference_quality(model: FlowModel, exact: ExactMarginal, chunk: int | None = None):
    """(energy distance, support share, precision) of QUALITY_N samples from ``model`` with
    the fixed reference sampler against p_data, from fixed seeds (a curve over training steps
    compares like with like). A conditional model samples each point with the label of its
    reference point (w = 1, no guidance), so it is measured against the joint p_data whatever
    class the views show; an unconditional one samples p_data directly."""
    conditional = bool(getattr(model.config, "conditional", False)) and exact.labels is not None
    if conditional:
        ref, labels = exact.sample(QUALITY_N, seed=QUALITY_SEED, return_labels=True)
        y = labels.long()
    else:
        ref, y = exact.sample(QUALITY_N, seed=QUALITY_SEED), None
    x0 = torch.randn((QUALITY_N, 2), generator=torch.Generator().manual_seed(QUALITY_SEED + 1))
    x = sample_ode(DataField(model), x0, QUALITY_STEPS, QUALITY_SOLVER, y=y, w=1.0,
                   chunk_size=chunk).x  # fmt: skip
    rep = support_report(x, exact)
    return energy_distance(x, ref, max_points=QUALITY_N), rep.support, rep.precision
