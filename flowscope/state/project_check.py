"""Validation of everything read from a project file, before any of it is used.

A project comes from the user's disk (or the autosave of a crashed session): every value is
checked for its type, range, finiteness and size here, so that opening a damaged or hostile file
ends in one :class:`ProjectError` rather than an abort, a traceback or gigabytes of memory.
"""

from __future__ import annotations

import math

from .app_state import AppState

#: deepest nesting of lists / objects a project.json may have (a drawing needs 5)
MAX_DEPTH = 16
MAX_STROKES = 20_000
MAX_STROKE_POINTS = 200_000
MAX_POINTS = 1_000_000
#: brush widths and coordinates a drawing may use (the canvas offers 0.1 .. 2 in [-3.5, 3.5])
WIDTH_RANGE = (1e-3, 100.0)
MAX_COORD = 1e4
#: Gaussian components a drawing may resample into (length / (width / 4) per stroke)
MAX_COMPONENTS = 2_000_000
MAX_HISTORY = 10_000_000


class ProjectError(ValueError):
    """A project file that cannot be read; the message says what to do."""


def check_depth(obj, limit: int = MAX_DEPTH) -> None:
    """ProjectError when lists / dicts nest deeper than ``limit`` (iterative: no recursion)."""
    stack = [(obj, 1)]
    while stack:
        o, d = stack.pop()
        if isinstance(o, (list, dict)):
            if d > limit:
                raise ProjectError(f"the file nests deeper than {limit} levels")
            stack.extend((v, d + 1) for v in (o.values() if isinstance(o, dict) else o))


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def check_settings(settings) -> dict:
    """The settings dict, every known key checked against AppState's types and ranges (unknown
    keys, from newer versions, are kept and ignored later)."""
    if not isinstance(settings, dict):
        raise ProjectError("the settings are damaged (not an object)")
    probe = AppState()
    known = {k for k in probe.to_dict()}
    try:
        probe.update_from_dict({k: v for k, v in settings.items() if k in known})
    except (ValueError, AttributeError, TypeError) as e:
        raise ProjectError(f"a setting is invalid: {e}") from e
    return settings


def check_drawing(drawing) -> dict | None:
    """The drawing dict (or None), with every stroke's size, width and coordinates bounded."""
    if drawing is None:
        return None
    if not isinstance(drawing, dict) or not isinstance(drawing.get("strokes"), list):
        raise ProjectError("the drawing is damaged (no list of strokes)")
    if drawing.get("version", 1) != 1:
        raise ProjectError(f"the drawing has an unknown version {drawing.get('version')!r}")
    strokes = drawing["strokes"]
    if len(strokes) > MAX_STROKES:
        raise ProjectError(f"the drawing has {len(strokes)} strokes (at most {MAX_STROKES})")
    total_pts, total_comp = 0, 0.0
    for i, s in enumerate(strokes):
        if not isinstance(s, dict):
            raise ProjectError(f"stroke {i} of the drawing is damaged")
        pts, raw_width = s.get("points"), s.get("width")
        width = float(raw_width) if _finite(raw_width) else math.nan  # type: ignore[arg-type]
        if not WIDTH_RANGE[0] <= width <= WIDTH_RANGE[1]:  # NaN fails too
            raise ProjectError(
                f"stroke {i} has brush width {raw_width!r}; widths lie in "
                f"[{WIDTH_RANGE[0]}, {WIDTH_RANGE[1]}]"
            )
        if not isinstance(pts, list) or not 1 <= len(pts) <= MAX_STROKE_POINTS:
            raise ProjectError(f"stroke {i} has no valid list of points")
        total_pts += len(pts)
        if total_pts > MAX_POINTS:
            raise ProjectError(f"the drawing has more than {MAX_POINTS} points")
        length = 0.0
        prev = None
        for p in pts:
            if (
                not isinstance(p, list)
                or len(p) != 2
                or not all(_finite(c) and abs(c) <= MAX_COORD for c in p)
            ):
                raise ProjectError(
                    f"stroke {i} has a point {p!r}; points are pairs of numbers within "
                    f"+-{MAX_COORD:g}"
                )
            if prev is not None:
                length += math.hypot(p[0] - prev[0], p[1] - prev[1])
            prev = p
        total_comp += length / (width / 4.0) + 1
        if total_comp > MAX_COMPONENTS:
            raise ProjectError("the drawing is too fine or too long to rebuild (too many strokes)")
        for key, kind in (("label", int), ("erase", bool)):
            v = s.get(key, kind())
            if type(v) is not kind:
                raise ProjectError(f"stroke {i} has an invalid {key} {v!r}")
    return drawing


def check_history(history) -> dict | None:
    """The loss history {"steps": [...], "losses": [...]} (or None): equal-length lists of
    numbers (a loss may be NaN or Inf: a diverged run)."""
    if history is None:
        return None
    if not isinstance(history, dict):
        raise ProjectError("the training history is damaged")
    steps, losses = history.get("steps", []), history.get("losses", [])
    if not isinstance(steps, list) or not isinstance(losses, list) or len(steps) != len(losses):
        raise ProjectError("the training history is damaged (steps and losses differ)")
    if len(steps) > MAX_HISTORY:
        raise ProjectError(f"the training history is longer than {MAX_HISTORY} steps")
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in steps):
        raise ProjectError("the training history's steps are not counts")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in losses):
        raise ProjectError("the training history's losses are not numbers")
    return history


def check_meta(meta, fmt: str, version: int) -> tuple[dict, dict | None, dict | None]:
    """(settings, drawing, history) of a parsed project.json, or ProjectError."""
    if not isinstance(meta, dict) or meta.get("format") != fmt:
        raise ProjectError("it is not a flowscope project")
    check_depth(meta)
    v = meta.get("format_version", 0)
    if isinstance(v, bool) or not isinstance(v, int):
        raise ProjectError(f"its format version {v!r} is not a whole number")
    if v > version:
        raise ProjectError("it was saved by a newer flowscope; upgrade to open it")
    settings = check_settings(meta.get("settings") or {})
    return settings, check_drawing(meta.get("drawing")), check_history(meta.get("history"))
