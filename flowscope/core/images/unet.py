"""A small U-Net for image flow matching: (x (N, C, H, W), t (N,), y (N,) or None) -> (N, C, H, W).

Two resolution levels (c channels at H x W, 2c at H/2 x W/2), GroupNorm + SiLU residual blocks,
a time embedding (sinusoidal features of t + an MLP) and, for class-conditional models, a label
embedding with K + 1 rows: row K is the null label of classifier-free guidance. Odd sizes are
padded to even internally and cropped back, so 8x8 digits, 28x28 MNIST and RGB images all work.
Sized for CPUs: with c = 32 a training step on a batch of 128 8x8 digits takes a few tens of ms.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..models import ModelConfig


def _zero_bias(conv: nn.Conv2d) -> None:
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)


def _groups(channels: int) -> int:
    """GroupNorm groups: 8 when they divide the channels, else the largest divisor <= 8."""
    return max(g for g in range(1, 9) if channels % g == 0)


class SinusoidalTime(nn.Module):
    """t (N,) -> (N, 2 K + 1): [t, sin(f_k t), cos(f_k t)] with K = features // 2 geometrically
    spaced frequencies f_k from 1 to 500 rad per unit of t (fixed, not learned)."""

    freqs: torch.Tensor  # a buffer

    def __init__(self, features: int):
        super().__init__()
        half = max(1, features // 2)
        # from a list (see models.FourierTime: linspace on the meta device imports torch._dynamo)
        step = math.log(500.0) / max(1, half - 1)
        freqs = torch.tensor([math.exp(k * step) for k in range(half)], dtype=torch.float32)
        self.register_buffer("freqs", freqs, persistent=False)
        self.out_features = 2 * half + 1

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        a = t[:, None] * self.freqs[None, :]
        return torch.cat([t[:, None], torch.sin(a), torch.cos(a)], dim=1)


class ResBlock(nn.Module):
    """GN -> SiLU -> conv3x3 -> GN, FiLM from the embedding -> SiLU -> conv3x3 (zero init), plus a
    (1x1 conv) skip. x (N, c_in, H, W), emb (N, E) -> (N, c_out, H, W)."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(_groups(c_in), c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, 2 * c_out)
        self.norm2 = nn.GroupNorm(_groups(c_out), c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        _zero_bias(self.conv2)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.emb(emb)[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1.0 + scale) + shift
        return self.skip(x) + self.conv2(F.silu(h))


class UNet(nn.Module):
    """The network of ``ModelConfig(arch='unet', image_shape=(C, H, W), channels=c)``.

    forward(x (N, C, H, W), t (N,), y (N,) long or None) -> (N, C, H, W) prediction of the
    parameterization; y None means the null label (unconditional) for a conditional model.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        if config.image_shape is None:
            raise ValueError("a U-Net needs ModelConfig.image_shape = (C, H, W)")
        self.config = config
        c_img = config.image_shape[0]
        c = config.channels
        emb = 4 * c
        self.time = SinusoidalTime(config.time_features)
        self.time_mlp = nn.Sequential(
            nn.Linear(self.time.out_features, emb), nn.SiLU(), nn.Linear(emb, emb)
        )
        self.label = nn.Embedding(config.num_classes + 1, emb) if config.conditional else None
        self.inp = nn.Conv2d(c_img, c, 3, padding=1)
        self.enc = ResBlock(c, c, emb)
        self.down = nn.Conv2d(c, 2 * c, 3, stride=2, padding=1)
        self.mid1 = ResBlock(2 * c, 2 * c, emb)
        self.mid2 = ResBlock(2 * c, 2 * c, emb)
        self.up = nn.Conv2d(2 * c, c, 3, padding=1)
        self.dec = ResBlock(2 * c, c, emb)
        self.out_norm = nn.GroupNorm(_groups(c), c)
        self.out = nn.Conv2d(c, c_img, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        _zero_bias(self.out)

    def embedding(self, t: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """(N, 4c): SiLU(time MLP(t) + label embedding(y)), y None -> the null label."""
        e = self.time_mlp(self.time(t))
        if self.label is not None:
            if y is None:
                y = torch.full((t.shape[0],), self.config.null_label, device=t.device)
            e = e + self.label(y.long())
        return F.silu(e)

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None):
        h_in, w_in = x.shape[-2:]
        ph, pw = h_in % 2, w_in % 2
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph))
        e = self.embedding(t.to(x.dtype), y)
        h0 = self.enc(self.inp(x), e)
        h = self.mid2(self.mid1(self.down(h0), e), e)
        h = F.interpolate(self.up(h), size=h0.shape[-2:], mode="nearest")  # conv at low res
        h = self.dec(torch.cat([h, h0], dim=1), e)
        out = self.out(F.silu(self.out_norm(h)))
        return out[..., :h_in, :w_in] if (ph or pw) else out


def unet_size(shape: tuple[int, int, int]) -> dict:
    """Channels, levels and attention of the U-Net for images of ``shape`` (C, H, W).

    - up to 16 x 16 (8x8 digits): the small two-level U-Net, 32 channels (CPU-sized);
    - up to 28 x 28 gray (MNIST, Fashion-MNIST): three levels (28 -> 14 -> 7), 32 channels;
    - colour or larger (CIFAR's 32x32x3): three levels (32 -> 16 -> 8), 64 channels and
      self-attention at the lowest resolution; four levels from 64 x 64 on.
    """
    c, h, w = (int(v) for v in shape)
    side = min(h, w)
    if side <= 16:
        return {"channels": 32, "levels": 2, "attention": False}
    if c == 1 and side <= 28:
        return {"channels": 32, "levels": 3, "attention": False}
    return {"channels": 64, "levels": 3 if side < 64 else 4, "attention": True}


class SelfAttention(nn.Module):
    """Multi-head self-attention over the H x W positions, residual, output projection zero-init."""

    def __init__(self, channels: int, head_channels: int = 32):
        super().__init__()
        self.heads = max(1, channels // head_channels)
        self.norm = nn.GroupNorm(_groups(channels), channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj = nn.Conv2d(channels, channels, 1)
        nn.init.zeros_(self.proj.weight)
        _zero_bias(self.proj)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(n, 3, self.heads, c // self.heads, h * w).unbind(1)
        out = F.scaled_dot_product_attention(q.transpose(-1, -2), k.transpose(-1, -2),
                                             v.transpose(-1, -2))  # fmt: skip
        return x + self.proj(out.transpose(-1, -2).reshape(n, c, h, w))


class DeepUNet(nn.Module):
    """The U-Net of ``ModelConfig(levels >= 3)``: channels c, 2c, 2c, ... at H, H/2, H/4, ...,
    one residual block per level on the way down and up, two (with attention between them when
    ``config.attention``) at the lowest resolution. Sides are padded to a multiple of
    2^(levels - 1) and cropped back (28 -> 28, 7 at the bottom; 30 -> 32)."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        if config.image_shape is None:
            raise ValueError("a U-Net needs ModelConfig.image_shape = (C, H, W)")
        self.config = config
        c_img, c, levels = config.image_shape[0], config.channels, config.levels
        emb = 4 * c
        ch = [c] + [2 * c] * (levels - 1)
        self.time = SinusoidalTime(config.time_features)
        self.time_mlp = nn.Sequential(
            nn.Linear(self.time.out_features, emb), nn.SiLU(), nn.Linear(emb, emb)
        )
        self.label = nn.Embedding(config.num_classes + 1, emb) if config.conditional else None
        self.inp = nn.Conv2d(c_img, c, 3, padding=1)
        self.enc = nn.ModuleList()
        self.down = nn.ModuleList()
        prev = c
        for i in range(levels):
            self.enc.append(ResBlock(prev, ch[i], emb))
            prev = ch[i]
            if i < levels - 1:
                self.down.append(nn.Conv2d(prev, prev, 3, stride=2, padding=1))
        self.mid1 = ResBlock(prev, prev, emb)
        self.attn = SelfAttention(prev) if config.attention else nn.Identity()
        self.mid2 = ResBlock(prev, prev, emb)
        self.dec = nn.ModuleList()
        self.up = nn.ModuleList()
        for i in reversed(range(levels)):
            self.dec.append(ResBlock(prev + ch[i], ch[i], emb))
            prev = ch[i]
            if i > 0:
                self.up.append(nn.Conv2d(prev, ch[i - 1], 3, padding=1))
                prev = ch[i - 1]
        self.out_norm = nn.GroupNorm(_groups(c), c)
        self.out = nn.Conv2d(c, c_img, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        _zero_bias(self.out)

    def embedding(self, t: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """(N, 4c): SiLU(time MLP(t) + label embedding(y)), y None -> the null label."""
        e = self.time_mlp(self.time(t))
        if self.label is not None:
            if y is None:
                y = torch.full((t.shape[0],), self.config.null_label, device=t.device)
            e = e + self.label(y.long())
        return F.silu(e)

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None):
        h_in, w_in = x.shape[-2:]
        m = 2 ** (self.config.levels - 1)
        ph, pw = (-h_in) % m, (-w_in) % m
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph))
        e = self.embedding(t.to(x.dtype), y)
        h = self.inp(x)
        skips = []
        for i, block in enumerate(self.enc):
            h = block(h, e)
            skips.append(h)
            if i < len(self.down):
                h = self.down[i](h)
        h = self.mid2(self.attn(self.mid1(h, e)), e)
        for j, block in enumerate(self.dec):
            h = block(torch.cat([h, skips.pop()], dim=1), e)
            if j < len(self.up):
                h = self.up[j](F.interpolate(h, scale_factor=2.0, mode="nearest"))
        out = self.out(F.silu(self.out_norm(h)))
        return out[..., :h_in, :w_in] if (ph or pw) else out
