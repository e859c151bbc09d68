"""Image-mode pictures from a model, shared by the CLI and the GUI (no Qt):

- :func:`guidance_grid`: rows = classes, columns = guidance scales w, every cell started from the
  same fixed noise, so a row shows what w alone changes;
- :func:`trajectory_strip`: one sample's x_t at a few times t from noise (t = 0) to data (t = 1).
"""

from __future__ import annotations

import torch


def guidance_grid(
    model,
    classes: list[int],
    ws: list[float],
    per: int = 1,
    seed: int = 0,
    **opts,
) -> torch.Tensor:
    """(len(classes), len(ws), per, C, H, W) samples in the data's value range.

    The ``per`` starting noises come from ``seed`` and are shared by every cell (and the SDE's
    Brownian increments by every column), so the grid changes only with the class, w, the sampler
    and the weights. ``opts`` go to ``model.sample`` (steps, solver, sigma, sigma_schedule, ...)."""
    if not classes or not ws:
        raise ValueError("guidance_grid needs at least one class and one w")
    per = max(1, int(per))
    g = torch.Generator().manual_seed(int(seed))
    noise = torch.randn((per, *model.sample_shape), generator=g)
    x0 = noise.repeat(len(classes), *([1] * (noise.ndim - 1)))  # class-major
    labels = torch.tensor([int(c) for c in classes]).repeat_interleave(per)
    cols = [
        model.sample(len(labels), x0=x0, y=labels, w=float(w), seed=int(seed), **opts) for w in ws
    ]
    x = torch.stack(cols, dim=1)  # (K * per, len(ws), ...)
    x = x.reshape(len(classes), per, len(ws), *x.shape[2:])
    return x.transpose(1, 2).contiguous()


def grid_rows(cells: torch.Tensor) -> tuple[torch.Tensor, int]:
    """(K, W, per, ...) cells -> ((K * W * per, ...) images in reading order, images per row):
    one row per class; columns w-major, then the samples of one w."""
    k, nw, per = cells.shape[:3]
    return cells.reshape(k * nw * per, *cells.shape[3:]), nw * per


def trajectory_strip(
    model,
    y: int | None = None,
    w: float = 1.0,
    seed: int = 0,
    frames: int = 6,
    **opts,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(times (F,), images (F, C, H, W)): one sample's x_t at ``frames`` evenly spaced saved
    times from t = 0 (its starting noise) to t = 1, in the data's value range (clamped)."""
    traj = model.sample_trajectories(1, y=y, w=float(w), seed=int(seed), **opts)
    assert traj.xs is not None  # sample_trajectories always saves the path
    k = traj.t.shape[0]
    frames = max(2, min(int(frames), k))
    idx = torch.linspace(0, k - 1, frames).round().long()
    return traj.t[idx], traj.xs[idx, 0]
