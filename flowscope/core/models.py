"""Networks: an MLP with Fourier time embedding and an optional label embedding (CFG null label),
and (``arch='unet'``, :mod:`flowscope.core.images.unet`) a small U-Net for images.

The network predicts one of the three parameterizations (MATH.md): velocity u_theta, score
s_theta or noise eps_theta; :mod:`flowscope.core.paths` converts between them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import torch
from torch import nn

from .defaults import DEPTH_2D, WIDTH_2D
from .paths import PARAMETERIZATIONS

ACTIVATIONS = {"silu": nn.SiLU, "gelu": nn.GELU, "relu": nn.ReLU, "tanh": nn.Tanh}
ARCHS = ("mlp", "unet")


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a network; stored inside every checkpoint.

    dim: data dimension D; width, depth: hidden units and hidden layers; activation: one of
    silu, gelu, relu, tanh; parameterization: 'velocity' | 'score' | 'noise';
    num_classes: 0 for an unconditional model, else C (label C is the null label of CFG);
    time_features: number of Fourier features of t (sin and cos pairs).
    arch: 'mlp' (points, or flattened images) or 'unet' (images; needs image_shape);
    image_shape: (C, H, W) for an image model, else None; dim is then always C * H * W;
    channels: base channels of the U-Net (2 * channels at the lower resolutions).
    levels: resolutions of the U-Net (2: H and H/2, the original small U-Net; 3: down to H/4);
    attention: self-attention at the lowest resolution (levels >= 3).
    :func:`flowscope.core.images.unet.unet_size` picks channels, levels and attention from the
    image size.
    """

    dim: int = 2
    width: int = WIDTH_2D
    depth: int = DEPTH_2D
    activation: str = "silu"
    parameterization: str = "velocity"
    num_classes: int = 0
    time_features: int = 16
    label_features: int = 16
    arch: str = "mlp"
    image_shape: tuple[int, int, int] | None = None
    channels: int = 32
    levels: int = 2
    attention: bool = False

    def __post_init__(self):
        if self.image_shape is not None:
            shape = tuple(int(v) for v in self.image_shape)
            if len(shape) != 3 or min(shape) < 1:
                raise ValueError(
                    f"ModelConfig.image_shape must be (C, H, W) of positive ints, got "
                    f"{self.image_shape!r}"
                )
            object.__setattr__(self, "image_shape", shape)
            object.__setattr__(self, "dim", shape[0] * shape[1] * shape[2])
        if self.parameterization not in PARAMETERIZATIONS:
            raise ValueError(
                f"unknown parameterization {self.parameterization!r}; "
                f"use one of {', '.join(PARAMETERIZATIONS)}"
            )
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation {self.activation!r}; use one of {', '.join(ACTIVATIONS)}"
            )
        for name in ("dim", "width", "depth", "time_features"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"ModelConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.num_classes < 0:
            raise ValueError("ModelConfig.num_classes must be >= 0")
        if self.time_features % 2:
            raise ValueError("ModelConfig.time_features must be even (sin/cos pairs)")
        if self.arch not in ARCHS:
            raise ValueError(f"unknown architecture {self.arch!r}; use one of {', '.join(ARCHS)}")
        if self.arch == "unet":
            if self.image_shape is None:
                raise ValueError("a U-Net needs image_shape=(C, H, W); use arch='mlp' for points")
            if int(self.channels) < 4:
                raise ValueError(f"ModelConfig.channels must be >= 4, got {self.channels}")
            if not 2 <= int(self.levels) <= 5:
                raise ValueError(f"ModelConfig.levels must be in 2..5, got {self.levels}")
            if self.attention and int(self.levels) < 3:
                raise ValueError("ModelConfig.attention needs levels >= 3")

    @property
    def conditional(self) -> bool:
        return self.num_classes > 0

    @property
    def is_image(self) -> bool:
        """Whether the model works on images (N, C, H, W) rather than points (N, D)."""
        return self.image_shape is not None

    @property
    def null_label(self) -> int:
        """The label index that means 'no class' (used for CFG's unconditional field)."""
        return self.num_classes

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"model config has unknown fields {sorted(unknown)}")
        return cls(**d)  # image_shape may be a JSON list: __post_init__ makes it a tuple


class FourierTime(nn.Module):
    """t (N,) -> (N, F): [sin(pi 2^k t), cos(pi 2^k t)], k = 0 .. F/2 - 1 (fixed, not learned)."""

    freqs: torch.Tensor  # a buffer

    def __init__(self, features: int):
        super().__init__()
        # from a list, not torch.arange: under torch.device("meta") (checkpoint's shape check
        # before loading) arange goes through torch's decompositions, whose first use imports
        # torch._dynamo: 2 s of the GUI thread when a project is opened
        freqs = torch.tensor([math.pi * 2.0**k for k in range(features // 2)], dtype=torch.float32)
        self.register_buffer("freqs", freqs, persistent=False)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        a = t[:, None] * self.freqs[None, :]
        return torch.cat([torch.sin(a), torch.cos(a)], dim=1)


class FlowMLP(nn.Module):
    """(x (N, D), t (N,), y (N,) long or None) -> (N, D) prediction of the parameterization.

    Image models with arch='mlp' take x (N, C, H, W): it is flattened and the output reshaped."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.time = FourierTime(config.time_features)
        in_features = config.dim + config.time_features + 1
        self.label: nn.Embedding | None
        if config.conditional:
            self.label = nn.Embedding(config.num_classes + 1, config.label_features)
            in_features += config.label_features
        else:
            self.label = None
        act = ACTIVATIONS[config.activation]
        layers: list[nn.Module] = [nn.Linear(in_features, config.width), act()]
        for _ in range(config.depth - 1):
            layers += [nn.Linear(config.width, config.width), act()]
        layers.append(nn.Linear(config.width, config.dim))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None):
        if x.ndim != 2:
            return self.forward(x.flatten(1), t, y).reshape(x.shape)
        feats = [x, t[:, None], self.time(t)]
        if self.label is not None:
            if y is None:
                y = torch.full((x.shape[0],), self.config.null_label, device=x.device)
            feats.append(self.label(y.long()))
        return self.net(torch.cat(feats, dim=1))


def build_model(config: ModelConfig) -> nn.Module:
    """A fresh network for ``config`` (weights from torch's current RNG): FlowMLP or UNet."""
    if config.arch == "unet":
        from .images.unet import DeepUNet, UNet

        return UNet(config) if config.levels == 2 else DeepUNet(config)
    return FlowMLP(config)
