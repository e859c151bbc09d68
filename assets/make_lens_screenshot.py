"""Screenshot of the posterior lens for the README (assets/posterior_lens.png).

Run under a display (Xvfb):
    xvfb-run -a -s "-screen 0 1600x1000x24 +extension GLX +render" \
        python assets/make_lens_screenshot.py --size 1600x1000 --out assets/posterior_lens.png
Trains the default network a few hundred steps (so the green u_theta arrow shows), pins the lens
at a point between the modes at time t and saves the window.
"""

from __future__ import annotations

import argparse
import os
import sys


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="1600x1000")
    ap.add_argument("--out", default="assets/posterior_lens.png")
    ap.add_argument("--preset", default="eight_gaussians")
    ap.add_argument("--t", type=float, default=0.45)
    ap.add_argument("--x", type=float, nargs=2, default=(0.55, 0.35))
    ap.add_argument("--train-steps", type=int, default=400)
    ap.add_argument("--mode", choices=("lens", "conditional"), default="lens")
    args = ap.parse_args()
    os.environ.setdefault("FLOWSCOPE_HOME", "")  # never touch the user's last session
    from flowscope.app import _configure_threads, make_app
    from flowscope.state import AppState
    from flowscope.ui.main_window import MainWindow
    from flowscope.ui.scripted import _save_and_close, _train_until, _wait

    _configure_threads()
    app = make_app()
    w, h = (int(v) for v in args.size.lower().split("x"))
    win = MainWindow(AppState(target_source=args.preset, t=args.t), ask_to_save=False)
    win.autosave_enabled = False
    win.resize(w, h)
    win.show()
    _wait(app, 0.5)
    if args.train_steps:
        _train_until(app, win, args.train_steps)
    win.state.set(t=args.t, playing=False)
    win.render_now(args.t)
    if args.mode == "conditional":  # z at --x, shown at t
        win.conditional.set_z(args.x)
        win.conditional.set_active(True)
        _wait(app, 0.3)
        return _save_and_close(win, args.out)
    win.lens.set_enabled(True)
    win.lens.pin(args.x)
    for _ in range(100):  # the network's arrow comes from the compute side
        _wait(app, 0.1)
        if win.lens.learned is not None or win.sessions.snapshot is None:
            break
    _wait(app, 0.3)
    return _save_and_close(win, args.out)


if __name__ == "__main__":
    sys.exit(main())
