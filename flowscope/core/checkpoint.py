"""Model directories: ``model.safetensors`` (weights) + ``model.json`` (everything else).

Loading never unpickles: a pickle / torch.save file given as a model is refused with a clear
message before any of it is interpreted.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
import shutil
import stat
import struct
from pathlib import Path

import torch

from .safeio import SafeIOError, fsync_dir, read_regular_file, remove_stale_temps, temp_path

FORMAT = "flowscope-model"
FORMAT_VERSION = 1
TIME_CONVENTION = "t=0 noise, t=1 data"
WEIGHTS_FILE = "model.safetensors"
META_FILE = "model.json"
#: the previous weights, kept while a save replaces the pair (see :func:`save_checkpoint`)
PREV_WEIGHTS_FILE = ".model.prev.safetensors"
MAX_META_BYTES = 16 * 1024 * 1024
MAX_HEADER_BYTES = 100 * 1024 * 1024


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
    if not path.is_file():  # a FIFO would block the read below; a device never ends
        raise CheckpointError(f"{path} is not a regular file; give a model directory")
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head[:1] == b"\x80" or head[:2] == b"PK":
        raise CheckpointError(
            f"{path.name} looks like a pickle or torch.save file. flowscope never unpickles "
            "files (that can run arbitrary code). Load it yourself if you trust it and save the "
            "weights with safetensors, or train a model with `flowscope train`."
        )


def _read_header(path: Path) -> dict:
    """The safetensors JSON header (tensor names -> dtype, shape, offsets; ``__metadata__``),
    read without loading any tensor. Refuses anything that is not a safetensors file."""
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise CheckpointError(f"{path} is not a regular file; re-export the model")
    size = st.st_size
    with open(path, "rb") as fh:
        raw = fh.read(8)
        n = struct.unpack("<Q", raw)[0] if len(raw) == 8 else 0
        first = fh.read(1)
        ok = 0 < n <= min(size - 8, MAX_HEADER_BYTES) and first == b"{"
        body = first + fh.read(n - 1) if ok else b""
    if not ok:
        # The structure is checked first: a real safetensors length may well begin with byte
        # 0x80, so the pickle test only chooses the wording of the refusal.
        _refuse_if_pickle(path)
        if len(raw) < 8:
            raise CheckpointError(f"{path.name} is truncated; re-export the model")
        raise CheckpointError(f"{path.name} is not a safetensors file; re-export the model")
    try:
        header = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise CheckpointError(f"{path.name} has a damaged header ({e}); re-export the model") from e
    if not isinstance(header, dict):
        raise CheckpointError(f"{path.name} has a damaged header; re-export the model")
    return header


def _check_safetensors(path: Path) -> None:
    """Refuse anything that is not a safetensors file (8-byte length + JSON header)."""
    _read_header(path)


def _header_shapes(header: dict) -> dict[str, tuple[int, ...]]:
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        shape = v.get("shape") if isinstance(v, dict) else None
        if not isinstance(shape, list) or not all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape
        ):
            raise CheckpointError(f"the weights' header is damaged at {k!r}; re-export the model")
        out[k] = tuple(shape)
    return out


def _save_id(header: dict) -> str | None:
    m = header.get("__metadata__")
    return m.get("save_id") if isinstance(m, dict) else None


_INIT_FUNCTIONS = ("normal_", "uniform_", "kaiming_uniform_", "kaiming_normal_", "xavier_uniform_",
                   "xavier_normal_", "trunc_normal_", "zeros_", "ones_", "constant_")  # fmt: skip


@contextlib.contextmanager
def _no_init():
    """Skip the random initialization of modules built on the meta device: there it goes
    through torch's decompositions, whose first use imports torch._dynamo (2-3 s of the GUI
    thread on File > Open); only the shapes are needed."""
    saved = {name: getattr(torch.nn.init, name) for name in _INIT_FUNCTIONS}
    try:
        for name in _INIT_FUNCTIONS:
            setattr(torch.nn.init, name, lambda tensor, *a, **k: tensor)
        yield
    finally:
        for name, fn in saved.items():
            setattr(torch.nn.init, name, fn)


def check_config_against_weights(meta: dict, header: dict) -> None:
    """Refuse a model.json whose network would not match the weights' tensor shapes, before
    any network is built (a config asking for width 25000 or depth 10^6 allocates nothing)."""
    cfg_dict = meta.get("model_config")
    if cfg_dict is None:
        return
    from .models import ModelConfig, build_model

    try:
        if not isinstance(cfg_dict, dict):
            raise TypeError("model_config must be an object")
        config = ModelConfig.from_dict(cfg_dict)
    except (TypeError, ValueError, OverflowError) as e:
        raise CheckpointError(f"model.json has an invalid model_config ({e}); re-export it") from e
    shapes = _header_shapes(header)
    if config.arch == "mlp":  # depth + 1 linear layers (weight, bias) and a label embedding
        expected = 2 * (int(config.depth) + 1) + (1 if config.conditional else 0)
        if expected != len(shapes):
            raise CheckpointError(
                f"the weights do not match model.json: it describes {expected} tensors "
                f"(depth {config.depth}), the weights hold {len(shapes)}; re-export the model"
            )
    try:
        with torch.device("meta"), _no_init():  # shapes only: nothing is allocated
            net = build_model(config)
    except (RuntimeError, ValueError, TypeError, OverflowError) as e:
        raise CheckpointError(f"model.json describes a network that cannot be built ({e})") from e
    want = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    if want != shapes:
        bad = sorted(set(want) ^ set(shapes)) or [
            k for k in want if want[k] != shapes.get(k)
        ]
        k = bad[0]
        raise CheckpointError(
            f"the weights do not match model.json (tensor {k}: model.json needs "
            f"{want.get(k)}, the weights hold {shapes.get(k)}); re-export the model"
        )


def _check_finite_metadata(meta: dict, where: Path) -> None:
    norm = meta.get("normalization")
    if norm is None:
        return
    try:
        vals = [float(v) for v in norm["shift"]] + [float(norm["scale"])]
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{where}: the normalization is damaged ({e})") from e
    if not all(math.isfinite(v) for v in vals) or float(norm["scale"]) <= 0:
        raise CheckpointError(
            f"{where}: the normalization holds NaN, Inf or a scale <= 0; re-export the model"
        )


def save_checkpoint(directory: str | Path, state_dict: dict, metadata: dict) -> Path:
    """Write weights and metadata into ``directory`` (created if needed); returns it.

    A kill or a full disk at any moment leaves a loadable model: both files are written to
    temporary names and fsynced first; the old weights stay as ``.model.prev.safetensors``
    (a hard link) until both renames are done, and both files carry the same ``save_id``, so
    :func:`read_checkpoint` falls back to the previous weights while model.json is still the
    old one. Temporary files of an earlier killed save are removed."""
    from safetensors.torch import save

    d = Path(directory).expanduser()
    d.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(d)
    _repair(d)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state_dict.items()}
    save_id = secrets.token_hex(8)
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, **metadata, "save_id": save_id}
    meta["time_convention"] = TIME_CONVENTION
    weights, meta_file, prev = d / WEIGHTS_FILE, d / META_FILE, d / PREV_WEIGHTS_FILE
    tmp_w, tmp_m = temp_path(weights), temp_path(meta_file)
    try:
        # bytes written here rather than safetensors' save_file, whose own temporary file
        # (.tmpXXXX) a kill would leave behind
        blob = save(tensors, metadata={"format": FORMAT, "save_id": save_id})
        tmp_w.write_bytes(blob)
        del blob
        tmp_m.write_text(json.dumps(meta, indent=2, sort_keys=False) + "\n")
        for f in (tmp_w, tmp_m):
            fd = os.open(f, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        if weights.is_file():
            with contextlib.suppress(FileNotFoundError):
                prev.unlink()
            try:
                os.link(weights, prev)
            except OSError:  # no hard links here (FAT, some network folders): a copy
                shutil.copyfile(weights, prev)
            fsync_dir(d)
        os.replace(tmp_w, weights)
        os.replace(tmp_m, meta_file)
        fsync_dir(d)
    except BaseException:
        for f in (tmp_w, tmp_m):
            with contextlib.suppress(OSError):
                f.unlink()
        raise
    with contextlib.suppress(OSError):
        prev.unlink()
    return d


def _repair(d: Path) -> None:
    """Before a save: when a killed save left model.json with the previous weights (kept as
    PREV_WEIGHTS_FILE), put those back, so that the pair is consistent again and the save's own
    copy of the previous weights is the right one."""
    prev, weights = d / PREV_WEIGHTS_FILE, d / WEIGHTS_FILE
    if not prev.is_file():
        return
    try:
        want = _read_meta(d / META_FILE).get("save_id")
        if (
            want is not None
            and (not weights.is_file() or _save_id(_read_header(weights)) != want)
            and _save_id(_read_header(prev)) == want
        ):
            os.replace(prev, weights)
            fsync_dir(d)
    except (CheckpointError, OSError):
        pass  # nothing consistent to restore: the save below writes a fresh pair


def _read_meta(meta_path: Path) -> dict:
    try:
        raw = read_regular_file(meta_path, MAX_META_BYTES, "model.json")
        meta = json.loads(raw)
    except SafeIOError as e:
        raise CheckpointError(str(e)) from e
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValueError, RecursionError) as e:
        raise CheckpointError(f"{meta_path} is not readable JSON ({e}); re-export the model") from e
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{meta_path} is not a flowscope model description")
    version = meta.get("format_version", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise CheckpointError(f"{meta_path}: format_version must be an integer")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{meta_path} was written by a newer flowscope (format {version}); "
            "upgrade flowscope to load it"
        )
    return meta


def read_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """(state_dict on the CPU, metadata dict) from a model directory, json or safetensors path.

    Everything is checked before tensors are loaded or a network is built: model.json is a
    regular file of bounded size, the weights are a safetensors file, and the shapes model.json
    implies match the weights' header. Weights holding NaN or Inf are refused."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    meta_path, weights_path = _resolve(path)
    meta = _read_meta(meta_path)
    header = _read_header(weights_path)
    want_id = meta.get("save_id")
    if want_id is not None and _save_id(header) != want_id:
        # killed between the two renames of a save: model.json is still the previous one,
        # whose weights were kept beside it
        prev = weights_path.parent / PREV_WEIGHTS_FILE
        prev_header = _read_header(prev) if prev.is_file() else None
        if prev_header is None or _save_id(prev_header) != want_id:
            raise CheckpointError(
                f"{weights_path.parent}: the weights do not belong to model.json (an "
                "interrupted save?); re-export the model"
            )
        weights_path, header = prev, prev_header
    _check_finite_metadata(meta, meta_path)
    check_config_against_weights(meta, header)
    try:
        state = load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{weights_path.name} could not be read ({e})") from e
    for k, v in state.items():
        if v.is_floating_point() and not bool(torch.isfinite(v).all()):
            raise CheckpointError(
                f"{weights_path.name}: tensor {k} holds NaN or Inf (training diverged?); "
                "retrain or re-export the model"
            )
    return state, meta
