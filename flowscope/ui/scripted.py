"""Scripted mode: open the window, train N steps, render at time t, save a screenshot, exit."""

from __future__ import annotations

import sys

from PySide6.QtCore import QEventLoop, QTimer


def run_events(app, seconds: float) -> None:
    """Run the event loop for ``seconds`` (results arrive, the window paints)."""
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def run_scripted(app, win, args) -> int:
    steps = max(0, int(args.train_steps or 0))
    run_events(app, 0.3)
    if steps:
        _train_until(app, win, steps)
    win.render_now()
    diag = getattr(win, "diagnostics", None)
    if diag is not None:
        if getattr(args, "panel", None) == "diagnostics":
            win.curve_tabs.setCurrentWidget(win.diagnostics_panel)
            win.control_scroll.ensureWidgetVisible(win.curve_tabs)  # scrolled to on a laptop
        if getattr(args, "panel", None) == "diagnostics" or getattr(args, "heatmap", None):
            diag.render_now()  # the panel and a diagnostic heatmap, computed here
    run_events(app, 0.5)
    return _save_and_close(win, args.screenshot)


def _train_until(app, win, steps: int) -> None:
    """Train ``steps`` steps in the window's session, pause, and wait for their snapshot (the
    window shows the training status when the controller says ``trained``)."""
    win.sessions.train_steps(steps, wait=lambda: run_events(app, 0.05))


def run_scripted_images(app, win, args) -> int:
    """Image mode: train N steps, draw the grid and the strip, save a screenshot, exit."""
    steps = max(0, int(args.train_steps or 0))
    run_events(app, 0.3)
    if steps:
        _train_until(app, win, steps)
        win.render_now()
    run_events(app, 0.3)
    return _save_and_close(win, args.screenshot)


def _save_and_close(win, path: str) -> int:
    """Save the window's picture to ``path``, close the window; the exit code."""
    img = grab_window(win)
    ok = img.save(path)
    win.shutdown()
    win.ask_to_save = False
    win.close()
    if not ok or img.isNull():
        print(f"flowscope: error: could not save the screenshot to {path}", file=sys.stderr)
        return 2
    print(f"saved screenshot {path}")
    return 0


def grab_window(win):
    """The window as shown, GL content included: the screen's pixels under X11 (Xvfb), else
    the widget grab with the explorer rendered into it."""
    from PySide6.QtGui import QPainter

    from .paint_turns import release_held

    release_held()  # a view whose repaint waits a turn (paint_turns) would be grabbed stale
    win.repaint()
    screen = win.screen()
    img = screen.grabWindow(win.winId()).toImage() if screen is not None else None
    if img is None or img.isNull() or _blank(img):
        img = win.grab().toImage()
        if not hasattr(win, "explorer"):
            return img
        painter = QPainter(img)
        ex = win.explorer
        painter.drawImage(ex.mapTo(win, ex.rect().topLeft()), ex.render_image())
        painter.end()
    return img


def _blank(img) -> bool:
    small = img.scaled(32, 32)
    colors = {small.pixel(x, y) for x in range(32) for y in range(32)}
    return len(colors) < 3
