"""Image mode's parameters as one evented object (no Qt, no tensors): the dataset, training and
the sampler that draws the class x w grid."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from ..core.samplers import parse_guidance_scales
from .app_state import Evented

#: the one guidance-scale list parser (GUI and CLI share it)
parse_ws = parse_guidance_scales


@dataclass(eq=False)
class ImageState(Evented):
    """Everything the user sets in image mode. Time convention: t = 0 noise, t = 1 data."""

    dataset: str = "digits"  # 'digits', a folder, an .npz file or an IDX file
    size: int = 0  # resize to size x size (0: keep the dataset's size)
    color: str = "auto"  # auto (as stored) | grayscale | rgb
    # sampling (the grid is regenerated from fixed seeds when any of these change)
    ws: str = "0, 1, 3, 5"  # the grid's columns
    per_cell: int = 1
    steps: int = 20
    solver: str = "heun"
    sde: bool = False
    sigma: float = 0.5
    sigma_schedule: str = "linear"
    seed: int = 0
    strip_label: int = 0  # the class of the trajectory strip (-1: unconditional)
    strip_w: float = 3.0
    # training
    objective: str = "velocity"
    schedule: str = "condot"
    channels: int = 32
    batch_size: int = 128
    lr: float = 2e-3
    ema: bool = True
    device: str = "auto"
    label_dropout: float = 0.1
    _listeners: list = field(default_factory=list, repr=False)

    RANGES: ClassVar[dict[str, tuple[float, float]]] = {
        "size": (0, 1024),
        "per_cell": (1, 64),
        "steps": (1, 1000),
        "sigma": (0.0, 10.0),
        "seed": (0, 2**31 - 1),
        "strip_label": (-1, 1000),
        "strip_w": (-20.0, 20.0),
        "channels": (4, 512),
        "batch_size": (1, 65_536),
        "lr": (1e-8, 1.0),
        "label_dropout": (0.0, 1.0),
    }

    def __post_init__(self):
        super().__post_init__()

    def grid_ws(self) -> tuple[float, ...]:
        return parse_ws(self.ws)
