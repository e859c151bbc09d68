"""Write a run (target, model, training, sampling) as a standalone, readable Python script.

``run_script(...)`` returns the text of a script that uses only flowscope's public API: it builds
the target (a preset or file name, or a drawing's strokes written into the script as data), trains
``Trainer(target, ModelConfig(...), TrainConfig(...)).run()``, samples with the chosen solver and
saves a matplotlib figure of the samples (samples.npy when matplotlib is missing). With the same
settings, seed, device (CPU) and thread count it trains the same weights as ``flowscope train``.

2D (points) runs only: image runs train on a dataset folder that a script cannot carry.
"""

from __future__ import annotations

import dataclasses
import json
import textwrap
from typing import Any

from .._version import __version__
from .data.drawing import Drawing
from .models import ModelConfig

#: TrainConfig fields that only matter to the live GUI (how often it publishes snapshots)
_LIVE_ONLY = ("snapshot_hz",)
#: the number of training steps a script gets when the run had no fixed count (the GUI)
DEFAULT_TRAIN_STEPS = 3000


def _fields(config: Any) -> dict[str, Any]:
    """A dataclass instance or a dict of its fields -> {name: value} (in declaration order)."""
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    if isinstance(config, dict):
        return dict(config)
    raise TypeError(f"expected a config dataclass or a dict, got {type(config).__name__}")


def _call(name: str, values: dict[str, Any], indent: str = "    ") -> str:
    """``Name(\\n    key=value,\\n)`` with Python literals (exact float reprs)."""
    lines = [f"{indent}{k}={_literal(v)}," for k, v in values.items()]
    return f"{name}(\n" + "\n".join(lines) + "\n)"


def _literal(v: Any) -> str:
    if isinstance(v, tuple):
        return "(" + ", ".join(_literal(x) for x in v) + ("," if len(v) == 1 else "") + ")"
    if isinstance(v, list):
        return "[" + ", ".join(_literal(x) for x in v) + "]"
    if isinstance(v, (bool, int, float, str)) or v is None:
        return repr(v)
    raise TypeError(f"cannot write {type(v).__name__} into a script")


def _drawing_literal(drawing: Drawing) -> str:
    """The drawing as a dict literal (Drawing.to_dict), one stroke per block, points wrapped."""
    d = drawing.to_dict()
    blocks = []
    for s in d["strokes"]:
        pts = ", ".join(f"[{x!r}, {y!r}]" for x, y in s["points"])
        wrapped = textwrap.fill(pts, width=92, initial_indent=" " * 16, subsequent_indent=" " * 16)
        blocks.append(
            "        {\n"
            f'            "width": {s["width"]!r},\n'
            f'            "label": {s["label"]!r},\n'
            f'            "erase": {s["erase"]!r},\n'
            '            "points": [\n'
            f"{wrapped}\n"
            "            ],\n"
            "        },"
        )
    return (
        "{\n"
        f'    "version": {json.dumps(d["version"])},\n'
        '    "strokes": [\n' + "\n".join(blocks) + "\n    ],\n}"
    )


def run_script(
    target: str,
    model_config: ModelConfig,
    train_config: Any,
    *,
    drawing: Drawing | dict | None = None,
    train_steps: int | None = None,
    n: int = 4000,
    steps: int = 50,
    solver: str = "heun",
    sigma: float = 0.0,
    sigma_schedule: str = "constant",
    w: float = 1.0,
    y: int | None = None,
    seed: int = 0,
    drop_score_term: bool = False,
) -> str:
    """The text of a Python script that reproduces a 2D run.

    target: a preset name or a data file path (loaded with ``load_target``), or "drawing" with
    ``drawing`` (a Drawing or its ``to_dict()``), whose strokes go into the script.
    train_config: a TrainConfig or the dict of its fields (model.json's training.config). A run
    without a step count (the GUI's live training) keeps the constant learning rate it trained
    with and gets ``train_steps`` (the steps it ran; default DEFAULT_TRAIN_STEPS). The script has
    a ``--train-steps`` option to change it.
    n, steps, solver, sigma, sigma_schedule, w, y (None or < 0: unconditional), seed,
    drop_score_term: sampling (``FlowModel.sample``).
    """
    if model_config.is_image:
        raise ValueError("script export is for 2D runs; image runs need their dataset folder")
    tc = {k: v for k, v in _fields(train_config).items() if k not in _LIVE_ONLY}
    if tc.get("steps") is None:
        if tc.get("lr_schedule", "auto") == "auto":
            tc["lr_schedule"] = "constant"  # what "auto" meant while training had no end
        tc["steps"] = DEFAULT_TRAIN_STEPS
    if train_steps:
        tc["steps"] = int(train_steps)
    if target == "drawing":
        if drawing is None:
            raise ValueError("target 'drawing' needs the drawing's strokes (drawing=...)")
        d = drawing if isinstance(drawing, Drawing) else Drawing.from_dict(drawing)
        if d.is_empty:
            raise ValueError("the drawing is empty: nothing to export")
        target_code = (
            f"DRAWING = {_drawing_literal(d)}\n\n\n"
            "def make_target():\n"
            '    """The drawing above (its strokes, as Drawing.to_dict() writes them)."""\n'
            "    return Drawing.from_dict(DRAWING).to_target()\n"
        )
        target_import = "from flowscope.core.data import Drawing"
        name = "a drawing"
    else:
        target_code = (
            f"TARGET = {target!r}  # a preset name or a data file (image, csv, npy)\n\n\n"
            "def make_target():\n"
            "    return load_target(TARGET)\n"
        )
        target_import = "from flowscope.core.data import load_target"
        name = target
    sampling = {
        "n": int(n),
        "steps": int(steps),
        "solver": solver,
        "sigma": float(sigma),
        "sigma_schedule": sigma_schedule,
        "w": float(w),
        "y": None if y is None or int(y) < 0 else int(y),
        "seed": int(seed),
    }
    if drop_score_term:  # the SDE without its score term (wrong marginals, shown on purpose)
        sampling["drop_score_term"] = True
    return _TEMPLATE.format(
        name=name,
        version=__version__,
        target_import=target_import,
        target_code=target_code,
        model=_call("ModelConfig", model_config.to_dict()),
        train=_call("TrainConfig", tc),
        sampling=_call("dict", sampling),
    )


_TEMPLATE = '''\
#!/usr/bin/env python
"""Reproduce a flowscope run on {name}: train a flow model, then sample it.

Written by flowscope {version}. Conventions: t = 0 is noise, t = 1 is data.
With the same seed, on the CPU with the same number of threads, this trains the same weights as
the run it was exported from.

    python this_script.py [--train-steps N] [--out samples.png] [--save-model DIR]
"""

import argparse
import dataclasses

import numpy as np
import torch

{target_import}
from flowscope.core.models import ModelConfig
from flowscope.train.trainer import TrainConfig, Trainer

# ------------------------------------------------------------------------------ the target
{target_code}

# ------------------------------------------------------------------------------ the model
MODEL = {model}

# ------------------------------------------------------------------------------ training
TRAIN = {train}

# ------------------------------------------------------------------------------ sampling
SAMPLING = {sampling}


def plot(samples: np.ndarray, out: str) -> str:
    """A scatter plot of the samples as a PNG, or the samples as .npy without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        out = out.rsplit(".", 1)[0] + ".npy"
        np.save(out, samples)
        return out
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(samples[:, 0], samples[:, 1], s=1, alpha=0.5)
    ax.set_aspect("equal")
    ax.set_title(f"{{len(samples)}} samples at t = 1 ({{SAMPLING['solver']}}, "
                 f"{{SAMPLING['steps']}} steps)")
    fig.savefig(out, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--train-steps", type=int, default=TRAIN.steps)
    p.add_argument("--out", default="samples.png", help="figure (samples.npy without matplotlib)")
    p.add_argument("--npy", default=None, help="also save the samples to this .npy file")
    p.add_argument("--save-model", default=None, help="save the trained model to this folder")
    a = p.parse_args(argv)

    trainer = Trainer(make_target(), MODEL, dataclasses.replace(TRAIN, steps=a.train_steps))
    trainer.run()
    if trainer.error:
        raise SystemExit(trainer.error)
    print(f"trained {{trainer.step_count}} steps on {{trainer.device}}, "
          f"final loss {{trainer.summary()['final_loss']:.4f}}")
    model = trainer.model()
    if a.save_model:
        model.save(a.save_model)
    with torch.no_grad():
        samples = model.sample(**SAMPLING).numpy()
    if a.npy:
        np.save(a.npy, samples)
    print(f"wrote {{plot(samples, a.out)}}")


if __name__ == "__main__":
    main()
'''
