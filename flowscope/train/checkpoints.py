"""Training checkpoints: save every N steps, resume after a stop, with the same result.

``OUT/checkpoints/step-00000100/`` is a flowscope model directory (model.json + model.safetensors:
the EMA weights when EMA is on, what ``flowscope.load``, the desktop and "follow a training run"
open) plus the state training needs to continue exactly where it stopped:

- ``train_state.safetensors``: the raw (non-EMA) weights ``net.*``, the EMA ``ema.*``, the
  optimizer's tensors ``opt.<param index>.<name>`` and the random generators' states ``rng.*``;
- ``train_state.json``: the step, the loss history, the optimizer's parameter groups, the model
  and training configs (a resume with other settings is refused).

No pickle: tensors go through safetensors, everything else through JSON. A checkpoint is written
into a hidden temporary folder and renamed into place, so a kill leaves either the whole
checkpoint or none; the newest ``keep`` are kept.

Resuming restores the weights, the optimizer, the EMA, the step and the batch generator: on the
same device and thread count the weights after resuming equal an uninterrupted run's (tested
bitwise on the CPU). In a distributed run every rank's generator is re-seeded from (seed, rank,
step) instead, since rank 0 writes the checkpoint alone.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import torch

STATE_JSON = "train_state.json"
STATE_TENSORS = "train_state.safetensors"
STEP_DIR = re.compile(r"^step-(\d{8})$")
#: TrainConfig fields that must match to resume (others, like steps, may change)
MUST_MATCH = ("batch_size", "lr", "lr_schedule", "warmup_steps", "weight_decay", "schedule",
              "seed", "label_dropout", "ema_decay", "score_weighting", "coupling")  # fmt: skip
FORMAT = "flowscope-train-state"


class ResumeError(ValueError):
    """The checkpoint cannot continue this run (a message for the user)."""


def checkpoint_dir(out: str | Path) -> Path:
    return Path(out).expanduser() / "checkpoints"


def list_checkpoints(folder: str | Path) -> list[tuple[int, Path]]:
    """(step, path) of the complete checkpoints in ``folder`` (a run's OUT, its checkpoints/
    folder, or any folder holding step-* folders), oldest first."""
    folder = Path(folder).expanduser()
    if (folder / "checkpoints").is_dir():
        folder = folder / "checkpoints"
    found = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return []
    for p in entries:
        m = STEP_DIR.match(p.name)
        if m and (p / STATE_JSON).is_file() and (p / "model.json").is_file():
            found.append((int(m.group(1)), p))
    return sorted(found)


def latest_checkpoint(folder: str | Path) -> Path | None:
    found = list_checkpoints(folder)
    return found[-1][1] if found else None


def save_training_checkpoint(trainer, out: str | Path, keep: int = 3,
                             extra: dict | None = None) -> Path:  # fmt: skip
    """Write ``OUT/checkpoints/step-<N>/`` for ``trainer``'s current step; returns its path."""
    from safetensors.torch import save_file

    root = checkpoint_dir(out)
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{trainer.step_count:08d}"
    tmp = root / f".{final.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    model = trainer.model()
    model.save(tmp, extra)
    tensors, groups = _state_tensors(trainer)
    save_file(tensors, str(tmp / STATE_TENSORS))
    h = trainer.history
    meta = {
        "format": FORMAT,
        "step": trainer.step_count,
        "history": {"steps": h.steps, "losses": h.losses, "bin_sum": h.bin_sum,
                    "bin_count": h.bin_count},  # fmt: skip
        "param_groups": groups,
        "model_config": trainer.model_config.to_dict(),
        "train_config": {k: getattr(trainer.config, k) for k in MUST_MATCH},
        "first_batch_sum": trainer.first_batch_sum,
    }
    (tmp / STATE_JSON).write_text(json.dumps(meta))
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    for _, old in list_checkpoints(root)[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _state_tensors(trainer) -> tuple[dict[str, torch.Tensor], list[dict]]:
    t: dict[str, torch.Tensor] = {}
    for k, v in trainer.net.state_dict().items():
        t[f"net.{k}"] = v.detach().cpu().contiguous()
    if trainer.ema is not None:
        for k, v in trainer.ema.state_dict().items():
            t[f"ema.{k}"] = v.detach().cpu().contiguous()
    opt = trainer.optimizer.state_dict()
    for idx, st in opt["state"].items():
        for name, v in st.items():
            t[f"opt.{idx}.{name}"] = torch.as_tensor(v).detach().cpu().contiguous()
    t["rng.generator"] = trainer.generator.get_state().cpu()
    t["rng.torch"] = torch.get_rng_state()
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()}
              for g in opt["param_groups"]]  # fmt: skip
    return t, groups


def resume_training(trainer, checkpoint: str | Path) -> int:
    """Continue ``trainer`` (built with the same settings) from ``checkpoint``; returns the step.
    Raises ResumeError when the checkpoint does not fit this run."""
    from safetensors.torch import load_file

    ck = Path(checkpoint)
    try:
        meta = json.loads((ck / STATE_JSON).read_text())
        tensors = load_file(str(ck / STATE_TENSORS))
    except (OSError, ValueError) as e:
        raise ResumeError(f"{ck} is not a complete training checkpoint ({e})") from None
    if meta.get("format") != FORMAT:
        raise ResumeError(f"{ck / STATE_JSON} is not a flowscope training state")
    if meta["model_config"] != json.loads(json.dumps(trainer.model_config.to_dict())):
        raise ResumeError(f"{ck.name} was trained with another model configuration "
                          f"({meta['model_config']}); resume with the same settings")  # fmt: skip
    for k in MUST_MATCH:
        old, new = meta["train_config"].get(k), getattr(trainer.config, k)
        if old != new:
            raise ResumeError(f"{ck.name} was trained with {k} = {old}; this run has {new}")
    dev = trainer.device
    trainer.net.load_state_dict(_prefixed(tensors, "net.", dev))
    if trainer.ema is not None:
        trainer.ema.load_state_dict(_prefixed(tensors, "ema.", dev))
    opt_state: dict[int, dict[str, Any]] = {}
    for key, v in tensors.items():
        if key.startswith("opt."):
            _, idx, name = key.split(".", 2)
            opt_state.setdefault(int(idx), {})[name] = v if name == "step" else v.to(dev)
    groups = [dict(g, betas=tuple(g["betas"])) if "betas" in g else g
              for g in meta["param_groups"]]  # fmt: skip
    trainer.optimizer.load_state_dict({"state": opt_state, "param_groups": groups})
    step = int(meta["step"])
    if trainer.distributed is None:
        trainer.generator.set_state(tensors["rng.generator"])
        torch.set_rng_state(tensors["rng.torch"])
    else:
        rank, world = trainer.distributed.rank, trainer.distributed.world_size
        trainer.generator.manual_seed(trainer.config.seed + rank + world * (step + 1))
    h = trainer.history
    hist = meta["history"]
    h.steps[:], h.losses[:] = list(hist["steps"]), list(hist["losses"])
    h.bin_sum[:], h.bin_count[:] = list(hist["bin_sum"]), list(hist["bin_count"])
    trainer.step_count = step
    trainer.first_batch_sum = meta.get("first_batch_sum")
    trainer.publish()
    return step


def _prefixed(tensors: dict[str, torch.Tensor], prefix: str, device) -> dict[str, torch.Tensor]:
    n = len(prefix)
    return {k[n:]: v.to(device) for k, v in tensors.items() if k.startswith(prefix)}
