"""``flowscope.show(field)``: the 2D explorer on a field from your own code (see README, "Bring your
own field").

    >>> import flowscope
    >>> flowscope.show(my_velocity_net, target="two_moons")     # blocks like plt.show()

In a script it blocks until the window is closed (a QApplication is made if there is none).
From IPython / Jupyter with the Qt event loop integrated (``%gui qt``), or from code already
running inside a Qt event loop, it returns the window at once and the loop keeps it alive.
"""

from __future__ import annotations

import os
from typing import Any

#: the windows ``show`` returned without blocking (kept so they are not garbage collected)
_open_windows: list = []
#: tests: close a blocking ``show`` window after this many milliseconds
CLOSE_AFTER_ENV = "FLOWSCOPE_SHOW_CLOSE_AFTER_MS"
OWN_SAMPLES = 2000


def show(
    field: Any,
    target: Any = None,
    schedule: str = "condot",
    classes: Any = None,
    *,
    parameterization: str = "velocity",
    time_convention: str = "t0_noise",
    name: str | None = None,
    block: bool | None = None,
):
    """Open the 2D explorer on ``field`` (no training), beside the exact field of ``target``.

    field: a velocity v(x, t[, y]) for x of shape (N, 2): a function, a torch module (called on
        its own device), a flowscope FlowModel or OnnxField. t = 0 noise, t = 1 data unless
        ``time_convention="t1_noise"``; ``parameterization="score" | "noise"`` for networks that
        predict those on the Gaussian path of ``schedule`` (see flowscope.core.external).
    target: a preset name ("two_moons", ...), a point / image file, an (N, 2) or (N, 3) array of
        points (third column: labels), or a flowscope Target. None: the exact side shows the
        field's own ODE samples (2000 of them, as a mixture).
    classes: the number of classes or their names, for a field called as v(x, t, y).
    block: None: block unless a Qt event loop is integrated (Jupyter ``%gui qt``) or running.

    Returns the window (after it was closed, when blocking).
    """
    from PySide6.QtCore import QTimer

    from .core.external import as_field
    from .state import AppState
    from .ui.external_field import ExternalFieldWindow, attach_field

    f = as_field(field, schedule, parameterization, time_convention, classes)
    _check_2d(f)
    label = name or getattr(field, "__name__", None) or type(field).__name__
    running = event_loop_running()
    app = _application()
    tgt = _target(target, f, schedule)
    state = AppState()
    if schedule in _schedule_names():
        state.set(schedule=schedule)
    win = ExternalFieldWindow(state, ask_to_save=False)
    win.project.autosave_enabled = False  # never the user's last session
    attach_field(win, f, label, tgt)
    win.show()
    if block is None:
        block = not running
    if not block:
        _open_windows[:] = [w for w in _open_windows if _alive(w)] + [win]
        return win
    close_after = os.environ.get(CLOSE_AFTER_ENV)
    if close_after:
        QTimer.singleShot(int(close_after), win.close)
    app.exec()
    return win


def _alive(win) -> bool:
    """An open window (a closed one, or one whose C++ side was deleted, is let go)."""
    try:
        return bool(win.isVisible())
    except RuntimeError:  # "Internal C++ object already deleted"
        return False


def event_loop_running() -> bool:
    """True when ``show`` must not block: this thread is inside a Qt event loop, or IPython /
    Jupyter runs the Qt loop between cells (``%gui qt``)."""
    from PySide6.QtCore import QCoreApplication, QThread

    if QCoreApplication.instance() is not None and QThread.currentThread().loopLevel() > 0:
        return True
    shell = _ipython()
    if shell is None:
        return False
    gui = str(getattr(shell, "active_eventloop", None) or "")
    loop = getattr(getattr(shell, "kernel", None), "eventloop", None)
    return "qt" in gui.lower() or "qt" in str(getattr(loop, "__name__", "")).lower()


def _application():
    """The running QApplication, or a new one (as app.make_app; not imported from there: the
    app layer sits above ui, and ``flowscope.show`` is reachable from the ui layer)."""
    import sys

    import pyqtgraph as pg
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        import os

        os.environ.setdefault("QT_NO_GUI_THREADPOOL", "1")  # see app.NO_GUI_THREADPOOL
        app = QApplication(sys.argv[:1])
        app.setApplicationName("flowscope")
        pg.setConfigOptions(antialias=False, background="w", foreground="k")
    return app


def _ipython():
    import sys

    mod = sys.modules.get("IPython")
    get = getattr(mod, "get_ipython", None)
    return get() if callable(get) else None


def _schedule_names():
    from .core.schedules import SCHEDULE_NAMES

    return SCHEDULE_NAMES


def _check_2d(field) -> None:
    import torch

    x = torch.zeros(3, 2)
    try:
        u = field.velocity(x, 0.5)
    except Exception as e:  # noqa: BLE001 - the user's function: say what went wrong, once
        raise ValueError(
            f"the field could not be evaluated at x of shape (3, 2), t = 0.5: "
            f"{type(e).__name__}: {e}"
        ) from e
    if tuple(u.shape) != (3, 2):
        raise ValueError(f"show() is for 2D fields; the field returned shape {tuple(u.shape)}")


def _target(target, field, schedule: str):
    """The Target beside the field (see ``show``)."""
    import numpy as np
    import torch

    from .core.data import load_target
    from .core.data.points import target_from_array
    from .core.data.target import Target

    if isinstance(target, Target):
        return target
    if isinstance(target, str | os.PathLike):
        t = load_target(str(target))
        t.exact = t.exact.with_schedule(schedule)
        return t
    if target is not None:
        return target_from_array(np.asarray(target, dtype=np.float64), schedule=schedule,
                                 name="your points")  # fmt: skip
    from .core.samplers import sample_ode

    g = torch.Generator().manual_seed(0)
    x1 = sample_ode(field, torch.randn(OWN_SAMPLES, 2, generator=g), steps=50).x.double().numpy()
    x1 = x1[np.isfinite(x1).all(1)]
    if len(x1) < OWN_SAMPLES // 2:
        raise ValueError("the field's ODE samples blew up (NaN or Inf): give a target")
    span = float(np.ptp(x1, axis=0).max()) or 1.0
    return target_from_array(x1, width=0.01 * span, schedule=schedule,
                             name="the field's own samples")  # fmt: skip
