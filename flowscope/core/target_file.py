"""The target a model was trained on, kept beside it: ``target.safetensors`` in the model directory.

The mixture p_data(z) = sum_i pi_i N(z; mu_i, h_i^2 I) in data coordinates (means (K, D), weights
(K,), widths (K,), optional labels (K,)) is written as safetensors tensors (never pickled), so the
exact oracle of a saved model needs no ``--data`` (``flowscope diagnose``). The schedule is the
model's (model.json), not stored here.
"""

from __future__ import annotations

import contextlib
import json
import struct
from pathlib import Path

import torch

from .checkpoint import META_FILE, CheckpointError
from .exact import ExactMarginal
from .safeio import SafeIOError, atomic_write, read_regular_file

TARGET_FILE = "target.safetensors"
#: the source mixture of a data-to-data bridge model (x_0 ~ source instead of N(0, I))
SOURCE_FILE = "source.safetensors"
TARGET_FORMAT = "flowscope-target"
TARGET_FORMAT_VERSION = 1
#: largest target file read (a million 2D components take ~40 MB)
MAX_TARGET_BYTES = 256 * 1024 * 1024


def _directory(path: str | Path) -> Path:
    p = Path(path).expanduser()
    return p if p.is_dir() else p.parent


def _model_save_id(d: Path) -> str | None:
    try:
        meta = json.loads((d / META_FILE).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    sid = meta.get("save_id") if isinstance(meta, dict) else None
    return sid if isinstance(sid, str) else None


def save_target(
    directory: str | Path, exact: ExactMarginal | None, name: str = "", file: str = TARGET_FILE
) -> Path | None:
    """Write ``exact``'s mixture to ``directory/target.safetensors`` (atomically: a temporary
    file, fsync, rename), tagged with the ``save_id`` of the model.json beside it, so a target
    left from an earlier save (a kill between the two writes) is never taken for this model's.
    With ``exact=None`` an existing target file is removed. Returns the file (or None).
    ``file=SOURCE_FILE`` keeps a bridge model's source mixture the same way."""
    from safetensors.torch import save

    d = Path(directory).expanduser()
    out = d / file
    if exact is None:
        with contextlib.suppress(FileNotFoundError):
            out.unlink()
        return None
    tensors = {
        "means": exact.means.to(torch.float64).contiguous(),
        "weights": exact.weights.to(torch.float64).contiguous(),
        "widths": exact.widths.to(torch.float64).contiguous(),
    }
    if exact.labels is not None:
        tensors["labels"] = exact.labels.to(torch.int64).contiguous()
    meta = {
        "format": TARGET_FORMAT,
        "format_version": str(TARGET_FORMAT_VERSION),
        "name": str(name),
        "coordinates": "data",
        "save_id": _model_save_id(d) or "",
    }
    d.mkdir(parents=True, exist_ok=True)
    return atomic_write(out, save(tensors, metadata=meta))


def has_target(path: str | Path) -> bool:
    """Whether the model directory (or its model.json) has a target file."""
    return (_directory(path) / TARGET_FILE).is_file()


def _metadata(raw: bytes) -> dict:
    n = struct.unpack("<Q", raw[:8])[0] if len(raw) >= 8 else 0
    if not 0 < n <= len(raw) - 8:
        raise ValueError("not a safetensors file")
    header = json.loads(raw[8 : 8 + n])
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    return meta if isinstance(meta, dict) else {}


def read_target(
    path: str | Path, schedule="condot", save_id: str | None = None, file: str = TARGET_FILE
):
    """The mixture kept in a model directory (or beside its model.json) under ``schedule``, an
    ExactMarginal; None when the directory keeps none (models saved before targets were kept,
    image models) or when the file belongs to another save than ``save_id`` (model.json's).
    Raises CheckpointError for a file that is not a flowscope target."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    f = _directory(path) / file
    if not f.exists():
        return None
    try:
        raw = read_regular_file(f, MAX_TARGET_BYTES, "target file")
        meta = _metadata(raw)
        tensors = load(raw)
    except (SafetensorError, SafeIOError, OSError, ValueError, UnicodeDecodeError) as e:
        raise CheckpointError(
            f"{f.name} could not be read ({e}); delete it and give the target with --data"
        ) from e
    if meta.get("format") != TARGET_FORMAT:
        raise CheckpointError(f"{f} is not a flowscope target file")
    if int(meta.get("format_version", "0")) > TARGET_FORMAT_VERSION:
        raise CheckpointError(f"{f} was written by a newer flowscope; upgrade flowscope")
    if save_id and meta.get("save_id") and meta["save_id"] != save_id:
        return None  # left from an earlier save of another model
    missing = {"means", "weights", "widths"} - set(tensors)
    if missing:
        raise CheckpointError(f"{f} lacks {', '.join(sorted(missing))}; it is damaged")
    try:
        return ExactMarginal(
            tensors["means"],
            tensors["weights"],
            tensors["widths"],
            tensors.get("labels"),
            schedule=schedule,
        )
    except ValueError as e:
        raise CheckpointError(f"{f} holds an invalid mixture ({e})") from e
