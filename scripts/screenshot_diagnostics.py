"""The README's Diagnostics screenshot: a drawn target, trained, with the Diagnostics tab open
and the weighted error map as the heatmap.

    xvfb-run -a -s "-screen 0 1600x1250x24 +extension GLX +render -noreset" \\
        python scripts/screenshot_diagnostics.py assets/screenshot-diagnostics.png [STEPS]
"""

from __future__ import annotations

import sys

import numpy as np


def main() -> int:
    out = sys.argv[1] if len(sys.argv) > 1 else "assets/screenshot-diagnostics.png"
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 1500
    from flowscope.app import _configure_threads, make_app

    _configure_threads()
    app = make_app()
    from flowscope.core.data import Drawing, Stroke
    from flowscope.state import AppState
    from flowscope.ui.main_window import MainWindow
    from flowscope.ui.scripted import _save_and_close, _wait

    state = AppState(target_source="two_moons", t=0.9, playing=False, density_source="error")
    win = MainWindow(state, ask_to_save=False)
    win.autosave_enabled = False
    s = np.linspace(0, 2 * np.pi, 80)
    heart = np.stack([16 * np.sin(s) ** 3, 13 * np.cos(s) - 5 * np.cos(2 * s)
                      - 2 * np.cos(3 * s) - np.cos(4 * s)], 1) / 8.0  # fmt: skip
    bar = np.stack([np.zeros(30), np.linspace(-1.2, 1.2, 30)], 1)
    drawing = Drawing()
    drawing.add(Stroke(heart, 0.5))
    drawing.add(Stroke(bar, 0.5))
    win.canvas.set_drawing(drawing)
    win.set_target_source("drawing")
    win.resize(1600, 1220)
    win.show()
    _wait(app, 0.5)
    win.sessions.train_steps(steps, wait=lambda: _wait(app, 0.05))
    win._update_training_status()
    win.curve_tabs.setCurrentWidget(win.diagnostics_panel)
    win.render_now()
    win.diagnostics.render_now()
    _wait(app, 0.8)
    return _save_and_close(win, out)


if __name__ == "__main__":
    sys.exit(main())
