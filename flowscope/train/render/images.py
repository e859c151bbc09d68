"""Image requests: the class x w grid of samples from fixed seeds and one sample's trajectory
strip. Qt-free."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .context import RenderContext
from .requests import ImageRequest, ImageResult


def render_images(
    r: ImageRequest, ctx: RenderContext, pause: Callable[[], None] | None = None
) -> ImageResult:
    """Cells (rows, len(ws), per, C, H, W) and the strip (F, C, H, W) of ``r.snapshot``'s
    model, in the data's value range (``pause`` is not called)."""
    from ...core.images.grid import guidance_grid, trajectory_strip

    t0 = time.perf_counter()
    model = ctx.model_for(r.snapshot, slot="images")
    opts: dict[str, Any] = dict(
        steps=r.steps, solver=r.solver, sigma=r.sigma, sigma_schedule=r.sigma_schedule
    )
    if r.classes and model.config.conditional:
        cells = guidance_grid(model, list(r.classes), list(r.ws), r.per, r.seed, **opts)
        sy = r.strip_y
    else:  # unconditional: one row, w means nothing
        x = model.sample(max(1, r.per * len(r.ws)), seed=r.seed, **opts)
        cells = x.reshape(1, 1, *x.shape)
        sy = None
    ts, strip = trajectory_strip(model, sy, r.strip_w, r.seed + 1, r.strip_frames, **opts)
    return ImageResult(
        r.generation, r.snapshot.step, cells.float().numpy(), ts.float().numpy(),
        strip.float().numpy(), model.normalization.value_range, time.perf_counter() - t0,
    )  # fmt: skip
