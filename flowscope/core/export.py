"""Export a model's velocity v(x, t[, y]) as a self-contained torch.export (.pt2) or ONNX graph.

The exported function takes x: (N, D) float32 (image models: (N, C, H, W) in the data's
original value range), t: an (N,) float32 tensor or a (1,) tensor (one time for the whole
batch: pass a scalar as ``torch.tensor([t])``) and, for class-conditional
models, y: (N,) int64 (the null label ``num_classes`` means unconditional). It returns u_t(x) in
data coordinates with the flowscope time convention (t = 0 noise, t = 1 data), whatever the
network's parameterization.

ONNX files also carry the conventions in their metadata_props (see :func:`onnx_metadata`):
time_convention, output, dim, num_classes, parameterization (the network's), schedule, kind,
sample_shape, normalization and class_names (JSON), read back by ``core.onnx_field.OnnxField``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import torch
from torch import nn

from .flow_model import FlowModel
from .paths import conversion_time, convert
from .safeio import atomic_write, check_writable_target

FORMATS = ("pt2", "onnx")
#: ONNX weights up to this size stay inside the .onnx file (one self-contained file); larger
#: models keep them in FILE.onnx.data beside it (protobuf caps a file at 2 GB)
ONNX_INLINE_BYTES = 512 * 2**20


class VelocityFunction(nn.Module):
    """nn.Module wrapper: (x, t[, y]) -> velocity in data coordinates."""

    shift: torch.Tensor  # a buffer

    def __init__(self, model: FlowModel):
        super().__init__()
        self.net = model.net.to("cpu").eval()
        self.schedule = model.schedule
        self.parameterization = model.config.parameterization
        self.conditional = model.config.conditional
        self.register_buffer("shift", torch.tensor(model.normalization.shift, dtype=torch.float32))
        self.scale = float(model.normalization.scale)

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None):
        t = t.reshape(-1).to(x.dtype)
        # (1,) -> (N,) and (N,) -> (N,) with one exportable graph (no shape-dependent branch)
        t_len = torch.ones_like(t, dtype=torch.long).sum()  # a tensor, so ONNX can take it
        t = t[torch.remainder(torch.arange(x.shape[0], device=x.device), t_len)]
        xn = (x - self.shift) / self.scale
        # evaluated and converted at one time (score/noise networks: t >= T_MIN_ALPHA)
        t = conversion_time(self.schedule, t, self.parameterization, "velocity")
        out = self.net(xn, t, y if self.conditional else None)
        u = convert(self.schedule, out, xn, t, self.parameterization, "velocity")
        return u * self.scale


def _example(model: FlowModel, n: int = 4):
    x = torch.randn(n, *model.sample_shape)
    t = torch.full((n - 1,), 0.5)  # a different length, so the exporter keeps t's length free
    if model.config.conditional:
        return (x, t, torch.zeros(n, dtype=torch.long))
    return (x, t)


def _weight_bytes(module: nn.Module) -> int:
    return sum(t.numel() * t.element_size() for t in (*module.parameters(), *module.buffers()))


def export_velocity(model: FlowModel, path: str | Path, fmt: str | None = None) -> Path:
    """Write the velocity function to ``path`` as 'pt2' or 'onnx' (guessed from the suffix).

    ONNX is one self-contained file unless the weights exceed ONNX_INLINE_BYTES; then they go to
    ``<path>.data`` beside it (keep the two files together)."""
    out = Path(path).expanduser()
    suffix = out.suffix.lstrip(".").lower()
    fmt = (fmt or suffix).lower()
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; use pt2 or onnx")
    if suffix in FORMATS and suffix != fmt:
        raise ValueError(
            f"the format is {fmt} but {out.name} ends in .{suffix}; name the file "
            f"{out.with_suffix('.' + fmt).name} or choose --format {suffix}"
        )
    check_writable_target(out, "export")
    try:
        return atomic_write(out, lambda tmp: _export(model, tmp, fmt, out))
    except (OSError, RuntimeError) as e:  # torch reports a failed write as a RuntimeError
        raise OSError(f"could not write {out}: {_reason(e)}") from None


#: the time convention written into exported metadata (MATH.md)
TIME_CONVENTION = "t0_noise_t1_data"


def onnx_metadata(model: FlowModel) -> dict[str, str]:
    """The model's conventions as ONNX metadata_props (string values; lists and dicts as JSON)."""
    from .._version import __version__

    return {
        "time_convention": TIME_CONVENTION,
        "output": "velocity",
        "dim": str(model.config.dim),
        "num_classes": str(model.config.num_classes),
        "parameterization": model.config.parameterization,
        "schedule": model.schedule.name,
        "kind": model.kind,
        "sample_shape": json.dumps(list(model.sample_shape)),
        "normalization": json.dumps(model.normalization.to_dict()),
        "class_names": json.dumps(model.class_names),
        "flowscope_version": __version__,
    }


def _add_onnx_metadata(path: Path, props: dict[str, str]) -> None:
    import onnx

    # the graph only: large weights stay in their external .data file, referenced as before
    proto = onnx.load(str(path), load_external_data=False)
    onnx.helper.set_model_props(proto, props)
    onnx.save(proto, str(path))


def _reason(e: BaseException) -> str:
    text = getattr(e, "strerror", None) or str(e) or type(e).__name__
    return text.strip().splitlines()[0][:200]


def _export(model: FlowModel, out: Path, fmt: str, final: Path) -> Path:
    """Write to the temporary path ``out``; ``final`` is where it will be renamed to."""
    fn = VelocityFunction(model).eval()
    args = _example(model)
    batch = torch.export.Dim("batch", min=1)
    t_len = torch.export.Dim("t_len", min=1)
    shapes = [{0: batch}, {0: t_len}] + ([{0: batch}] if len(args) == 3 else [])
    if fmt == "pt2":
        ep = torch.export.export(fn, args, dynamic_shapes=tuple(shapes))
        torch.export.save(ep, str(out))
        return out
    try:
        import onnxscript  # noqa: F401  (the dynamo ONNX exporter needs it)
    except ImportError as e:
        raise ValueError(
            "ONNX export needs the optional packages: pip install 'flowscope[onnx]'"
        ) from e
    names = ["x", "t"] + (["y"] if len(args) == 3 else [])
    quiet = logging.getLogger("torch.onnx")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    external = _weight_bytes(fn) > ONNX_INLINE_BYTES
    # the .onnx names its weights file: write both under the final name in a scratch folder,
    # then put the weights beside the final path and the graph at the temporary one
    scratch = Path(tempfile.mkdtemp(prefix=".onnx-export-", dir=out.parent)) if external else None
    dest = scratch / final.name if scratch is not None else out
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                fn,
                args,
                str(dest),
                input_names=names,
                output_names=["velocity"],
                dynamic_shapes=tuple(shapes),
                dynamo=True,
                verbose=False,
                external_data=external,
            )
        if scratch is not None:
            data = dest.with_name(dest.name + ".data")
            os.replace(data, final.with_name(final.name + ".data"))
            os.replace(dest, out)
    finally:
        quiet.setLevel(level)
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    _add_onnx_metadata(out, onnx_metadata(model))
    return out
