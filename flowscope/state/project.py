"""Project files (``.flowscope``): a zip holding the settings, the drawing and the weights.

Layout: ``project.json`` (format, version, settings, target source, drawing strokes, the source
layer's strokes under "source_drawing": absent in older projects) and, when a
model was trained, ``model.json`` + ``model.safetensors`` exactly as in a model directory.
Reading never unpickles and never executes anything from the file.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import time
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from ..core.safeio import (
    SafeIOError,
    atomic_write,
    check_zip,
    read_zip_member,
    remove_stale_temps,
)
from .project_check import ProjectError, check_drawing, check_meta

PROJECT_FORMAT = "flowscope-project"
PROJECT_VERSION = 1
SUFFIX = ".flowscope"
#: caps on what a project may expand to (checked from the zip's directory before reading)
MAX_PROJECT_JSON = 64 * 1024 * 1024
MAX_MODEL_JSON = 16 * 1024 * 1024
MAX_WEIGHTS = 512 * 1024 * 1024
MAX_TOTAL = MAX_PROJECT_JSON + MAX_MODEL_JSON + MAX_WEIGHTS
#: a temporary file of a save this old was left by a killed process (removed on the next save)
STALE_TEMP_S = 600.0

__all__ = ["Project", "ProjectError", "load_project", "move_aside", "save_project"]


@dataclass
class Project:
    settings: dict
    drawing: dict | None  # Drawing.to_dict()
    model: object | None  # FlowModel
    history: dict | None = None  # {"steps": [...], "losses": [...]}
    source_drawing: dict | None = None  # the canvas's source layer, Drawing.to_dict()


def save_project(
    path: str | Path,
    settings: dict,
    drawing: dict | None = None,
    model=None,
    history: dict | None = None,
    source_drawing: dict | None = None,
) -> Path:
    """Write a project zip atomically: a kill or a full disk mid-write leaves the old file
    intact (temporary file in the same folder, fsynced, renamed over it)."""
    out = Path(path).expanduser()
    if out.suffix != SUFFIX:
        out = out.with_suffix(SUFFIX)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "format": PROJECT_FORMAT,
        "format_version": PROJECT_VERSION,
        "settings": settings,
        "drawing": drawing,
        "history": history,
    }
    if source_drawing is not None:
        meta["source_drawing"] = source_drawing
    text = json.dumps(meta)
    remove_stale_temps(out.parent, out.stem, min_age_s=STALE_TEMP_S)  # left by a killed save

    def write(tmp: Path) -> None:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("project.json", text)
            if model is not None:
                import tempfile

                with tempfile.TemporaryDirectory() as d:
                    model.save(d)
                    for name in ("model.json", "model.safetensors"):
                        zf.write(Path(d) / name, name)

    return atomic_write(out, write)


def load_project(path: str | Path) -> Project:
    """Read a project zip; raises ProjectError with a clear message for anything else.

    Everything is validated before use (member names and sizes, JSON nesting, every setting's
    type and range, the drawing's size, the model against its weights)."""
    p = Path(path).expanduser()
    try:
        st = os.stat(p)
    except OSError:
        raise ProjectError(f"project file not found: {p}") from None
    if not stat.S_ISREG(st.st_mode):
        raise ProjectError(f"{p} is not a regular file; open a {SUFFIX} file")
    try:
        if not zipfile.is_zipfile(p):
            raise ProjectError(f"{p.name} is not a flowscope project (expected a {SUFFIX} file)")
        with zipfile.ZipFile(p) as zf:
            check_zip(zf, MAX_TOTAL, max_members=16, name=p.name)
            names = set(zf.namelist())
            if "project.json" not in names:
                raise ProjectError(f"{p.name} is not a flowscope project (no project.json)")
            meta = json.loads(read_zip_member(zf, "project.json", MAX_PROJECT_JSON))
            try:
                settings, drawing, history = check_meta(meta, PROJECT_FORMAT, PROJECT_VERSION)
                source_drawing = check_drawing(meta.get("source_drawing"))
            except ProjectError as e:
                raise ProjectError(f"{p.name} cannot be opened: {e}") from e
            model = None
            if {"model.json", "model.safetensors"} <= names:
                model = _read_model(
                    read_zip_member(zf, "model.json", MAX_MODEL_JSON),
                    read_zip_member(zf, "model.safetensors", MAX_WEIGHTS),
                )
    except ProjectError:
        raise
    except SafeIOError as e:
        raise ProjectError(f"{p.name} is refused: {e}") from e
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        zlib.error,  # a corrupted deflate stream
        NotImplementedError,  # an unsupported compression method
        EOFError,
        OSError,
        ValueError,  # JSON syntax, numbers too long to parse
        UnicodeDecodeError,
        RecursionError,
        KeyError,
    ) as e:
        why = str(e) or type(e).__name__
        raise ProjectError(f"{p.name} is damaged ({why}); open another project") from e
    return Project(settings, drawing, model, history, source_drawing)


def move_aside(path: str | Path, why: str = "broken") -> Path | None:
    """Rename a file that could not be opened (or whose work the user discarded) to
    ``NAME.<why>-YYYYmmdd-HHMMSS`` beside it (the user's work is kept, never deleted); returns the
    new path, None if it could not be moved."""
    p = Path(path)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    dest = p.with_name(f"{p.name}.{why}-{stamp}")
    n = 1
    while dest.exists():
        dest = p.with_name(f"{p.name}.{why}-{stamp}-{n}")
        n += 1
    try:
        os.replace(p, dest)
    except OSError:
        try:
            shutil.copy2(p, dest)
        except OSError:
            return None
    return dest


def _read_model(meta_bytes: bytes, weights: bytes):
    import tempfile

    from ..core.checkpoint import CheckpointError
    from ..core.flow_model import load

    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "model.json").write_bytes(meta_bytes)
        (Path(d) / "model.safetensors").write_bytes(weights)
        try:
            return load(d)
        except CheckpointError as e:
            raise ProjectError(f"the project's model cannot be loaded: {e}") from e
