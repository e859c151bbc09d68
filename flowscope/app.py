"""Composition root: QApplication, state, window, scripted demo mode, clean shutdown."""

from __future__ import annotations

import os
import sys
from typing import NoReturn


def _keep_freed_memory() -> None:
    """glibc returns freed multi-MB numpy buffers to the OS and faults them in again on the next
    frame; on the 2-core VMs that made the particle splat ~2x slower. Keep them in the heap."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 64 * 1024 * 1024)  # M_MMAP_THRESHOLD: heap-allocate up to 64 MB
        libc.mallopt(-1, 256 * 1024 * 1024)  # M_TRIM_THRESHOLD: keep up to 256 MB free
    except (OSError, AttributeError):  # not glibc (musl, ...): nothing to tune
        pass


def _configure_threads() -> None:
    """One intra-op torch thread per torch-running thread on small machines (PITFALLS.md 4)."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    _keep_freed_memory()
    import torch

    torch.set_num_threads(1)
    # The trainer thread re-takes the GIL after every small torch op; with the GUI thread
    # painting (PySide holds the GIL meanwhile) the default 5 ms switch interval made it wait
    # up to 5 ms per op. 0.5 ms doubled its speed in bench/gui_soak.py at no cost in frames.
    sys.setswitchinterval(0.0005)


def freeze_startup_objects() -> None:
    """Leave the objects made at start-up (modules, torch, Qt wrappers: ~240k) out of Python's
    cyclic garbage collector. A full collection walked all of them on the GUI thread: a
    100-600 ms stall every few seconds of use (bench/gui_latency.py, 2-core CPU). They live as
    long as the app; objects made later are still collected. (No gc.collect() first: that
    full collection would itself stall the first frames.)"""
    import gc

    gc.freeze()


#: Qt's raster engine hands every large fill (a heatmap, a cached layer, the axes' grid) to a
#: pool of threads and waits for them. With the trainer and the compute child on the cores,
#: those threads waited for a core while the GUI thread slept (bench/gui_latency.py: the
#: "blocked" part of the window's longest stalls halved without the pool, the median stall
#: with training on fell from 29-44 to 25-31 ms). Set before the pool is first used; a value
#: the user set is kept (Qt checks only whether the variable is set).
NO_GUI_THREADPOOL = "QT_NO_GUI_THREADPOOL"


def make_app(argv: list[str] | None = None):
    import pyqtgraph as pg
    from PySide6.QtWidgets import QApplication

    os.environ.setdefault(NO_GUI_THREADPOOL, "1")

    app = QApplication.instance() or QApplication(argv or sys.argv[:1])
    app.setApplicationName("flowscope")
    app.setOrganizationName("flowscope")
    pg.setConfigOptions(antialias=False, background="w", foreground="k")
    return app


def _has_display() -> bool:
    if sys.platform != "linux" or os.environ.get("QT_QPA_PLATFORM"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def leave_process(code: int) -> NoReturn:
    """End the process after the GUI returned ``code``, skipping Python's teardown of the Qt
    wrappers. The window has shut down by then (training children stopped, the project and
    screenshots written, see MainWindow.shutdown), so nothing the user made is in flight.
    PySide6 can crash while the interpreter destroys the QApplication and the wrappers left
    at exit (PYSIDE-2254: an intermittent SIGSEGV after all work is done; seen here about once
    in tens of scripted runs under load, exit code -11 after "saved screenshot"), which turns a
    successful run into a failed exit code. Only the command line's GUI commands call this."""
    import logging
    import multiprocessing.util

    from .train.trainer_worker import shutdown_pool

    shutdown_pool()  # the idle trainer process kept for a next session
    logging.shutdown()
    # what multiprocessing's own exit hook does (finalize queues, join ended children): without
    # it the resource tracker warns of "leaked semaphore objects" after every run
    multiprocessing.util._exit_function()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said there
            pass
    os._exit(int(code))


def run_app(args) -> int:
    """`flowscope [gui] [--demo PRESET --train-steps N --t T --screenshot PNG]`."""
    if not _has_display():
        if getattr(args, "screenshot", None):
            os.environ["QT_QPA_PLATFORM"] = "offscreen"  # raster views render without a screen
        else:
            print(
                "flowscope: error: no display found (DISPLAY is not set). Run it in a desktop "
                "session, or under xvfb-run; train/sample/export work without one.",
                file=sys.stderr,
            )
            return 2
    _configure_threads()
    app = make_app()
    if getattr(args, "images", None):
        return _run_image_mode(app, args)
    from .state import AppState
    from .ui.main_window import MainWindow
    from .ui.window_base import last_session_path

    state = AppState()
    scripted = bool(getattr(args, "screenshot", None))
    if getattr(args, "demo", None):
        state.target_source = args.demo
    if args.t is not None:
        if not 0.0 <= args.t <= 1.0:
            print("flowscope: error: --t must be in [0, 1]", file=sys.stderr)
            return 2
        state.t, state.playing = float(args.t), False
    if getattr(args, "heatmap", None):
        state.density_source = args.heatmap
    win = MainWindow(state, ask_to_save=not scripted)
    win.project.autosave_enabled = not scripted  # a scripted demo never touches the user's session
    if win.target is None:  # the demo preset could not be loaded
        print(
            f"flowscope: error: {win.last_error or 'cannot load the target'}",
            file=sys.stderr,
        )
        win.shutdown()
        return 2
    if not scripted and not getattr(args, "demo", None):
        last = last_session_path()
        if last is not None and os.path.lexists(last):
            restore_last_session(win, last)
    from .ui.scripted import run_scripted

    return _show_and_run(app, win, args, run_scripted if scripted else None)


def restore_last_session(win, path) -> bool:
    """Open the last session's project in ``win``; True when it was restored.

    Nothing read from it may stop the app from starting: the project is validated first, and
    when anything is wrong (or opening it fails in any way) the window starts with the default
    preset, one line on stderr and in the status bar says why, and the file is moved aside as
    ``last-session.flowscope.broken-DATE`` (kept, never deleted, never overwritten)."""
    from pathlib import Path

    from .state import AppState
    from .state.project import load_project, move_aside

    path = Path(path)
    win.ask_to_save, keep = False, win.ask_to_save
    why = None
    try:
        load_project(path)  # validates everything; ProjectError says what is wrong
        if not win.open_project(path):
            why = win.last_error or "it could not be opened"
    except Exception as e:  # noqa: BLE001 - restoring must never prevent starting
        why = str(e) or type(e).__name__
    finally:
        win.ask_to_save = keep
    win.project.path = None
    if why is None:
        return True
    try:
        defaults = AppState().to_dict()
        defaults.pop("target_source")
        win.state.update_from_dict(defaults)
        win.set_target_source("two_moons")
    except Exception:  # noqa: BLE001 - the window is usable with whatever it has
        pass
    dest = move_aside(path)
    where = f"it was moved to {dest}" if dest else "it could not be moved aside"
    line = f"the last session could not be restored ({why}); {where}"
    print(f"flowscope: {line}", file=sys.stderr)
    win.statusBar().showMessage(line, 15000)
    win.dirty = False
    return False


def _show_and_run(app, win, args, scripted) -> int:
    """Show the window, then run the scripted demo (``scripted(app, win, args)``) or the app."""
    win.show()
    freeze_startup_objects()
    if scripted is not None:
        return scripted(app, win, args)
    code = app.exec()
    win.shutdown()
    return code


def _run_image_mode(app, args) -> int:
    """`flowscope --images [DATA] [--train-steps N --screenshot PNG]`."""
    from .state import ImageState
    from .ui.image_window import ImageWindow

    scripted = bool(getattr(args, "screenshot", None))
    state = ImageState(dataset=str(args.images))
    win = ImageWindow(state, ask_to_save=False)  # a bad DATA is reported here, not in a dialog
    win.model_files.autosave_enabled = not scripted
    win.ask_to_save = not scripted
    if win.dataset is None:
        print(f"flowscope: error: {win.last_error or 'cannot load the dataset'}", file=sys.stderr)
        win.shutdown()
        return 2
    from .ui.scripted import run_scripted_images

    return _show_and_run(app, win, args, run_scripted_images if scripted else None)
