"""Projects from damaged or hostile files: every load either succeeds or raises ProjectError,
validated before use and within a memory cap; saves are atomic."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from flowscope.state import AppState
from flowscope.state.project import ProjectError, load_project, move_aside, save_project

STROKE = {"points": [[0.0, 0.0], [1.0, 1.0]], "width": 0.4, "label": 0, "erase": False}


def _meta(**over) -> dict:
    meta = {
        "format": "flowscope-project",
        "format_version": 1,
        "settings": AppState().to_dict(),
        "drawing": {"version": 1, "strokes": [dict(STROKE)]},
        "history": {"steps": [1, 2], "losses": [1.0, 0.5]},
    }
    meta.update(over)
    return meta


def _write(path: Path, meta: dict | bytes | str, extra: dict | None = None) -> Path:
    text = meta if isinstance(meta, (bytes, str)) else json.dumps(meta)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("project.json", text)
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return path


def _settings(**kw) -> dict:
    s = AppState().to_dict()
    s.update(kw)
    return s


def _stroke(**kw) -> dict:
    return {"version": 1, "strokes": [{**STROKE, **kw}]}


BAD = {
    "tiny stroke width": _meta(drawing=_stroke(width=1e-30)),
    "huge coordinates": _meta(drawing=_stroke(points=[[1e300, 0.0], [-1e300, 1.0]])),
    "t of the wrong type": _meta(settings=_settings(t="zero")),
    "1e9 particles": _meta(settings=_settings(n_particles=10**9)),
    "NaN sigma": _meta(settings=_settings(sigma=float("nan"))),
    "infinite format version": _meta(format_version=float("inf")),
    "huge format version": _meta(format_version=10**30),
    "settings not a dict": _meta(settings=[1, 2]),
    "history of different lengths": _meta(history={"steps": [1], "losses": []}),
    "stroke label of the wrong type": _meta(drawing=_stroke(label="x")),
}


def test_a_valid_project_round_trips(tmp_path):
    p = _write(tmp_path / "ok.flowscope", _meta())
    proj = load_project(p)
    assert proj.settings["n_particles"] == 4000
    assert proj.drawing["strokes"][0]["width"] == 0.4


@pytest.mark.parametrize("name", sorted(BAD))
def test_a_bad_value_is_refused_with_the_project_error(tmp_path, name):
    p = _write(tmp_path / "bad.flowscope", BAD[name])
    with pytest.raises(ProjectError, match="bad.flowscope"):
        load_project(p)


def test_deeply_nested_json_is_refused(tmp_path):
    deep = '{"format": "flowscope-project", "settings": {}, "x": ' + "[" * 100000 + "]" * 100000
    p = _write(tmp_path / "deep.flowscope", deep + "}")
    with pytest.raises(ProjectError):
        load_project(p)
    nested: list = [1]
    for _ in range(30):
        nested = [nested]
    p = _write(tmp_path / "deep2.flowscope", _meta(history=nested))
    with pytest.raises(ProjectError, match="nests deeper"):
        load_project(p)


def test_a_zlib_corrupted_member_is_refused(tmp_path):
    p = _write(tmp_path / "z.flowscope", json.dumps(_meta()) + " " * 5000)
    raw = bytearray(p.read_bytes())
    with zipfile.ZipFile(p) as zf:
        info = zf.getinfo("project.json")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for i in range(start + 10, start + 40):
        raw[i] ^= 0x5A
    p.write_bytes(bytes(raw))
    with pytest.raises(ProjectError, match="damaged"):
        load_project(p)


def test_a_member_that_expands_beyond_the_cap_is_refused_before_reading(tmp_path, monkeypatch):
    import flowscope.state.project as project

    monkeypatch.setattr(project, "MAX_PROJECT_JSON", 1 << 20)
    body = json.dumps(_meta()) + " " * (3 << 20)  # 3 MB of spaces: a few kB compressed
    p = _write(tmp_path / "bomb.flowscope", body)
    assert p.stat().st_size < 100_000
    with pytest.raises(ProjectError, match="MB"):
        load_project(p)


@pytest.mark.parametrize("member", ["/etc/evil", "../evil", "a/../../evil"])
def test_unsafe_member_names_are_refused(tmp_path, member):
    p = _write(tmp_path / "evil.flowscope", _meta(), {member: b"x"})
    with pytest.raises(ProjectError, match="unsafe member"):
        load_project(p)


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "fifo.flowscope"
    os.mkfifo(fifo)
    with pytest.raises(ProjectError, match="not a regular file"):
        load_project(fifo)


def test_move_aside_keeps_the_file(tmp_path):
    p = _write(tmp_path / "last-session.flowscope", BAD["1e9 particles"])
    data = p.read_bytes()
    dest = move_aside(p)
    assert not p.exists() and dest is not None and dest.read_bytes() == data
    assert dest.name.startswith("last-session.flowscope.broken-")


def test_save_is_atomic_on_a_full_disk(tmp_path, monkeypatch):
    """ENOSPC while writing: the error propagates, the old project loads, no temp file stays."""
    import errno

    p = save_project(tmp_path / "p.flowscope", _settings(n_particles=123))

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match="No space"):
        save_project(p, _settings(n_particles=456))
    monkeypatch.undo()
    assert load_project(p).settings["n_particles"] == 123
    assert sorted(f.name for f in tmp_path.iterdir()) == ["p.flowscope"]


# ------------------------------------------------------------------ random corruptions
_FUZZ = textwrap.dedent(
    """
    import json, random, resource, sys, zipfile, io
    resource.setrlimit(resource.RLIMIT_DATA, (CAP, CAP))
    import torch
    from flowscope.state.project import ProjectError, load_project
    src, work, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rng = random.Random(0)
    raw = open(src, "rb").read()
    with zipfile.ZipFile(src) as zf:
        members = {i.filename: zf.read(i.filename) for i in zf.infolist()}
    HUGE = [10**9, 1e300, -1e300, float("inf"), float("nan"), "x", None, [], {}, True, 10**40,
            1e-30]

    def mutate_json(obj):
        # replace one random leaf (or container) by a hostile value
        path, o = [], obj
        while isinstance(o, (dict, list)) and o and rng.random() < 0.8:
            k = rng.choice(list(o.keys()) if isinstance(o, dict) else range(len(o)))
            path.append(k)
            o = o[k]
        if not path:
            return obj
        parent = obj
        for k in path[:-1]:
            parent = parent[k]
        parent[path[-1]] = rng.choice(HUGE)
        return obj

    def variant(i):
        kind = i % 4
        if kind == 0:  # truncation
            return raw[: rng.randrange(len(raw))]
        if kind == 1:  # bit flips
            b = bytearray(raw)
            for _ in range(rng.randint(1, 8)):
                j = rng.randrange(len(b))
                b[j] ^= 1 << rng.randrange(8)
            return bytes(b)
        name = "project.json" if kind == 2 else "model.json"
        obj = json.loads(members[name])
        for _ in range(rng.randint(1, 3)):
            obj = mutate_json(obj)
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as zf:
            for k, v in members.items():
                zf.writestr(k, json.dumps(obj) if k == name else v)
        return out.getvalue()

    from flowscope.core.data import Drawing
    from flowscope.state import AppState

    defaults = AppState().to_dict()

    def unsafe(proj):
        # what the window does next with a loaded project must be safe: settings of their
        # default's type, finite and bounded; a drawing that rebuilds within the memory cap
        for k, v in proj.settings.items():
            d = defaults.get(k)
            if k not in defaults:
                continue
            if type(d) is float and type(v) is int:
                v = float(v)
            if type(v) is not type(d):
                return f"{k}={v!r}"
            if isinstance(v, float) and not abs(v) < 1e6:
                return f"{k}={v!r}"
            if k == "n_particles" and not 1 <= v <= 100_000:
                return f"{k}={v!r}"
        if proj.drawing:
            Drawing.from_dict(proj.drawing).components()
        return None

    ok = refused = 0
    bad = []
    for i in range(n):
        path = f"{work}/v{i}.flowscope"
        open(path, "wb").write(variant(i))
        try:
            proj = load_project(path)
        except ProjectError:
            refused += 1
            continue
        ok += 1
        why = unsafe(proj)
        if why:
            bad.append(why)
    print(json.dumps({"ok": ok, "refused": refused, "unsafe": bad}))
    """
)


@pytest.mark.slow
def test_random_corruptions_load_or_raise_project_error_within_a_memory_cap(tmp_path):
    import torch

    from flowscope.core.flow_model import FlowModel
    from flowscope.core.models import ModelConfig, build_model

    cfg = ModelConfig(width=16, depth=2, num_classes=2)
    model = FlowModel(build_model(cfg), cfg)
    assert all(torch.isfinite(p).all() for p in model.net.parameters())
    src = save_project(
        tmp_path / "src.flowscope", _settings(), _stroke(), model, {"steps": [1], "losses": [0.5]}
    )
    work = tmp_path / "work"
    work.mkdir()
    cap = 1536 * 1024 * 1024
    code = _FUZZ.replace("CAP", str(cap))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    res = subprocess.run(
        [sys.executable, "-c", code, str(src), str(work), "160"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=str(tmp_path),
    )
    assert res.returncode == 0, res.stderr[-3000:]
    counts = json.loads(res.stdout.strip().splitlines()[-1])
    assert counts["ok"] + counts["refused"] == 160
    assert counts["unsafe"] == []  # loaded means safe to use
    assert counts["refused"] > 40  # most corruptions are caught, none escapes as another error


def test_killing_a_saving_process_always_leaves_a_loadable_project(tmp_path):
    """20 SIGKILLs at random moments of a loop of project saves: the file always loads."""
    import random
    import signal
    import time

    p = save_project(tmp_path / "p.flowscope", _settings(steps=1), _stroke())
    rng = random.Random(2)
    big = {"steps": list(range(20000)), "losses": [0.5] * 20000}  # a few hundred kB to write
    for _ in range(20):
        pid = os.fork()
        if pid == 0:
            try:
                k = 2
                while True:
                    save_project(p, _settings(steps=k), _stroke(), None, big)
                    k = 3 - k + 2 if k < 3 else 2
            finally:
                os._exit(0)
        time.sleep(rng.uniform(0.0, 0.05))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        assert load_project(p).settings["steps"] in (1, 2, 3)
    old = time.time() - 3600
    for f in tmp_path.iterdir():
        os.utime(f, (old, old))
    save_project(p, _settings(steps=1))  # the next save removes what the kills left
    assert [f.name for f in tmp_path.iterdir()] == ["p.flowscope"]
