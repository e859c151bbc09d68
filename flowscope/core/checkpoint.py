"""Model directories: ``model.safetensors`` (weights) + ``model.json`` (everything else).

Loading never unpickles: a pickle / torch.save file given as a model is refused with a clear
message before any of it is interpreted.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import torch

FORMAT = "flowscope-model"
FORMAT_VERSION = 1
TIME_CONVENTION = "t=0 noise, t=1 data"
WEIGHTS_FILE = "model.safetensors"
META_FILE = "model.json"


class CheckpointError(ValueError):
    """A model file or directory that flowscope cannot (or will not) load."""


def _resolve(path: str | Path) -> tuple[Path, Path]:
    p = Path(path).expanduser()
    if not p.exists():
        raise CheckpointError(f"model not found: {p} (give a model directory or its model.json)")
    if p.is_dir():
        d = p
    elif p.suffix in (".json", ".safetensors"):
        d = p.parent
    else:
        _refuse_if_pickle(p)
        raise CheckpointError(
            f"{p.name} is not a flowscope model: give the directory holding "
            f"{META_FILE} and {WEIGHTS_FILE}"
        )
    meta, weights = d / META_FILE, d / WEIGHTS_FILE
    for f in (meta, weights):
        if not f.exists():
            # maybe the user pointed at a pickle named like a model
            if p.is_file():
                _refuse_if_pickle(p)
            raise CheckpointError(f"{d} is not a flowscope model directory: {f.name} is missing")
    return meta, weights


def _refuse_if_pickle(path: Path) -> None:
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head[:1] == b"\x80" or head[:2] == b"PK":
        raise CheckpointError(
            f"{path.name} looks like a pickle or torch.save file. flowscope never unpickles "
            "files (that can run arbitrary code). Load it yourself if you trust it and save the "
            "weights with safetensors, or train a model with `flowscope train`."
        )


def _check_safetensors(path: Path) -> None:
    """Refuse anything that is not a safetensors file (8-byte length + JSON header).

    The structure is checked first: a real safetensors length may well begin with byte 0x80,
    so the pickle test only chooses the wording of the refusal."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        raw = fh.read(8)
        n = struct.unpack("<Q", raw)[0] if len(raw) == 8 else 0
        first = fh.read(1)
    if 0 < n <= size - 8 and first == b"{":
        return
    _refuse_if_pickle(path)
    if len(raw) < 8:
        raise CheckpointError(f"{path.name} is truncated; re-export the model")
    raise CheckpointError(f"{path.name} is not a safetensors file; re-export the model")


def save_checkpoint(directory: str | Path, state_dict: dict, metadata: dict) -> Path:
    """Write weights and metadata into ``directory`` (created if needed); returns it."""
    from safetensors.torch import save_file

    d = Path(directory).expanduser()
    d.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state_dict.items()}
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, **metadata}
    meta["time_convention"] = TIME_CONVENTION
    tmp_w, tmp_m = d / (WEIGHTS_FILE + ".tmp"), d / (META_FILE + ".tmp")
    save_file(tensors, str(tmp_w), metadata={"format": FORMAT})
    tmp_m.write_text(json.dumps(meta, indent=2, sort_keys=False) + "\n")
    tmp_w.replace(d / WEIGHTS_FILE)
    tmp_m.replace(d / META_FILE)
    return d


def read_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """(state_dict on the CPU, metadata dict) from a model directory, json or safetensors path."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    meta_path, weights_path = _resolve(path)
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{meta_path} is not readable JSON ({e}); re-export the model") from e
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{meta_path} is not a flowscope model description")
    if int(meta.get("format_version", 0)) > FORMAT_VERSION:
        raise CheckpointError(
            f"{meta_path} was written by a newer flowscope (format {meta.get('format_version')}); "
            "upgrade flowscope to load it"
        )
    _check_safetensors(weights_path)
    try:
        state = load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{weights_path.name} could not be read ({e})") from e
    return state, meta
