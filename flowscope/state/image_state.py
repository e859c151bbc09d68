"""Image mode's parameters as one evented object (no Qt, no tensors): the dataset, training and
the sampler that draws the class x w grid. The sampler and training fields are the 2D mode's
(:class:`SamplerParams`, :class:`TrainingParams`): same types, bounds, ranges and labels."""

from __future__ import annotations

from dataclasses import dataclass

from ..core.images import COLOR_MODES
from ..core.samplers import W_RANGE, parse_guidance_scales
from .app_state import SamplerParams, TrainingParams, param, with_default

#: the one guidance-scale list parser (core; the GUI's field, this state and the CLI's --grid-w)
parse_ws = parse_guidance_scales


@dataclass(eq=False)
class ImageState(SamplerParams, TrainingParams):
    """Everything the user sets in image mode. Time convention: t = 0 noise, t = 1 data."""

    dataset: str = param("digits", label="dataset")  # 'digits', a folder, .npz or IDX files
    size: int = param(0, bounds=(0, 1024), control=(0, 64), label="size")  # 0: as stored
    color: str = param("auto", choices=COLOR_MODES, label="color")  # auto: as stored
    # sampling (the grid is regenerated from fixed seeds when any of these change)
    ws: str = param("0, 1, 3, 5", label="w columns", check=parse_ws)  # the grid's columns
    per_cell: int = param(1, bounds=(1, 64), control=(1, 6), label="per cell")
    steps: int = with_default(SamplerParams, "steps", 20)
    sde: bool = param(False, label="sampler")
    sigma: float = with_default(SamplerParams, "sigma", 0.5)
    sigma_schedule: str = with_default(SamplerParams, "sigma_schedule", "linear")
    strip_label: int = param(0, bounds=(-1, 1000), label="strip class")  # -1: unconditional
    strip_w: float = param(3.0, bounds=(-20.0, 20.0), control=W_RANGE, label="w")
    # training: the U-Net's width; batch and lr start smaller than the 2D MLP's
    channels: int = param(32, bounds=(4, 512), control=(8, 128), label="U-Net channels")
    batch_size: int = with_default(TrainingParams, "batch_size", 128, control=(8, 2048))
    lr: float = with_default(TrainingParams, "lr", 2e-3)
    ema: bool = param(True, label="EMA")

    def grid_ws(self) -> tuple[float, ...]:
        return parse_ws(self.ws)
