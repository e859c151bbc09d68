"""What the command line writes and checks before working: output paths checked before training,
outputs written atomically, and a failed write reported in one line naming the path (never a
traceback, never a lost model)."""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from .core.safeio import atomic_write


def _reason(e: BaseException) -> str:
    text = getattr(e, "strerror", None) or str(e) or type(e).__name__
    return text.strip().splitlines()[0][:200]


def check_model_dir(path: str | Path) -> Path:
    """Fail before training when ``path`` cannot become a model directory: it is a file or a
    device (/dev/null), or the nearest existing folder above it is not writable."""
    p = Path(path).expanduser()
    if p.exists() and not p.is_dir():
        raise OSError(f"--out {p} is not a folder; give a model directory to write")
    probe = p
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise OSError(f"--out {p}: {probe} is not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise OSError(f"--out {p}: the folder {probe} is not writable")
    return p


def check_out_file(path: str | Path) -> Path:
    """Fail before sampling when ``path`` is an existing non-regular file or under a folder that
    is not writable."""
    from .core.safeio import check_writable_target

    return check_writable_target(path, "output")


def write_output(out: Path, writer: Callable[[Path], object]) -> Path:
    """``writer(tmp)`` into a temporary file renamed over ``out``; OSError naming ``out``."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        return atomic_write(out, writer)
    except (OSError, RuntimeError, ValueError) as e:
        raise OSError(f"could not write {out}: {_reason(e)}") from None


def save_model(model, out: str | Path) -> Path:
    """Save a trained model to ``out``; when that fails (full disk, folder gone), keep the
    weights in a fresh temporary folder and say where, in one OSError line."""
    try:
        return model.save(out)
    except (OSError, RuntimeError) as e:
        why = _reason(e)
    try:
        rescue = Path(tempfile.mkdtemp(prefix="flowscope-rescued-"))
        model.save(rescue)
    except (OSError, RuntimeError) as e2:
        raise OSError(
            f"could not write the model to {out} ({why}), nor to a temporary folder "
            f"({_reason(e2)}); free some disk space and train again"
        ) from None
    raise OSError(
        f"could not write the model to {out} ({why}); the trained weights were saved to "
        f"{rescue} instead"
    )


def check_finite(**values) -> None:
    """ValueError naming the option when any given number is NaN or infinite."""
    for name, v in values.items():
        if v is not None and not math.isfinite(v):
            opt = "--" + name.replace("_", "-")
            raise ValueError(f"{opt} must be a finite number, got {v}")


def check_samples_finite(x) -> None:
    """ValueError when generated samples hold NaN or Inf (a diverged model): nothing is written
    and the exit status says so, rather than a file of NaN with status 0."""
    import numpy as np

    arr = np.asarray(x)
    bad = int((~np.isfinite(arr.reshape(arr.shape[0], -1))).any(axis=1).sum()) if arr.size else 0
    if bad:
        raise ValueError(
            f"{bad} of {arr.shape[0]} samples hold NaN or Inf (the model or the sampler "
            "diverged); nothing was written. Try fewer --sigma, another --solver, or retrain"
        )


#: the ranges of the command line's counts (as the app's state enforces its own): beyond them a
#: network or a batch would take more memory than a desktop has
RANGES = {
    "width": (1, 4096),
    "depth": (1, 64),
    "channels": (4, 512),
    "batch": (1, 65_536),
    "size": (1, 512),
}
MAX_SAMPLES = {"2d": 10_000_000, "image": 100_000}


def check_ranges(a) -> None:
    """ValueError naming the option when a count given on the command line is out of range."""
    for name, (lo, hi) in RANGES.items():
        v = getattr(a, name, None)
        if v is not None and not lo <= v <= hi:
            raise ValueError(f"--{name} must lie in [{lo}, {hi}], got {v}")


def check_sample_count(n: int | None, kind: str) -> None:
    most = MAX_SAMPLES[kind]
    if n is not None and n > most:
        raise ValueError(f"--n must be at most {most} for a {kind} model, got {n}")
