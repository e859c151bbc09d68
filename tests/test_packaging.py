"""A built wheel is a working install: it ships the assets (the logo preset), carries the one
version, and trains from outside the checkout. Built offline from a copy of the package (no
build/ or egg-info left in the checkout), installed into a fresh venv that borrows this
environment's dependencies (torch is never downloaded)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(cmd: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"{cmd} failed:\n{r.stdout}\n{r.stderr}"
    return r


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    pytest.importorskip("setuptools")
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "flowscope", src / "flowscope",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
          "-q", "-w", str(out), str(src)], cwd=src)  # fmt: skip
    (built,) = out.glob("flowscope-*.whl")
    return built


@pytest.mark.slow
def test_the_wheel_ships_the_assets_and_one_version(wheel):
    from flowscope import __version__

    assert wheel.name.startswith(f"flowscope-{__version__}-")  # pyproject reads _version.py
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        meta = z.read(f"flowscope-{__version__}.dist-info/METADATA").decode()
    assert "flowscope/assets/logo.png" in names
    assert f"Version: {__version__}" in meta
    assert not any(n.startswith(("tests/", "bench/", "assets/")) for n in names)


@pytest.mark.slow
def test_the_installed_wheel_trains_on_the_logo_outside_the_checkout(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(env_dir)
    py = env_dir / "bin" / "python"
    # this environment's dependencies (torch, numpy, ...) without downloading anything: a path
    # line adds its site-packages after the new venv's own, without running its .pth files
    # (so an editable flowscope install there stays invisible)
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    purelib = Path(_run([str(py), "-c", code], cwd=tmp_path).stdout.strip())
    (purelib / "borrowed-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index",
          "-q", str(wheel)], cwd=tmp_path)  # fmt: skip
    work = tmp_path / "elsewhere"
    work.mkdir()
    where = _run([str(py), "-c", "import flowscope; print(flowscope.__file__)"], cwd=work)
    assert Path(where.stdout.strip()).is_relative_to(env_dir)  # the wheel, not the checkout
    out = work / "run"
    r = _run([str(py), "-m", "flowscope", "train", "--data", "logo", "--steps", "5",
              "--width", "16", "--depth", "1", "--quiet", "--out", str(out)], cwd=work)  # fmt: skip
    assert "5 steps" in r.stdout
    meta = json.loads((out / "model.json").read_text())
    assert meta["data"]["name"] == "logo" and meta["training"]["steps"] == 5
    assert (out / "model.safetensors").stat().st_size > 0
