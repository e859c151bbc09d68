"""How long does the window stop answering when the user does something? Drives the real main
window under a display through every preset, three drawing strokes, objective / schedule / label
dropout changes and a project open, first with training off, then on. A 5 ms heartbeat timer runs
on the GUI thread; for each action the longest gap between two heartbeats (from the action until
the window has settled) is reported as a key ending in ``gap_ms``. Goal: no gap over 50 ms on the
2-core CPU. Prints one JSON object; --save keeps it in bench/results/.

Why a gap is long: ``longest_gap_parts`` splits each action's longest gap into the GUI thread's
CPU time, its time in the run queue waiting for a core (Linux schedstat: other processes had
both cores) and the rest (blocked: the GIL, a GL or X round trip, or on a VM time stolen by
the hypervisor: ``steal_s`` says how much the whole run lost). ``--who`` adds the CPU that the
window's other threads, its Qt image-pool threads, the trainer and compute children and the X
server used in that gap.

    xvfb-run -a -s "-screen 0 1600x1000x24 +extension GLX +render -noreset" \\
        .venv/bin/python bench/gui_latency.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, os.path.dirname(__file__))

import numpy as np  # noqa: E402
from _common import emit, log, parser, rnd  # noqa: E402
from _procstat import schedstat, steal_seconds, xserver_pid  # noqa: E402
from PySide6.QtCore import QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402


class Heartbeat:
    """A 5 ms timer on the GUI thread; its tick times show how long the event loop was blocked."""

    def __init__(self, who: bool = False):
        self.ticks: list[float] = []
        self.cpu: list[float] = []  # the GUI thread's CPU time at each tick
        #: the GUI thread's time waiting for a core (in the run queue) at each tick (Linux)
        self.queued: list[float] = []
        self._linux = os.path.exists("/proc/thread-self/schedstat")
        #: --who: at each tick, the CPU seconds of everything else that ran (see others_cpu)
        self.others: list[dict[str, float]] | None = [] if who and self._linux else None
        self._pids: dict[int, str] = {}
        self.timer = QTimer()
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _tick(self) -> None:
        self.ticks.append(time.perf_counter())
        self.cpu.append(time.thread_time())
        self.queued.append(self.queued_now())
        if self.others is not None:
            self.others.append(self.others_cpu())

    def queued_now(self) -> float:
        """The GUI thread's total time in the run queue (0 where Linux does not say)."""
        return schedstat("/proc/thread-self")[1] if self._linux else 0.0

    def watch(self, pids: dict[int, str]) -> None:
        """--who: also count these processes (pid -> name), e.g. the children and the X server."""
        self._pids = dict(pids)

    def others_cpu(self) -> dict[str, float]:
        """CPU seconds so far of this process's other threads (Qt's pool threads apart: they
        scale and convert images for the GUI thread's paints) and of each watched process."""
        out: dict[str, float] = {}
        me = threading.get_native_id()
        for task in os.scandir(f"/proc/{os.getpid()}/task"):
            if int(task.name) == me:
                continue
            pool = _comm(task.path) == "Thread (pooled)"
            name = "window: Qt pool threads" if pool else "window: other threads"
            out[name] = out.get(name, 0.0) + schedstat(task.path)[0]
        for pid, name in self._pids.items():
            out[name] = sum(schedstat(t.path)[0] for t in _tasks(pid))
        steal = steal_seconds()
        if steal is not None:  # the whole VM's, in 10 ms ticks: stolen from any of its CPUs
            out["stolen by the hypervisor (VM)"] = steal
        return out

    def others_in_longest(self, since: float) -> dict[str, float]:
        """--who: the CPU ms of each other thread group and process in the longest gap."""
        if not self.others:
            return {}
        first = self._first(since)
        if len(self.ticks) - first < 2:
            return {}
        k = first + int(np.argmax(np.diff(self.ticks[first:])))
        a, b = self.others[k], self.others[k + 1]
        return {n: round(1000.0 * (v - a.get(n, 0.0)), 1) for n, v in b.items()}

    def longest_gap(self, since: float, cpu_since: float) -> tuple[float, float]:
        """The longest stretch without a tick from ``since`` until now, and the most CPU time
        the GUI thread used between two ticks (what the stretch would be with the CPU to itself:
        on a machine shared with other jobs the wall-clock gap also counts their time)."""
        gap, cpu, _ = self.longest_gap_at(since, cpu_since)
        return gap, cpu

    def _first(self, since: float) -> int:
        """The index of the first tick at or after ``since``."""
        return next((i for i, t in enumerate(self.ticks) if t >= since), len(self.ticks))

    def longest_gap_at(self, since: float, cpu_since: float) -> tuple[float, float, tuple]:
        """longest_gap and the (start, end) perf_counter times of the gap with the most
        GUI-thread CPU (what --profile reports on)."""
        first = self._first(since)
        ts = [since] + self.ticks[first:] + [time.perf_counter()]
        cs = [cpu_since] + self.cpu[first:] + [time.thread_time()]
        dc = np.diff(cs)
        k = int(np.argmax(dc))
        return float(max(np.diff(ts))), float(dc[k]), (ts[k], ts[k + 1])

    def parts_of_longest(self, since: float, cpu_since: float, queued_since: float) -> tuple:
        """The longest wall-clock gap split into the GUI thread's CPU time in it, its time waiting
        in the run queue for a core (other processes had them), and the rest: blocked (the GIL
        held by another thread of the process, a GL or X round trip), and when it began (seconds
        after ``since``)."""
        first = self._first(since)
        ts = np.diff([since] + self.ticks[first:] + [time.perf_counter()])
        cs = np.diff([cpu_since] + self.cpu[first:] + [time.thread_time()])
        qs = np.diff([queued_since] + self.queued[first:] + [self.queued_now()])
        k = int(np.argmax(ts))
        began = ([since] + self.ticks[first:])[k] - since
        return float(ts[k]), float(cs[k]), float(qs[k]), float(ts[k] - cs[k] - qs[k]), began


def _tasks(pid: int) -> list:
    try:
        return list(os.scandir(f"/proc/{pid}/task"))
    except OSError:  # gone
        return []


def _comm(task_path: str) -> str:
    try:
        with open(f"{task_path}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def _watched_processes() -> dict[int, str]:
    """This process's children (the trainer and compute children by their multiprocessing
    names) and the X server, for --who."""
    import multiprocessing

    pids = {p.pid: p.name for p in multiprocessing.active_children() if p.pid}
    x = xserver_pid()
    if x is not None:
        pids[x] = "X server"
    return pids


def _spin(app: QApplication, seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.001)


def run_action(app, beat: Heartbeat, fn, settle: float, profiler=None) -> tuple[float, float]:
    """Run fn from the event loop (as a user's input is), let the window settle, and return the
    longest heartbeat gap and the most GUI-thread CPU between two heartbeats, in ms (fn's own
    run time counts: it blocks the loop). With a profiler (--profile), log the events the GUI
    thread ran in the gap with the most CPU."""
    _spin(app, 0.2)
    if beat.others is not None:
        beat.watch(_watched_processes())
    t0, c0, q0 = time.perf_counter(), time.thread_time(), beat.queued_now()
    QTimer.singleShot(0, fn)
    _spin(app, settle)
    gap, cpu, (g0, g1) = beat.longest_gap_at(t0, c0)
    if profiler is not None:
        log(profiler.report(g0 - 0.03, g1, g0))  # and the 30 ms before: what led to it
    parts = [round(1000.0 * v, 1) for v in beat.parts_of_longest(t0, c0, q0)]
    return 1000.0 * gap, 1000.0 * cpu, parts, beat.others_in_longest(t0)


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--settle", type=float, default=1.5, help="seconds to watch after an action")
    p.add_argument(
        "--profile",
        action="store_true",
        help="log, per action, the events in its gap with the most GUI-thread CPU, with a "
        "cProfile of the heavy ones (profiling costs time: figures are not comparable)",
    )
    p.add_argument(
        "--events",
        action="store_true",
        help="as --profile, without cProfile: the events in the gap and their CPU time only",
    )
    p.add_argument(
        "--who",
        action="store_true",
        help="also report, per action, the CPU that the window's other threads, the trainer "
        "and compute children and the X server used in the longest gap (reads /proc at "
        "every heartbeat: a little CPU of its own)",
    )
    p.add_argument("--phases", default="off,on", help="which phases to run: off, on or off,on")
    args = p.parse_args()
    home = tempfile.mkdtemp(prefix="flowscope-latency-")
    os.environ["FLOWSCOPE_HOME"] = home

    from flowscope.app import _configure_threads, freeze_startup_objects, make_app
    from flowscope.core.data import PRESETS
    from flowscope.state import AppState
    from flowscope.ui.main_window import MainWindow
    from flowscope.ui.panels import OBJECTIVES, SCHEDULES

    # the process as `flowscope` sets it up (as bench/gui_soak.py does): malloc keeps the
    # per-frame buffers, GIL switch interval, one torch thread. Without it every frame took
    # ~1.5x the GUI thread's CPU of the app's (the particle splat page-faulted its buffers).
    _configure_threads()
    profiler = None
    if args.profile or args.events:
        from _gui_profile import ProfilingApp

        profiler = ProfilingApp(sys.argv[:1], profile=args.profile)
    app = make_app()
    win = MainWindow(AppState(target_source="two_moons"), ask_to_save=False)
    win.resize(1600, 1000)
    win.show()
    freeze_startup_objects()  # as flowscope's _show_and_run does
    if profiler is not None:  # the profiler names the plot a paint event is for
        from pyqtgraph import PlotWidget

        for w in win.findChildren(PlotWidget):
            w.setObjectName(w.objectName() or w.getPlotItem().titleLabel.text[:24] or "plot")
        ode, sde = win.explorer.widgets()
        ode.setObjectName("explorer ODE")
        sde.setObjectName("explorer SDE")
        win.canvas.plot_widget().setObjectName("target canvas")
        win.curves.loss_plot.setObjectName("loss curve")
        win.curves.quality_plot.setObjectName("quality curve")
    if profiler is not None:  # the report also says when paint_turns released a held view
        from flowscope.ui import paint_turns

        enable = paint_turns._enable

        def enable_marked(item, enable=enable):
            name = item.objectName() if isinstance(item, QWidget) else "work queued by run_first"
            profiler.mark("released", name or type(item).__name__)
            return enable(item)

        paint_turns._enable = enable_marked
    beat = Heartbeat(who=args.who)
    _spin(app, 3.0)  # first paint, the compute child's start
    settle = 0.6 if args.quick else args.settle
    presets = PRESETS[:3] if args.quick else PRESETS

    def preset(name):
        i = PRESETS.index(name)

        def go():
            win.preset_combo.setCurrentIndex(i)
            win.preset_combo.activated.emit(i)

        return go

    def stroke(k):
        ang = np.linspace(0, 2 * np.pi, 40)
        pts = np.stack([np.cos(ang) * (1 + 0.3 * k), np.sin(ang) * (1 + 0.3 * k)], 1)
        return lambda: win.canvas.add_stroke(pts)  # one finished mouse drag

    def combo(widget, index):
        return lambda: widget.setCurrentIndex(index)

    project = os.path.join(home, "bench.flowscope")

    def phase(name: str) -> dict:
        out: dict[str, float] = {}
        cpu: dict[str, float] = {}
        parts: dict[str, dict] = {}

        def act(key: str, fn, wait: float) -> None:
            gap, used, (_, in_cpu, queued, blocked, at), others = run_action(
                app, beat, fn, wait, profiler
            )
            out[f"{key}_gap_ms"], cpu[f"{key}_gap_cpu_ms"] = rnd(gap), rnd(used)
            parts[key] = {
                "cpu_ms": in_cpu,
                "run_queue_ms": queued,
                "blocked_ms": blocked,
                "began_after_ms": at,
            }
            if others:
                parts[key]["others_cpu_ms"] = others
            log(
                f"{name} {key}: {out[f'{key}_gap_ms']} ms (GUI thread CPU {rnd(used)} ms; the "
                f"longest gap, {at:.0f} ms after the action: CPU {in_cpu}, run queue {queued}, "
                f"blocked {blocked} ms)" + (f"; beside it {others}" if others else "")
            )

        for pr in presets:
            act(f"preset_{pr}", preset(pr), settle)
        for k in range(3):
            # the drawing becomes the target after a 300 ms debounce: watch past it
            act(f"stroke_{k}", stroke(k), settle + 0.4)
        tp = win.training_panel
        for i in (1, 2, 0):
            act(f"objective_{OBJECTIVES[i]}", combo(tp.objective, i), settle)
        for i in (1, 2, 0):
            act(f"schedule_{SCHEDULES[i]}", combo(tp.schedule, i), settle)
        for v in (0.2, 0.1):
            act(f"dropout_{v}", lambda v=v: tp.dropout.setValue(v), settle)
        if os.path.exists(project):
            # what File > Open runs once the dialog returned the path: the file is read on a
            # worker thread and applied when read (watched until it is, and the window settled)
            act("open_project", lambda: win.project.open_project_later(project), settle + 1.0)
        act("idle", lambda: None, settle)
        gaps = [v for k, v in out.items() if k.endswith("gap_ms") and k != "idle_gap_ms"]
        out["max_gap_ms"] = max(gaps)
        out["median_gap_ms"] = rnd(float(np.median(gaps)))
        # load-independent: the GUI thread's own CPU time in its longest stretch between beats
        out["max_gap_cpu_ms"] = max(v for k, v in cpu.items() if k != "idle_gap_cpu_ms")
        return {**out, **cpu, "longest_gap_parts": parts}

    load = {"loadavg_1min_start": rnd(os.getloadavg()[0])}
    steal0 = steal_seconds()
    phases = args.phases.split(",")
    results = {}
    if "off" in phases:
        results["training_off"] = phase("off")
    if "on" in phases:
        # a project with weights to open while training
        win.set_target_source("two_moons")
        win.toggle_training()
        t_end = time.perf_counter() + 120
        while win.sessions.snapshot is None and time.perf_counter() < t_end:
            app.processEvents()
            time.sleep(0.01)
        win.project.save_to(__import__("pathlib").Path(project))
        results["training_on"] = phase("on")
    win.shutdown()
    worst = max(r["max_gap_ms"] for r in results.values())
    load["loadavg_1min_end"] = rnd(os.getloadavg()[0])  # other jobs on the machine stretch gaps
    steal1 = steal_seconds()
    # a VM's stolen time: a gap's 'blocked' part when the GUI thread was stolen from
    load["steal_s"] = None if steal0 is None or steal1 is None else rnd(steal1 - steal0)
    worst_cpu = max(r["max_gap_cpu_ms"] for r in results.values())
    emit(
        "gui_latency",
        {
            "goal_max_gap_ms": 50,
            "worst_gap_ms": worst,
            "worst_gap_cpu_ms": worst_cpu,
            **load,
            **results,
        },
        args,
    )
    if os.environ.get("FLOWSCOPE_BENCH_PROFILE"):
        import faulthandler

        faulthandler.dump_traceback_later(20, exit=True)


if __name__ == "__main__":
    main()
