"""ARCHITECTURE.md layering: the math core, trainer and state never import Qt or OpenGL, so a
checkpoint loads and the CLI trains on a headless server."""

import ast
import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "flowscope"
FORBIDDEN = ("PySide6", "pyqtgraph", "OpenGL", "superqt", "PyQt5", "PyQt6", "shiboken6")
QT_FREE = ["core", "train", "state", "__init__.py", "cli.py", "cli_images.py", "__main__.py"]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.level > 0 and node.module:
            if node.module.split(".")[0] in ("ui", "app"):
                names.add("flowscope." + node.module)
    return names


def test_no_qt_imports_in_core_train_state_cli():
    files = []
    for part in QT_FREE + ["cli_diagnose.py", "diagnostics.py"]:
        p = PKG / part
        files += sorted(p.rglob("*.py")) if p.is_dir() else [p]
    assert len(files) > 20
    bad = {}
    for f in files:
        hits = {n for n in _imports(f) if n in FORBIDDEN or n.startswith("flowscope.ui")}
        if hits:
            bad[str(f.relative_to(PKG))] = sorted(hits)
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
