"""Point files -> target: a finite point set is a mixture of point masses (MATH.md).

CSV/TXT: comma, semicolon, tab or space separated; an optional header row; '#' comments; columns
x, y[, label]. NPY: an (N, 2) float array or (N, 3) with an integer label column, loaded with
``allow_pickle=False`` (a pickled object array is refused, never executed).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from ..exact import ExactMarginal
from .target import DataError, Target

POINT_SUFFIXES = (".csv", ".txt", ".npy")
#: a point file's rows beyond this are subsampled (each point is a mixture component)
MAX_POINTS = 20_000
#: text point files larger than this are refused before reading (~2 million rows)
MAX_TEXT_BYTES = 64 * 1024 * 1024
#: .npy point arrays larger than this are refused from their header
MAX_NPY_BYTES = 1024 * 1024 * 1024

_SPLIT = re.compile(r"[\s,;]+")


def _parse_float(s: str) -> float | None:
    try:
        return float(s)
    except ValueError:
        return None


def read_text_points(path: Path) -> tuple[np.ndarray, list[int]]:
    """Parse a CSV/TXT file. Returns data (N, 2 or 3) float64 and the 1-based line of each row."""
    from ..safeio import SafeIOError, read_regular_file

    try:
        text = read_regular_file(path, MAX_TEXT_BYTES, "point file").decode("utf-8-sig")
    except SafeIOError as e:
        raise DataError(f"{e}; keep at most a few million rows") from e
    except UnicodeDecodeError as e:
        raise DataError(
            f"{path.name} is not a UTF-8 text file ({e}); save it as plain text CSV"
        ) from e
    rows: list[list[float]] = []
    lines: list[int] = []
    header_seen = False
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        fields = _SPLIT.split(line.strip(" ,;"))
        vals = [_parse_float(f) for f in fields]
        if any(v is None for v in vals):
            if not rows and not header_seen:
                header_seen = True  # e.g. "x,y,label"
                continue
            bad = fields[[v is None for v in vals].index(True)]
            raise DataError(
                f"{path.name} line {lineno}: {bad!r} is not a number; "
                "every row after the (optional) header must be x, y[, label]"
            )
        if len(vals) not in (2, 3):
            raise DataError(
                f"{path.name} line {lineno}: expected 2 or 3 columns (x, y[, label]), "
                f"got {len(vals)}; fix that line"
            )
        if rows and len(vals) != len(rows[0]):
            raise DataError(
                f"{path.name} line {lineno}: has {len(vals)} columns but earlier rows have "
                f"{len(rows[0])}; give every row the same columns"
            )
        rows.append(vals)  # type: ignore[arg-type]
        lines.append(lineno)
    if not rows:
        raise DataError(f"{path.name} has no points; write one 'x, y[, label]' row per point")
    return np.asarray(rows, dtype=np.float64), lines


def read_npy_points(path: Path) -> np.ndarray:
    """An .npy array of shape (N, 2) or (N, 3), memory-mapped read-only (its size is checked
    from the header; rows are copied by the caller), without ever unpickling."""
    try:
        arr = np.load(path, allow_pickle=False, mmap_mode="r")  # the header only, no copy yet
        if isinstance(arr, np.ndarray) and arr.nbytes > MAX_NPY_BYTES:
            raise DataError(
                f"{path.name} holds {arr.nbytes / 1e9:.1f} GB of points; save a subsample"
            )
    except DataError:
        raise
    except ValueError as e:
        if "pickle" in str(e).lower() or "object" in str(e).lower():
            raise DataError(
                f"{path.name} holds Python objects (a pickled array), which flowscope refuses to "
                "load because unpickling can run code; save a plain numeric array with "
                "np.save(path, points.astype(float))"
            ) from e
        raise DataError(f"could not read {path.name}: {e}; re-save it with np.save") from e
    except (OSError, EOFError) as e:
        raise DataError(f"could not read {path.name}: {e}; re-save it with np.save") from e
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "biuf":
        raise DataError(
            f"{path.name} has dtype {getattr(arr, 'dtype', type(arr))}; "
            "save an (N, 2) or (N, 3) array of numbers"
        )
    return arr


def target_from_array(
    data: np.ndarray,
    width: float = 0.0,
    name: str = "points",
    schedule: str = "condot",
    row_names: list[str] | None = None,
    source: str | None = None,
) -> Target:
    """Points (N, 2) or (N, 3) with an integer label column -> Target of N components.

    Each point is N(p, width^2 I) (width 0 = point mass). Labels are remapped to 0..C-1 in sorted
    order; class_names are the original label values as strings. ``row_names`` (one per row) are
    used in error messages, e.g. "line 7".
    """
    data = np.asarray(data, dtype=np.float64)
    if data.ndim != 2 or data.shape[1] not in (2, 3):
        raise DataError(
            f"points must be an (N, 2) or (N, 3) array (x, y[, label]), got shape {data.shape}"
        )
    if data.shape[0] < 1:
        raise DataError("there are no points; give at least one x, y row")
    if not (math.isfinite(width) and width >= 0):
        raise DataError(f"width must be a finite number >= 0, got {width}")
    bad = ~np.isfinite(data).all(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        where = row_names[i] if row_names else f"row {i}"
        raise DataError(
            f"{where} holds NaN or Inf ({', '.join(map(str, data[i]))}); "
            f"fix or delete it ({int(bad.sum())} such row(s) in all)"
        )
    labels = class_names = None
    if data.shape[1] == 3:
        raw = data[:, 2]
        frac = raw != np.round(raw)
        if frac.any():
            i = int(np.flatnonzero(frac)[0])
            where = row_names[i] if row_names else f"row {i}"
            raise DataError(
                f"{where}: label {raw[i]} is not an integer; the third column must hold "
                "integer class labels"
            )
        values, labels = np.unique(raw.astype(np.int64), return_inverse=True)
        class_names = [str(int(v)) for v in values]
    exact = ExactMarginal(data[:, :2], widths=float(width), labels=labels, schedule=schedule)
    return Target(name, exact, "points", class_names=class_names, source=source)


def target_from_points(
    path: str | Path, width: float = 0.0, schedule: str = "condot", name: str | None = None
) -> Target:
    """Load a .csv / .txt / .npy point file (see the module docstring) as a Target."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        data = read_npy_points(path)
        row_names = None
    elif suffix in (".csv", ".txt"):
        data, lines = read_text_points(path)
        row_names = [f"{path.name} line {n}" for n in lines]
    else:
        raise DataError(f"unsupported point file {path.name}; use {', '.join(POINT_SUFFIXES)}")
    notes = []
    if len(data) > MAX_POINTS:
        keep = np.sort(np.random.default_rng(0).choice(len(data), MAX_POINTS, replace=False))
        notes.append(
            f"{path.name} has {len(data)} points; using a random subsample of {MAX_POINTS}"
        )
        data = data[keep]
        row_names = [row_names[i] for i in keep] if row_names else None
    data = np.array(data, dtype=np.float64)  # a copy: the .npy is memory-mapped read-only
    target = target_from_array(
        data,
        width=width,
        name=name or path.stem,
        schedule=schedule,
        row_names=row_names,
        source=str(path),
    )
    target.options = {"width": float(width)}
    target.notes = tuple(notes)
    return target
