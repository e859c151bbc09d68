"""Rendering: one pure ``request -> result`` function, separate from its scheduling. Qt-free.

:func:`render` turns one frozen request into its result on the calling thread: it looks up the
request's ``KIND`` in :data:`RENDERERS`. A :class:`RenderContext` holds what outlives a request
(an inference model per kind, the exact heatmap cache), one per worker. The scheduling (a thread:
:class:`~flowscope.train.compute.ComputeWorker`; a child process:
:mod:`flowscope.train.compute_process`; generations, priorities, pacing) lives there, and both
call this one function. Tests and scripted mode may call it directly.

The requests: :mod:`.requests` (trajectory, field, target, images), and next to their math
train/lens.py ('lens'), straightness_request.py ('straightness'), steps_curve.py ('steps'),
reflow.py ('reflow') and
diagnostics_compute.py ('diagnostics', 'diagmap').
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from .context import DENSITY_CACHE_SIZE, Abandoned, RenderContext
from .field import exact_density, render_field
from .fields import DataField, PausingField, with_source
from .grids import density_grid, field_grids, grid_points, typical_length
from .images import render_images
from .requests import (
    DENSITY_SOURCES,
    DENSITY_T_QUANTUM,
    DIAGNOSTIC_SOURCES,
    FIELD_SOURCES,
    GUIDE_PARTS,
    FieldRequest,
    FieldResult,
    ImageRequest,
    ImageResult,
    TargetRequest,
    TargetResult,
    TrajectoryRequest,
    TrajectoryResult,
)
from .target import render_target
from .trajectory import (
    LEARNED_CHUNK,
    QUALITY_N,
    QUALITY_SEED,
    QUALITY_SOLVER,
    QUALITY_STEPS,
    particle_classes,
    reference_quality,
    render_trajectory,
)

#: called between the field evaluations of a long request: the scheduler serves more urgent
#: requests there, or raises to abandon this one
Pause = Callable[[], None]
#: renderer(request, context, pause) -> result
Renderer = Callable[[Any, RenderContext, "Pause | None"], Any]


def render_requested(r, ctx: RenderContext, pause: Pause | None = None):
    """The kinds whose request renders itself with the context's models (train/lens.py,
    straightness_request.py, steps_curve.py): ``r.compute(ctx)``; one short pass, no pause."""
    return r.compute(ctx)


def render_diagnostics(r, ctx: RenderContext, pause: Pause | None = None):
    """The Diagnostics panel's numbers (diagnostics_compute.compute_diagnostics); ``pause`` is
    called between its parts."""
    from ..diagnostics_compute import compute_diagnostics

    return compute_diagnostics(r, ctx.model_for(r.snapshot, r.KIND), pause)


def render_diagmap(r, ctx: RenderContext, pause: Pause | None = None):
    """One diagnostic heatmap (diagnostics_compute.compute_map); without a snapshot only the
    exact log-density can be drawn."""
    from ..diagnostics_compute import compute_map

    return compute_map(r, None if r.snapshot is None else ctx.model_for(r.snapshot, r.KIND))


#: every request kind and its renderer (compute_process.PRIORITY names the same kinds)
RENDERERS: dict[str, Renderer] = {
    "trajectory": render_trajectory,
    "field": render_field,
    "target": render_target,
    "images": render_images,
    "lens": render_requested,
    "straightness": render_requested,
    "steps": render_requested,
    "reflow": render_requested,
    "diagnostics": render_diagnostics,
    "diagmap": render_diagmap,
}
#: kinds that differentiate through the model (divergence, likelihood): rendered with autograd on
NEEDS_GRAD = frozenset({"diagnostics", "diagmap"})


def render(request, ctx: RenderContext, pause: Pause | None = None):
    """The result of ``request`` (any kind in :data:`RENDERERS`), computed on the calling thread.

    pause: called before every field evaluation of a trajectory request (and between the parts
    of a diagnostics request). It may render other requests meanwhile (they use their own
    inference model in ``ctx``) or raise to abandon this one."""
    kind = getattr(request, "KIND", None)
    renderer = RENDERERS.get(kind) if isinstance(kind, str) else None
    if renderer is None:
        raise ValueError(
            f"cannot render a {type(request).__name__} (kind {kind!r}); "
            f"the kinds are {sorted(RENDERERS)}"
        )
    if kind in NEEDS_GRAD:
        return renderer(request, ctx, pause)
    with torch.no_grad():
        return renderer(request, ctx, pause)


__all__ = [
    "DENSITY_CACHE_SIZE", "DENSITY_SOURCES", "DENSITY_T_QUANTUM", "DIAGNOSTIC_SOURCES",
    "FIELD_SOURCES", "GUIDE_PARTS", "LEARNED_CHUNK", "NEEDS_GRAD", "QUALITY_N", "QUALITY_SEED",
    "QUALITY_SOLVER", "QUALITY_STEPS", "RENDERERS", "Abandoned", "DataField", "FieldRequest",
    "FieldResult", "ImageRequest", "ImageResult", "Pause", "PausingField", "RenderContext",
    "Renderer", "TargetRequest", "TargetResult", "TrajectoryRequest", "TrajectoryResult",
    "density_grid", "exact_density", "field_grids", "grid_points", "particle_classes",
    "reference_quality", "render", "render_diagmap", "render_diagnostics", "render_field",
    "render_images", "render_requested", "render_target", "render_trajectory", "typical_length",
    "with_source",
]  # fmt: skip
