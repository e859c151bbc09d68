"""Drive the real window: a preset, training on, animation playing, the t slider moving every
0.5 s. Prints one JSON object: frames per second of the explorer, p95 frame time, GUI-thread CPU
per frame, slider-move -> first new frame latency (p95), and the trainer's steps/s as a ratio to a
trainer-only run in the same process (before and after the soak: its speed drifts on these VMs).
Diagnostics: the share of a core used by each process (window threads by name, compute child,
trainer, X server), how often the arrows were refreshed (and the longest gap), how many learned
trajectory sets arrived, and requests the window computed itself (the child not ready).

Settings-to-consistent-frame latency (issue 11, item 5): after the soak, with a busy loop on one
core beside it (a subprocess spinning, as a browser on a laptop) and training on, a control is
changed every few seconds (guidance w, sigma, steps, in turn) with --latency-particles particles;
the latency is the time from the change until the first frame painted whose particles were
computed with the new settings (a quick preview counts; the full set is reported too). Goal: p95
<= 1 s. ``--latency-only`` skips the soak; ``--compare-idle`` repeats the phase with the compute
child at the old idle priority (FLOWSCOPE_COMPUTE_PRIORITY=idle) in the same run.
Run under a display (xvfb-run on headless machines):

    xvfb-run -a -s "-screen 0 1600x1000x24 +extension GLX +render -noreset" \
        .venv/bin/python bench/gui_soak.py --seconds 30 --particles 10000
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, os.path.dirname(__file__))

import numpy as np  # noqa: E402
from _common import emit  # noqa: E402
from _procstat import xserver_pid  # noqa: E402
from PySide6.QtCore import QEvent, QObject, QTimer  # noqa: E402


class PaintCounter(QObject):
    """Timestamps of paint events on a widget (the GL viewport of the left plot)."""

    def __init__(self):
        super().__init__()
        self.times: list[float] = []

    def eventFilter(self, obj, event):  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.Paint:
            self.times.append(time.perf_counter())
        return False


def _xserver_cpu() -> float | None:
    """CPU seconds used so far by the X server (Xvfb / Xorg) of this DISPLAY, if visible."""
    pid = xserver_pid()
    try:
        return None if pid is None else _proc_cpu(pid)
    except (OSError, IndexError, ValueError):
        return None


def _proc_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        utime, stime = f.read().rsplit(")", 1)[1].split()[11:13]
    return (int(utime) + int(stime)) / os.sysconf("SC_CLK_TCK")


def _thread_cpu() -> dict[str, float]:
    """CPU seconds so far of each thread of this process, by name (same names summed)."""
    out: dict[str, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                head, tail = f.read().rsplit(")", 1)
            name = head.split("(", 1)[1]
            utime, stime = tail.split()[11:13]
        except (OSError, IndexError, ValueError):
            continue
        out[name] = out.get(name, 0.0) + (int(utime) + int(stime)) / tick
    return out


def _compute_cpu(worker) -> float:
    """CPU seconds of the compute worker: its child process, or its thread in this process."""
    pid = getattr(worker, "pid", None)
    if pid is not None:
        return _proc_cpu(pid)
    return time.clock_gettime(time.pthread_getcpuclockid(worker.thread_ident))


def trainer_solo(target_name: str, seconds: float, state) -> tuple[float, float | None]:
    """Steps/s of the same training session with no window (same process, same threads), and
    the share of a core its process used (None when it trains on a thread here)."""
    from flowscope.core.data import load_target
    from flowscope.core.models import ModelConfig
    from flowscope.train.process_session import ProcessTrainingSession, wait_ready
    from flowscope.train.session import TrainingSession
    from flowscope.train.trainer import TrainConfig

    target = load_target(target_name)
    mc = ModelConfig(width=state.width, depth=state.depth, num_classes=target.num_classes)
    tc = TrainConfig(steps=None, batch_size=state.batch_size, lr=state.lr, num_threads=1,
                     normalize="none")  # fmt: skip
    threads = os.environ.get("FLOWSCOPE_TRAIN_PROCESS", "1") == "0"
    if threads:
        s = TrainingSession(target, mc, tc)
    else:  # the same priority as the window gives its trainer
        from flowscope.train.priority import TRAINER_NICE

        s = ProcessTrainingSession(target, mc, tc, TRAINER_NICE)
    s.start()
    wait_ready(s)
    time.sleep(1.5)
    pid = None if threads else s.pid
    cpu0 = _proc_cpu(pid) if pid else 0.0
    n0, t0 = s.step_count, time.perf_counter()
    time.sleep(seconds)
    wall = time.perf_counter() - t0
    rate = (s.step_count - n0) / wall
    share = (_proc_cpu(pid) - cpu0) / wall if pid else None
    s.stop()
    return rate, share


def quiet_busy_rounds(app, win, slider_timer, rounds: int, seconds: float = 5.0) -> list:
    """The same trainer, same process, alternately beside a quiet window (frame timer and
    slider stopped, nothing playing) and the busy soak: steps/s busy / quiet per round. Drift
    of the machine's speed shows up in both halves of a round, unlike in separate solo runs."""

    def rate(busy: bool) -> float:
        if busy:
            win.timer.start()
            slider_timer.start(500)
            win.state.set(playing=True)
        else:
            slider_timer.stop()
            win.state.set(playing=False)
            win.timer.stop()
        t_end = time.perf_counter() + 1.0  # settle
        while time.perf_counter() < t_end:
            app.processEvents()
            time.sleep(0.001)
        n0, t0 = win.session.step_count, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            app.processEvents()
            time.sleep(0.001)
        return (win.session.step_count - n0) / (time.perf_counter() - t0)

    out = []
    for _ in range(rounds):
        quiet = rate(False)
        out.append(round(rate(True) / quiet, 3) if quiet else None)
    return out


def _settle(app, seconds: float) -> None:
    t_end = time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        app.processEvents()
        time.sleep(0.001)


#: the controls changed in turn: (state field, values cycled through)
LATENCY_CHANGES = (("w", (2.0, 1.0)), ("sigma", (0.5, 0.8)), ("steps", (40, 50)))


def settings_latency(app, win, counter, changes: int, particles: int, timeout: float = 15.0):
    """Change a control every few seconds while training, beside a busy core; per change the
    seconds until the first frame painted with particles of the new settings (any count) and
    until the full set is shown. Returns a dict of figures."""
    from flowscope.train.process_session import wait_ready

    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])  # one core kept busy
    try:
        win.state.set(n_particles=particles, playing=True)
        if win.session is None or not win.session.running:
            win.toggle_training()
        wait_ready(win.session)
        t_ready = time.perf_counter() + 60
        while not getattr(win.worker, "ready", True) and time.perf_counter() < t_ready:
            app.processEvents()
        # CPU seconds of a preview and of a full set (load-independent): latency ~ CPU / share
        # of a core the compute child gets
        _settle(app, 2.0)
        cpu_s = {}
        for label, n in (("preview", 800), ("full_set", particles)):
            r = win.view.trajectory_request(0, n)
            c0 = time.process_time()
            win.worker.compute_now(r)
            cpu_s[label] = round(time.process_time() - c0, 3)
        req = win.requests
        consistent, full, timeouts = [], [], 0
        n0, t0 = win.session.step_count, time.perf_counter()
        for i in range(changes):
            name, values = LATENCY_CHANGES[i % len(LATENCY_CHANGES)]
            value = values[(i // len(LATENCY_CHANGES)) % len(values)]
            if getattr(win.state, name) == value:
                value = values[1 - values.index(value)]
            _settle(app, 1.5)  # background refreshes run meanwhile, as in real use
            t_change = time.perf_counter()
            win.state.set(**{name: value})
            gen = req.settings_generation("trajectory")
            seen = got_full = None
            while time.perf_counter() - t_change < timeout:
                app.processEvents()
                tr = win.traj
                now = time.perf_counter()
                if tr is not None and tr.generation >= gen:
                    if seen is None:
                        seen = now
                    if got_full is None and tr.ode.shape[1] == particles:
                        got_full = now
                    if got_full is not None and counter.times and counter.times[-1] >= seen:
                        break  # the full set is shown and a frame was painted after both
                time.sleep(0.001)
            if seen is None:
                timeouts += 1
                consistent.append(timeout)
                full.append(timeout)
                continue
            painted = [p for p in counter.times if p >= seen]
            consistent.append((painted[0] if painted else seen) - t_change)
            full.append((got_full or time.perf_counter()) - t_change)
        wall = time.perf_counter() - t0
        steps = win.session.step_count - n0
    finally:
        busy.kill()
        busy.wait()

    def stats(xs):
        a = np.array(xs) * 1000
        return {"median_ms": round(float(np.median(a)), 1),
                "p95_ms": round(float(np.percentile(a, 95)), 1),
                "max_ms": round(float(a.max()), 1)}  # fmt: skip

    return {
        "changes": changes,
        "particles": particles,
        "busy_loop_cores": 1,
        "compute_priority": "idle" if getattr(win.worker, "child_nice", 0) > 0 else "normal",
        "settings_to_consistent_frame": stats(consistent),
        "settings_to_full_set": stats(full),
        "timeouts": timeouts,
        "timeout_s": timeout,
        "trainer_steps_per_s": round(steps / wall, 1),
        "cpu_s_of_one_request_learned": cpu_s,
        "load_average_1min_at_end": round(os.getloadavg()[0], 2),
    }


def latency_window(app, state, changes: int, particles: int) -> dict:
    """A fresh window (its compute worker made from the current environment), the latency
    phase, and shutdown."""
    from flowscope.ui.main_window import MainWindow

    win = MainWindow(state, ask_to_save=False)
    win.show()
    counter = PaintCounter()
    win.explorer.widgets()[0].viewport().installEventFilter(counter)
    _settle(app, 3.0)
    try:
        return settings_latency(app, win, counter, changes, particles)
    finally:
        win.shutdown()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--solo-seconds", type=float, default=10.0)
    ap.add_argument("--particles", type=int, default=10000)
    ap.add_argument("--preset", default="two_moons")
    ap.add_argument("--quick", action="store_true", help="8 s soak, 4 s solo")
    ap.add_argument("--save", action="store_true")
    ap.add_argument(
        "--ab-rounds", type=int, default=3, help="after the soak: (quiet, busy) rounds of 5 s"
    )
    ap.add_argument(
        "--latency-changes",
        type=int,
        default=15,
        help="control changes in the settings-latency phase (0: none)",
    )
    ap.add_argument("--latency-particles", type=int, default=4000)
    ap.add_argument("--latency-only", action="store_true", help="only the settings latency")
    ap.add_argument(
        "--compare-idle",
        action="store_true",
        help="also measure it with the compute child at the old idle priority",
    )
    a = ap.parse_args()
    if a.quick:
        a.seconds, a.solo_seconds, a.ab_rounds = 8.0, 4.0, 1
        a.latency_changes = min(a.latency_changes, 4)

    from flowscope.app import _configure_threads, make_app
    from flowscope.state import AppState
    from flowscope.ui.main_window import MainWindow

    _configure_threads()
    app = make_app()
    os.environ["FLOWSCOPE_HOME"] = ""
    if a.latency_only:
        lat_state = AppState(target_source=a.preset, n_particles=a.latency_particles)
        result = {"settings_latency": latency_window(
            app, lat_state, a.latency_changes, a.latency_particles
        )}  # fmt: skip
        if a.compare_idle:
            os.environ["FLOWSCOPE_COMPUTE_PRIORITY"] = "idle"
            lat_state = AppState(target_source=a.preset, n_particles=a.latency_particles)
            result["settings_latency_old_idle_priority"] = latency_window(
                app, lat_state, a.latency_changes, a.latency_particles
            )
            del os.environ["FLOWSCOPE_COMPUTE_PRIORITY"]
        emit("gui_soak_settings_latency", result, a)
        return 0
    state = AppState(target_source=a.preset, n_particles=a.particles)
    solo_before, solo_share_before = trainer_solo(a.preset, a.solo_seconds, state)

    os.environ["FLOWSCOPE_HOME"] = ""
    win = MainWindow(state, ask_to_save=False)
    win.show()
    viewport = win.explorer.widgets()[0].viewport()
    counter = PaintCounter()
    viewport.installEventFilter(counter)
    t_end = time.perf_counter() + 3.0
    while time.perf_counter() < t_end:  # let the first trajectories arrive
        app.processEvents()
    win.toggle_training()
    from flowscope.train.process_session import wait_ready

    wait_ready(win.session)
    t_end = time.perf_counter() + 1.5
    while time.perf_counter() < t_end:
        app.processEvents()
    moves: list[float] = []

    def move_slider():
        win.state.set(t=float(np.random.default_rng(len(moves)).uniform(0, 1)))
        moves.append(time.perf_counter())

    # animation keeps playing: the slider move sets t, then play resumes
    slider_timer = QTimer()
    slider_timer.timeout.connect(lambda: (move_slider(), win.state.set(playing=True)))
    slider_timer.start(500)
    counter.times.clear()
    field_times: list[float] = []
    show_field = win.view.show_field

    def timed_show_field():
        field_times.append(time.perf_counter())
        show_field()

    win.view.show_field = timed_show_field
    traj_times: list[float] = []  # learned trajectory sets that arrived (the particles)

    def on_result(kind, res):
        if kind == "trajectory" and getattr(res, "source", "") == "learned":
            traj_times.append(time.perf_counter())

    win.view.requests.resultReady.connect(on_result)
    n0 = win.session.step_count
    q0 = len(win.quality[0])
    ccpu0 = _compute_cpu(win.worker)
    here0 = getattr(win.worker, "computed_here", 0)
    t_ready = time.perf_counter() + 30
    while not getattr(win.worker, "ready", True) and time.perf_counter() < t_ready:
        app.processEvents()  # measure the steady state: the compute child has started
    trainer_pid = getattr(win.session, "pid", None)
    tcpu0 = _proc_cpu(trainer_pid) if trainer_pid else 0.0
    threads0 = _thread_cpu()
    xvfb0, proc0 = _xserver_cpu(), time.process_time()
    cpu0, t0 = time.thread_time(), time.perf_counter()
    while time.perf_counter() - t0 < a.seconds:
        app.processEvents()
        time.sleep(0.001)
    wall = time.perf_counter() - t0
    cpu = time.thread_time() - cpu0
    compute_cpu = _compute_cpu(win.worker) - ccpu0
    computed_here = getattr(win.worker, "computed_here", 0) - here0
    trainer_cpu = _proc_cpu(trainer_pid) - tcpu0 if trainer_pid else None
    process_cpu = time.process_time() - proc0
    xvfb1 = _xserver_cpu()
    threads1 = _thread_cpu()
    other_threads = {
        name: round((cpu - threads0.get(name, 0.0)) / wall, 3)
        for name, cpu in threads1.items()
        if cpu - threads0.get(name, 0.0) > 0.003 * wall
    }
    steps = win.session.step_count - n0
    refreshes = len(win.quality[0]) - q0
    paints, soak_moves = np.array(counter.times), list(moves)  # not the rounds' below
    fields = np.array(field_times)
    trajs = np.array([t for t in traj_times if t <= t0 + wall])
    traj_gaps = np.diff(np.concatenate([[t0], trajs[trajs >= t0], [t0 + wall]])) * 1000
    ab = quiet_busy_rounds(app, win, slider_timer, a.ab_rounds)
    slider_timer.stop()
    latency = None
    if a.latency_changes:
        latency = settings_latency(app, win, counter, a.latency_changes, a.latency_particles)
    win.shutdown()
    # solo speed drifts on these VMs: measure it before and after the soak, use the mean
    solo_after, solo_share_after = trainer_solo(a.preset, a.solo_seconds, state)
    solo = 0.5 * (solo_before + solo_after)

    frames = len(paints)
    dts = np.diff(paints) * 1000 if frames > 1 else np.array([np.nan])
    fields = fields[(fields >= t0) & (fields <= t0 + wall)]
    field_gaps = np.diff(np.concatenate([[t0], fields, [t0 + wall]])) * 1000
    lat = []
    for m in soak_moves:
        after = paints[paints > m]
        if len(after):
            lat.append((after[0] - m) * 1000)
    result = {
        "preset": a.preset,
        "particles": a.particles,
        "seconds": round(wall, 2),
        "fps": round(frames / wall, 1),
        "frame_ms_median": round(float(np.median(dts)), 2),
        "frame_ms_p95": round(float(np.percentile(dts, 95)), 2),
        "gui_cpu_ms_per_frame": round(cpu * 1000 / max(frames, 1), 2),
        "gui_cpu_share": round(cpu / wall, 3),
        "compute_cpu_share": round(compute_cpu / wall, 3),
        "window_process_cpu_share": round(process_cpu / wall, 3),
        "trainer_cpu_share": None if trainer_cpu is None else round(trainer_cpu / wall, 3),
        "trainer_cpu_share_solo_before_after": [
            None if v is None else round(v, 3) for v in (solo_share_before, solo_share_after)
        ],
        "window_thread_cpu_shares": other_threads,
        "x_server_cpu_share": None if xvfb0 is None else round((xvfb1 - xvfb0) / wall, 3),
        "slider_to_frame_ms_median": round(float(np.median(lat)), 1) if lat else None,
        "slider_to_frame_ms_p95": round(float(np.percentile(lat, 95)), 1) if lat else None,
        "slider_moves": len(soak_moves),
        "learned_trajectory_refreshes": refreshes,
        "learned_trajectory_sets": int(((trajs >= t0) & (trajs <= t0 + wall)).sum()),
        "learned_trajectory_gap_ms_max": round(float(traj_gaps.max()), 1),
        "requests_computed_in_window_process": computed_here,
        "field_refreshes_per_s": round(len(fields) / wall, 2),
        "field_gap_ms_max": round(float(field_gaps.max()), 1),
        "trainer_steps_per_s_gui": round(steps / wall, 1),
        "trainer_steps_per_s_solo": round(solo, 1),
        "trainer_steps_per_s_solo_before_after": [round(solo_before, 1), round(solo_after, 1)],
        "trainer_ratio": round(steps / wall / solo, 3) if solo else None,
        "trainer_ratio_quiet_busy_rounds": ab,
        "trainer_ratio_quiet_busy_median": round(float(np.median(ab)), 3) if ab else None,
        "uses_gl": bool(win.explorer.uses_gl()),
        "trainer_in": "thread" if os.environ.get("FLOWSCOPE_TRAIN_PROCESS") == "0" else "process",
        "compute_in": "process" if getattr(win.worker, "pid", None) else "thread",
        "settings_latency": latency,
    }
    emit("gui_soak", result, a)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
