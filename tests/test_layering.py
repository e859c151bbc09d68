"""ARCHITECTURE.md layering: the math core, trainer and state never import Qt or OpenGL, so a
checkpoint loads and the CLI trains on a headless server; and each layer imports only from the
layers below it (core < train < state < ui < app < cli).

import-linter (pyproject.toml, run by scripts/test.sh) checks the same contracts on the import
graph; this test keeps a dependency-free check in the test suite, and tests the checker itself."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "flowscope"
FORBIDDEN = ("PySide6", "pyqtgraph", "OpenGL", "superqt", "PyQt5", "PyQt6", "shiboken6")
QT_FREE = ("core", "train", "state")
# top-level modules that import no Qt themselves either (`flowscope gui` imports the app lazily)
QT_FREE_TOP = (
    "__init__", "__main__", "_version", "cli", "cli_images", "cli_io", "cli_diagnose", "cli_reflow",
    "diagnostics",
)
# lowest first; a module may import from its own layer and the ones before it
LAYERS = ("core", "train", "state", "ui", "app", "cli")


def module_name(path: Path, root: Path = PKG) -> str:
    """Dotted name of root/core/data/presets.py: flowscope.core.data.presets."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([root.name, *parts])


def imported_modules(source: str, module: str, is_package: bool = False) -> set[str]:
    """Absolute names of everything `source` (the text of `module`) imports, at any depth of the
    file (also inside functions): relative imports are resolved against `module`, and
    `from a import b` counts both a and a.b (b may be a submodule)."""
    package = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            names.add(base)
            names.update(f"{base}.{a.name}" for a in node.names if a.name != "*")
    return names


def _layer(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != PKG.name or len(parts) < 2:
        return None
    name = parts[1]
    return LAYERS.index(name) if name in LAYERS else None


def violations(module: str, imports: set[str]) -> list[str]:
    """The imports of `module` that break the layering: Qt/GL from a Qt-free layer, or any module
    of a higher layer."""
    own = _layer(module)
    parts = module.split(".")
    qt_free = (own is not None and LAYERS[own] in QT_FREE) or (
        parts[0] == PKG.name and (len(parts) == 1 or parts[1] in QT_FREE_TOP)
    )
    bad = []
    for name in sorted(imports):
        if qt_free and name.split(".")[0] in FORBIDDEN:
            bad.append(name)
            continue
        other = _layer(name)
        if own is not None and other is not None and other > own:
            bad.append(name)
    return bad


def _package_files() -> list[Path]:
    return sorted(PKG.rglob("*.py"))


def test_checker_catches_absolute_relative_and_lazy_violations():
    core = "flowscope.core.data.presets"
    src = (
        "import numpy, torch\n"
        "from ..exact import ExactMarginal\n"  # same layer: fine
        "import flowscope.ui.main_window\n"  # absolute, a higher layer
        "from flowscope import train\n"  # absolute, names a higher-layer package
        "def f():\n"
        "    from ...state import AppState\n"  # relative, lazy, higher layer
        "    import PySide6.QtCore\n"  # Qt in the Qt-free core
        "    from ... import app\n"
    )
    found = violations(core, imported_modules(src, core))
    assert found == [
        "PySide6.QtCore",
        "flowscope.app",
        "flowscope.state",
        "flowscope.state.AppState",  # `from a import b` counts a.b too: b may be a module
        "flowscope.train",
        "flowscope.ui.main_window",
    ]
    # a higher layer may import lower ones, and ui may import Qt
    ui = "flowscope.ui.panels"
    ok = "import PySide6\nfrom ..state import AppState\nfrom flowscope.core import exact\n"
    assert violations(ui, imported_modules(ok, ui)) == []
    # __init__ of a package resolves relative imports against the package itself
    init = "from .trainer import Trainer\nfrom ..ui import x\n"
    names = imported_modules(init, "flowscope.train", is_package=True)
    assert "flowscope.train.trainer" in names
    assert violations("flowscope.train", names) == ["flowscope.ui", "flowscope.ui.x"]
    # the package root and the CLI import no Qt themselves (the app only lazily, by name)
    assert violations("flowscope", {"PySide6.QtCore", "flowscope.core"}) == ["PySide6.QtCore"]
    assert violations("flowscope.cli", {"pyqtgraph", "flowscope.app"}) == ["pyqtgraph"]


def test_checker_finds_a_violation_planted_in_a_copy_of_the_package(tmp_path):
    copy = tmp_path / "flowscope"
    target = copy / "core" / "schedules.py"
    target.parent.mkdir(parents=True)
    target.write_text((PKG / "core" / "schedules.py").read_text() + "\nimport flowscope.train\n")
    name = module_name(target, copy)
    assert name == "flowscope.core.schedules"
    assert violations(name, imported_modules(target.read_text(), name)) == ["flowscope.train"]


def test_every_layer_imports_only_from_below_and_qt_free_layers_import_no_qt():
    files = _package_files()
    assert sum(1 for f in files if f.relative_to(PKG).parts[0] in QT_FREE) > 20
    bad = {}
    for f in files:
        name = module_name(f)
        hits = violations(name, imported_modules(f.read_text(), name, f.name == "__init__.py"))
        if hits:
            bad[name] = hits
    assert not bad, bad


def test_loading_and_training_pull_in_no_qt_at_run_time():
    code = (
        "import sys, flowscope, flowscope.cli, flowscope.train, flowscope.state\n"
        "from flowscope.core import exact, samplers, metrics, export, checkpoint, flow_model\n"
        "from flowscope.train import session, compute\n"
        "from flowscope.state import project\n"
        "flowscope.data.load_target('two_moons')\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}]\n"
        "print(','.join(bad))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "", f"Qt/GL modules imported: {r.stdout}"


@pytest.mark.slow
def test_import_linter_contracts_hold():
    """The contracts in pyproject.toml, on this checkout (scripts/test.sh runs them too)."""
    pytest.importorskip("importlinter")
    exe = Path(sys.executable).with_name("lint-imports")
    root = PKG.parent
    env = {**os.environ, "PYTHONPATH": str(root)}
    r = subprocess.run([str(exe)], cwd=root, capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 broken" in r.stdout, r.stdout
