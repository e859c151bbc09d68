"""Pick a torch device: 'auto' prefers CUDA, then Apple MPS, then the CPU."""

from __future__ import annotations

import torch


def available_devices() -> list[str]:
    """Device names that work on this machine, best first (always ends with 'cpu')."""
    out = []
    if torch.cuda.is_available():
        out.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        out.append("mps")
    out.append("cpu")
    return out


def pick_device(requested: str | torch.device | None = "auto") -> tuple[torch.device, str]:
    """(device, message). Asking for an unavailable device falls back to the best available one
    and says so in the message (empty when the request was met as asked)."""
    avail = available_devices()
    req = "auto" if requested is None else str(requested).lower()
    if req == "auto":
        return torch.device(avail[0]), ""
    kind = req.split(":")[0]
    if kind not in ("cpu", "cuda", "mps"):
        raise ValueError(f"unknown device {requested!r}; use auto, cpu, cuda or mps")
    if kind in avail:
        return torch.device(req), ""
    fallback = avail[0]
    return torch.device(fallback), f"{req} is not available on this machine; using {fallback}"
