"""``flowscope open MODEL``: the desktop window on a trained model, without training it.

A 2D model (an ONNX file or a flowscope model folder / model.json) opens in the 2D window as a
fixed field beside the exact one (File > Open model); an image model folder opens in image mode,
which keeps sampling and exploring it (grid, w, strip) and may continue training it.
"""

from __future__ import annotations

import sys
from pathlib import Path


def _is_image_model(path: Path) -> bool:
    import json

    if path.suffix.lower() == ".onnx":
        return False
    meta = path / "model.json" if path.is_dir() else path.with_name("model.json")
    try:
        return json.loads(meta.read_text()).get("kind") == "image"
    except (OSError, ValueError, AttributeError):
        return False  # the 2D loader says what is wrong with it


def run_open(args) -> int:
    from .app import _configure_threads, _has_display, _show_and_run, make_app

    path = Path(args.model).expanduser()
    if not path.exists():
        print(f"flowscope: error: file not found: {path}", file=sys.stderr)
        return 2
    if not _has_display():
        print("flowscope: error: no display found (DISPLAY is not set); run it in a desktop "
              "session or under xvfb-run", file=sys.stderr)  # fmt: skip
        return 2
    _configure_threads()
    app = make_app()
    scripted = bool(getattr(args, "screenshot", None))
    if _is_image_model(path):
        from .state import ImageState
        from .ui.image_window import ImageWindow

        win = ImageWindow(ImageState(), ask_to_save=False)
        win.model_files.autosave_enabled = False  # opening a model never replaces the last one
        ok = win.model_files.open_model(path)
        runner = _scripted_images
    else:
        from .state import AppState
        from .ui.external_field import open_model
        from .ui.main_window import MainWindow
        from .ui.scripted import run_scripted

        win = MainWindow(AppState(), ask_to_save=False)
        win.project.autosave_enabled = False
        if args.t is not None:
            win.state.set(t=min(max(float(args.t), 0.0), 1.0), playing=False)
        ok = open_model(win, path)
        runner = run_scripted
    if not ok:
        print(f"flowscope: error: {getattr(win, 'last_error', 'cannot open the model')}",
              file=sys.stderr)  # fmt: skip
        win.shutdown()
        return 2
    args.train_steps = 0
    return _show_and_run(app, win, args, runner if scripted else None)


def _scripted_images(app, win, args) -> int:
    """--screenshot of an opened image model: wait for its weights (the training process
    publishes them), sample the grid and the strip, save."""
    import time

    from .ui.scripted import run_events, run_scripted_images

    deadline = time.time() + 60
    while win.sessions.snapshot is None and time.time() < deadline:
        run_events(app, 0.1)
    win.render_now()
    return run_scripted_images(app, win, args)
