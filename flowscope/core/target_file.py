"""The target a model was trained on, kept beside it: ``target.safetensors`` in the model directory.

The mixture p_data(z) = sum_i pi_i N(z; mu_i, h_i^2 I) in data coordinates (means (K, D), weights
(K,), widths (K,), optional labels (K,)) is written as safetensors tensors (never pickled), so the
exact oracle of a saved model needs no ``--data`` (``flowscope diagnose``). The schedule is the
model's (model.json), not stored here.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import torch

from .checkpoint import CheckpointError
from .exact import ExactMarginal

TARGET_FILE = "target.safetensors"
TARGET_FORMAT = "flowscope-target"
TARGET_FORMAT_VERSION = 1


def _directory(path: str | Path) -> Path:
    p = Path(path).expanduser()
    return p if p.is_dir() else p.parent


def save_target(directory: str | Path, exact: ExactMarginal | None, name: str = "") -> Path | None:
    """Write ``exact``'s mixture to ``directory/target.safetensors`` (atomically: a temporary
    file, then a rename). With ``exact=None`` an existing target file is removed, so a model
    saved over another one never keeps the old model's target. Returns the file (or None)."""
    from safetensors.torch import save_file

    d = Path(directory).expanduser()
    out = d / TARGET_FILE
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
    }
    d.mkdir(parents=True, exist_ok=True)
    tmp = d / f".{TARGET_FILE}.{os.getpid()}.tmp"
    try:
        save_file(tensors, str(tmp), metadata=meta)
        tmp.replace(out)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return out


def has_target(path: str | Path) -> bool:
    """Whether the model directory (or its model.json) keeps its training target."""
    return (_directory(path) / TARGET_FILE).is_file()


def read_target(path: str | Path, schedule="condot") -> ExactMarginal | None:
    """The mixture kept in a model directory (or beside its model.json) under ``schedule``;
    None when the directory keeps none (models saved before targets were kept, image models).
    Raises CheckpointError for a file that is not a flowscope target."""
    from safetensors import SafetensorError, safe_open

    f = _directory(path) / TARGET_FILE
    if not f.is_file():
        return None
    try:
        with safe_open(str(f), framework="pt") as fh:
            meta = fh.metadata() or {}
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(
            f"{f.name} could not be read ({e}); delete it and give the target with --data"
        ) from e
    if meta.get("format") != TARGET_FORMAT:
        raise CheckpointError(f"{f} is not a flowscope target file")
    if int(meta.get("format_version", "0")) > TARGET_FORMAT_VERSION:
        raise CheckpointError(f"{f} was written by a newer flowscope; upgrade flowscope")
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
