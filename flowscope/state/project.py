"""Project files (``.flowscope``): a zip holding the settings, the drawing and the weights.

Layout: ``project.json`` (format, version, settings, target source, drawing strokes) and, when a
model was trained, ``model.json`` + ``model.safetensors`` exactly as in a model directory.
Reading never unpickles and never executes anything from the file.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

PROJECT_FORMAT = "flowscope-project"
PROJECT_VERSION = 1
SUFFIX = ".flowscope"


class ProjectError(ValueError):
    """A project file that cannot be read; the message says what to do."""


@dataclass
class Project:
    settings: dict
    drawing: dict | None  # Drawing.to_dict()
    model: object | None  # FlowModel
    history: dict | None = None  # {"steps": [...], "losses": [...]}


def save_project(
    path: str | Path,
    settings: dict,
    drawing: dict | None = None,
    model=None,
    history: dict | None = None,
) -> Path:
    """Write a project zip atomically (a crash mid-write leaves the old file intact)."""
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
    tmp = out.with_name(out.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("project.json", json.dumps(meta))
        if model is not None:
            import tempfile

            with tempfile.TemporaryDirectory() as d:
                model.save(d)
                for name in ("model.json", "model.safetensors"):
                    zf.write(Path(d) / name, name)
    tmp.replace(out)
    return out


def load_project(path: str | Path) -> Project:
    """Read a project zip; raises ProjectError with a clear message for anything else."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise ProjectError(f"project file not found: {p}")
    if not zipfile.is_zipfile(p):
        raise ProjectError(f"{p.name} is not a flowscope project (expected a {SUFFIX} file)")
    try:
        with zipfile.ZipFile(p) as zf:
            names = set(zf.namelist())
            if "project.json" not in names:
                raise ProjectError(f"{p.name} is not a flowscope project (no project.json)")
            meta = json.loads(zf.read("project.json"))
            model = None
            if {"model.json", "model.safetensors"} <= names:
                model = _read_model(zf.read("model.json"), zf.read("model.safetensors"))
    except (zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError, KeyError) as e:
        raise ProjectError(f"{p.name} is damaged ({e}); open another project") from e
    if not isinstance(meta, dict) or meta.get("format") != PROJECT_FORMAT:
        raise ProjectError(f"{p.name} is not a flowscope project")
    if int(meta.get("format_version", 0)) > PROJECT_VERSION:
        raise ProjectError(f"{p.name} was saved by a newer flowscope; upgrade to open it")
    settings = meta.get("settings") or {}
    if not isinstance(settings, dict):
        raise ProjectError(f"{p.name}: settings are damaged")
    return Project(settings, meta.get("drawing"), model, meta.get("history"))


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
